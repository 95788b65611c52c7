# frozen_string_literal: true

module TaskerCore
  # One task with its context and its steps (Client#get_task): the fields of a
  # TaskSummary plus context, bypass_steps and steps ([StepDetail], in creation order).
  class TaskDetail < TaskSummary
    attribute :context, :frozen
    attribute :bypass_steps, :frozen
    attribute(:steps) { |rows| Array(rows).map { |row| StepDetail.from_h(row) }.freeze }

    # The step named +name+, or nil.
    def step(name)
      steps.find { |s| s.name == name.to_s }
    end
  end
end
