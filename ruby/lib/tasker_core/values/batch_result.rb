# frozen_string_literal: true

module TaskerCore
  # What batch_update_step_states did: counts and one BatchOutcome per update,
  # in the order of the updates.
  class BatchResult < ValueObject
    attribute :applied
    attribute :rejected
    attribute :duplicates
    attribute(:outcomes) { |list| (list || []).map { |o| BatchOutcome.from_h(o) }.freeze }

    # True when no update was rejected.
    def success?
      rejected.to_i.zero?
    end
  end
end
