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
	cache  sync.Map // SQL text → its spans' attribute option
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
	batchStart = trace.WithAttributes(dbSystem)
)

// maxCachedStatements bounds the cache of statement attributes: the store's
// statements are a fixed set of constants, so the cache holds them all; a
// caller's dynamic SQL past the bound is recorded all the same, with its
// attributes built per statement.
const maxCachedStatements = 1024

// stmtOptions returns the attribute option of a statement span (db.system and
// its trimmed, bounded db.statement), cached by SQL text so that a statement's
// span does not rebuild it.
func (p *PgxTracer) stmtOptions(sql string) trace.SpanStartOption {
	if o, ok := p.cache.Load(sql); ok {
		return o.(trace.SpanStartOption)
	}
	o := trace.WithAttributes(dbSystem, attribute.String("db.statement", statementText(sql)))
	if p.cached.Add(1) <= maxCachedStatements {
		p.cache.Store(sql, o)
	}
	return o
}

func statementText(sql string) string {
	sql = strings.TrimSpace(sql)
	if len(sql) > maxStatementLen {
		sql = sql[:maxStatementLen]
	}
	return sql
}

func (p *PgxTracer) start(ctx context.Context, name string, opt trace.SpanStartOption) context.Context {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return ctx
	}
	ctx, _ = p.t.tracer.Start(ctx, name, clientKind, opt)
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
	return p.start(ctx, "db.query", p.stmtOptions(data.SQL))
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
	span.AddEvent("db.batch.query", trace.WithAttributes(attribute.String("db.statement", statementText(data.SQL))))
	if data.Err != nil {
		span.SetStatus(codes.Error, data.Err.Error())
	}
}

// TraceBatchEnd ends the batch's span.
func (p *PgxTracer) TraceBatchEnd(ctx context.Context, _ *pgx.Conn, data pgx.TraceBatchEndData) {
	end(ctx, data.Err)
}
