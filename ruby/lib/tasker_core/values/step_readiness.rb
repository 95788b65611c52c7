# frozen_string_literal: true

module TaskerCore
  # Whether one step can run now and, if not, why (get_step_readiness).
  #
  # reason is a Symbol: :ready, :wrong_state, :task_terminal (its task ended),
  # :already_processed, :claimed,
  # :dependencies_unmet, :not_retryable, :retries_exhausted or :backoff;
  # reason_detail a Hash with string keys (e.g. the unmet parents' names).
  class StepReadiness < ValueObject
    # The reasons that keep a step from running until an operator acts (no
    # waiting makes it ready).
    BLOCKED_REASONS = %i[not_retryable retries_exhausted].freeze

    attribute :workflow_step_id
    attribute :task_id
    attribute :named_step_id
    attribute :name
    attribute :current_state
    attribute :dependencies_satisfied
    attribute :retry_eligible
    attribute :ready_for_execution
    attribute :last_failure_at, :time
    attribute :next_retry_at, :time
    attribute :total_parents
    attribute :completed_parents
    attribute :attempts
    attribute :retry_limit
    attribute :backoff_request_seconds
    attribute :last_attempted_at, :time
    attribute :retryable
    attribute :in_process
    attribute :processed
    attribute :reason, :symbol
    attribute :reason_detail, :frozen

    alias step_id workflow_step_id

    def ready?
      ready_for_execution == true
    end

    # Failed for good: not retryable or out of retries.
    def blocked?
      BLOCKED_REASONS.include?(reason)
    end

    def waiting_for_dependencies?
      reason == :dependencies_unmet
    end

    def in_backoff?
      reason == :backoff
    end
  end
end
