# frozen_string_literal: true

module TaskerCore
  # Raised by a step handler to ask for a retry. retry_after (seconds), when
  # given, is the backoff to honour before the next attempt.
  class RetryableError < ProceduralError
    attr_reader :retry_after

    def initialize(message = nil, retry_after: nil, context: {})
      unless retry_after.nil? || (retry_after.is_a?(Numeric) && retry_after >= 0)
        raise ArgumentError, "retry_after must be a non-negative number of seconds, got #{retry_after.inspect}"
      end

      @retry_after = retry_after
      super(message, context: context, details: { "retry_after" => retry_after, "context" => context })
    end
  end
end
