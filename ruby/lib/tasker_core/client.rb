# frozen_string_literal: true

require "json"
require "time"

module TaskerCore
  # A connection to one Tasker Core database (a pool inside the native library).
  #
  #   client = TaskerCore::Client.new(database_url: ENV["DATABASE_URL"], migrate: true)
  #   task = client.create_task(name: "order", steps: [{ name: "a" }, { name: "b", depends_on: ["a"] }])
  #   client.viable_steps(task.task_id).map(&:name) # => ["a"]
  #   client.close
  #
  # Thread-safe: calls from many threads run in parallel (the GVL is released
  # while the library works). An open client belongs to the process that opened
  # it (TaskerCore::ForkError in a forked child); a lazy one (lazy: true, as
  # TaskerCore.client is) opens on its first call in the process that makes it,
  # so it may be built before a fork.
  # Failures raise TaskerCore::Error subclasses (see ErrorMapper).
  class Client
    # The pid of the process that created the client (for a lazy client: of
    # the process that opened it, once opened).
    attr_reader :pid

    # The file the library reads when none is named (relative to the working
    # directory), as core/config.DefaultFile.
    DEFAULT_CONFIG_FILE = "config/tasker.yml"

    # database_url: falls back to DATABASE_URL (then the config file).
    # schema: the PostgreSQL schema to work in; with migrate: true the library
    # creates it when missing and runs the migrations there.
    # config_file:, environment: the YAML file and its section (under Rails:
    # config/tasker.yml and Rails.env); ERB in the file is evaluated here
    # (ConfigFile) before the library reads it.
    # defaults:, defaults_origin: values below the file and the environment
    # (docs/configuration.md "Host defaults"; the Rails integration's database).
    # lazy: false opens the library's client (loading the library, connecting)
    # now; true defers that to the first call in a process (TaskerCore.client
    # is lazy), so a lazy client built before a fork is opened by the child
    # that uses it. migrate! and register_templates on a lazy client whose
    # process has not loaded the library yet run in a short-lived child process
    # (BootCall), leaving this one without a Go runtime (safe to fork).
    # options: any other configuration key of docs/configuration.md, nested
    # (execution: {lease_seconds: 10}) or shorthand (max_connections:, retry_policy: {...}).
    # Explicit arguments win over TASKER_* variables, which win over the file.
    def initialize(database_url: nil, schema: nil, migrate: nil, config_file: nil, environment: nil, lazy: false,
                   **options)
      config = options.transform_keys(&:to_s)
      config["database_url"] = database_url unless database_url.nil?
      config["schema"] = schema.to_s unless schema.nil?
      config["migrate"] = migrate ? true : false unless migrate.nil?
      config_file ||= rails_config_file || (File.file?(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : nil)
      environment ||= rails_environment
      config["config_file"] = config_file.to_s unless config_file.nil?
      # The library parses the YAML; ERB in it is Ruby's to evaluate.
      if !config_file.nil? && !config.key?("config_yaml") && File.file?(config_file.to_s)
        config["config_yaml"] = ConfigFile.render(config_file)
      end
      config["environment"] = environment.to_s unless environment.nil?
      @config = config
      @schema = schema&.to_s
      @pid = Process.pid
      @handle = nil
      @closed = false
      @open_lock = Mutex.new
      open_handle unless lazy
    end

    # False for a lazy client until its first call (in this process).
    def opened?
      !@handle.nil?
    end

    # The schema (PostgreSQL search_path) the client works in: the one given
    # to new, else the effective configuration's database.schema (from
    # tasker.yml or TASKER_DATABASE_SCHEMA; reading it opens a lazy client),
    # or nil for the server's default.
    def schema
      return @schema unless @schema.nil?

      row = Array(effective_config["values"]).find { |r| r["key"] == "database.schema" }
      value = row && row["value"]
      @schema = value.is_a?(String) && !value.empty? ? value : nil
    end

    # The library's handle number (for diagnostics; opens a lazy client).
    def handle_id
      native_handle.id
    end

    # Runs the migrations (idempotent). → MigrationResult
    # Safe at boot: on a lazy client whose process has not loaded the library,
    # this runs in a short-lived child process (see new).
    def migrate!
      MigrationResult.from_h(boot_invoke(:run_migrations, {}))
    end

    # What migrate! would do, changing nothing (schema version, pending
    # migration files, whether the SQL functions are current). → MigrationStatus
    def migration_status
      MigrationStatus.from_h(invoke(:run_migrations, { dry_run: true }))
    end

    # Creates a task from a spec (docs/ffi.md "Task spec"): name:, steps: [{name:,
    # depends_on: [...]}, ...], context:, ... Keys may be symbols or strings; Times
    # are sent as RFC 3339 UTC. → CreatedTask
    # Raises DependencyCycleError (details["cycle"]) or ValidationError for a bad spec.
    # Without a correlation_id in the spec, the task takes Correlation.id (when
    # it is a UUID).
    def create_task(spec)
      hash!(spec, "spec")
      CreatedTask.from_h(invoke(:create_task, with_current_trace(with_current_correlation(spec))))
    end

    # The task's execution context, now or as_of a Time. → TaskExecutionContext
    def task_execution_context(task_id, as_of: nil)
      TaskExecutionContext.from_h(invoke(:get_task_execution_context, task_payload(task_id, as_of)))
    end

    # The steps that can run now (or as_of a Time). → [ViableStep]
    def viable_steps(task_id, as_of: nil)
      data = invoke(:discover_viable_steps, task_payload(task_id, as_of))
      Array(data["steps"]).map { |row| ViableStep.from_h(row) }.freeze
    end
    alias discover_viable_steps viable_steps

    # Readiness of the task's steps (all, or those in step_ids), with the reason
    # a step is not ready. → [StepReadiness]
    def step_readiness(task_id, step_ids: nil, as_of: nil)
      payload = with_optional({ task_id: id_param(task_id, "task_id") }, step_ids: step_ids && id_list(step_ids, "step_ids"), as_of: as_of)
      Array(invoke(:get_step_readiness, payload)["steps"]).map { |row| StepReadiness.from_h(row) }.freeze
    end

    # Applies step state changes in one transaction, in order; each update is
    # {step_id:, state:, results:, metadata:, from_state:, backoff_request_seconds:,
    # permanent:} or [step_id, state, results]. Rejected items do not raise: see
    # the BatchResult's outcomes. → BatchResult
    # An update carrying U+0000 is refused alone by the library (see the outcome's
    # error); the others are applied.
    def batch_update_step_states(updates)
      array!(updates, "updates")
      updates.each_with_index do |update, i|
        next if update.is_a?(Hash) || update.is_a?(Array)

        raise ValidationError.new("updates[#{i}] must be a Hash or [step_id, state, results], got #{update.class}",
                                  details: { "field" => "updates[#{i}]" })
      end

      BatchResult.from_h(invoke(:batch_update_step_states, { updates: updates }))
    end

    # The shape of the task's dependency graph. → DependencyAnalysis
    def analyze_dependencies(task_id)
      DependencyAnalysis.from_h(invoke(:analyze_dependencies, task_payload(task_id, nil)))
    end

    # Moves the task to +state+ (compare-and-swap against from_state when given).
    # → Transition; StateTransitionError when illegal.
    def transition_task(task_id, state, from_state: nil, metadata: nil)
      payload = with_optional({ task_id: id_param(task_id, "task_id"), state: state.to_s }, from_state: from_state&.to_s, metadata: metadata)
      Transition.from_h(invoke(:transition_task, payload))
    end

    # A step's audit trail, oldest first. → [Transition]
    def step_transitions(step_id)
      transitions(invoke(:get_step_transitions, { step_id: id_param(step_id, "step_id") }))
    end

    # A task's audit trail, oldest first. → [Transition]
    def task_transitions(task_id)
      transitions(invoke(:get_task_transitions, { task_id: id_param(task_id, "task_id") }))
    end

    # → SystemHealth
    def system_health
      SystemHealth.from_h(invoke(:get_system_health, {}))
    end

    # Metrics since a Time (default: the library's window). → AnalyticsMetrics
    def analytics(since: nil)
      AnalyticsMetrics.from_h(invoke(:get_analytics_metrics, with_optional({}, since: since)))
    end

    # filters: since:, limit:, namespace:, task_name:, version:. → [SlowTask]
    def slowest_tasks(**filters)
      Array(invoke(:get_slowest_tasks, filters)["tasks"]).map { |row| SlowTask.from_h(row) }.freeze
    end

    # filters: since:, limit:, namespace:, task_name:, version:. → [SlowStep]
    def slowest_steps(**filters)
      Array(invoke(:get_slowest_steps, filters)["steps"]).map { |row| SlowStep.from_h(row) }.freeze
    end

    # Claims up to +limit+ ready steps (of one task, or of any tasks by priority
    # then age) for +worker_id+, moving them to in_progress under a lease. Concurrent
    # workers never get the same step. → [ClaimedStep]
    # namespaces: only tasks of these namespaces (a worker pool per queue).
    # runnable: only the tasks a worker can run, {tasks: [{namespace:, name:,
    # version:}], database_handlers: true|false} (the named templates and, with
    # database_handlers, the tasks whose template in the database names handler
    # classes); ignored with task_id.
    def claim_steps(worker_id:, task_id: nil, limit: nil, lease_seconds: nil, namespaces: nil, runnable: nil)
      payload = claim_payload(worker_id, task_id, limit, lease_seconds, namespaces, runnable)
      Array(invoke(:claim_steps, payload)["steps"]).map { |row| ClaimedStep.from_h(row) }.freeze
    end

    # Reports +reports+ (as report_step_results) and claims (as claim_steps) in one
    # transaction: one round trip and one commit for a worker's round; steps the
    # reports made ready can come back in the same call. Either both happen or
    # neither does. → [ReportResult, [ClaimedStep]]
    def report_and_claim(reports, worker_id:, task_id: nil, limit: nil, lease_seconds: nil, namespaces: nil,
                         runnable: nil)
      array!(reports, "reports")

      data = invoke(:report_and_claim, { reports: normalize_reports(reports),
                                         claim: claim_payload(worker_id, task_id, limit, lease_seconds, namespaces,
                                                              runnable) })
      [ReportResult.from_h(data), Array(data["steps"]).map { |row| ClaimedStep.from_h(row) }.freeze]
    end

    # Reports the results of claimed steps and finalizes their tasks. Each report
    # is {step_id:, worker_id:, success:, results:, error:, metadata:}; error may be a
    # Hash ({message:, type:, code:, retryable:, retry_after_seconds:, context:}) or
    # an exception: a PermanentError is not retryable, a RetryableError's
    # retry_after is the backoff. A report whose results, error or metadata carry
    # U+0000 (which PostgreSQL cannot store) fails its step saying why, and the
    # other reports are stored (its outcome's error names the field). → ReportResult
    def report_step_results(reports)
      array!(reports, "reports")

      ReportResult.from_h(invoke(:report_step_results, { reports: normalize_reports(reports) }))
    end

    # Extends +worker_id+'s leases on +step_ids+. → the step ids extended
    def heartbeat(worker_id:, step_ids:, lease_seconds: nil)
      payload = with_optional({ worker_id: worker_id, step_ids: id_list(Array(step_ids), "step_ids") }, lease_seconds: lease_seconds)
      Array(invoke(:heartbeat, payload)["extended"]).freeze
    end

    # Announces that a worker of this process started or stopped (+state+
    # "started" / "stopped"): the durable system.worker.started / stopped events,
    # which every subscriber of every process receives; while a worker is
    # announced, the client's monitor checks the system health
    # (system_events.health_*). +details+: any of pid, hostname, concurrency,
    # namespaces, stats. Worker#run does this itself. → {"announced", "state"}
    def announce_worker(worker_id:, state:, details: {})
      hash!(details, "details")
      invoke(:announce_worker, { worker_id: worker_id, state: state.to_s, details: details }).freeze
    end

    # Fails the steps whose lease expired (a failed attempt, audited with
    # reason lease_expired) so that a live worker can retry them. → ReportResult
    def recover_expired_steps(worker_id:, limit: nil)
      ReportResult.from_h(invoke(:recover_expired_steps, with_optional({ worker_id: worker_id }, limit: limit)))
    end

    # Tasks that have work to hand out, by priority then age. → [ReadyTask]
    def next_ready_tasks(limit: nil)
      Array(invoke(:next_ready_tasks, with_optional({}, limit: limit))["tasks"]).map { |row| ReadyTask.from_h(row) }.freeze
    end

    # Up to +limit+ (default: events.batch_size) lifecycle events +subscriber+ has
    # not acknowledged, in order per task, waiting up to +wait_ms+ (at most 60000
    # and below api.call_timeout_ms) for a notification when there is none.
    # The same events come back until the batch is given to ack_events.
    # from: where a subscriber name the database has not seen yet starts:
    # :beginning (the default here: everything in the outbox), :now (the events
    # committed from now on) or a Time (the events created since); ignored for
    # a name that exists (its cursor wins). → EventBatch
    def fetch_events(subscriber:, limit: nil, wait_ms: nil, from: nil)
      from = case from
             when nil, :beginning, "beginning" then nil
             when :now, "now" then "now"
             when Time then from.getutc.iso8601(6)
             else raise ArgumentError, "from must be :now, :beginning or a Time, got #{from.inspect}"
             end
      EventBatch.from_h(invoke(:fetch_events, with_optional({ subscriber: subscriber }, limit: limit, wait_ms: wait_ms,
                                                                                        from: from)))
    end

    # Acknowledges a batch fetch_events returned for +subscriber+: its events
    # are never delivered to that subscriber again. → true
    def ack_events(subscriber:, batch:)
      unless batch.is_a?(EventBatch)
        raise ValidationError.new("batch must be a TaskerCore::EventBatch, got #{batch.class}", details: { "field" => "batch" })
      end

      invoke(:ack_events, batch.to_library_h.merge("subscriber" => subscriber))
      true
    end

    # Deletes outbox events older than events.retention_hours. → the number deleted
    def prune_events
      invoke(:prune_events, {})["deleted"]
    end

    # Publishes a custom event that the task's template declares (custom_events),
    # with +payload+ (a Hash), in the task's event sequence. → the event's task_seq
    def publish_event(task_id:, name:, payload: {})
      invoke(:publish_event, { task_id: id_param(task_id, "task_id"), name: name, payload: payload })["task_seq"]
    end

    # Counters of the client's live event publisher (docs/events.md), a frozen
    # Hash with string keys: "enabled", "listening" (a Go subscriber or an open
    # stream), "published", "delivered", "dropped" (a full buffer, per
    # events.overflow), "failed" (events of batches the stream did not
    # take within events.delivery_timeout_ms), "batches", "buffered_now", "buffer_size",
    # "overflow", "average_latency_ms", "max_latency_ms", "subscribers",
    # "stream_open", "subscriber_errors".
    def event_metrics
      invoke(:event_metrics, {}).freeze
    end

    # This process's metrics in the Prometheus text exposition format
    # (docs/observability.md): {"content_type" => ..., "text" => ...} (frozen).
    # ConfigurationError when metrics.enabled is false.
    def metrics_text
      invoke(:metrics_text, {}).freeze
    end

    # One health check, "live", "ready" or "status" (docs/observability.md):
    # {"status" => "ok"|"fail", "http_status" => 200|503, "check", "checks" => {...}} (frozen).
    def health(check)
      ValueObject.deep_freeze(invoke(:health_check, { check: check.to_s }))
    end

    # The events this client knows: the system events, those of
    # events.definitions_paths and the custom events of the templates it
    # registered. → [{"name", "description", "fired_by", "delivery",
    # "payload_schema", "custom"}] (frozen)
    def event_catalog
      ValueObject.deep_freeze(Array(invoke(:event_catalog, {})["events"]))
    end

    # Opens the client's live event stream (one per client) for the events whose
    # names match +patterns+ ("*", "step.*", "task.completed"; a String or an
    # Array, default ["*"]): from now on the events of this client's committed
    # transactions, and the live-only ones, wait in it for read_event_stream.
    # ValidationError when a stream is already open or a pattern is malformed,
    # ConfigurationError when events.enabled is false. → the patterns (frozen)
    # Events::LiveRelay runs the reading loop on a thread.
    def open_event_stream(patterns: nil)
      data = invoke(:open_event_stream, with_optional({}, patterns: patterns && Array(patterns).map(&:to_s)))
      Array(data["patterns"]).freeze
    end

    # The next batch of the live event stream, waiting up to +wait_ms+ (default
    # 0; at most 60000 and below api.call_timeout_ms, else ValidationError) when
    # none is waiting. Best effort: a batch not read within
    # events.delivery_timeout_ms is dropped (event_metrics "failed"). The wait
    # releases the GVL. → LiveEventBatch (open? false once the stream is closed)
    def read_event_stream(wait_ms: nil)
      LiveEventBatch.from_h(invoke(:read_event_stream, with_optional({}, wait_ms: wait_ms)))
    end

    # Closes the live event stream; a read waiting on it returns at once.
    # → true when a stream was open
    def close_event_stream
      invoke(:close_event_stream, {})["closed"] == true
    end

    # The effective configuration: {"environment" => ..., "values" => [{"key", "value",
    # "source" (default | file | env | explicit), "origin"}]}, passwords masked.
    def effective_config
      invoke(:get_effective_config, {}).freeze
    end

    # Parses YAML task templates (files or directories in +paths+, or a +yaml+
    # string named +file+ in messages) for +environment+ (default: the client's)
    # and registers them as versioned named tasks (safe at boot, like migrate!:
    # on a lazy client not yet opened, in a short-lived child process). A broken template raises
    # ValidationError (or DependencyCycleError) naming the file, line and step.
    # → [{"key", "named_task_id", "namespace", "name", "version", "steps", "file"}]
    def register_templates(paths: nil, yaml: nil, file: nil, environment: nil)
      payload = with_optional({}, paths: paths && Array(paths).map(&:to_s), yaml: yaml, file: file,
                                  environment: environment)
      Array(boot_invoke(:register_task_templates, payload)["templates"]).freeze
    end

    # Creates a task from a registered template; the context is validated against
    # the template's JSON Schema (ValidationError lists the failing paths).
    # options: initiator:, source_system:, reason:, tags:, bypass_steps:,
    # requested_at:, priority:, correlation_id:, identity_strategy:. → CreatedTask
    def create_task_from_template(name:, namespace: nil, version: nil, context: nil, **options)
      payload = with_optional({ name: name }, namespace: namespace, version: version, context: context, **options)
      CreatedTask.from_h(invoke(:create_task_from_template, with_current_trace(with_current_correlation(payload))))
    end

    # The registered template (name, namespace, version, steps with handler_class…). → Hash
    def task_template(name:, namespace: nil, version: nil)
      invoke(:get_task_template, with_optional({ name: name }, namespace: namespace, version: version)).freeze
    end

    # Frees the library's handle (and its pool). Idempotent; afterwards every
    # call raises FFIError without reaching the library.
    def close
      handle = @open_lock.synchronize do
        return nil if @closed

        @closed = true
        @handle
      end
      return nil if handle.nil? || handle.released?

      check_pid!
      ObjectSpace.undefine_finalizer(self)
      handle.release
      nil
    end

    def closed?
      @closed || (!@handle.nil? && @handle.released?)
    end

    # True when this process may use the client: it was opened here, or (lazy)
    # not opened yet and the library is not loaded in a parent process.
    def usable_in_this_process?
      return @handle.pid == Process.pid if @handle

      !Native.loaded? || Native.loaded_pid == Process.pid
    end

    # A short description: the handle id, the schema, the pid and whether the
    # client is open; never the database URL (it may hold a password).
    # @return [String]
    def inspect
      "#<#{self.class.name} handle=#{@handle&.id.inspect} schema=#{@schema.inspect} pid=#{@pid}" \
        "#{@handle.nil? && !@closed ? ' not opened' : ''}#{closed? ? ' closed' : ''}>"
    end

    private

    # Ids come as Integers or, from Rails params, as numeric Strings ("42").
    # Anything else is the caller's mistake: ValidationError naming the field.
    def id_param(value, field)
      case value
      when Integer then value
      when String
        return Integer(value, 10) if value.match?(/\A[0-9]{1,19}\z/)

        raise ValidationError.new("#{field} must be an integer id, got #{value.inspect[0, 40]}",
                                  details: { "field" => field })
      else
        raise ValidationError.new("#{field} must be an integer id, got #{value.class}", details: { "field" => field })
      end
    end

    # {"task_id": id} (with as_of when given) as JSON, written directly: the
    # read calls' one argument is an Integer, which needs no encoder.
    def task_payload(task_id, as_of)
      id = id_param(task_id, "task_id")
      return %({"task_id":#{id}}) if as_of.nil?

      encode({ task_id: id, as_of: as_of })
    end

    def id_list(values, field)
      unless values.is_a?(Array)
        raise ValidationError.new("#{field} must be an Array of ids, got #{values.class}", details: { "field" => field })
      end

      values.each_with_index.map { |v, i| id_param(v, "#{field}[#{i}]") }
    end

    # +spec+ with the current trace context (Observability::Tracing) as its
    # traceparent when it gives none: the task joins the request's trace.
    def with_current_trace(spec)
      return spec unless spec.is_a?(Hash) && spec[:traceparent].nil? && spec["traceparent"].nil?

      current = Observability::Tracing.current_traceparent
      return spec if current.nil?

      key = spec.keys.first.is_a?(String) ? "traceparent" : :traceparent
      spec.merge(key => current)
    end

    # +spec+ with a correlation_id of Correlation.id when it gives none (or nil)
    # and the current id is a UUID (the library takes only UUIDs; a task
    # created under another id, say a token from an HTTP header, gets a new one).
    def with_current_correlation(spec)
      current = Correlation.id
      return spec unless spec.is_a?(Hash) && Correlation.uuid?(current)
      return spec unless spec[:correlation_id].nil? && spec["correlation_id"].nil?

      rest = spec.reject { |key, _| key.to_s == "correlation_id" }
      key = rest.keys.first.is_a?(String) ? "correlation_id" : :correlation_id
      rest.merge(key => current)
    end

    # The operations whose items the library refuses one by one when they carry
    # U+0000 (storing the others): the gem leaves U+0000 inside those items to it.
    ITEM_LISTS = { report_step_results: "reports", report_and_claim: "reports",
                   batch_update_step_states: "updates" }.freeze
    private_constant :ITEM_LISTS

    # The hot operations whose answers become value objects and nothing else:
    # parsed frozen (Native.call), so from_h keeps their Strings instead of
    # copying them. Answers handed to the caller as Hashes stay unfrozen.
    FROZEN_ANSWERS = %i[get_task_execution_context discover_viable_steps get_step_readiness analyze_dependencies
                        batch_update_step_states claim_steps report_step_results report_and_claim].freeze
    private_constant :FROZEN_ANSWERS

    # Calls an operation and returns the envelope's data; raises the mapped
    # exception for an error envelope.
    # payload: a Hash (checked and encoded here) or a JSON String the client
    # built itself from checked values (task_payload).
    def invoke(operation, payload)
      json = payload.is_a?(String) ? payload : encode(payload, items: ITEM_LISTS[operation])
      unwrap(Native.call(operation, native_handle.id, json,
                         frozen: FROZEN_ANSWERS.include?(operation)))
    end

    # invoke for the calls an application makes at boot (migrate!,
    # register_templates): when this client is not open and this process has
    # not loaded the library, the call runs in a short-lived child process
    # that loads it, so this process stays fork-safe.
    def boot_invoke(operation, payload)
      return invoke(operation, payload) if @handle || Native.loaded?
      raise FFIError.new("the Tasker Core client is closed", type: "ffi_error") if @closed

      unwrap(BootCall.run(library_config, operation, encode(payload)))
    end

    # The handle of this process, opening a lazy client on first use.
    def native_handle
      handle = @handle
      if handle.nil? || handle.released? || handle.pid != Process.pid
        raise FFIError.new("the Tasker Core client is closed", type: "ffi_error") if closed?

        handle = @handle || @open_lock.synchronize { @handle || open_handle }
      end
      check_pid!
      handle
    end

    # Opens the library's client (loads the library). → the Handle
    def open_handle
      Native.check_pid!
      data = unwrap(Native.client_new(library_config))
      handle_id = data.is_a?(Hash) ? data["handle"] : nil
      unless handle_id.is_a?(Integer)
        raise FFIError.new("tasker_client_new returned no handle: #{data.inspect}", type: "ffi_error")
      end

      @pid = Process.pid
      @handle = Handle.new(handle_id, pid: @pid)
      ObjectSpace.define_finalizer(self, Handle.finalizer(@handle))
      TaskerCore.send(:client_opened, self)
      @handle
    end

    # The configuration JSON for tasker_client_new. The Go runtime copied the
    # environment when the library loaded; the variables are sent as they are now.
    def library_config
      config = @config.dup
      # ${VAR} in the config file may name any variable, so all of them are
      # sent; only TASKER_* and DATABASE_URL are settings (docs/configuration.md).
      config["env"] ||= environment_variables
      encode(config)
    end

    def hash!(value, field)
      return if value.is_a?(Hash)

      raise ValidationError.new("#{field} must be a Hash, got #{value.class}", details: { "field" => field })
    end

    def array!(value, field)
      return if value.is_a?(Array)

      raise ValidationError.new("#{field} must be an Array, got #{value.class}", details: { "field" => field })
    end

    def unwrap(envelope)
      raise ErrorMapper.exception_for(envelope["error"]) unless envelope["ok"]

      envelope["data"]
    end

    def check_pid!
      return if Process.pid == @pid

      raise ForkError.new(
        "this TaskerCore::Client was created in process #{@pid} and is used in process #{Process.pid} " \
        "(forked from it); a Go runtime cannot be used across fork. #{Native.loaded_by_note}#{ForkError::ADVICE}",
        type: "ffi_error", details: { "client_pid" => @pid, "pid" => Process.pid }
      )
    end

    def rails_config_file
      return nil unless defined?(::Rails) && ::Rails.respond_to?(:root) && ::Rails.root

      path = ::Rails.root.join("config", "tasker.yml")
      File.file?(path) ? path : nil
    end

    def rails_environment
      defined?(::Rails) && ::Rails.respond_to?(:env) ? ::Rails.env.to_s : nil
    end

    def with_optional(payload, **optional)
      optional.each { |key, value| payload[key] = value unless value.nil? }
      payload
    end

    # ENV as UTF-8 strings; a variable that is not valid UTF-8 cannot be sent as
    # JSON (nor be a setting) and is left out.
    def environment_variables
      ENV.to_h.each_with_object({}) do |(key, value), out|
        key = key.dup.force_encoding(Encoding::UTF_8)
        value = value.dup.force_encoding(Encoding::UTF_8)
        out[key] = value if key.valid_encoding? && value.valid_encoding?
      end
    end

    def claim_payload(worker_id, task_id, limit, lease_seconds, namespaces, runnable = nil)
      with_optional({ worker_id: worker_id }, task_id: task_id && id_param(task_id, "task_id"), limit: limit, lease_seconds: lease_seconds,
                                              namespaces: namespaces && Array(namespaces).map(&:to_s),
                                              runnable: runnable)
    end

    # Reports with an exception as error get the exception's report error; a
    # report that is not a Hash is a ValidationError naming it.
    def normalize_reports(reports)
      reports.each_with_index.map do |report, i|
        unless report.is_a?(Hash)
          raise ValidationError.new("reports[#{i}] must be a Hash, got #{report.class}", details: { "field" => "reports[#{i}]" })
        end

        report = report.transform_keys(&:to_s)
        report["step_id"] = id_param(report["step_id"], "reports[#{i}].step_id") if report.key?("step_id")
        error = report["error"]
        next report unless error.is_a?(Exception)

        report.merge("error" => step_error(error))
      end
    end

    def transitions(data)
      Array(data["transitions"]).map { |row| Transition.from_h(row) }.freeze
    end

    # The report error of an exception raised by a step handler.
    def step_error(error)
      out = { message: error.message, type: error.class.name }
      case error
      when PermanentError
        out[:retryable] = false
        out[:code] = error.error_code unless error.error_code.nil?
        out[:context] = error.context unless error.context.empty?
      when RetryableError
        out[:retryable] = true
        out[:retry_after_seconds] = error.retry_after.ceil unless error.retry_after.nil?
        out[:context] = error.context unless error.context.empty?
      end
      out
    end

    # Deepest nesting of a payload (JSON.generate's own default limit): deeper
    # (or cyclic) data is a ValidationError, before any recursion can exhaust the stack.
    MAX_NESTING = 100
    private_constant :MAX_NESTING

    # JSON for the library: Times (and Dates) as RFC 3339 UTC strings, symbols as
    # strings. What JSON or PostgreSQL cannot represent is a ValidationError naming
    # the field: NaN, Infinity, nesting deeper than MAX_NESTING, and U+0000 in a
    # string or key (except inside the items of +items+, which the library refuses
    # one by one).
    def encode(payload, items: nil)
      JSON.generate(jsonable(payload, "", 0, items))
    rescue JSON::GeneratorError, JSON::NestingError, SystemStackError => e
      raise ValidationError.new("cannot encode the payload as JSON: #{e.message}", type: "validation_error")
    end

    def jsonable(value, path, depth, items)
      case value
      when Hash, Array
        if depth >= MAX_NESTING
          shown = path.length > 120 ? "#{path[0, 120]}…" : path
          raise ValidationError.new("#{field_name(shown)} nests deeper than #{MAX_NESTING} levels (or refers to itself)",
                                    details: { "field" => field_name(shown) })
        end

        if value.is_a?(Hash)
          value.to_h do |k, v|
            key = k.to_s
            child = path.empty? ? key : "#{path}.#{key}"
            check_nul(key, child, items)
            [key, jsonable(v, child, depth + 1, items)]
          end
        else
          value.each_with_index.map { |v, i| jsonable(v, "#{path}[#{i}]", depth + 1, items) }
        end
      when String then check_nul(value, path, items)
      when Float
        unless value.finite?
          raise ValidationError.new("#{field_name(path)} is #{value}, which JSON cannot carry", details: { "field" => field_name(path) })
        end

        value
      when Time then value.getutc.iso8601(6)
      when DateTime then value.to_time.getutc.iso8601(6)
      when Date then value.iso8601
      when Symbol then check_nul(value.to_s, path, items)
      else value
      end
    end

    # +string+, unless it holds U+0000 outside the library's item lists.
    def check_nul(string, path, items)
      return string unless string.include?("\0") && !(items && path.start_with?("#{items}["))

      raise ValidationError.new("#{field_name(path)} contains U+0000 (a NUL byte), which PostgreSQL cannot store",
                                details: { "field" => field_name(path) })
    end

    def field_name(path)
      path.empty? ? "(payload)" : path.gsub("\0", "\\u0000")
    end
  end
end
