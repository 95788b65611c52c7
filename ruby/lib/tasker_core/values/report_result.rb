# frozen_string_literal: true

module TaskerCore
  # What report_step_results or recover_expired_steps did: one BatchOutcome per
  # report (or recovered step) and the status of each task touched.
  class ReportResult < ValueObject
    attribute(:outcomes) { |list| (list || []).map { |o| BatchOutcome.from_h(o) }.freeze }
    attribute(:tasks) { |list| (list || []).map { |t| TaskStatus.from_h(t) }.freeze }

    # True when no report was rejected.
    def success?
      outcomes.none?(&:rejected?)
    end
  end
end
