# frozen_string_literal: true

module TaskerCore
  # A transition an operator action wrote (or, in a dry run, would write). kind
  # is "task" or "step", id the task or step id, name the step's name.
  class OperatorTransition < ValueObject
    attribute :kind
    attribute :id
    attribute :name
    attribute :from_state
    attribute :to_state
    attribute :sort_key
    attribute :event
  end
end
