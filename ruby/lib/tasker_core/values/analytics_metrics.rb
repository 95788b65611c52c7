# frozen_string_literal: true

module TaskerCore
  # Throughput, completion and error rates and durations since
  # analysis_period_start (get_analytics_metrics). Rates are fractions (0..1).
  class AnalyticsMetrics < ValueObject
    attribute :active_tasks_count
    attribute :total_namespaces_count
    attribute :unique_task_types_count
    attribute :system_health_score
    attribute :task_throughput
    attribute :completion_count
    attribute :error_count
    attribute :completion_rate
    attribute :error_rate
    attribute :avg_task_duration_seconds
    attribute :avg_step_duration_seconds
    attribute :step_throughput
    attribute :analysis_period_start, :time
  end
end
