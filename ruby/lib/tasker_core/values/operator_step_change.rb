# frozen_string_literal: true

module TaskerCore
  # A step an operator action changed: its snapshot before and after (Hashes
  # with "state", "attempts", "retry_limit", "retryable", "results",
  # "claimed_by", "parents").
  class OperatorStepChange < ValueObject
    attribute :step_id
    attribute :name
    attribute :before, :frozen
    attribute :after, :frozen
  end
end
