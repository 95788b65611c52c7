# frozen_string_literal: true

module TaskerCore
  # Task and step counts by state, the retry picture of failed steps and the
  # database's connections (get_system_health_counts).
  class SystemHealth < ValueObject
    attribute :total_tasks
    attribute :pending_tasks
    attribute :in_progress_tasks
    attribute :complete_tasks
    attribute :error_tasks
    attribute :cancelled_tasks
    attribute :resolved_manually_tasks
    attribute :total_steps
    attribute :pending_steps
    attribute :in_progress_steps
    attribute :complete_steps
    attribute :error_steps
    attribute :cancelled_steps
    attribute :resolved_manually_steps
    attribute :retryable_error_steps
    attribute :exhausted_retry_steps
    attribute :non_retryable_error_steps
    attribute :steps_in_backoff
    attribute :active_connections
    attribute :max_connections
  end
end
