# frozen_string_literal: true

module TaskerCore
  # The base of the errors a step handler raises to tell the orchestration what
  # to do with its step: RetryableError (try again) or PermanentError (give up).
  class ProceduralError < Error
    attr_reader :context

    def initialize(message = nil, context: {}, **kwargs)
      @context = (context || {}).freeze
      super(message, **kwargs)
    end
  end
end
