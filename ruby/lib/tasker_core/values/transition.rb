# frozen_string_literal: true

module TaskerCore
  # One row of a task's or a step's audit trail. owner_id is the task id or the
  # workflow step id; event the lifecycle event the transition published.
  class Transition < ValueObject
    attribute :id
    attribute :owner_id
    attribute :from_state
    attribute :to_state
    attribute :sort_key
    attribute :metadata, :frozen
    attribute :created_at, :time
    attribute :event
  end
end
