# frozen_string_literal: true

module TaskerCore
  # A task's state after results were reported (report_step_results,
  # recover_expired_steps). ready_at is when it next has work (nil: none until a
  # running step reports).
  class TaskStatus < ValueObject
    attribute :task_id
    attribute :status
    attribute :execution_status
    attribute :next_retry_at, :time
    attribute :ready_at, :time

    def complete?
      status == "complete"
    end

    def error?
      status == "error"
    end
  end
end
