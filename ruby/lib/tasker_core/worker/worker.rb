# frozen_string_literal: true

require "securerandom"
require "set"
require "socket"

module TaskerCore
  # Runs step handlers for ready steps until stopped: claims steps
  # (Client#claim_steps), runs their handlers on a bounded pool of threads,
  # heartbeats the leases of the steps it is running, reports results in batches
  # (Client#report_and_claim: the report and the next claim in one transaction,
  # so a step made ready by a report comes back in the same call; or
  # Client#report_step_results when the worker is full or stopping) and periodically fails the steps of dead
  # workers whose leases expired (Client#recover_expired_steps) so that they are
  # retried. Any number of workers, in any number of processes, can serve one
  # database: the library never hands the same step to two of them.
  #
  #   require "tasker_core"
  #   require_relative "app/handlers" # the handler classes
  #   TaskerCore.register_task(name: "order", steps: [...])
  #   TaskerCore::Worker.new(concurrency: 8).run # until SIGTERM or SIGINT
  #
  # Settings. Each limit comes, in this order, from the keyword argument of
  # Worker.new, from TaskerCore.worker_config (process-level overrides, see
  # WorkerConfig), or from the client's configuration (docs/configuration.md:
  # config/tasker.yml, TASKER_* variables, Client.new arguments), read once per
  # worker when #run starts or a setting is first read:
  # - concurrency: handler threads: at most this many steps run at once, and
  #   claim_ahead more wait for a thread (execution.max_concurrent_steps);
  # - lease_seconds: the lease of each claimed step (execution.lease_seconds);
  # - heartbeat_interval: seconds between lease extensions
  #   (execution.heartbeat_interval_seconds; when lease_seconds is given here or
  #   in worker_config and heartbeat_interval is not, at most lease_seconds / 3);
  # - poll_interval: seconds to wait when nothing is claimable
  #   (execution.poll_interval_ms / 1000);
  # - recovery_interval: seconds between recover_expired_steps calls
  #   (execution.recovery_interval_seconds);
  # - shutdown_timeout: seconds a stopping worker waits for running handlers
  #   (execution.shutdown_timeout_seconds);
  # - error_pause: seconds to wait after a failed call to the library
  #   (execution.error_pause_seconds);
  # - step_timeout: seconds a handler may run when its step's template gives no
  #   timeout_seconds; 0: no limit (execution.step_timeout_seconds);
  # - report_isolation_failures: consecutive non-transient failures of a report
  #   before its steps are reported one by one (execution.report_isolation_failures);
  # - claim_ahead: steps claimed beyond the free handler threads, queued for the
  #   next free thread (execution.claim_ahead): each round trip reports and claims
  #   more steps; their leases run (and are renewed) while they wait, and a
  #   stopping worker runs them within shutdown_timeout. Only while every running
  #   handler is younger than poll_interval: behind a slow or hung handler no
  #   step is queued. 0 claims only for free threads.
  # Other options:
  # - client: the Client (default TaskerCore.client, resolved when #run starts,
  #   so a worker may be built before a fork and run after it);
  # - recover_leases: whether this worker recovers expired leases at all
  #   (default: TaskerCore.worker_config.recover_leases, else true);
  # - task_id: serve the steps of this one task only (TaskerCore.run_task);
  # - namespaces: serve only tasks of these namespaces (a worker pool per queue);
  # - registry: the HandlerRegistry (default TaskerCore.handler_registry);
  # - runnable_only: claim only the tasks this worker can run (default true):
  #   those of the templates in its registry (read at every claim, so templates
  #   registered later count) and those whose template registered in the
  #   database (Client#register_templates) names handler classes; tasks of
  #   other templates are left for the workers that have their handlers
  #   instead of failing here with TemplateNotFoundError. false claims every
  #   ready task. A worker of one task (task_id) claims it whatever its template;
  # - on_event: anything with #call(event, data), called on the worker's
  #   coordinating thread for every transition it causes or sees (EVENTS);
  # - worker_id: the lease holder's name (default "host:pid:random");
  # - logger: default TaskerCore.logger.
  #
  # Step timeout: a handler running longer than its step's timeout (the
  # claimed step's timeout_seconds from its template when above 0, else
  # step_timeout) is hung: the worker logs a warning and stops renewing that
  # step's lease, so the lease expires and lease recovery (any live worker)
  # fails the attempt, which is retried under the usual rules. The hung handler
  # keeps its thread (and its place in concurrency). If it returns before the
  # step was recovered, its result is reported as usual; after, the library
  # refuses it (this worker no longer holds the step) and it is logged and
  # dropped; and when this worker has claimed the step again meanwhile, the
  # late result is dropped without being reported (the library checks only the
  # holder's id, so it would be taken for the new attempt's).
  #
  # Local events (TaskerCore::Events.publish_locally, this process only, with
  # the task's correlation_id): per task of each claimed batch,
  # workflow.steps_execution_started ({"task_id", "step_ids", "worker_id"})
  # before its steps are handed to the handler threads, and
  # workflow.steps_execution_completed (the same and "duration_ms", from claim
  # to report) once every one of them was reported (or its late result
  # dropped); a batch abandoned at shutdown gets none. Around each handler, the
  # StepExecutor publishes step.before_handle, step.handle and
  # observability.step.handle.
  #
  # System events: #run announces the worker (Client#announce_worker) when it
  # starts and when it returns — the durable system.worker.started / stopped
  # events every subscriber of every process receives (a worker of one task,
  # TaskerCore.run_task, is not announced); a worker whose expired leases another
  # worker recovers is reported by that worker as system.worker.presumed_dead.
  #
  # Failures: an exception in a handler fails its step (see StepHandler::Base)
  # and never the worker; an exception talking to the library is logged and the
  # call retried after error_pause (unreported results are kept and reported
  # then). Only FFIError (a closed client, a call across fork) ends #run.
  # A report is never retried without end for an error that is not transient: a
  # lost connection, a timeout, a deadlock or a server shutting down
  # (TRANSIENT_SQLSTATE_CLASSES, or no SQLSTATE at all) is retried as long as it
  # lasts, but when a report has failed report_isolation_failures times in a row
  # with any other error (the database refuses something in it), its steps are
  # reported one by one: the others are stored, and a step whose report is still
  # refused is failed (not retryable) with the refusal as its error. The library
  # itself refuses a report carrying U+0000 alone and fails its step.
  #
  # Shutdown (#stop, or SIGTERM/SIGINT when #run installed its traps): the worker
  # stops claiming, lets the running handlers finish for up to shutdown_timeout
  # seconds while it keeps heartbeating and reporting, reports them and returns.
  # Handlers still running after shutdown_timeout are killed and their steps are
  # NOT reported: they stay in_progress until their lease expires, and then
  # lease recovery (any live worker) counts the attempt as failed and retries
  # the step. A second signal skips the wait.
  class Worker
    # The events given to on_event, with their data (a frozen Hash; every
    # step event has :worker_id, :task_id, :step_id, :step_name, :task_name,
    # :namespace, :attempt, :retry_limit and :at, a Time):
    # - :claimed — the step moved to in_progress for this worker (:lease_expires_at);
    # - :completed — its success was recorded (:duration, :started_at, :finished_at, :results);
    # - :retry_scheduled — its failure was recorded and it will be retried
    #   (:error, the exception; :duration, :started_at, :finished_at, :next_retry_at);
    # - :failed — its failure was recorded and it will not be retried (same data);
    # - :task_completed / :task_failed — a report finalized the task as complete
    #   or as error (blocked by failures) (:task_id, :status, :execution_status);
    # - :recovered — this worker failed a step whose lease expired (:step_id).
    # A step's own events come in order (:claimed before its outcome). Across
    # steps, a report_and_claim's new claims come first: a step its parent's
    # report made ready is :claimed (and handed to a thread) before that
    # parent's :completed.
    EVENTS = %i[claimed completed retry_scheduled failed task_completed task_failed recovered].freeze
    # The signals #run traps (when asked) to stop gracefully.
    SIGNALS = %w[TERM INT].freeze
    # Hostname characters kept in a worker id (the library allows 128 in all).
    WORKER_ID_HOST_LENGTH = 64
    # Finished tasks remembered so a task's final event is given once.
    FINISHED_TASKS_MEMORY = 10_000
    # Seconds to wait for a killed handler thread to unwind.
    THREAD_KILL_JOIN_SECONDS = 1.0
    # SQLSTATE classes of a DatabaseError that waiting can cure: connection
    # exceptions, insufficient resources, operator intervention (a shutdown, a
    # cancelled statement), transaction rollbacks (deadlocks, serialization).
    TRANSIENT_SQLSTATE_CLASSES = %w[08 53 57 40].freeze

    # The steps of one task claimed together, until every one was reported
    # (workflow.steps_execution_started / _completed).
    StepBatch = Struct.new(:task_id, :step_ids, :first, :started, :pending)
    private_constant :StepBatch

    # When lease_seconds is set (keyword or worker_config) and heartbeat_interval
    # is not, the configuration's heartbeat interval is used only up to
    # lease_seconds / this, so that two heartbeats can be missed before a lease
    # expires.
    HEARTBEATS_PER_LEASE = 3
    # The settings (see the class comment), in order.
    SETTINGS = WorkerConfig::SETTINGS
    # How each setting is checked: :positive_integer, :positive (number) or :non_negative (number).
    SETTING_CHECKS = {
      concurrency: :positive_integer, lease_seconds: :positive, heartbeat_interval: :positive,
      poll_interval: :positive, recovery_interval: :positive, shutdown_timeout: :non_negative,
      error_pause: :positive, step_timeout: :non_negative, report_isolation_failures: :positive_integer,
      claim_ahead: :non_negative_integer
    }.freeze

    attr_reader :worker_id, :task_id, :namespaces, :registry

    # The settings' readers: concurrency, lease_seconds, heartbeat_interval,
    # poll_interval, recovery_interval, shutdown_timeout, error_pause,
    # step_timeout, report_isolation_failures, claim_ahead (the first read may read the
    # client's configuration).
    # @!method concurrency
    #   @return [Integer] handler threads: at most this many steps run at once (execution.max_concurrent_steps unless given; see the class comment)
    # @!method lease_seconds
    #   @return [Float] the lease of each claimed step, in seconds (execution.lease_seconds unless given; see the class comment)
    # @!method heartbeat_interval
    #   @return [Float] seconds between lease extensions (execution.heartbeat_interval_seconds unless given; see the class comment)
    # @!method poll_interval
    #   @return [Float] seconds to wait when nothing is claimable (execution.poll_interval_ms / 1000 unless given; see the class comment)
    # @!method recovery_interval
    #   @return [Float] seconds between recover_expired_steps calls (execution.recovery_interval_seconds unless given; see the class comment)
    # @!method shutdown_timeout
    #   @return [Float] seconds a stopping worker waits for running handlers (execution.shutdown_timeout_seconds unless given; see the class comment)
    # @!method error_pause
    #   @return [Float] seconds to wait after a failed call to the library (execution.error_pause_seconds unless given; see the class comment)
    # @!method step_timeout
    #   @return [Float] seconds a handler may run when its step's template gives no timeout_seconds; 0: no limit (execution.step_timeout_seconds unless given; see the class comment)
    # @!method report_isolation_failures
    #   @return [Integer] consecutive non-transient failures of a report before its steps are reported one by one (execution.report_isolation_failures unless given; see the class comment)
    # @!method claim_ahead
    #   @return [Integer] steps claimed beyond the free handler threads, queued for the next free one (execution.claim_ahead unless given; see the class comment)
    SETTINGS.each do |name|
      define_method(name) { settings.fetch(name) }
    end

    def initialize(client: nil, concurrency: nil, lease_seconds: nil, heartbeat_interval: nil, poll_interval: nil,
                   recovery_interval: nil, recover_leases: nil, shutdown_timeout: nil, error_pause: nil,
                   step_timeout: nil, report_isolation_failures: nil, claim_ahead: nil, task_id: nil, namespaces: nil, registry: nil,
                   on_event: nil, worker_id: nil, logger: nil, runnable_only: true)
      @client = client
      given = { concurrency: concurrency, lease_seconds: lease_seconds, heartbeat_interval: heartbeat_interval,
                poll_interval: poll_interval, recovery_interval: recovery_interval,
                shutdown_timeout: shutdown_timeout, error_pause: error_pause, step_timeout: step_timeout,
                report_isolation_failures: report_isolation_failures, claim_ahead: claim_ahead }.compact
      overrides = TaskerCore.worker_config.to_h
      @recover_leases = [recover_leases, overrides.delete(:recover_leases), true].find { |v| !v.nil? }
      @given = checked(given, nil)
      @overrides = checked(overrides.reject { |name, _| given.key?(name) }, "TaskerCore.worker_config")
      @settings = nil
      @settings_lock = Mutex.new
      @task_id = task_id
      @namespaces = namespaces.nil? ? nil : Array(namespaces).map(&:to_s).freeze
      if @namespaces && (@namespaces.empty? || @namespaces.any?(&:empty?))
        raise ArgumentError, "namespaces must be non-empty names, got #{namespaces.inspect}"
      end
      @registry = registry || TaskerCore.handler_registry
      @runnable_only = runnable_only ? true : false
      if on_event && !on_event.respond_to?(:call)
        raise ArgumentError, "on_event must respond to #call(event, data), got #{on_event.class}"
      end

      @on_event = on_event
      @worker_id = (worker_id || default_worker_id).to_s
      @logger = logger
      @executor = StepExecutor.new(registry: @registry)
      @mutex = Mutex.new
      @results_ready = ConditionVariable.new
      @finished = [] # StepExecutions not yet reported, guarded by @mutex
      @running = {}  # step id => ClaimedStep, claimed and not yet reported (coordinator thread only)
      @batches = {}.compare_by_identity # ClaimedStep => its StepBatch, until reported (coordinator thread only)
      @started = {}.compare_by_identity # ClaimedStep => monotonic start of its handler, guarded by @mutex
      @hung = {}     # step id => its timeout, for running steps past their timeout (coordinator thread only)
      @superseded = {}.compare_by_identity # ClaimedSteps of hung handlers whose step this worker claimed again
      @lost_leases = Set.new
      @preclaimed = 0 # how many steps the last report_and_claim took (enqueued), until take_preclaimed
      @finished_tasks = Set.new
      @report_failures = Hash.new(0) # step id => consecutive non-transient failures of reports holding it
      @stats = Hash.new(0)
      @stop_requested = false
      @force_stop = false
      @active = false
      @next_heartbeat = @next_recovery = 0.0
    end

    # The client (TaskerCore.client unless one was given).
    def client
      @client ||= TaskerCore.client
    end

    # The settings, resolved (see the class comment): {concurrency:,
    # lease_seconds:, heartbeat_interval:, poll_interval:, recovery_interval:,
    # shutdown_timeout:, error_pause:, step_timeout:}. The first call reads the
    # client's effective configuration unless every setting was given.
    def settings
      @settings || @settings_lock.synchronize { @settings ||= resolve_settings }
    end

    def recover_leases?
      @recover_leases ? true : false
    end

    # Whether the worker claims only the tasks it can run (see the class comment).
    def runnable_only?
      @runnable_only
    end

    # Runs until #stop, a trapped SIGTERM/SIGINT, or +until+ (a callable checked
    # between polls) returns true; then shuts down gracefully (see the class
    # comment) and returns #stats. install_signal_traps: trap TERM and INT while
    # running (the previous handlers are restored on return).
    def run(until: nil, install_signal_traps: true)
      stop_when = binding.local_variable_get(:until)
      @mutex.synchronize do
        raise OrchestrationError, "worker #{worker_id} is already running" if @active

        @active = true
      end
      traps = {}
      begin
        # Traps first: a TERM or INT that comes while the settings are read (a
        # library call) stops the worker gracefully instead of killing it.
        traps = install_traps if install_signal_traps
        client # resolved now: a ForkError surfaces here, not in a thread
        settings
        serve(stop_when)
      ensure
        restore_traps(traps)
        @stop_requested = false # a stopped worker may run again
        @force_stop = false
        @mutex.synchronize { @active = false }
      end
      stats
    end

    # Asks the worker to stop: it stops claiming and shuts down gracefully (a
    # worker not yet running returns from its next #run at once). A second call
    # skips the wait for running handlers. Safe in a trap handler and from any
    # thread.
    def stop
      if @stop_requested
        @force_stop = true
      else
        @stop_requested = true
      end
      nil
    end

    def stopping?
      @stop_requested
    end

    def running?
      @active
    end

    # Counts since the worker was created: :claimed, :completed, :retried (failed
    # attempts that will be retried), :failed (for good), :rejected (reports the
    # library refused, e.g. a lost lease), :recovered, :errors (failed library
    # calls), :timed_out (handlers that ran past their step's timeout),
    # :discarded (late results of hung handlers whose step this worker had
    # claimed again, not reported).
    def stats
      @stats.dup.freeze
    end

    # The worker id, its concurrency, its task and whether it runs.
    # @return [String]
    def inspect
      "#<#{self.class.name} #{worker_id}#{@settings ? " concurrency=#{concurrency}" : ''}" \
        "#{task_id ? " task_id=#{task_id}" : ''}" \
        "#{running? ? ' running' : ''}>"
    end

    private

    def logger
      @logger || TaskerCore.logger
    end

    # JSON lines about steps (StructuredLogger) to #logger.
    def structured_logger
      target = logger
      @structured_logger = StructuredLogger.new(target) unless @structured_logger&.target.equal?(target)
      @structured_logger
    end

    # The structured log fields of a claimed step.
    def step_log_fields(step)
      { correlation_id: step.correlation_id, task_id: step.task_id, step_id: step.step_id,
        step_name: step.step_name, namespace: step.namespace, attempt: step.attempts }
    end

    def default_worker_id
      host = Socket.gethostname.to_s[0, WORKER_ID_HOST_LENGTH]
      "#{host}:#{Process.pid}:#{SecureRandom.hex(4)}"
    end

    # --- the coordinating loop (one thread: the caller of #run) ---

    def serve(stop_when)
      threads = start_threads
      logger.info("TaskerCore::Worker #{worker_id} started (concurrency #{concurrency}" \
                  "#{task_id ? ", task #{task_id}" : ''})")
      announce("started")
      graceful = false
      begin
        @next_heartbeat = monotonic + heartbeat_interval
        @next_recovery = monotonic
        stopping = -> { @stop_requested || stop_when&.call }
        loop do
          break if stopping.call

          outcome = cycle(stopping)
          break if outcome == :stop || stopping.call

          case outcome
          when :failed then pause(error_pause)
          when :idle then wait_for_results(poll_interval)
          end
        end
        graceful = true
      ensure
        # An exception (not a stop) abandons the running handlers at once.
        shutdown(threads, graceful ? shutdown_timeout : 0)
        announce("stopped", stats: stats)
      end
    end

    # system.worker.started / stopped (durable, for every subscriber): best
    # effort, a failure is logged and the worker goes on (or stops) as it would.
    # A worker of one task (TaskerCore.run_task) is no member of the worker pool
    # and is not announced.
    def announce(state, **extra)
      return if task_id

      details = { pid: Process.pid, hostname: Socket.gethostname.to_s, concurrency: concurrency,
                  namespaces: namespaces }.merge(extra)
      client.announce_worker(worker_id: worker_id, state: state, details: details)
    rescue StandardError => e
      logger.warn("TaskerCore::Worker #{worker_id}: could not announce #{state}: #{e.class}: #{e.message}")
    end

    # One round: report (and claim in the same call when there are results to
    # report and room for more steps), heartbeat and recover when due, then
    # claim unless the report already did or +stopping+ became true. → :stop,
    # :failed (a call to the library failed: pause), :idle (nothing claimed: wait
    # for a handler to finish or poll_interval) or :busy (go round again).
    def cycle(stopping)
      asked = false
      ok = attempt("report results") { asked = deliver_reports(claim: !stopping.call) }
      claimed = take_preclaimed # ours now: they run, even if the worker is stopping
      check_timeouts
      ok &= attempt("heartbeat") { heartbeat } if monotonic >= @next_heartbeat
      ok &= attempt("recover expired steps") { recover } if recover_leases? && monotonic >= @next_recovery
      return :stop if stopping.call

      ok &&= attempt("claim steps") { claimed = claim } unless asked
      return :failed unless ok

      claimed.zero? ? :idle : :busy
    end

    # How many steps the worker holds at most: one per handler thread, and
    # claim_ahead more queued for the next free thread while its handlers are
    # quick (see #claiming_ahead?).
    def capacity
      claiming_ahead? ? concurrency + claim_ahead : concurrency
    end

    # Claiming ahead pays while handlers finish faster than the round trips
    # that feed them; a queued step waits for a thread, so the worker stops
    # claiming ahead as soon as a running handler has taken longer than
    # poll_interval (a slow or hung handler), and queues no more steps behind it.
    def claiming_ahead?
      return false unless claim_ahead.positive?

      now = monotonic
      @mutex.synchronize { @started.each_value.all? { |at| now - at < poll_interval } }
    end

    # How many steps the last report claimed (report_and_claim; already
    # enqueued by deliver_reports).
    def take_preclaimed
      n = @preclaimed
      @preclaimed = 0
      n
    end

    # Runs the block; a failure to talk to the library is logged and answered
    # false (the caller pauses, then tries again). FFIError (closed client, fork)
    # cannot get better by waiting and is raised.
    def attempt(what)
      yield
      true
    rescue FFIError
      raise
    rescue StandardError => e
      @stats[:errors] += 1
      logger.error("TaskerCore::Worker #{worker_id}: #{what} failed: #{e.class}: #{e.message} " \
                   "(trying again in #{error_pause}s)")
      false
    end

    # A result that came in since this round's report is reported first, by the
    # next round's report_and_claim: its slot is not reused before the library
    # heard how its step ended (a late result of a hung handler is then refused,
    # not superseded by a claim of the same step that raced it).
    def claim
      return 0 if @mutex.synchronize { !@finished.empty? }

      free = capacity - @running.size - @superseded.size
      return 0 if free <= 0

      enqueue(client.claim_steps(worker_id: worker_id, task_id: task_id, limit: free, lease_seconds: lease_seconds,
                                 namespaces: namespaces, runnable: runnable_filter))
    end

    # The claim filter of runnable_only: the registry's templates and the
    # database's templates with handler classes (nil: claim everything).
    def runnable_filter
      return nil unless @runnable_only && task_id.nil?

      tasks = @registry.templates.map { |t| { namespace: t.namespace, name: t.name, version: t.version } }
      { tasks: tasks, database_handlers: true }
    end

    # Hands claimed steps to the handler threads. → how many
    def enqueue(steps)
      steps.group_by(&:task_id).each_value { |group| start_batch(group) }
      steps.each do |step|
        supersede(@running[step.step_id], step) if @running.key?(step.step_id)
        @running[step.step_id] = step
        @stats[:claimed] += 1
        @jobs << step
        structured_logger.debug("step claimed", **step_log_fields(step))
        emit(:claimed, step_data(step).merge(lease_expires_at: step.lease_expires_at))
      end
      steps.size
    end

    def heartbeat
      @next_heartbeat = monotonic + heartbeat_interval
      ids = @running.keys - @lost_leases.to_a - @hung.keys
      return if ids.empty?

      extended = client.heartbeat(worker_id: worker_id, step_ids: ids, lease_seconds: lease_seconds)
      (ids - extended).each do |id|
        @lost_leases << id
        logger.warn("TaskerCore::Worker #{worker_id}: lost the lease of step #{id} (it expired and was " \
                    "recovered, or the step was changed by someone else); its result will be refused")
      end
    end

    # Marks the running handlers that passed their step's timeout as hung: their
    # leases are no longer renewed (see the class comment).
    def check_timeouts
      started = @mutex.synchronize { @started.to_a }
      return if started.empty?

      now = monotonic
      started.each do |step, at|
        next unless @running[step.step_id].equal?(step) && !@hung.key?(step.step_id)

        limit = timeout_for(step)
        next unless limit.positive? && now - at > limit

        @hung[step.step_id] = limit
        @stats[:timed_out] += 1
        logger.warn("TaskerCore::Worker #{worker_id}: step #{step.step_id} (#{step.step_name}) of task " \
                    "#{step.task_id} (correlation id #{step.correlation_id}) has run past its timeout of " \
                    "#{format_seconds(limit)}s; no longer renewing its lease, so lease recovery fails this " \
                    "attempt and the step is retried under its retry rules")
      end
    end

    # The step's timeout in seconds (0: none): its template's timeout_seconds,
    # else step_timeout.
    def timeout_for(step)
      own = step.respond_to?(:timeout_seconds) ? step.timeout_seconds : nil
      own.is_a?(Numeric) && own.positive? ? own.to_f : step_timeout
    end

    # This worker claimed +step+ again while the handler of its earlier claim
    # (+old+, hung past its timeout) still runs: that handler's result will be
    # dropped, not reported.
    def supersede(old, step)
      @superseded[old] = true
      @hung.delete(step.step_id)
      @lost_leases.delete(step.step_id)
      logger.info("TaskerCore::Worker #{worker_id}: claimed step #{step.step_id} again (attempt #{step.attempts}) " \
                  "while the handler of attempt #{old.attempts} still runs past its timeout; that handler's " \
                  "result will be dropped")
    end

    # Drops the result of a superseded claim.
    def discard(execution)
      @superseded.delete(execution.claimed)
      @stats[:discarded] += 1
      logger.info("TaskerCore::Worker #{worker_id}: dropped the late result of attempt #{execution.attempt} of " \
                  "step #{execution.step_id} (task #{execution.task_id}): the step was claimed again after its " \
                  "timeout")
    end

    def format_seconds(seconds)
      seconds == seconds.to_i ? seconds.to_i.to_s : seconds.to_s
    end

    def recover
      @next_recovery = monotonic + recovery_interval
      result = client.recover_expired_steps(worker_id: worker_id)
      result.outcomes.select(&:applied?).each do |outcome|
        @stats[:recovered] += 1
        logger.info("TaskerCore::Worker #{worker_id}: step #{outcome.step_id}'s lease expired; failed it for a retry")
        emit(:recovered, { worker_id: worker_id, step_id: outcome.step_id, at: Time.now.utc })
      end
      task_events(result.tasks)
    end

    # Reports every finished execution in one call, then gives the events. With
    # +claim+, the same call (report_and_claim, one transaction) claims as many
    # steps as there will be free threads. They go to the handler threads before
    # the reports are settled (logged, their events given), so a step its
    # parent's report made ready starts without waiting for that; the reported
    # steps leave @running first, so a step reported and claimed again by the
    # same call is not taken for a superseded one. take_preclaimed answers how
    # many. → true when the call claimed too
    def deliver_reports(claim: false)
      batch = @mutex.synchronize { @finished.slice!(0, @finished.size) }
      stale, batch = batch.partition { |execution| !@running[execution.step_id].equal?(execution.claimed) }
      stale.each { |execution| discard(execution) }
      if batch.empty?
        finish_batches(stale)
        return false
      end

      room = claim ? capacity - @running.size - @superseded.size + batch.size : 0
      begin
        pairs, tasks, claimed = begin
          record(batch, room)
        rescue FFIError
          raise
        rescue StandardError => e
          raise if transient?(e) || !repeated_failure?(batch)

          isolate(batch, e)
        end
      rescue Exception # rubocop:disable Lint/RescueException -- keep the results for the next try, whatever happened
        @mutex.synchronize { @finished.unshift(*batch) }
        raise
      end
      pairs.each { |execution, _| @report_failures.delete(execution.step_id) }
      timeouts = pairs.map { |execution, _| release(execution) }
      @preclaimed = enqueue(claimed) if claimed
      retry_times = retry_times_for(pairs)
      pairs.each_with_index { |(execution, outcome), i| settle(execution, outcome, retry_times, timeouts[i]) }
      finish_batches(stale + pairs.map(&:first))
      task_events(tasks)
      !claimed.nil?
    end

    # → [[StepExecution, BatchOutcome]], [TaskStatus], [ClaimedStep] or nil
    # (claimed only when +room+ > 0 and the combined call was accepted).
    def record(executions, room = 0)
      if room.positive?
        begin
          result, steps = client.report_and_claim(
            executions.map { |x| x.report(worker_id) },
            worker_id: worker_id, task_id: task_id, limit: room, lease_seconds: lease_seconds, namespaces: namespaces,
            runnable: runnable_filter
          )
          return [executions.zip(result.outcomes), result.tasks, steps]
        rescue ValidationError
          # Refused as a whole (a report too big, say): the report-only path
          # below finds and fails the bad one; the claim waits for the next round.
        end
      end
      result = client.report_step_results(executions.map { |x| x.report(worker_id) })
      [executions.zip(result.outcomes), result.tasks]
    rescue ValidationError => e
      # The library refuses the whole call for one bad report (results over
      # max_payload_bytes, say): report one by one, and fail a refused one.
      return refused(executions.first, e) if executions.size == 1

      executions.each_with_object([[], []]) do |execution, (pairs, tasks)|
        p, t = record([execution])
        pairs.concat(p)
        tasks.concat(t)
      end
    end

    # Waiting can cure +error+: a timeout, a lost connection (no SQLSTATE: the
    # server did not answer; or a TRANSIENT_SQLSTATE_CLASSES one).
    def transient?(error)
      case error
      when TimeoutError then true
      when DatabaseError
        sqlstate = error.details["sqlstate"]
        sqlstate.nil? || TRANSIENT_SQLSTATE_CLASSES.include?(sqlstate.to_s[0, 2])
      else false
      end
    end

    # Counts a non-transient failure of a report of +batch+. → true when one of
    # its steps has now failed report_isolation_failures times in a row.
    def repeated_failure?(batch)
      batch.map { |execution| @report_failures[execution.step_id] += 1 }.max >= report_isolation_failures
    end

    # Reports +batch+ one by one after a report of it kept failing with +cause+:
    # the others are stored, a step whose own report is refused is failed, and
    # one that meets a transient error waits for the next round. A step whose
    # failure cannot be reported either is given up (its lease expires and lease
    # recovery fails it). → [[StepExecution, BatchOutcome or nil]], [TaskStatus]
    def isolate(batch, cause)
      logger.warn("TaskerCore::Worker #{worker_id}: the report of #{batch.size} step(s) failed " \
                  "#{report_isolation_failures} time(s) in a row (#{cause.class}: #{cause.message}); reporting them one by one")
      kept = []
      out = batch.each_with_object([[], []]) do |execution, (pairs, tasks)|
        p, t = isolated_report(execution)
        if p.nil?
          kept << execution
        else
          pairs.concat(p)
          tasks.concat(t)
        end
      end
      @mutex.synchronize { @finished.unshift(*kept) } unless kept.empty?
      out
    end

    # One step's report after isolation. → [pairs, tasks], or nil to try again later
    def isolated_report(execution)
      record([execution])
    rescue FFIError
      raise
    rescue StandardError => e
      return nil if transient?(e)

      begin
        refused(execution, e)
      rescue FFIError
        raise
      rescue StandardError => e2
        return nil if transient?(e2)

        logger.error("TaskerCore::Worker #{worker_id}: giving up on step #{execution.step_id}: neither its report " \
                     "nor its failure could be stored (#{e2.class}: #{e2.message}); lease recovery will fail it")
        @report_failures.delete(execution.step_id)
        [[[execution, nil]], []]
      end
    end

    def refused(execution, error)
      logger.error("TaskerCore::Worker #{worker_id}: the library refused the report of step " \
                   "#{execution.step_id} (#{error.message}); failing the step")
      failure = StepExecution.new(
        claimed: execution.claimed, started_at: execution.started_at, finished_at: execution.finished_at,
        duration: execution.duration,
        error: PermanentError.new("the step's report was refused: #{error.message.delete("\0")}",
                                  error_code: "report_refused")
      )
      result = client.report_step_results([failure.report(worker_id)])
      [[[failure, result.outcomes.first]], result.tasks]
    end

    # A reported (or refused) execution's step is no longer this worker's.
    # → the step's timeout if its handler had run past it (nil otherwise)
    def release(execution)
      @running.delete(execution.step_id)
      @lost_leases.delete(execution.step_id)
      @hung.delete(execution.step_id)
    end

    # Logs the outcome of a released execution and gives its event.
    def settle(execution, outcome, retry_times, timeout)
      if outcome.nil? || outcome.rejected?
        @stats[:rejected] += 1
        reason = outcome&.error&.message || "no outcome"
        if timeout
          logger.info("TaskerCore::Worker #{worker_id}: the late result of step #{execution.step_id} (it ran " \
                      "#{format('%.1f', execution.duration)}s, past its timeout of #{format_seconds(timeout)}s) " \
                      "was refused: #{reason}")
        else
          logger.warn("TaskerCore::Worker #{worker_id}: the report of step #{execution.step_id} was refused: #{reason}")
        end
        return
      end
      return unless outcome.applied? # a duplicate: the step was already in that state

      data = step_data(execution.claimed).merge(duration: execution.duration, started_at: execution.started_at,
                                                finished_at: execution.finished_at)
      fields = step_log_fields(execution.claimed).merge(duration_ms: (execution.duration * 1000).round(3))
      if execution.success? && outcome.to_state == "error"
        # The library refused the result (U+0000 in it, say) and failed the step.
        @stats[:failed] += 1
        structured_logger.error("step failed: its report was refused", **fields, error: outcome.error)
        emit(:failed, data.merge(error: outcome.error))
      elsif outcome.to_state == "complete"
        @stats[:completed] += 1
        structured_logger.info("step completed", **fields)
        emit(:completed, data.merge(results: execution.results))
      elsif execution.will_retry?
        @stats[:retried] += 1
        structured_logger.warn("step failed; will retry", **fields, error: execution.error)
        emit(:retry_scheduled, data.merge(error: execution.error, next_retry_at: retry_times[execution.step_id]))
      else
        @stats[:failed] += 1
        structured_logger.error("step failed", **fields, error: execution.error)
        emit(:failed, data.merge(error: execution.error))
      end
    end

    # When each failed step that will be retried runs next (only asked when
    # someone listens to events).
    def retry_times_for(pairs)
      return {} unless @on_event

      retrying = pairs.select { |x, o| o&.applied? && x.will_retry? }.map(&:first)
      retrying.group_by(&:task_id).each_with_object({}) do |(task_id, executions), times|
        rows = client.step_readiness(task_id, step_ids: executions.map(&:step_id))
        rows.each { |row| times[row.workflow_step_id] = row.next_retry_at }
      rescue Error => e
        logger.warn("TaskerCore::Worker #{worker_id}: could not read retry times: #{e.message}")
      end
    end

    def task_events(statuses)
      statuses.each do |status|
        event = { "complete" => :task_completed, "error" => :task_failed }[status.status]
        next if event.nil? || @finished_tasks.include?(status.task_id)

        @finished_tasks.clear if @finished_tasks.size >= FINISHED_TASKS_MEMORY
        @finished_tasks << status.task_id
        emit(event, { worker_id: worker_id, task_id: status.task_id, status: status.status,
                      execution_status: status.execution_status, at: Time.now.utc })
      end
    end

    def step_data(step)
      { worker_id: worker_id, task_id: step.task_id, step_id: step.step_id, step_name: step.step_name,
        task_name: step.task_name, namespace: step.namespace, attempt: step.attempts,
        retry_limit: step.retry_limit, at: Time.now.utc }
    end

    # A claimed batch's steps of one task: workflow.steps_execution_started,
    # before they go to the handler threads.
    def start_batch(steps)
      first = steps.first
      batch = StepBatch.new(first.task_id, steps.map(&:step_id).freeze, first, monotonic, steps.size)
      steps.each { |step| @batches[step] = batch }
      local_event("workflow.steps_execution_started", first,
                  "task_id" => batch.task_id, "step_ids" => batch.step_ids, "worker_id" => worker_id)
    end

    # Counts the executions as reported (or dropped); a batch whose steps all
    # are gets workflow.steps_execution_completed.
    def finish_batches(executions)
      done = []
      executions.each do |execution|
        batch = @batches.delete(execution.claimed)
        next if batch.nil?

        batch.pending -= 1
        done << batch if batch.pending.zero?
      end
      done.each do |batch|
        local_event("workflow.steps_execution_completed", batch.first,
                    "task_id" => batch.task_id, "step_ids" => batch.step_ids, "worker_id" => worker_id,
                    "duration_ms" => ((monotonic - batch.started) * 1000).round(3))
      end
    end

    # The worker-side moments happen in this process only, like the
    # StepExecutor's (see StepExecutor#local_event): they go to this process's
    # TaskerCore::Events subscribers (and the bridges), under the task's
    # correlation id, not to the durable outbox.
    def local_event(name, step, payload)
      return unless Events.listening?(name)

      Correlation.with(step.correlation_id) do
        Events.publish_locally(
          Event.new(name: name, task_id: step.task_id, namespace: step.namespace, task_name: step.task_name,
                    correlation_id: step.correlation_id, payload: payload, created_at: Time.now.utc, durable: false)
        )
      end
    rescue StandardError => e
      logger.error("TaskerCore::Worker #{worker_id}: local event #{name}: #{e.class}: #{e.message}")
    end

    def emit(event, data)
      return unless @on_event

      @on_event.call(event, data.freeze)
    rescue StandardError => e
      logger.error("TaskerCore::Worker #{worker_id}: on_event raised for #{event}: #{e.class}: #{e.message}")
    end

    # Waits up to +timeout+ seconds for a handler to finish.
    def wait_for_results(timeout)
      return unless timeout.positive?

      @mutex.synchronize { @results_ready.wait(@mutex, timeout) if @finished.empty? }
    end

    # Sleeps +seconds+ (less if forced to stop).
    def pause(seconds)
      deadline = monotonic + seconds
      sleep([poll_interval, deadline - monotonic].min) while monotonic < deadline && !@force_stop
    end

    def monotonic
      Process.clock_gettime(Process::CLOCK_MONOTONIC)
    end

    # --- handler threads ---

    def start_threads
      @jobs = Queue.new
      Array.new(concurrency) do |i|
        Thread.new do
          Thread.current.name = "tasker-worker-#{i}"
          while (step = @jobs.pop)
            @mutex.synchronize { @started[step] = monotonic }
            execution = Correlation.with(step.correlation_id) { @executor.execute(step) }
            @mutex.synchronize do
              @started.delete(step)
              @finished << execution
              @results_ready.signal
            end
          end
        end
      end
    end

    # Stops claiming, waits up to +timeout+ seconds for the running handlers
    # (heartbeating and reporting meanwhile), reports, and kills the handlers
    # still running: their steps are left to lease recovery.
    def shutdown(threads, timeout)
      @jobs.close
      begin
        drain(timeout)
      rescue StandardError => e
        logger.error("TaskerCore::Worker #{worker_id}: shutting down: #{e.class}: #{e.message}")
      ensure
        busy = threads.select(&:alive?)
        busy.each(&:kill)
        busy.each { |t| t.join(THREAD_KILL_JOIN_SECONDS) }
        unless @running.empty?
          logger.warn("TaskerCore::Worker #{worker_id}: stopped with #{@running.size} step(s) unreported " \
                      "(#{@running.keys.join(', ')}); lease recovery will retry them after their lease expires")
        end
        @running.clear
        @batches.clear
        @lost_leases.clear
        @report_failures.clear
        @hung.clear
        @superseded.clear
        @mutex.synchronize do
          @finished.clear
          @started.clear
        end
        logger.info("TaskerCore::Worker #{worker_id} stopped #{stats.inspect}")
      end
    end

    def drain(timeout)
      deadline = monotonic + timeout
      while !@running.empty? && !@force_stop && monotonic < deadline
        ok = attempt("report results") { deliver_reports }
        check_timeouts
        ok &= attempt("heartbeat") { heartbeat } if monotonic >= @next_heartbeat
        ok ? wait_for_results([poll_interval, deadline - monotonic].min) : pause(error_pause)
      end
      attempt("report results") { deliver_reports }
    end

    def install_traps
      SIGNALS.to_h { |signal| [signal, Signal.trap(signal) { stop }] }
    end

    def restore_traps(traps)
      traps.each { |signal, previous| Signal.trap(signal, previous || "DEFAULT") }
    end

    # --- settings ---

    # Keyword arguments > TaskerCore.worker_config > the client's configuration
    # (read only when some setting is set in neither).
    def resolve_settings
      explicit = @overrides.merge(@given)
      missing = SETTINGS - explicit.keys
      values = {}
      unless missing.empty?
        configured = WorkerConfig.from_configuration(client.effective_config).slice(*missing)
        values = checked(configured, "the client's configuration")
      end
      values.merge!(explicit)
      if explicit.key?(:lease_seconds) && !explicit.key?(:heartbeat_interval)
        values[:heartbeat_interval] = [values[:heartbeat_interval], values[:lease_seconds] / HEARTBEATS_PER_LEASE].min
      end
      SETTINGS.to_h { |name| [name, values.fetch(name)] }.freeze
    end

    # The settings checked and converted (seconds as Floats); ArgumentError
    # naming the setting (and +source+ when not a keyword argument).
    def checked(values, source)
      values.to_h { |name, value| [name, check(name, value, source)] }
    end

    def check(name, value, source)
      label = source ? "#{name} (from #{source})" : name.to_s
      case SETTING_CHECKS.fetch(name)
      when :positive_integer
        return value if value.is_a?(Integer) && value.positive?

        raise ArgumentError, "#{label} must be a positive Integer, got #{value.inspect}"
      when :non_negative_integer
        return value if value.is_a?(Integer) && !value.negative?

        raise ArgumentError, "#{label} must be an Integer >= 0, got #{value.inspect}"
      when :positive
        return value.to_f if value.is_a?(Numeric) && value.positive?

        raise ArgumentError, "#{label} must be a positive number of seconds, got #{value.inspect}"
      else
        return value.to_f if value.is_a?(Numeric) && value >= 0

        raise ArgumentError, "#{label} must be a number of seconds >= 0, got #{value.inspect}"
      end
    end
  end
end
