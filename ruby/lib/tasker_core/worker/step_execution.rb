# frozen_string_literal: true

module TaskerCore
  # One attempt of one claimed step, as a StepExecutor ran it: the results (on
  # success) or the exception (on failure), and when it ran. Immutable.
  class StepExecution
    attr_reader :claimed, :results, :error, :started_at, :finished_at, :duration

    # claimed: the ClaimedStep; started_at/finished_at: wall-clock Times;
    # duration: seconds on the monotonic clock.
    def initialize(claimed:, started_at:, finished_at:, duration:, results: nil, error: nil)
      @claimed = claimed
      @results = results
      @error = error
      @started_at = started_at
      @finished_at = finished_at
      @duration = duration
      freeze
    end

    # @return [Integer] the claimed step's id
    def step_id
      claimed.step_id
    end

    # @return [Integer] the claimed step's task id
    def task_id
      claimed.task_id
    end

    # @return [String] the claimed step's name
    def step_name
      claimed.step_name
    end

    # This attempt's number (1 on the first run).
    def attempt
      claimed.attempts
    end

    def success?
      error.nil?
    end

    def failure?
      !success?
    end

    # A failure the library will retry: the step and the error are retryable and
    # retries are left.
    def will_retry?
      failure? && retryable_error? && claimed.retryable != false && claimed.attempts < claimed.retry_limit
    end

    # The report for Client#report_step_results. A failure carries the exception
    # itself (the client turns a PermanentError into retryable: false and a
    # RetryableError's retry_after into retry_after_seconds; any other exception
    # is a retryable failure with its class and message).
    def report(worker_id)
      report = { step_id: step_id, worker_id: worker_id, attempt: attempt, success: success?,
                 metadata: { "duration_ms" => (duration * 1000).round(3), "attempt" => attempt } }
      if success?
        report[:results] = results
      else
        report[:error] = error
      end
      report
    end

    # The step, the task, the attempt, the duration and the outcome.
    # @return [String]
    def inspect
      outcome = success? ? "ok" : "#{error.class}: #{error.message}"
      "#<#{self.class.name} step=#{step_name}##{step_id} task=#{task_id} attempt=#{attempt} " \
        "#{format('%.3f', duration)}s #{outcome}>"
    end

    private

    def retryable_error?
      !error.is_a?(PermanentError)
    end
  end
end
