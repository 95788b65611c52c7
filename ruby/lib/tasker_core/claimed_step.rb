# frozen_string_literal: true

module TaskerCore
  # A step handed to a worker by claim_steps, now in_progress under the worker's
  # lease until lease_expires_at: what its handler needs to run it. task_context
  # and inputs are the JSON given at creation; sequence maps the name of each
  # completed step of the task to its results.
  class ClaimedStep < ValueObject
    attribute :step_id
    attribute :task_id
    attribute :step_name
    attribute :task_name
    attribute :namespace
    attribute :version
    attribute :attempts
    attribute :retry_limit
    attribute :retryable
    attribute :inputs, :frozen
    attribute :task_context, :frozen
    attribute :sequence, :frozen
    attribute :correlation_id
    attribute :lease_expires_at, :time

    alias name step_name
  end
end
