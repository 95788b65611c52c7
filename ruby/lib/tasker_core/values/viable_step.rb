# frozen_string_literal: true

module TaskerCore
  # A step that can run now (discover_viable_steps).
  class ViableStep < ValueObject
    attribute :workflow_step_id
    attribute :task_id
    attribute :named_step_id
    attribute :name
    attribute :current_state
    attribute :dependencies_satisfied
    attribute :retry_eligible
    attribute :attempts
    attribute :retry_limit
    attribute :reason, :symbol
    attribute :reason_detail, :frozen

    alias step_id workflow_step_id

    # A viable step is ready by definition.
    def ready?
      true
    end
  end
end
