package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/goccy/go-json"
	"go.opentelemetry.io/otel/attribute"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/core/telemetry"
	"github.com/taskercore/tasker-core/migrations"
)

// The observability operations (docs/observability.md), registered here so the
// operation table of ops.go stays as it is.
func init() {
	operations["metrics_text"] = metricsText
	operations["health_check"] = healthCheck
}

// Telemetry returns the client's telemetry (for Go callers, tests and the
// hooks of other packages, e.g. operator actions: telemetry.StartSpan with a
// context from Client.Context).
func (c *Client) Telemetry() *telemetry.Telemetry { return c.tel }

// Context returns ctx carrying the client's telemetry, for Go code that calls
// the store (or telemetry.StartSpan) outside Call.
func (c *Client) Context(ctx context.Context) context.Context {
	return telemetry.WithContext(ctx, c.tel)
}

// openTelemetry builds the client's telemetry before its pool: the pgx tracer
// must be in the pool's configuration.
func openTelemetry(ctx context.Context, st telemetry.Settings) (*telemetry.Telemetry, error) {
	return telemetry.New(ctx, st)
}

// attachTelemetry registers the scrape-time sources and starts the listener
// (metrics.listen).
func (c *Client) attachTelemetry() error {
	c.tel.Attach(telemetry.Sources{
		Pool: c.store.Pool(),
		Events: func() telemetry.EventStats {
			m := c.EventMetrics()
			return telemetry.EventStats{Enabled: m.Enabled, Published: m.Published, Delivered: m.Delivered,
				Dropped: m.Dropped, Failed: m.Failed, Buffered: m.BufferedNow, BufferSize: int(m.BufferSize)}
		},
		Backlog: func(ctx context.Context) (telemetry.Backlog, error) {
			b, err := c.store.Backlog(ctx, telemetry.MaxNamespaceLabels)
			if err != nil {
				return telemetry.Backlog{}, err
			}
			out := telemetry.Backlog{ActiveWorkers: b.ActiveWorkers, InProgressSteps: b.InProgressSteps,
				Namespaces: make([]telemetry.NamespaceBacklog, len(b.Namespaces))}
			for i, n := range b.Namespaces {
				out.Namespaces[i] = telemetry.NamespaceBacklog(n)
			}
			return out, nil
		},
		Info: map[string]string{"library_version": LibraryVersion, "schema_version": strconv.Itoa(migrations.LatestVersion())},
	})
	if addr := c.tel.Settings().Listen; addr != "" {
		return c.tel.Serve(addr, c.health)
	}
	return nil
}

// callContext is Call's context: the client's telemetry and, with tracing on,
// the span of the call, a child of the payload's traceparent when it has one
// (create_task, create_task_from_template: the request that creates the task).
func (c *Client) callContext(ctx context.Context, method string, payload []byte) (context.Context, func(error)) {
	if c.tel == nil || (!c.tel.MetricsEnabled() && !c.tel.TracingEnabled()) {
		return ctx, func(error) {} // telemetry off: the hooks below have nothing to do
	}
	ctx = telemetry.WithContext(ctx, c.tel)
	if !c.tel.TracingEnabled() {
		return ctx, func(error) {}
	}
	if method == "create_task" || method == "create_task_from_template" {
		var r struct {
			TraceParent string `json:"traceparent"`
		}
		if json.Unmarshal(payload, &r) == nil && telemetry.ValidTraceparent(r.TraceParent) {
			ctx = telemetry.WithTraceparent(ctx, r.TraceParent)
		}
	}
	ctx, span := telemetry.StartSpan(ctx, "tasker.api."+method, attribute.String(telemetry.AttrMethod, method))
	return ctx, func(err error) { telemetry.EndSpan(span, err) }
}

// observe counts what a call did: claimed steps (and their spans), reports,
// recoveries, finished tasks; the call's latency and outcome.
func (c *Client) observe(ctx context.Context, method string, d time.Duration, data any, err error) {
	t := c.tel
	if t == nil || (!t.MetricsEnabled() && !t.TracingEnabled()) {
		return
	}
	t.ObserveCall(method, d, err)
	if err != nil {
		return
	}
	now := time.Now()
	switch method {
	case "claim_steps":
		c.observeClaim(ctx, data, now)
	case "report_step_results":
		if r, ok := data.(reportResult); ok {
			c.observeReport(r.Outcomes, r.Tasks, now)
		}
	case "report_and_claim":
		if m, ok := data.(map[string]any); ok {
			outs, _ := m["outcomes"].([]batchOutcome)
			tasks, _ := m["tasks"].([]store.TaskStatus)
			c.observeReport(outs, tasks, now)
			c.observeClaim(ctx, data, now)
		}
	case "recover_expired_steps":
		if r, ok := data.(reportResult); ok {
			for _, o := range r.Outcomes {
				if o.Status == store.OutcomeApplied {
					t.StepRecovered(o.StepID, string(o.ToState), now)
				}
			}
			c.observeTasks(r.Tasks)
		}
	case "transition_task":
		if tr, ok := data.(store.Transition); ok && (tr.To.Terminal() || tr.To == state.Error) {
			t.TaskFinished(string(tr.To))
		}
	}
}

