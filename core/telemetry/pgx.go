package telemetry

import (
	"context"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// maxStatementLen bounds the db.statement attribute: the SQL functions' calls
// are short, but the claim's CTEs run to kilobytes.
const maxStatementLen = 2048

// PgxTracer makes each statement (Query, QueryRow, Exec, SendBatch) a child
// span of the span in its context. It records the SQL text, never the
// arguments (they hold task contexts and results). A statement whose context
// has no recording span costs one interface check: tracing off, nothing is
// recorded.
type PgxTracer struct {
	t      *Telemetry
	cache  sync.Map // SQL text → its spans' start options
	cached atomic.Int64
}

// PgxTracer returns the tracer to install as pgx's ConnConfig.Tracer, or nil
// when tracing or statement spans are off.
func (t *Telemetry) PgxTracer() *PgxTracer {
	if !t.TracingEnabled() || !t.s.DBStatements {
		return nil
	}
	return &PgxTracer{t: t}
}

var (
	_ pgx.QueryTracer = (*PgxTracer)(nil)
	_ pgx.BatchTracer = (*PgxTracer)(nil)
)

// The options every statement span shares, made once.
var (
	clientKind = trace.WithSpanKind(trace.SpanKindClient)
	dbSystem   = attribute.String("db.system", "postgresql")
	batchStart = []trace.SpanStartOption{clientKind, trace.WithAttributes(dbSystem)}
)

// maxCachedStatements bounds the cache of statement options: the store's
// statements are a fixed set of constants, so the cache holds them all; a
// caller's dynamic SQL past the bound is recorded all the same, with its
// attributes built per statement.
const maxCachedStatements = 1024

// stmtInfo is what the spans of one SQL text share: the start options of its
// statement span (client kind, db.system, db.statement) and the event option of
// a batch's statement.
type stmtInfo struct {
	opts  []trace.SpanStartOption
	event trace.EventOption
}

// stmt returns the span options of a SQL text, cached by text so that a
// statement's span does not rebuild them.
func (p *PgxTracer) stmt(sql string) *stmtInfo {
	if o, ok := p.cache.Load(sql); ok {
		return o.(*stmtInfo)
	}
	text := attribute.String("db.statement", statementText(sql))
	o := &stmtInfo{opts: []trace.SpanStartOption{clientKind, trace.WithAttributes(dbSystem, text)},
		event: trace.WithAttributes(text)}
	if p.cached.Add(1) <= maxCachedStatements {
		p.cache.Store(sql, o)
	}
	return o
}

// statementText is the db.statement of a SQL text: each line without its
// indentation (the store's statements are indented Go string constants) and
// blank lines dropped, lines kept (a -- comment ends at its line), bounded by
// maxStatementLen.
func statementText(sql string) string {
	var b strings.Builder
	b.Grow(min(len(sql), maxStatementLen))
	for line := range strings.Lines(sql) {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(line)
		if b.Len() >= maxStatementLen {
			break
		}
	}
	out := b.String()
	if len(out) > maxStatementLen {
		out = strings.ToValidUTF8(out[:maxStatementLen], "")
	}
	return out
}

func (p *PgxTracer) start(ctx context.Context, name string, opts []trace.SpanStartOption) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	ctx, _ = p.t.tracer.Start(ctx, name, opts...)
	return ctx
}

func end(ctx context.Context, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}

// TraceQueryStart starts a statement's span.
func (p *PgxTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	return p.start(ctx, "db.query", p.stmt(data.SQL).opts)
}

// TraceQueryEnd ends it.
func (p *PgxTracer) TraceQueryEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryEndData) {
	end(ctx, data.Err)
}

// TraceBatchStart starts a batch's span (its statements are events of it).
func (p *PgxTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchStartData) context.Context {
	ctx = p.start(ctx, "db.batch", batchStart)
	if span := trace.SpanFromContext(ctx); span.IsRecording() && data.Batch != nil {
		span.SetAttributes(attribute.Int("db.batch.size", data.Batch.Len()))
	}
	return ctx
}

// TraceBatchQuery records one statement of a batch.
func (p *PgxTracer) TraceBatchQuery(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchQueryData) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.AddEvent("db.batch.query", p.stmt(data.SQL).event)
	if data.Err != nil {
		span.SetStatus(codes.Error, data.Err.Error())
	}
}

// TraceBatchEnd ends the batch's span.
func (p *PgxTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(ctx, data.Err)
}
