# frozen_string_literal: true

module TaskerCore
  # A bug in the library, e.g. a recovered panic (envelope type "internal_error").
  class InternalError < Error
  end
end