func (c *Client) observeClaim(ctx context.Context, data any, now time.Time) {
	c.tel.ClaimCalled(now)
	m, ok := data.(map[string]any)
	if !ok {
		return
	}
	steps, _ := m["steps"].([]store.ClaimedStep)
	for i := range steps {
		st := &steps[i]
		st.TraceParent = c.tel.StepClaimed(ctx, telemetry.ClaimedStep{StepID: st.StepID, TaskID: st.TaskID,
			StepName: st.StepName, TaskName: st.TaskName, Namespace: st.Namespace, CorrelationID: st.CorrelationID,
			Traceparent: st.TraceParent, Attempt: st.Attempts, ReadyAt: st.ReadyAt}, now)
	}
}

func (c *Client) observeReport(outs []batchOutcome, tasks []store.TaskStatus, now time.Time) {
	for _, o := range outs {
		c.tel.StepReported(o.StepID, o.Status, string(o.ToState), now)
	}
	c.observeTasks(tasks)
}

func (c *Client) observeTasks(tasks []store.TaskStatus) {
	for _, ts := range tasks {
		if ts.Finished {
			c.tel.TaskFinished(ts.Status)
		}
	}
}

// metricsText is metrics_text: this process's registry in the Prometheus text
// format, {"content_type": ..., "text": ...}.
func metricsText(_ context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	if !c.tel.MetricsEnabled() {
		return nil, errs.New(errs.Configuration, map[string]any{"key": "metrics.enabled"}, "metrics are off (metrics.enabled is false)")
	}
	text, err := c.tel.Text()
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "gather metrics")
	}
	return map[string]string{"content_type": telemetry.ContentType, "text": string(text)}, nil
}

// HealthReport is a health check's answer: {"status": "ok"|"fail", "http_status",
// "checks": {...}} (the body of /health/*).
type HealthReport struct {
	Status     string         `json:"status"`
	HTTPStatus int            `json:"http_status"`
	Check      string         `json:"check"`
	Checks     map[string]any `json:"checks,omitempty"`
	Error      *ErrorBody     `json:"error,omitempty"`
}

// healthCheck is health_check {"check": "live"|"ready"|"status"}: the report a
// health endpoint answers with, its HTTP status code included.
func healthCheck(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		Check string `json:"check"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	switch r.Check {
	case telemetry.HealthLive, telemetry.HealthReady, telemetry.HealthStatus:
	default:
		return nil, errs.New(errs.Validation, map[string]any{"field": "check"}, "check must be live, ready or status, got %.40q", r.Check)
	}
	_, rep := c.health(ctx, r.Check)
	return rep, nil
}

// health answers one check. live: the process answers (no database). ready: one
// query (the database answers, the schema is at this library's version) and the
// pool's counters (not exhausted). status: one query for the system health
// counts, backlog, oldest ready age and active workers.
func (c *Client) health(ctx context.Context, check string) (int, any) {
	rep := HealthReport{Status: "ok", HTTPStatus: http.StatusOK, Check: check, Checks: map[string]any{}}
	fail := func(name string, v any) {
		rep.Status, rep.HTTPStatus = "fail", http.StatusServiceUnavailable
		rep.Checks[name] = v
	}
	if check == telemetry.HealthLive {
		rep.Checks["library_version"] = LibraryVersion
		return rep.HTTPStatus, rep
	}
	c.mu.RLock()
	closed := c.closed
	c.mu.RUnlock()
	if closed {
		fail("client", "closed")
		return rep.HTTPStatus, rep
	}
	ctx, cancel := context.WithTimeout(ctx, c.tel.Settings().ScrapeTimeout)
	defer cancel()
	want := migrations.LatestVersion()
	switch check {
	case telemetry.HealthReady:
		v, err := c.store.SchemaVersion(ctx)
		if err != nil {
			rep.Error = ErrorOf(err)
			fail("database", "unreachable or not migrated")
		} else {
			rep.Checks["database"] = "ok"
			rep.Checks["schema_version"] = v
			if v < want {
				fail("schema", map[string]any{"have": v, "want": want})
			}
		}
		st := c.store.Pool().Stat()
		rep.Checks["pool"] = map[string]any{"acquired": st.AcquiredConns(), "idle": st.IdleConns(), "max": st.MaxConns()}
		if float64(st.AcquiredConns()) >= c.tel.Settings().PoolExhausted*float64(st.MaxConns()) && c.poolWaiting() {
			fail("pool", map[string]any{"exhausted": true, "acquired": st.AcquiredConns(), "max": st.MaxConns()})
		}
	case telemetry.HealthStatus:
		st, err := c.store.Status(ctx)
		if err != nil {
			rep.Error = ErrorOf(err)
			fail("database", "unreachable or not migrated")
			break
		}
		rep.Checks["schema_version"] = st.SchemaVersion
		rep.Checks["counts"] = st.Health
		rep.Checks["backlog"] = map[string]any{"ready_tasks": st.ReadyTasks, "oldest_ready_seconds": st.OldestReadySeconds}
		rep.Checks["workers"] = map[string]any{"active": st.ActiveWorkers, "in_progress_steps": st.InProgressSteps}
		if st.SchemaVersion < want {
			fail("schema", map[string]any{"have": st.SchemaVersion, "want": want})
		}
	}
	return rep.HTTPStatus, rep
}

// poolWaiting reports whether acquires waited since the last readiness check:
// a pool whose connections are all in use but that nobody waits for is busy,
// not exhausted.
func (c *Client) poolWaiting() bool {
	n := c.store.Pool().Stat().EmptyAcquireCount()
	prev := c.lastEmptyAcquires.Swap(n)
	return n > prev
}
