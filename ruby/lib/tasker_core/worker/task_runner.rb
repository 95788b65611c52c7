# frozen_string_literal: true

module TaskerCore
  # Runs one task to its end in the current process (TaskerCore.run_task): a
  # Worker that claims only this task's steps, stopped when the task is complete
  # or in error, or when the timeout passes (TimeoutError).
  #
  # When it is done with the task (finished or timed out), it publishes
  # observability.task.handle in this process (TaskerCore::Events.publish_locally,
  # with the task's correlation_id): {"task_id", "duration_ms" (of #run),
  # "status" (the task's state then), "timed_out"}.
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
      timed_out = !(@done || final?(context.status))
      handled(context, elapsed, timed_out)
      if timed_out
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
      @task_labels ||= [data[:namespace], data[:task_name]] if event == :claimed && data[:task_id] == task_id
      @user_on_event&.call(event, data)
    end

    # observability.task.handle (see the class comment), like the worker's
    # local events.
    def handled(context, elapsed, timed_out)
      return unless Events.listening?("observability.task.handle")

      namespace, task_name = @task_labels
      Correlation.with(context.correlation_id) do
        Events.publish_locally(
          Event.new(name: "observability.task.handle", task_id: task_id, namespace: namespace, task_name: task_name,
                    correlation_id: context.correlation_id, created_at: Time.now.utc, durable: false,
                    payload: { "task_id" => task_id, "duration_ms" => (elapsed * 1000).round(3),
                               "status" => context.status, "timed_out" => timed_out })
        )
      end
    rescue StandardError => e
      TaskerCore.logger.error("tasker_core: local event observability.task.handle: #{e.class}: #{e.message}")
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
