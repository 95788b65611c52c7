package telemetry

import (
	"context"
	"sync"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/taskercore/tasker-core/core/errs"
)

// ObserveCall counts one API call: its latency by method, its outcome, and the
// error's type when it failed.
func (t *Telemetry) ObserveCall(method string, d time.Duration, err error) {
	if !t.MetricsEnabled() {
		return
	}
	outcome := OutcomeOK
	if err != nil {
		outcome = OutcomeError
		t.m.errors.WithLabelValues(string(errs.KindOf(err))).Inc()
	}
	t.m.calls.WithLabelValues(method, outcome).Inc()
	t.m.callDuration.WithLabelValues(method).Observe(d.Seconds())
}

// TaskCreated counts a created task.
func (t *Telemetry) TaskCreated(namespace string) {
	if t.MetricsEnabled() {
		t.m.tasksCreated.WithLabelValues(t.m.ns(namespace)).Inc()
	}
}

// TaskFinished counts a task that reached a final (or error) state.
func (t *Telemetry) TaskFinished(state string) {
	if t.MetricsEnabled() {
		t.m.tasksFinished.WithLabelValues(state).Inc()
	}
}

// ClaimedStep is what the hooks need of a claimed step.
type ClaimedStep struct {
	StepID, TaskID                     int64
	StepName, TaskName, Namespace      string
	CorrelationID, Traceparent, Worker string
	Attempt                            int32
	ReadyAt                            time.Time // the task's ready_at when the claim took it (zero: unknown)
}

// ClaimCalled records that this process made a claim call (a polling worker is
// alive, also when it found nothing).
func (t *Telemetry) ClaimCalled(now time.Time) {
	if t.MetricsEnabled() {
		t.m.lastClaim.Set(float64(now.UnixNano()) / 1e9)
	}
}

// StepClaimed counts a claimed step, remembers it until its report and, with
// tracing on, starts its execution span: a child of the task's stored
// traceparent (the span that created the task), linked to the claim's span.
// It returns the traceparent the worker should run the handler under (the
// step span's, or the task's when tracing is off).
func (t *Telemetry) StepClaimed(ctx context.Context, st ClaimedStep, now time.Time) string {
	if t == nil {
		return st.Traceparent
	}
	ns := st.Namespace
	if t.m != nil {
		ns = t.m.ns(st.Namespace)
		t.m.stepsClaimed.WithLabelValues(ns).Inc()
		if st.Attempt > 1 {
			t.m.stepsRetried.WithLabelValues(ns).Inc()
		}
		if !st.ReadyAt.IsZero() {
			wait := now.Sub(st.ReadyAt)
			if wait < 0 {
				wait = 0 // ready_at is the server's clock
			}
			t.m.handoff.WithLabelValues(ns).Observe(wait.Seconds())
		}
	}
	tp := st.Traceparent
	var span trace.Span
	if t.tp != nil {
		parent := WithTraceparent(context.Background(), st.Traceparent)
		attrs := make([]attribute.KeyValue, 0, 8)
		attrs = append(attrs, attribute.Int64(AttrTaskID, st.TaskID), attribute.Int64(AttrStepID, st.StepID))
		for _, kv := range [...]struct{ k, v string }{{AttrStepName, st.StepName}, {AttrTaskName, st.TaskName},
			{AttrNamespace, st.Namespace}, {AttrCorrelationID, st.CorrelationID}, {AttrWorkerID, st.Worker}} {
			if kv.v != "" { // an empty attribute says nothing, and costs its export
				attrs = append(attrs, attribute.String(kv.k, kv.v))
			}
		}
		attrs = append(attrs, attribute.Int(AttrAttempt, int(st.Attempt)))
		opts := make([]trace.SpanStartOption, 0, 4)
		opts = append(opts, trace.WithTimestamp(now), consumerKind, trace.WithAttributes(attrs...))
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
		}
		var sctx context.Context
		sctx, span = t.tracer.Start(parent, "tasker.step.execute", opts...)
		tp = Traceparent(sctx)
	}
	if t.steps != nil {
		t.steps.put(st.StepID, trackedStep{namespace: ns, claimed: now, span: span})
	}
	return tp
}

// StepReported records a report of a step: status is the report's (applied,
// duplicate, rejected), toState the state it asked for. The step's span ends
// and its duration is observed when this process claimed it.
func (t *Telemetry) StepReported(stepID int64, status, toState string, now time.Time) {
	if t == nil {
		return
	}
	outcome := toState
	if status != "applied" {
		outcome = status
	}
	ns := OtherNamespace
	if t.steps != nil {
		if ts, ok := t.steps.take(stepID); ok {
			ns = ts.namespace
			ts.finish(t, outcome, now)
		}
	}
	if t.m == nil {
		return
	}
	t.m.stepReports.WithLabelValues(status).Inc()
	if status == "applied" {
		switch toState {
		case "complete":
			t.m.stepsCompleted.WithLabelValues(ns).Inc()
		case "error":
			t.m.stepsFailed.WithLabelValues(ns).Inc()
		}
	}
}

// StepRecovered records a step whose lease expired and that recovery moved to
// toState (error or cancelled).
func (t *Telemetry) StepRecovered(stepID int64, toState string, now time.Time) {
	if t == nil {
		return
	}
	if t.steps != nil {
		if ts, ok := t.steps.take(stepID); ok {
			ts.finish(t, "recovered", now)
		}
	}
	if t.m != nil {
		t.m.stepsRecovered.WithLabelValues(toState).Inc()
	}
}

var consumerKind = trace.WithSpanKind(trace.SpanKindConsumer)

type trackedStep struct {
	namespace string
	claimed   time.Time
	span      trace.Span // nil with tracing off
}

func (ts trackedStep) finish(t *Telemetry, outcome string, now time.Time) {
	if t.m != nil {
		t.m.stepDuration.WithLabelValues(ts.namespace, outcome).Observe(now.Sub(ts.claimed).Seconds())
	}
	if ts.span != nil {
		ts.span.SetAttributes(attribute.String(AttrOutcome, outcome))
		ts.span.End(trace.WithTimestamp(now))
	}
}

// tracker holds the steps this process claimed until they are reported; it is
// bounded (telemetry.tracked_steps_limit): past the limit a claim is counted
// but not timed.
type tracker struct {
	mu    sync.Mutex
	steps map[int64]trackedStep
	limit int
}

func newTracker(limit int) *tracker { return &tracker{steps: map[int64]trackedStep{}, limit: limit} }

func (k *tracker) put(id int64, ts trackedStep) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if old, ok := k.steps[id]; ok && old.span != nil {
		old.span.End() // claimed again (its earlier lease expired): the old attempt is over
	}
	if _, ok := k.steps[id]; !ok && len(k.steps) >= k.limit {
		if ts.span != nil {
			ts.span.End()
		}
		return
	}
	k.steps[id] = ts
}

func (k *tracker) take(id int64) (trackedStep, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	ts, ok := k.steps[id]
	if ok {
		delete(k.steps, id)
	}
	return ts, ok
}

// Tracked is the number of claimed steps awaiting their report.
func (t *Telemetry) Tracked() int {
	if t == nil || t.steps == nil {
		return 0
	}
	t.steps.mu.Lock()
	defer t.steps.mu.Unlock()
	return len(t.steps.steps)
}

func (k *tracker) endAll(outcome string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for id, ts := range k.steps {
		if ts.span != nil {
			ts.span.SetAttributes(attribute.String(AttrOutcome, outcome))
			ts.span.End()
		}
		delete(k.steps, id)
	}
}
