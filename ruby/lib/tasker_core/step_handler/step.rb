# frozen_string_literal: true

module TaskerCore
  module StepHandler
    # The step a handler runs. attempts counts this attempt (1 on the first run);
    # inputs is the step's inputs from the task spec (a frozen Hash, {} when none).
    class Step
      attr_reader :step_id, :name, :attempts, :retry_limit, :retryable, :inputs, :lease_expires_at

      def initialize(step_id:, name:, attempts:, retry_limit:, retryable:, inputs:, lease_expires_at: nil)
        @step_id = step_id
        @name = name
        @attempts = attempts
        @retry_limit = retry_limit
        @retryable = retryable
        @inputs = ValueObject.deep_freeze(inputs || {})
        @lease_expires_at = lease_expires_at
        freeze
      end
      alias attempt attempts

      # The step of a ClaimedStep.
      def self.from_claimed(claimed)
        new(step_id: claimed.step_id, name: claimed.step_name, attempts: claimed.attempts,
            retry_limit: claimed.retry_limit, retryable: claimed.retryable, inputs: claimed.inputs,
            lease_expires_at: claimed.lease_expires_at)
      end

      # True on the last attempt the retry limit allows.
      def last_attempt?
        attempts >= retry_limit
      end

      # The step's id, name and attempt out of its retry limit.
      # @return [String]
      def inspect
        "#<#{self.class.name} step_id=#{step_id} name=#{name.inspect} attempt=#{attempts}/#{retry_limit}>"
      end
    end
  end
end
