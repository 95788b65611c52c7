package telemetry

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

// batchRecorder is a span exporter that keeps the size of every batch.
type batchRecorder struct {
	mu      sync.Mutex
	batches []int
	names   []string
	shut    bool
}

func (r *batchRecorder) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, len(spans))
	for _, s := range spans {
		r.names = append(r.names, s.Name())
	}
	return nil
}

func (r *batchRecorder) Shutdown(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.shut = true
	return nil
}

func (r *batchRecorder) snapshot() ([]int, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.batches...), append([]string(nil), r.names...)
}

func newBatcherProvider(t *testing.T, s Settings, sampler sdktrace.Sampler) (*batchRecorder, *batcher, trace.Tracer) {
	t.Helper()
	rec := &batchRecorder{}
	s.ExportTimeout = time.Second
	b := newBatcher(rec, s)
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b), sdktrace.WithSampler(sampler))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return rec, b, tp.Tracer("test")
}

func endSpans(tr trace.Tracer, n int) {
	for i := 0; i < n; i++ {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
}

func TestBatcherExportsFullBatchesWithoutAFlush(t *testing.T) {
	t.Parallel()
	// The schedule delay is far off: only full batches are exported.
	rec, _, tr := newBatcherProvider(t, Settings{BatchSize: 4, QueueSize: 100, ScheduleDelay: time.Hour}, sdktrace.AlwaysSample())
	endSpans(tr, 9)
	require.Eventually(t, func() bool { b, _ := rec.snapshot(); return len(b) >= 2 }, 5*time.Second, time.Millisecond)
	time.Sleep(20 * time.Millisecond)
	b, _ := rec.snapshot()
	var sum int
	for _, n := range b {
		assert.LessOrEqual(t, n, 4, "a batch is at most batch_size spans")
		sum += n
	}
	assert.GreaterOrEqual(t, sum, 8, "two full batches are exported without waiting for the schedule")
}

func TestBatcherExportsOnTheScheduleAndOnFlush(t *testing.T) {
	t.Parallel()
	rec, _, tr := newBatcherProvider(t, Settings{BatchSize: 100, QueueSize: 100, ScheduleDelay: 20 * time.Millisecond}, sdktrace.AlwaysSample())
	endSpans(tr, 3)
	require.Eventually(t, func() bool { b, _ := rec.snapshot(); return len(b) == 1 && b[0] == 3 }, 5*time.Second, time.Millisecond,
		"a partial batch is exported after the schedule delay")

	rec2, b2, tr2 := newBatcherProvider(t, Settings{BatchSize: 2, QueueSize: 100, ScheduleDelay: time.Hour}, sdktrace.AlwaysSample())
	endSpans(tr2, 5)
	require.NoError(t, b2.ForceFlush(context.Background()))
	b, names := rec2.snapshot()
	assert.Len(t, names, 5, "a flush exports every ended span")
	for _, n := range b {
		assert.LessOrEqual(t, n, 2)
	}
}

func TestBatcherDropsPastTheQueueAndReportsIt(t *testing.T) {
	installErrorHandler()
	before := ExportErrors()
	rec, b, tr := newBatcherProvider(t, Settings{BatchSize: 10, QueueSize: 10, ScheduleDelay: time.Hour}, sdktrace.AlwaysSample())
	b.exportMu.Lock() // hold the exporter: the queue cannot drain
	endSpans(tr, 25)
	b.mu.Lock()
	queued, dropped := len(b.queue), b.dropped
	b.mu.Unlock()
	b.exportMu.Unlock()
	assert.Equal(t, 10, queued, "the queue holds queue_size spans")
	assert.Equal(t, uint64(15), dropped)
	require.NoError(t, b.ForceFlush(context.Background()))
	_, names := rec.snapshot()
	assert.Len(t, names, 10)
	assert.Greater(t, ExportErrors(), before, "the drop is reported (tasker_trace_export_errors_total)")
}

func TestBatcherSkipsUnsampledSpansAndShutsDown(t *testing.T) {
	t.Parallel()
	rec, b, tr := newBatcherProvider(t, Settings{BatchSize: 10, QueueSize: 10, ScheduleDelay: time.Hour}, sdktrace.NeverSample())
	endSpans(tr, 5)
	require.NoError(t, b.Shutdown(context.Background()))
	_, names := rec.snapshot()
	assert.Empty(t, names, "unsampled spans are not exported")
	assert.True(t, rec.shut, "shutdown shuts the exporter down")
	require.NoError(t, b.Shutdown(context.Background()), "a second shutdown does nothing")
}

func TestTraceparentRoundTrip(t *testing.T) {
	t.Parallel()
	const tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	ctx := WithTraceparent(context.Background(), tp)
	sc := trace.SpanContextFromContext(ctx)
	require.True(t, sc.IsValid())
	assert.True(t, sc.IsRemote())
	assert.True(t, sc.IsSampled())
	assert.Equal(t, "4bf92f3577b34da6a3ce929d0e0e4736", sc.TraceID().String())
	assert.Equal(t, tp, formatTraceparent(sc))
	assert.Equal(t, "00-"+sc.TraceID().String()+"-"+sc.SpanID().String()+"-"+sc.TraceFlags().String(), formatTraceparent(sc))
	unsampled := trace.SpanContextFromContext(WithTraceparent(context.Background(), tp[:53]+"00"))
	assert.Equal(t, tp[:53]+"00", formatTraceparent(unsampled))
	for _, bad := range []string{"", "garbage", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", tp[:54]} {
		assert.False(t, trace.SpanContextFromContext(WithTraceparent(context.Background(), bad)).IsValid(), bad)
	}
}

func TestStatementTextDropsIndentationKeepsLines(t *testing.T) {
	t.Parallel()
	sql := "\n\t\t-- a comment ends at its line\n\t\tSELECT a,\n\t\t\t b\n\n\t\tFROM t  \n"
	assert.Equal(t, "-- a comment ends at its line\nSELECT a,\nb\nFROM t", statementText(sql))
	long := statementText("SELECT '" + strings.Repeat("é", maxStatementLen) + "'")
	assert.LessOrEqual(t, len(long), maxStatementLen)
	assert.True(t, utf8.ValidString(long), "cut at a rune boundary")
	assert.Equal(t, "begin", statementText("begin"))
}

func TestPgxTracerCachesStatementOptionsUpToItsBound(t *testing.T) {
	t.Parallel()
	p := &PgxTracer{}
	a, b := p.stmt("SELECT 1"), p.stmt("SELECT 1")
	assert.Same(t, a, b, "the second statement span reuses the first's options")
	for i := 0; i < maxCachedStatements+10; i++ {
		p.stmt(fmt.Sprintf("SELECT %d", i+2))
	}
	var n int
	p.cache.Range(func(any, any) bool { n++; return true })
	assert.Equal(t, maxCachedStatements, n, "dynamic SQL does not grow the cache without end")
	assert.NotNil(t, p.stmt("SELECT 'past the bound'").opts, "a statement past the bound still gets its options")
}

func TestStepSpanLeavesOutEmptyAttributesAndIsAChildOfTheTask(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tel := &Telemetry{tp: tp, tracer: tp.Tracer(InstrumentationName), steps: newTracker(10)}
	const taskTP = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	now := time.Now()
	got := tel.StepClaimed(context.Background(), ClaimedStep{StepID: 7, TaskID: 3, StepName: "a", Namespace: "ns",
		Traceparent: taskTP, Attempt: 1}, now)
	require.True(t, ValidTraceparent(got), got)
	assert.Equal(t, taskTP[:36], got[:36], "the step span is in the task's trace")
	tel.StepReported(7, "applied", "complete", now.Add(time.Second))
	spans := rec.Ended()
	require.Len(t, spans, 1)
	s := spans[0]
	assert.Equal(t, "00f067aa0ba902b7", s.Parent().SpanID().String())
	attrs := map[string]string{}
	for _, kv := range s.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	assert.Equal(t, map[string]string{AttrTaskID: "3", AttrStepID: "7", AttrStepName: "a", AttrNamespace: "ns",
		AttrAttempt: "1", AttrOutcome: "complete"}, attrs, "task name, correlation id and worker id are empty: left out")
	assert.Equal(t, got, formatTraceparent(s.SpanContext()))
}

func TestStatementSpansFollowTheCallsSampling(t *testing.T) {
	t.Parallel()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0)))) // sample_ratio 0
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	tel := &Telemetry{s: Settings{DBStatements: true}, tp: tp, tracer: tp.Tracer(InstrumentationName)}
	p := tel.PgxTracer()
	require.NotNil(t, p)

	ctx, call := StartSpan(WithContext(context.Background(), tel), "tasker.api.unsampled")
	require.False(t, call.IsRecording())
	q := p.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "SELECT 1"})
	assert.Equal(t, call, trace.SpanFromContext(q), "no statement span under an unsampled call")
	p.TraceQueryEnd(q, nil, pgx.TraceQueryEndData{})
	EndSpan(call, nil)
	assert.Empty(t, rec.Ended())

	// A sampled incoming traceparent is followed: the call and its statement are recorded.
	ctx = WithTraceparent(WithContext(context.Background(), tel), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, call = StartSpan(ctx, "tasker.api.sampled")
	q = p.TraceQueryStart(ctx, nil, pgx.TraceQueryStartData{SQL: "\n\t\tSELECT 1\n\t"})
	p.TraceQueryEnd(q, nil, pgx.TraceQueryEndData{})
	EndSpan(call, nil)
	spans := rec.Ended()
	require.Len(t, spans, 2)
	stmt := spans[0]
	assert.Equal(t, "db.query", stmt.Name())
	assert.Equal(t, call.SpanContext().SpanID(), stmt.Parent().SpanID(), "a child of its call")
	assert.Equal(t, trace.SpanKindClient, stmt.SpanKind())
	attrs := map[string]string{}
	for _, kv := range stmt.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	assert.Equal(t, map[string]string{"db.system": "postgresql", "db.statement": "SELECT 1"}, attrs)
}
