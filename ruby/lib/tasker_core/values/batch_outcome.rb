# frozen_string_literal: true

module TaskerCore
  # The outcome of one update of a batch_update_step_states call. status is
  # "applied", "duplicate" or "rejected"; error is the exception that explains a
  # rejection (not raised), or nil.
  class BatchOutcome < ValueObject
    attribute :index
    attribute :step_id
    attribute :status
    attribute :from_state
    attribute :to_state
    attribute :transition_id
    attribute(:error) { |e| ErrorMapper.exception_for(e) }

    def applied?
      status == "applied"
    end

    def duplicate?
      status == "duplicate"
    end

    def rejected?
      status == "rejected"
    end
  end
end
