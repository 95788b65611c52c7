# frozen_string_literal: true

module TaskerCore
  # Bad client configuration (envelope type "configuration_error").
  class ConfigurationError < Error
  end
end
