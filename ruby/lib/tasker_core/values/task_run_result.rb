# frozen_string_literal: true

module TaskerCore
  # What TaskerCore.run_task did: the task's final status and execution
  # context, each step's attempts and durations (from the audit trail, so
  # attempts made by other workers count too), and the run's wall time.
  class TaskRunResult
    attr_reader :task_id, :status, :execution_context, :steps, :elapsed, :started_at, :finished_at, :worker_stats

    def initialize(task_id:, execution_context:, steps:, elapsed:, started_at:, finished_at:, worker_stats: {})
      @task_id = task_id
      @execution_context = execution_context
      @status = execution_context.status
      @steps = steps.freeze
      @elapsed = elapsed
      @started_at = started_at
      @finished_at = finished_at
      @worker_stats = worker_stats
      freeze
    end

    def complete?
      status == "complete"
    end

    # The task stopped in error (blocked by failures).
    def error?
      status == "error"
    end

    # The execution context's status (TaskExecutionContext#execution_status).
    # @return [String]
    def execution_status
      execution_context.execution_status
    end

    # The StepSummary of step +name+ (KeyError when there is none).
    def step(name)
      steps.find { |s| s.name == name.to_s } or raise KeyError, "task #{task_id} has no step #{name.to_s.inspect}"
    end

    # Attempts per step name.
    def attempts
      steps.to_h { |s| [s.name, s.attempt_count] }
    end

    # Seconds of each step's last attempt, by step name.
    def durations
      steps.to_h { |s| [s.name, s.duration] }
    end

    # The task id, the status, the wall time and the attempts per step.
    # @return [String]
    def inspect
      "#<#{self.class.name} task_id=#{task_id} status=#{status} (#{execution_status}) " \
        "elapsed=#{format('%.3f', elapsed)}s attempts=#{attempts.inspect}>"
    end
  end
end
