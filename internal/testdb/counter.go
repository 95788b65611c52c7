package testdb

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// StatementCounter is a pgx tracer (ConnConfig.Tracer) that counts the
// statements a pool sends (N: every statement, also each of a batch) and the
// round trips they took (RT: a statement alone, or a whole batch): neither
// depends on how loaded the machine is.
type StatementCounter struct{ N, RT atomic.Int64 }

var _ pgx.BatchTracer = (*StatementCounter)(nil)

func (c *StatementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.N.Add(1)
	c.RT.Add(1)
	return ctx
}

func (c *StatementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *StatementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.RT.Add(1)
	return ctx
}

func (c *StatementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.N.Add(1)
}

func (c *StatementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// Reset zeroes both counts.
func (c *StatementCounter) Reset() { c.N.Store(0); c.RT.Store(0) }
