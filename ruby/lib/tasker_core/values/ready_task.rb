# frozen_string_literal: true

module TaskerCore
  # A task with work to hand out (next_ready_tasks), by priority then age.
  class ReadyTask < ValueObject
    attribute :task_id
    attribute :priority
    attribute :ready_at, :time
  end
end
