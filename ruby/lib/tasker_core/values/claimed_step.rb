# frozen_string_literal: true

module TaskerCore
  # A step handed to a worker by claim_steps, now in_progress under the worker's
  # lease until lease_expires_at: what its handler needs to run it. task_context
  # and inputs are the JSON given at creation; sequence maps the name of each
  # completed step of the task to its results.
  #
  # From the task's template registered in the database (Client#register_templates),
  # when it has one: handler_class (the step's handler class name, nil without
  # one), handler_config (its configuration, a frozen Hash, nil without one) and
  # timeout_seconds (the step's timeout, 0 for none: the worker's step_timeout
  # applies).
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
    attribute(:handler_class) { |v| v.nil? || v.to_s.empty? ? nil : v.to_s.dup.freeze }
    attribute :handler_config, :frozen
    attribute(:timeout_seconds) { |v| v.nil? ? 0 : v }
    attribute :correlation_id
    attribute :lease_expires_at, :time
    # The W3C trace context to run the handler under (nil: none); see
    # Observability::Tracing.
    attribute :traceparent

    alias name step_name
  end
end
