# frozen_string_literal: true

module TaskerCore
  # What an operator action changed (docs/operations.md): the task's state
  # before and after, the steps changed (OperatorStepChange), the transitions
  # written (OperatorTransition) and the outbox events ({"task_seq", "name",
  # "step_id", "payload"}). A dry run's answer says what would change, with
  # action_id 0; replayed is true when an idempotency key's first answer came back.
  class OperatorResult < ValueObject
    attribute :action_id
    attribute :operation
    attribute :target_type
    attribute :target_id
    attribute :task_id
    attribute :actor
    attribute :reason
    attribute :request_id
    attribute :idempotency_key
    attribute :correlation_id
    attribute :dry_run
    attribute :replayed
    attribute :task_state_before
    attribute :task_state_after
    attribute(:steps) { |rows| Array(rows).map { |row| OperatorStepChange.from_h(row) }.freeze }
    attribute(:transitions) { |rows| Array(rows).map { |row| OperatorTransition.from_h(row) }.freeze }
    attribute(:events) { |rows| ValueObject.deep_freeze(Array(rows)) }
    # update_step_results: steps below the step that already ran ([{"step_id", "name", "state"}]).
    attribute(:children_already_run) { |rows| ValueObject.deep_freeze(Array(rows)) }
    # update_task_metadata: {"before" => {"tags", "context"?}, "after" => {...}} and the annotations added.
    attribute :task, :frozen
    attribute(:annotations) { |rows| ValueObject.deep_freeze(Array(rows)) }
    # override_dependencies: [parent_id, child_id] pairs.
    attribute(:edges_added) { |rows| ValueObject.deep_freeze(Array(rows)) }
    attribute(:edges_removed) { |rows| ValueObject.deep_freeze(Array(rows)) }
    attribute :created_at, :time

    def dry_run?
      dry_run == true
    end

    def replayed?
      replayed == true
    end

    # The names of the events written, in order.
    def event_names
      events.map { |e| e["name"] }
    end

    # The step change of +step_id+, or nil.
    def step(step_id)
      steps.find { |s| s.step_id == step_id }
    end
  end
end
