package sqlfuncs_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/enginesql"
	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// engineShapes writes the engine-shaped tasks whose answers tasker-engine's SQL
// and Tasker Core's must agree on, and returns their ids by name.
func engineShapes(f *metricsFixture) map[string]int64 {
	ns := f.namespace("diff")
	nt := f.namedTask(ns, "shapes", "1.0.0")
	a, b, c := f.namedStep("a"), f.namedStep("b"), f.namedStep("c")
	at := f.ago(time.Hour)
	out := map[string]int64{}

	// A task without steps (the engine's tables allow it; CreateTask does not).
	out["no_steps"] = f.task(nt, at, fxTaskOpts{})

	// A permanently failed step (retries exhausted) beside a ready root step.
	t := f.task(nt, at, fxTaskOpts{})
	failed := f.step(t, a, at, fxStepOpts{attempts: fxInt32(3), retryLimit: fxInt32(3), lastAttemptedAt: &at})
	f.stepHistory(failed, fxAt{"pending", at}, fxAt{"in_progress", at}, fxAt{"error", at})
	f.step(t, b, at, fxStepOpts{})
	out["exhausted_and_ready"] = t

	// The same permanent failure with nothing else ready: blocked.
	t = f.task(nt, at, fxTaskOpts{})
	failed = f.step(t, a, at, fxStepOpts{attempts: fxInt32(3), retryLimit: fxInt32(3), lastAttemptedAt: &at})
	f.stepHistory(failed, fxAt{"pending", at}, fxAt{"in_progress", at}, fxAt{"error", at})
	child := f.step(t, b, at, fxStepOpts{})
	_, err := f.pool.Exec(f.ctx, `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name) VALUES ($1, $2, 'provides')`,
		failed, child)
	require.NoError(f.t, err)
	out["exhausted_alone"] = t

	// A retryable failure in backoff, nothing ready: recovering.
	t = f.task(nt, f.base, fxTaskOpts{})
	now := f.base
	retry := f.step(t, a, now, fxStepOpts{attempts: fxInt32(1), retryLimit: fxInt32(3), lastAttemptedAt: &now})
	f.stepHistory(retry, fxAt{"pending", now}, fxAt{"in_progress", now}, fxAt{"error", now})
	out["backoff_only"] = t

	// A diamond a -> (b, c), all pending.
	t = f.task(nt, at, fxTaskOpts{})
	sa, sb, sc := f.step(t, a, at, fxStepOpts{}), f.step(t, b, at, fxStepOpts{}), f.step(t, c, at, fxStepOpts{})
	for _, e := range [][2]int64{{sa, sb}, {sa, sc}} {
		_, err := f.pool.Exec(f.ctx, `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name) VALUES ($1, $2, 'provides')`,
			e[0], e[1])
		require.NoError(f.t, err)
	}
	out["fan_out"] = t
	return out
}

// The engine's answers where Tasker Core used to differ (issue 11): a task
// without steps has no levels and is healthy; a permanent failure beside ready
// work is recovering (failed > 0 and ready > 0, the engine's second rule).
func TestEngineAnswersForEdgeTasks(t *testing.T) {
	t.Parallel()
	f := newMetricsFixture(t)
	ids := engineShapes(f)

	levels, err := sqlfuncs.DependencyLevels(f.ctx, f.pool, ids["no_steps"])
	require.NoError(t, err, "a task without steps has no cycle")
	assert.Empty(t, levels)

	health := func(name string) string {
		t.Helper()
		ec, err := sqlfuncs.GetTaskExecutionContext(f.ctx, f.pool, ids[name], nil)
		require.NoError(t, err)
		return ec.HealthStatus
	}
	assert.Equal(t, sqlfuncs.HealthHealthy, health("no_steps"))
	assert.Equal(t, sqlfuncs.HealthRecovering, health("exhausted_and_ready"))
	assert.Equal(t, sqlfuncs.HealthBlocked, health("exhausted_alone"))
	assert.Equal(t, sqlfuncs.HealthRecovering, health("backoff_only"))
	assert.Equal(t, sqlfuncs.HealthHealthy, health("fan_out"))
}

// A differential check: tasker-engine's own functions, loaded into a schema of
// their own and run over Tasker Core's tables (the engine's table names), answer
// health_status and dependency levels as Tasker Core's functions do on the
// engine-shaped tasks above.
func TestEngineDifferentialHealthAndLevels(t *testing.T) {
	t.Parallel()
	dir := enginesql.Dir("..")
	ctx := context.Background()
	core, coreSchema := testdb.SchemaWithName(t, testdb.Options{})
	engine := testdb.NewSchemaName()
	t.Cleanup(func() {
		_, _ = core.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{engine}.Sanitize()+` CASCADE`)
	})
	err := enginesql.Load(ctx, core, dir, engine,
		"get_step_readiness_status", "get_task_execution_context", "calculate_dependency_levels")
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("tasker-engine's SQL is not at %s (set %s): %v", dir, enginesql.EnvDir, err)
	}
	require.NoError(t, err)

	f := &metricsFixture{t: t, ctx: ctx, pool: core, base: time.Now().UTC().Truncate(time.Second)}
	f.system = f.id32(`INSERT INTO tasker_dependent_systems (name) VALUES ('fixture') RETURNING dependent_system_id`)
	ids := engineShapes(f)

	// The engine's functions resolve each other in their schema first and the
	// tables in Tasker Core's.
	cfg, err := pgxpool.ParseConfig(testdb.URL(t))
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = engine + "," + coreSchema
	engPool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(engPool.Close)

	for name, id := range ids {
		var engHealth string
		require.NoError(t, engPool.QueryRow(ctx, `SELECT health_status FROM get_task_execution_context($1)`, id).Scan(&engHealth), name)
		ec, err := sqlfuncs.GetTaskExecutionContext(ctx, core, id, nil)
		require.NoError(t, err, name)
		assert.Equal(t, engHealth, ec.HealthStatus, "%s: health_status", name)

		rows, err := engPool.Query(ctx, `SELECT workflow_step_id, dependency_level FROM calculate_dependency_levels($1)`, id)
		require.NoError(t, err, name)
		engLevels := map[int64]int{}
		var sid int64
		var lvl int32
		_, err = pgx.ForEachRow(rows, []any{&sid, &lvl}, func() error { engLevels[sid] = int(lvl); return nil })
		require.NoError(t, err, name)
		coreLevels, err := sqlfuncs.DependencyLevels(ctx, core, id)
		require.NoError(t, err, name)
		assert.Equal(t, engLevels, coreLevels, fmt.Sprintf("%s: dependency levels", name))
	}
}
