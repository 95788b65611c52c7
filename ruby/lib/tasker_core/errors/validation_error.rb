# frozen_string_literal: true

module TaskerCore
  # Malformed input: wrong types, missing or unknown fields, bad values, payload too large (envelope type "validation_error").
  class ValidationError < Error
  end
end
