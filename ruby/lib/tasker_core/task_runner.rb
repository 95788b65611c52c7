# frozen_string_literal: true

module TaskerCore
  # Runs one task to its end in the current process (TaskerCore.run_task): a
  # Worker that claims only this task's steps, stopped when the task is complete
  # or in error, or when the timeout passes (TimeoutError).
  class TaskRunner
    # States in which a task has nothing more to run.
    FINAL_STATES = %w[complete error cancelled resolved_manually].freeze
    # Seconds between checks of the task's state while nothing of it reports
    # (someone else may finish, cancel or block it).
    STATUS_CHECK_INTERVAL = 1.0

    attr_reader :task_id, :client, :timeout

    # task: a CreatedTask (or anything with #task_id) or a task id.
    # worker_options: the options of Worker.new (on_event:, lease_seconds:, ...);
    # shutdown_timeout defaults to 0 here: when the timeout passes, handlers
    # still running are abandoned and their steps left to lease recovery.
    def initialize(task, timeout:, client: TaskerCore.client, concurrency: 4, **worker_options)
      @task_id = task.respond_to?(:task_id) ? task.task_id : Integer(task)
      unless timeout.is_a?(Numeric) && timeout.positive?
        raise ArgumentError, "timeout must be a positive number of seconds, got #{timeout.inspect}"
      end

      @timeout = timeout
      @client = client
      @user_on_event = worker_options.delete(:on_event)
      worker_options[:shutdown_timeout] ||= 0
      @worker = Worker.new(client: client, concurrency: concurrency, task_id: @task_id,
                           on_event: method(:on_event), **worker_options)
    end

    # → TaskRunResult; TimeoutError when the task has not finished in time.
    def run
      started_at = Time.now.utc
      started = monotonic
      deadline = started + timeout
      @done = final?(client.task_execution_context(task_id).status)
      @next_check = started + STATUS_CHECK_INTERVAL
      stats = @done ? {} : @worker.run(until: -> { @done || check_status || monotonic >= deadline },
                                       install_signal_traps: false)
      elapsed = monotonic - started
      context = client.task_execution_context(task_id)
      unless @done || final?(context.status)
        raise TimeoutError.new(
          "task #{task_id} did not finish within #{timeout}s (status #{context.status}, " \
          "#{context.execution_status}, #{context.completed_steps}/#{context.total_steps} steps complete)",
          details: { "task_id" => task_id, "status" => context.status, "execution_status" => context.execution_status }
        )
      end
      TaskRunResult.new(task_id: task_id, execution_context: context, steps: step_summaries, elapsed: elapsed,
                        started_at: started_at, finished_at: Time.now.utc, worker_stats: stats)
    end

    private

    def on_event(event, data)
      @done = true if %i[task_completed task_failed].include?(event) && data[:task_id] == task_id
      @user_on_event&.call(event, data)
    end

    def check_status
      return false if monotonic < @next_check

      @next_check = monotonic + STATUS_CHECK_INTERVAL
      @done = final?(client.task_execution_context(task_id).status)
    rescue Error => e
      TaskerCore.logger.warn("TaskerCore.run_task: could not read task #{task_id}'s state: #{e.message}")
      false
    end

    def final?(status)
      FINAL_STATES.include?(status)
    end

    def step_summaries
      client.step_readiness(task_id).sort_by(&:workflow_step_id).map do |row|
        TaskRunResult::StepSummary.new(step_id: row.workflow_step_id, name: row.name, state: row.current_state,
                                       transitions: client.step_transitions(row.workflow_step_id))
      end
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end
  end
end
