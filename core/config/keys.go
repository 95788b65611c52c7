package config

// Type is the type of a configuration value.
type Type string

// The value types.
const (
	String     Type = "string"
	Int        Type = "integer"
	Float      Type = "number"
	Bool       Type = "boolean"
	StringList Type = "list of strings"
	IntMap     Type = "map of string to integer"
)

// Key is one configuration setting: its dotted path, type, default, environment
// variable, allowed range or values, and meaning. Keys is the one schema of Tasker
// Core's configuration; docs/configuration.md documents exactly these keys (a test
// holds the two equal).
type Key struct {
	Path    string
	Type    Type
	Default any
	Env     string   // environment variable; "" = TASKER_ + upper-cased path with _ for .
	Min     *float64 // numbers: inclusive lower bound
	Max     *float64 // numbers: inclusive upper bound
	Enum    []string // strings: the allowed values
	Secret  bool     // masked in the effective configuration
	Doc     string
}

func f(v float64) *float64 { return &v }

// maxBackoffSeconds bounds the retry policy's delays (100 years): a step's
// retry time, now plus the delay, must stay within PostgreSQL's timestamps.
const maxBackoffSeconds = 100 * 365 * 24 * 3600

// Keys lists every setting. Defaults here are the only defaults.
var Keys = []Key{
	// database
	{Path: "database.url", Type: String, Default: "", Env: "DATABASE_URL", Secret: true,
		Doc: "PostgreSQL URL or key=value DSN (its password is masked everywhere)"},
	{Path: "database.schema", Type: String, Default: "",
		Doc: "schema the connections use (search_path); empty: the server's default"},
	{Path: "database.migrate", Type: Bool, Default: false,
		Doc: "run migrations (and write the retry policy) when a client starts"},
	{Path: "database.pool.max_connections", Type: Int, Default: 10, Min: f(1), Max: f(10000), Doc: "pool size"},
	{Path: "database.pool.min_connections", Type: Int, Default: 0, Min: f(0), Max: f(10000),
		Doc: "connections kept open; at most max_connections"},
	{Path: "database.pool.acquire_timeout_ms", Type: Int, Default: 5000, Min: f(0),
		Doc: "connect timeout, and how long client creation waits for its first ping"},
	{Path: "database.pool.max_idle_seconds", Type: Int, Default: 300, Min: f(0), Doc: "an idle connection is closed after this"},
	{Path: "database.pool.max_lifetime_seconds", Type: Int, Default: 3600, Min: f(0), Doc: "a connection is replaced after this"},
	{Path: "database.plan_cache_mode", Type: String, Default: "force_generic_plan",
		Enum: []string{"auto", "force_generic_plan", "force_custom_plan"},
		Doc:  "PostgreSQL plan_cache_mode of the pool's connections: the SQL functions are inlined and re-planned per call under auto; a generic plan measured 35–50 % faster claims and reports"},
	{Path: "database.random_page_cost", Type: Float, Default: 1.1, Min: f(0), Max: f(1000),
		Doc: "PostgreSQL random_page_cost of the pool's connections (0: the server's own): the library reads a few rows at a time by index, and under PostgreSQL's default of 4 the planner scanned small, fast-changing tables (a young installation's tasks, steps and transitions) whole instead, rereading every dead row version until autovacuum came; 1.1 is the usual figure for data in memory or on SSD"},
	{Path: "database.thread_wait", Type: Bool, Default: true,
		Doc: "wait for the database's answers in poll(2) on the calling thread, as libpq does (Linux; elsewhere, and when false, in Go's network poller): a call from the C API (the Ruby gem) then needs no hand-off between threads per round trip"},
	{Path: "database.statement_timeout_ms", Type: Int, Default: 30000, Min: f(0),
		Doc: "PostgreSQL statement_timeout (0: none); a timed-out statement is a timeout_error"},
	{Path: "database.pooler", Type: String, Default: "none", Enum: []string{"none", "transaction"},
		Doc: "what stands between the pool and PostgreSQL: none (a direct connection, or PgBouncer in session mode) or transaction (PgBouncer's pool_mode = transaction: no prepared statements, no startup parameters, no LISTEN on pooled connections; \"Behind PgBouncer\" below)"},
	{Path: "database.statement_mode", Type: String, Default: "auto",
		Enum: []string{"auto", "cache_statement", "cache_describe", "exec"},
		Doc:  "how the pool sends statements (pgx's QueryExecMode): auto is cache_statement (named prepared statements) with pooler none, cache_describe (unnamed statements, descriptions cached) with pooler transaction, where cache_statement is refused"},
	{Path: "database.listen_url", Type: String, Default: "", Secret: true,
		Doc: "with pooler transaction: a direct (not pooled) URL of the same database that a waiting fetch_events LISTENs on; empty: it polls every events.wait_poll_interval_ms instead"},

	// execution
	{Path: "execution.max_concurrent_steps", Type: Int, Default: 4, Min: f(1), Max: f(1024),
		Doc: "handler threads per worker process"},
	{Path: "execution.max_concurrent_tasks", Type: Int, Default: 10, Min: f(1), Max: f(10000),
		Doc: "tasks one claim takes steps from (locked with SKIP LOCKED, so workers spread over tasks)"},
	{Path: "execution.step_timeout_seconds", Type: Float, Default: 300.0, Min: f(0),
		Doc: "a worker stops renewing the lease of a handler running longer, so its step is recovered as a failed attempt (0: no limit)"},
	{Path: "execution.lease_seconds", Type: Float, Default: 30.0, Min: f(0.1), Max: f(7 * 24 * 3600),
		Doc: "how long a claimed step is a worker's without a heartbeat (a claim's or heartbeat's lease_seconds obeys the same range)"},
	{Path: "execution.heartbeat_interval_seconds", Type: Float, Default: 10.0, Min: f(0.05),
		Doc: "how often a worker renews its leases; must be below lease_seconds"},
	{Path: "execution.claim_batch_size", Type: Int, Default: 10, Min: f(1), Max: f(10000),
		Doc: "steps a worker claims at once (default limit of claim_steps and next_ready_tasks)"},
	{Path: "execution.recovery_batch_size", Type: Int, Default: 100, Min: f(1), Max: f(10000),
		Doc: "expired leases recovered per sweep"},
	{Path: "execution.poll_interval_ms", Type: Int, Default: 50, Min: f(1), Doc: "idle worker's pause between claims"},
	{Path: "execution.shutdown_timeout_seconds", Type: Float, Default: 25.0, Min: f(0),
		Doc: "on SIGTERM, how long running handlers may finish before the worker exits (below common 30 s grace periods)"},
	{Path: "execution.recovery_interval_seconds", Type: Float, Default: 5.0, Min: f(0.01),
		Doc: "how often a worker recovers expired leases (a dead worker's step waits at most its lease plus this)"},
	{Path: "execution.error_pause_seconds", Type: Float, Default: 1.0, Min: f(0.01),
		Doc: "a worker's pause after a failed call to the library before it tries again"},
	{Path: "execution.claim_ahead", Type: Int, Default: 4, Min: f(0), Max: f(1024),
		Doc: "steps a worker claims beyond its free handler threads, queued for the next free thread, so one round trip reports and claims more steps, while every running handler is younger than poll_interval_ms (none behind a slow or hung handler; their leases are renewed while they wait; a stopping worker runs them within shutdown_timeout_seconds); 0: claim only for free threads"},
	{Path: "execution.report_isolation_failures", Type: Int, Default: 3, Min: f(1), Max: f(1000),
		Doc: "a worker whose report fails this many times in a row with the same non-transient error reports the steps one by one and fails the step that is refused (a lost connection or a timeout is retried without end)"},
	{Path: "execution.mode", Type: String, Default: "external", Enum: []string{"external", "async"},
		Doc: "external: steps run in worker processes; async: also in a worker thread of every process that uses the gem's shared client (a web process, after its fork)"},

	// retry and backoff
	{Path: "retry.default_retry_limit", Type: Int, Default: 3, Min: f(0),
		Doc: "attempts a step gets when its template or spec gives none"},
	{Path: "retry.strategy", Type: String, Default: "exponential", Enum: []string{"exponential", "linear", "fixed"},
		Doc: "backoff growth: base·multiplier^attempts, base·attempts, or base"},
	{Path: "retry.base_seconds", Type: Float, Default: 1.0, Min: f(0), Max: f(maxBackoffSeconds), Doc: "backoff base delay"},
	{Path: "retry.multiplier", Type: Float, Default: 2.0, Min: f(1), Doc: "exponential factor"},
	{Path: "retry.cap_seconds", Type: Float, Default: 300.0, Min: f(0), Max: f(maxBackoffSeconds),
		Doc: "largest backoff (at most 100 years: a retry time must stay a PostgreSQL timestamp)"},
	{Path: "retry.jitter", Type: Float, Default: 0.0, Min: f(0), Max: f(1),
		Doc: "fraction by which a delay may be shortened (deterministic per step and attempt)"},

	// queues
	{Path: "queues.default_priority", Type: Int, Default: 0, Doc: "priority of a task whose request gives none"},
	{Path: "queues.namespace_priorities", Type: IntMap, Default: map[string]int64{},
		Doc: "priority by task namespace (e.g. {payments: 10}); higher runs first"},

	// state transitions
	{Path: "state_transitions.forbid", Type: StringList, Default: []string{},
		Doc: `legal transitions to forbid, as "task:complete->cancelled" or "step:error->resolved_manually"`},

	// events
	{Path: "events.enabled", Type: Bool, Default: true, Doc: "publish lifecycle events"},
	{Path: "events.buffer_size", Type: Int, Default: 10000, Min: f(1), Doc: "events held in memory before delivery"},
	{Path: "events.batch_size", Type: Int, Default: 100, Min: f(1), Max: f(10000), Doc: "events delivered per batch"},
	{Path: "events.flush_interval_ms", Type: Int, Default: 100, Min: f(1), Doc: "longest wait before a partial batch is delivered"},
	{Path: "events.overflow", Type: String, Default: "drop_oldest", Enum: []string{"drop_oldest", "drop_newest"},
		Doc: "what a full buffer does; never blocks orchestration"},
	{Path: "events.retention_hours", Type: Int, Default: 168, Min: f(1), Doc: "outbox rows older than this are pruned"},
	{Path: "events.delivery_timeout_ms", Type: Int, Default: 5000, Min: f(1),
		Doc: "longest the publisher waits for an in-process event stream to take a batch before counting it failed"},
	{Path: "events.wait_poll_interval_ms", Type: Int, Default: 200, Min: f(1), Max: f(60000),
		Doc: "with database.pooler transaction and no database.listen_url: how often a fetch_events that waits reads the outbox again"},
	{Path: "events.definitions_paths", Type: StringList, Default: []string{},
		Doc: "YAML files of application events added to the catalog (the system events file's format)"},

	// system events (issue 19): what a process says about itself
	{Path: "system_events.enabled", Type: Bool, Default: true,
		Doc: "emit the system.* health and library.warning.* / library.error.* events (and run their monitor)"},
	{Path: "system_events.check_interval_ms", Type: Int, Default: 1000, Min: f(10), Max: f(3600000),
		Doc: "how often the monitor samples the connection pool and releases events held back by the limits below"},
	{Path: "system_events.pool_saturation_threshold", Type: Float, Default: 0.9, Min: f(0.01), Max: f(1),
		Doc: "share of database.pool.max_connections in use at or above which system.pool.saturated is emitted (system.pool.recovered when it falls below)"},
	{Path: "system_events.health_check_interval_seconds", Type: Float, Default: 60.0, Min: f(0), Max: f(86400),
		Doc: "how often a process with a running worker reads get_system_health_counts against system_events.health_thresholds (0: never)"},
	{Path: "system_events.health_thresholds", Type: IntMap, Default: map[string]int64{"error_tasks": 100, "exhausted_retry_steps": 100},
		Doc: "get_system_health_counts columns and the count at or above which system.health.degraded is emitted (system.health.recovered when all are below)"},
	{Path: "system_events.flap_interval_ms", Type: Int, Default: 5000, Min: f(0), Max: f(3600000),
		Doc: "least time between two events of one condition (connection lost/restored, pool, health); a change sooner is held back until then, and the latest state is always reported"},
	{Path: "system_events.warning_interval_ms", Type: Int, Default: 10000, Min: f(0), Max: f(3600000),
		Doc: "least time between two warnings or errors of one kind (and system.events.dropped reports); the ones held back are counted in the next one's suppressed"},

	// logging
	{Path: "logging.level", Type: String, Default: "warn", Enum: []string{"trace", "debug", "info", "warn", "error"},
		Doc: "least severe level written (info adds a line per client, task and step; debug a line per call)"},
	{Path: "logging.format", Type: String, Default: "json", Enum: []string{"json", "console"}, Doc: "line format"},
	{Path: "logging.output", Type: String, Default: "host",
		Doc: "host (the host program's logger: under the Ruby gem TaskerCore.logger, Rails.logger in Rails; stderr without a host), stderr, stdout, or a file path"},
	{Path: "logging.buffer_lines", Type: Int, Default: 1000, Min: f(1),
		Doc: "log lines held for the host between its calls (output host); when full the oldest are dropped and counted"},

	// api
	{Path: "api.call_timeout_ms", Type: Int, Default: 30000, Min: f(1), Doc: "deadline of one API call"},
	{Path: "api.max_payload_bytes", Type: Int, Default: 4 << 20, Min: f(1), Doc: "larger payloads are refused before they are read"},
	{Path: "api.max_json_depth", Type: Int, Default: 128, Min: f(1), Doc: "deeper-nested payloads are refused before decoding"},
	{Path: "api.max_batch_size", Type: Int, Default: 10000, Min: f(1),
		Doc: "updates or reports in one batch_update_step_states / report_step_results call"},
	{Path: "api.list_default_limit", Type: Int, Default: 50, Min: f(1),
		Doc: "tasks (or templates) in one list_tasks / list_task_templates page when the call gives no limit"},
	{Path: "api.list_max_limit", Type: Int, Default: 500, Min: f(1), Doc: "largest limit a list_tasks / list_task_templates call may ask for"},

	// templates
	{Path: "templates.paths", Type: StringList, Default: []string{},
		Doc: "directories or files of YAML task templates loaded at start"},

	// telemetry (docs/observability.md)
	{Path: "telemetry.tracing.enabled", Type: Bool, Default: false,
		Doc: "export OpenTelemetry spans (API calls, claims, reports, recovery, step executions, SQL statements) over OTLP"},
	{Path: "telemetry.tracing.exporter", Type: String, Default: "auto", Enum: []string{"auto", "otlp-http", "otlp-grpc"},
		Doc: "OTLP transport; auto: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL / OTEL_EXPORTER_OTLP_PROTOCOL (grpc or http/protobuf), else otlp-http"},
	{Path: "telemetry.tracing.endpoint", Type: String, Default: "",
		Doc: "OTLP endpoint URL (http://host:4318, or http://host:4317 for gRPC); empty: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT / OTEL_EXPORTER_OTLP_ENDPOINT, else the exporter's localhost default"},
	{Path: "telemetry.tracing.sample_ratio", Type: Float, Default: 1.0, Min: f(0), Max: f(1),
		Doc: "fraction of new traces sampled (parent-based: a sampled incoming traceparent is always followed)"},
	{Path: "telemetry.tracing.service_name", Type: String, Default: "",
		Doc: "service.name of the spans; empty: OTEL_SERVICE_NAME, else tasker-core"},
	{Path: "telemetry.tracing.db_statements", Type: Bool, Default: true,
		Doc: "a child span per SQL statement (its text, never its arguments) under the call's span"},
	{Path: "telemetry.tracing.export_timeout_ms", Type: Int, Default: 5000, Min: f(1),
		Doc: "longest a span batch export, and the flush when the client closes, may take"},
	{Path: "telemetry.tracing.batch_size", Type: Int, Default: 512, Min: f(1), Max: f(100000),
		Doc: "spans per export request (at most queue_size)"},
	{Path: "telemetry.tracing.queue_size", Type: Int, Default: 2048, Min: f(1), Max: f(1000000),
		Doc: "ended spans held for export; past it new spans are dropped (counted in tasker_trace_export_errors_total)"},
	{Path: "telemetry.tracing.schedule_delay_ms", Type: Int, Default: 5000, Min: f(1),
		Doc: "longest an ended span waits for its batch to fill before it is exported"},
	{Path: "telemetry.tracked_steps_limit", Type: Int, Default: 100000, Min: f(0), Max: f(10000000),
		Doc: "claimed steps this process remembers until their report (for step duration, namespace of the outcome and the step span); beyond it a claim is counted but not timed"},
	{Path: "metrics.enabled", Type: Bool, Default: true,
		Doc: "count calls, claims, reports and steps in a Prometheus registry (metrics_text, the gem's MetricsApp)"},
	{Path: "metrics.listen", Type: String, Default: "",
		Doc: "host:port of a Go HTTP listener serving /metrics and /health/live, /health/ready, /health/status (e.g. 127.0.0.1:9394); empty: none"},
	{Path: "metrics.scrape_timeout_ms", Type: Int, Default: 2000, Min: f(1),
		Doc: "deadline of the one query a scrape or /health/status runs (backlog by namespace, oldest ready age, active workers)"},
	{Path: "metrics.pool_exhausted_ratio", Type: Float, Default: 1.0, Min: f(0.01), Max: f(1),
		Doc: "/health/ready fails when acquired connections reach this fraction of the pool while acquires are waiting"},

	// runtime (the Go runtime of a process that loads the library through the C API)
	{Path: "runtime.gc_percent", Type: Int, Default: 400, Min: f(10), Max: f(100000),
		Doc: "the Go garbage collector's GOGC for a process that loads the library through the C API (the Ruby gem): a collection starts when the heap has grown by this percentage of what the last one left live; the library's live heap is a few MB, and in a host process every collection wakes several runtime threads (with Go's default of 100 the Ruby worker of the end-to-end benchmark spent 10–20 % more CPU per step). Process-wide: set when a client opens (the last client's value wins); a GOGC environment variable wins over it; a Go program using core/api keeps its own setting"},

	// files
	{Path: "files.max_bytes", Type: Int, Default: 4 << 20, Min: f(1), Max: f(1 << 30),
		Doc: "largest file read: the configuration file, templates, event definitions (only regular files are read; the configuration file's own limit comes from the environment or the caller, not the file)"},
}

