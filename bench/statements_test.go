package bench

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/store"
)

// statementCounter is a pgx tracer that counts the statements a pool sends
// (n: every statement, also each of a batch) and the round trips they took (rt:
// a statement alone, or a whole batch): neither depends on how loaded the
// machine is.
type statementCounter struct{ n, rt atomic.Int64 }

func (c *statementCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	c.rt.Add(1)
	return ctx
}

func (c *statementCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *statementCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.rt.Add(1)
	return ctx
}

func (c *statementCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {
	c.n.Add(1)
}

func (c *statementCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// reset zeroes both counts.
func (c *statementCounter) reset() { c.n.Store(0); c.rt.Store(0) }

// countingStore is a store over the env's schema whose pool counts its
// statements and uses the client's plan_cache_mode, as api.Open's pool does.
func (e *env) countingStore(b *testing.B) (*store.Store, *statementCounter) {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(e.url)
	must(b, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = e.schema
	for _, k := range config.Keys {
		if k.Path == "database.plan_cache_mode" {
			cfg.ConnConfig.RuntimeParams["plan_cache_mode"] = k.Default.(string)
		}
	}
	cfg.MaxConns = 4
	counter := &statementCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	must(b, err)
	b.Cleanup(pool.Close)
	s := store.New(pool, backoff.Default())
	must(b, s.SyncRetryPolicy(context.Background()))
	counter.reset()
	return s, counter
}
