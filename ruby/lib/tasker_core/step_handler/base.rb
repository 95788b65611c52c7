# frozen_string_literal: true

module TaskerCore
  # Step handlers: the Ruby code that does the work of one step.
  module StepHandler
    # The base class of step handlers. A handler implements #call and returns
    # the step's results (a JSON-able Hash; they become visible to later steps
    # as sequence[step name]) or raises:
    #
    #   class Demo::ChargeCard < TaskerCore::StepHandler::Base
    #     def call(task, sequence, step)
    #       cart = sequence["validate_cart"]
    #       { "payment_id" => Payments.charge(task.context["card"], cart["total_cents"]) }
    #     rescue Payments::RateLimited => e
    #       raise TaskerCore::RetryableError.new(e.message, retry_after: 30)
    #     rescue Payments::Declined => e
    #       raise TaskerCore::PermanentError.new(e.message, error_code: "declined")
    #     end
    #   end
    #
    # - TaskerCore::RetryableError: the step fails and is retried (retry_after,
    #   when given, is the backoff);
    # - TaskerCore::PermanentError: the step fails for good (not retried);
    # - any other exception: a retryable failure recording the exception's class
    #   and message (retried under the retry policy until retry_limit).
    #
    # A new handler instance runs each step attempt, so instance state is never
    # shared between threads. config is the step template's handler_config.
    class Base
      attr_reader :config

      def initialize(config: {})
        @config = (config || {}).freeze
      end

      # task: StepHandler::Task, sequence: StepHandler::Sequence, step:
      # StepHandler::Step. → the step's results (a JSON-able Hash)
      def call(task, sequence, step)
        raise NotImplementedError, "#{self.class.name}#call(task, sequence, step) is not implemented " \
                                   "(step #{step&.name.inspect} of task #{task&.name.inspect})"
      end
    end
  end
end
