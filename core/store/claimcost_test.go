package store_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/store"
)

// pickCapture is a pgx tracer that keeps the last cross-task claim pick sent.
type pickCapture struct {
	mu   sync.Mutex
	sql  string
	args []any
}

func (c *pickCapture) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	return ctx
}
func (c *pickCapture) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (c *pickCapture) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	return ctx
}
func (c *pickCapture) TraceBatchQuery(_ context.Context, _ *pgx.Conn, d pgx.TraceBatchQueryData) {
	if strings.Contains(d.SQL, "picked AS MATERIALIZED") && strings.Contains(d.SQL, "SKIP LOCKED") {
		c.mu.Lock()
		c.sql, c.args = d.SQL, d.Args
		c.mu.Unlock()
	}
}
func (c *pickCapture) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// transitionRowsRead runs the captured pick as a kept (generic) plan, as the
// library's sessions do, under EXPLAIN ANALYZE in a transaction rolled back, and
// returns how many rows its plan read from tasker_task_transitions.
func (c *pickCapture) transitionRowsRead(t *testing.T, pool *pgxpool.Pool) float64 {
	t.Helper()
	ctx := context.Background()
	c.mu.Lock()
	sql, args := c.sql, c.args
	c.mu.Unlock()
	require.NotEmpty(t, sql, "no claim pick was sent")
	require.Len(t, args, 4)
	require.Nil(t, args[1], "the claim has no namespace filter")
	conn, err := pool.Acquire(ctx)
	require.NoError(t, err)
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `SET LOCAL plan_cache_mode = force_generic_plan`)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `PREPARE claim_pick_cost AS `+sql)
	require.NoError(t, err)
	var plan []map[string]any
	require.NoError(t, tx.QueryRow(ctx, fmt.Sprintf(`EXPLAIN (ANALYZE, FORMAT JSON) EXECUTE claim_pick_cost(%d, NULL, %d, '{}')`,
		args[0], args[2])).Scan(&plan))
	var rows float64
	var walk func(n map[string]any)
	walk = func(n map[string]any) {
		if n["Relation Name"] == "tasker_task_transitions" {
			rows += n["Actual Rows"].(float64) * n["Actual Loops"].(float64)
		}
		kids, _ := n["Plans"].([]any)
		for _, k := range kids {
			walk(k.(map[string]any))
		}
	}
	walk(plan[0]["Plan"].(map[string]any))
	_, err = tx.Exec(ctx, `DEALLOCATE claim_pick_cost`)
	require.NoError(t, err)
	return rows
}

// A claim looks at the tasks it picks, not at every task that ever finished:
// the rows its kept plan reads from the task audit trail stay the same when
// hundreds more tasks have completed (as NOT EXISTS, an anti-join read every
// ended task's transition on every claim).
func TestClaimCostDoesNotGrowWithFinishedTasks(t *testing.T) {
	ctx := context.Background()
	capture := &pickCapture{}
	s, pool := tracedStore(t, capture)

	finish := func(n int) {
		for i := 0; i < n; i++ {
			create(t, s, "done", step("only"))
		}
		for {
			cs, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 50, LeaseSeconds: 60})
			require.NoError(t, err)
			if len(cs) == 0 {
				return
			}
			reps := make([]store.StepReport, len(cs))
			for i, c := range cs {
				reps[i] = ok("w", c)
			}
			report(t, s, reps...)
		}
	}
	measure := func() float64 {
		for i := 0; i < 3; i++ {
			create(t, s, "open", step("a"), step("b", "a"))
		}
		_, err := pool.Exec(ctx, `ANALYZE tasker_task_transitions`)
		require.NoError(t, err)
		cs, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 1, LeaseSeconds: 60})
		require.NoError(t, err)
		require.Len(t, cs, 1)
		return capture.transitionRowsRead(t, pool)
	}

	finish(20)
	few := measure()
	finish(300)
	many := measure()
	var ended int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasker_task_transitions WHERE most_recent AND to_state = 'complete'`).Scan(&ended))
	require.GreaterOrEqual(t, ended, 320)
	require.LessOrEqual(t, many, few+10, "rows read from the task transitions: %v with 20 finished tasks, %v with %d", few, many, ended)
}
