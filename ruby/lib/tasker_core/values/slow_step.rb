# frozen_string_literal: true

module TaskerCore
  # One row of slowest_steps: a completed step and how long its successful
  # attempt took.
  class SlowStep < ValueObject
    attribute :workflow_step_id
    attribute :task_id
    attribute :step_name
    attribute :task_name
    attribute :namespace_name
    attribute :version
    attribute :duration_seconds
    attribute :attempts
    attribute :retry_limit
    attribute :step_status
    attribute :started_at, :time
    attribute :completed_at, :time
  end
end
