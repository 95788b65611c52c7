# frozen_string_literal: true

module TaskerCore
  # The execution context of one task (REFERENCE §4): step counts by state, what
  # to do next (execution_status, recommended_action) and the task's health.
  class TaskExecutionContext < ValueObject
    attribute :task_id
    attribute :named_task_id
    attribute :status # the task's current state
    attribute :total_steps
    attribute :pending_steps
    attribute :in_progress_steps
    attribute :completed_steps # complete + resolved_manually
    attribute :failed_steps # error
    attribute :ready_steps
    attribute :execution_status # has_ready_steps, processing, blocked_by_failures, all_complete, waiting_for_dependencies
    attribute :recommended_action
    attribute :completion_percentage
    attribute :health_status # healthy, recovering, blocked, unknown
    attribute :permanently_blocked_steps
    attribute :cancelled_steps
    attribute :next_retry_at, :time
    attribute :correlation_id

    # Every step is complete (or resolved manually).
    def complete?
      execution_status == "all_complete"
    end

    # Some step can run now.
    def has_ready_steps? # rubocop:disable Naming/PredicateName -- the execution status's own name
      execution_status == "has_ready_steps"
    end
    alias ready? has_ready_steps?

    # Nothing is ready and some step is in progress.
    def processing?
      execution_status == "processing"
    end

    # A step failed for good (not retryable or out of retries).
    def blocked?
      execution_status == "blocked_by_failures"
    end

    # Nothing ready, nothing running, nothing blocked: waiting on dependencies
    # (or on a retry's backoff).
    def waiting?
      execution_status == "waiting_for_dependencies"
    end

    def healthy?
      health_status == "healthy"
    end
  end
end
