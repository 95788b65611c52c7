# frozen_string_literal: true

module TaskerCore
  # One row of slowest_tasks: a task and how long it took (or has taken so far).
  class SlowTask < ValueObject
    attribute :task_id
    attribute :task_name
    attribute :version
    attribute :namespace_name
    attribute :duration_seconds
    attribute :step_count
    attribute :completed_steps
    attribute :error_steps
    attribute :created_at, :time
    attribute :completed_at, :time
    attribute :initiator
    attribute :source_system
  end
end
