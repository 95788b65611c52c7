# frozen_string_literal: true

module Audit
  # Uses ActiveRecord from a handler thread: a write, a read and a pause while
  # holding the connection, so that more threads than the pool has connections
  # run at once.
  class RecordVisitHandler < TaskerCore::StepHandler::Base
    def call(task, _sequence, step)
      Visit.create!(task_id: task.task_id, step_name: step.name)
      sleep 0.05
      { "visits" => Visit.where(task_id: task.task_id).count }
    end
  end
end
