# frozen_string_literal: true

module TaskerCore
  # One step of a task as Client#get_task returns it. results holds a completed
  # step's results, or {"error" => {"message", "type", ...}} after a failed
  # attempt; depends_on the parents' step ids.
  class StepDetail < ValueObject
    attribute :workflow_step_id
    attribute :named_step_id
    attribute :name
    attribute :current_state
    attribute :depends_on, :frozen
    attribute :attempts
    attribute :retry_limit
    attribute :retryable
    attribute :skippable
    attribute :in_process
    attribute :processed
    attribute :processed_at, :time
    attribute :last_attempted_at, :time
    attribute :backoff_request_seconds
    attribute :inputs, :frozen
    attribute :results, :frozen
    attribute :claimed_by
    attribute :lease_expires_at, :time
    attribute :created_at, :time
    attribute :updated_at, :time

    alias step_id workflow_step_id

    # The error of the last failed attempt (a Hash), when the results hold one.
    def error
      results.is_a?(Hash) ? results["error"] : nil
    end
  end
end