// envName returns the environment variable of a key.
func (k Key) envName() string {
	if k.Env != "" {
		return k.Env
	}
	out := []byte("TASKER_")
	for i := 0; i < len(k.Path); i++ {
		c := k.Path[i]
		switch {
		case c == '.':
			c = '_'
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		out = append(out, c)
	}
	return string(out)
}

// EnvName is the environment variable that sets the key.
func (k Key) EnvName() string { return k.envName() }

// Aliases are the client's shorthand keys (docs/ffi.md) for dotted paths.
var Aliases = map[string]string{
	"database_url":              "database.url",
	"schema":                    "database.schema",
	"migrate":                   "database.migrate",
	"max_connections":           "database.pool.max_connections",
	"min_connections":           "database.pool.min_connections",
	"acquire_timeout_ms":        "database.pool.acquire_timeout_ms",
	"max_conn_idle_seconds":     "database.pool.max_idle_seconds",
	"max_conn_lifetime_seconds": "database.pool.max_lifetime_seconds",
	"statement_timeout_ms":      "database.statement_timeout_ms",
	"call_timeout_ms":           "api.call_timeout_ms",
	"max_payload_bytes":         "api.max_payload_bytes",
	"max_json_depth":            "api.max_json_depth",
	"lease_seconds":             "execution.lease_seconds",
	"claim_batch_size":          "execution.claim_batch_size",
	"recovery_batch_size":       "execution.recovery_batch_size",
	"retry_policy.strategy":     "retry.strategy",
	"retry_policy.base_seconds": "retry.base_seconds",
	"retry_policy.multiplier":   "retry.multiplier",
	"retry_policy.cap_seconds":  "retry.cap_seconds",
	"retry_policy.jitter":       "retry.jitter",
}
