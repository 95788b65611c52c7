# frozen_string_literal: true

module TaskerCore
  # One row of the operator actions' audit trail (Client#operator_actions).
  # before_state / after_state: {"task" => state, "steps" => {"<id>" => snapshot}}.
  class OperatorAction < ValueObject
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
    attribute :params, :frozen
    attribute :before_state, :frozen
    attribute :after_state, :frozen
    attribute :created_at, :time
  end
end
