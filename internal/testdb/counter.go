package testdb

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// StatementCounter is a pgx tracer (ConnConfig.Tracer) that counts the
// statements a pool sends (N: every statement, also each of a batch) and the
// round trips they took (RT: a statement alone, or a whole batch): neither
// depends on how loaded the machine is.
type StatementCounter struct {
	N, RT atomic.Int64
	// EventWrites counts the statements that insert into the event outbox,
	// TaskWrites those that update task rows.
	EventWrites, TaskWrites atomic.Int64
}

var _ pgx.BatchTracer = (*StatementCounter)(nil)

func (c *StatementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, d pgx.TraceQueryStartData) context.Context {
	c.N.Add(1)
	c.countEvents(d.SQL)
	c.RT.Add(1)
	return ctx
}

func (c *StatementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *StatementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.RT.Add(1)
	return ctx
}

func (c *StatementCounter) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	c.N.Add(1)
	c.countEvents(d.SQL)
}

func (c *StatementCounter) countEvents(sql string) {
	if strings.Contains(sql, "INSERT INTO tasker_events") {
		c.EventWrites.Add(1)
	}
	if strings.Contains(sql, "UPDATE tasker_tasks") {
		c.TaskWrites.Add(1)
	}
}

func (c *StatementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// Reset zeroes the counts.
func (c *StatementCounter) Reset() {
	c.N.Store(0)
	c.RT.Store(0)
	c.EventWrites.Store(0)
	c.TaskWrites.Store(0)
}
