# frozen_string_literal: true

module TaskerCore
  # Raised by a step handler when retrying cannot help: the step fails for good.
  # error_code is a short machine-readable reason of the caller's choosing.
  class PermanentError < ProceduralError
    attr_reader :error_code

    def initialize(message = nil, error_code: nil, context: {})
      @error_code = error_code
      super(message, context: context, details: { "error_code" => error_code, "context" => context })
    end
  end
end
