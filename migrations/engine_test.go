package migrations_test

import (
	"context"
	_ "embed"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/migrations"
)

//go:embed testdata/tasker_engine_v1.sql
var engineSchema string

// An existing tasker-engine database is migrated in place: its rows survive, its
// timestamps are read as the UTC instants Rails wrote, its older functions are
// replaced, and Tasker Core then works on its data.
func TestAdoptsTaskerEngineDatabaseInPlace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t, testdb.Options{SkipMigrate: true})
	_, err := pool.Exec(ctx, engineSchema)
	require.NoError(t, err)

	res, err := migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, migrations.LatestVersion(), res.SchemaVersion)

	var requested time.Time
	var corr uuid.UUID
	var ctxText string
	require.NoError(t, pool.QueryRow(ctx, `SELECT requested_at, correlation_id, context::text FROM tasker_tasks WHERE task_id = 1`).
		Scan(&requested, &corr, &ctxText))
	assert.Equal(t, time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC), requested.UTC(), "Rails' UTC kept as the same instant")
	assert.Equal(t, uuid.Version(7), corr.Version(), "correlation id backfilled as UUIDv7")
	ms := int64(corr[0])<<40 | int64(corr[1])<<32 | int64(corr[2])<<24 | int64(corr[3])<<16 | int64(corr[4])<<8 | int64(corr[5])
	assert.Equal(t, time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC).UnixMilli(), ms, "backfilled id sorts by created_at")
	assert.JSONEq(t, `{"order_id": 17}`, ctxText)

	var typ string
	require.NoError(t, pool.QueryRow(ctx, `SELECT data_type FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name = 'tasker_workflow_step_transitions' AND column_name = 'created_at'`).Scan(&typ))
	assert.Equal(t, "timestamp with time zone", typ)

	s := store.New(pool, backoff.Default())
	rows, err := s.StepReadiness(ctx, 1, nil, nil)
	require.NoError(t, err)
	require.Len(t, rows, 3)
	assert.Equal(t, "complete", rows[0].CurrentState)
	assert.Equal(t, "error", rows[1].CurrentState)
	assert.True(t, rows[1].ReadyForExecution, "failed in 2025 with retries left: backoff long past")
	assert.Equal(t, "pending", rows[2].CurrentState, "no transition rows means pending")
	assert.Equal(t, "dependencies_unmet", rows[2].Reason)

	levels, err := s.DependencyLevels(ctx, 1)
	require.NoError(t, err)
	assert.Equal(t, map[int64]int{1: 0, 2: 1, 3: 2}, levels)

	ec, err := s.ExecutionContext(ctx, 1, nil)
	require.NoError(t, err)
	assert.Equal(t, "has_ready_steps", ec.ExecutionStatus)
	assert.Equal(t, "in_progress", ec.Status)

	// Finish the engine's task with Tasker Core, including the step that never had a
	// transition row.
	for _, tr := range []store.StepTransition{
		{StepID: 2, To: state.Pending}, {StepID: 2, To: state.InProgress}, {StepID: 2, To: state.Complete},
		{StepID: 3, To: state.InProgress}, {StepID: 3, To: state.Complete},
	} {
		_, err := s.TransitionStep(ctx, tr)
		require.NoError(t, err, "%+v", tr)
	}
	trail, err := s.StepTransitions(ctx, 3)
	require.NoError(t, err)
	require.Len(t, trail, 2)
	assert.Equal(t, int32(1), trail[0].SortKey)
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: 1, To: state.Complete})
	require.NoError(t, err)

	// And it creates new tasks next to the engine's.
	ct, err := s.CreateTask(ctx, store.TaskSpec{Name: "order_fulfillment", Steps: []store.StepSpec{{Name: "validate"}}})
	require.NoError(t, err)
	assert.Greater(t, ct.TaskID, int64(1))

	again, err := migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, again.Applied)
}

// Each step's current_state and last_failure_at (0017) equal its audit trail:
// filled on adoption, then kept equal whoever writes the trail — a writer that
// inserts transitions itself (the engine, a console) or rewrites one in place.
func TestStepStateFollowsTheAuditTrail(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t, testdb.Options{SkipMigrate: true})
	_, err := pool.Exec(ctx, engineSchema)
	require.NoError(t, err)
	_, err = migrations.Migrate(ctx, pool)
	require.NoError(t, err)

	// Every step's columns against the trail, read independently.
	const mismatches = `
		SELECT count(*) FROM tasker_workflow_steps ws
		WHERE ws.current_state IS DISTINCT FROM (SELECT t.to_state FROM tasker_workflow_step_transitions t
		                                         WHERE t.workflow_step_id = ws.workflow_step_id AND t.most_recent)
		   OR ws.last_failure_at IS DISTINCT FROM (SELECT t.created_at FROM tasker_workflow_step_transitions t
		                                           WHERE t.workflow_step_id = ws.workflow_step_id AND t.to_state = 'error'
		                                           ORDER BY t.sort_key DESC LIMIT 1)`
	check := func(msg string) {
		t.Helper()
		var n int
		require.NoError(t, pool.QueryRow(ctx, mismatches).Scan(&n))
		assert.Zero(t, n, msg)
	}
	var filled int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM tasker_workflow_steps WHERE current_state IS NOT NULL`).Scan(&filled))
	assert.Equal(t, 2, filled, "the engine's two steps with transitions are filled on adoption")
	check("after adoption")

	// A foreign writer moves step 2 (error) back to pending and then fails it again.
	for _, to := range []string{"pending", "in_progress", "error"} {
		_, err = pool.Exec(ctx, `
			WITH prev AS (UPDATE tasker_workflow_step_transitions SET most_recent = false
			              WHERE workflow_step_id = 2 AND most_recent RETURNING to_state, sort_key)
			INSERT INTO tasker_workflow_step_transitions (workflow_step_id, from_state, to_state, sort_key, most_recent, created_at, updated_at)
			SELECT 2, prev.to_state, $1, prev.sort_key + 1, true, now(), now() FROM prev`, to)
		require.NoError(t, err)
		check("after a foreign insert to " + to)
	}
	var cur string
	var failed time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT current_state, last_failure_at FROM tasker_workflow_steps WHERE workflow_step_id = 2`).
		Scan(&cur, &failed))
	assert.Equal(t, "error", cur)
	assert.WithinDuration(t, time.Now(), failed, time.Minute, "the new failure's time, not 2025's")

	// A transition rewritten in place: its time moved back, its state changed
	// (the failure rewritten as a retry: the earlier failure is the last again).
	_, err = pool.Exec(ctx, `UPDATE tasker_workflow_step_transitions SET created_at = created_at - interval '1 hour'
		WHERE workflow_step_id = 2`)
	require.NoError(t, err)
	check("after moving the trail back an hour")
	_, err = pool.Exec(ctx, `UPDATE tasker_workflow_step_transitions SET to_state = 'pending'
		WHERE workflow_step_id = 2 AND most_recent`)
	require.NoError(t, err)
	check("after rewriting the current state")
	require.NoError(t, pool.QueryRow(ctx, `SELECT current_state FROM tasker_workflow_steps WHERE workflow_step_id = 2`).Scan(&cur))
	assert.Equal(t, "pending", cur)

	// Tasker Core's own writes leave them equal too.
	s := store.New(pool, backoff.Default())
	for _, tr := range []store.StepTransition{{StepID: 2, To: state.InProgress},
		{StepID: 2, To: state.Complete}, {StepID: 3, To: state.InProgress}, {StepID: 3, To: state.Error}} {
		_, err := s.TransitionStep(ctx, tr)
		require.NoError(t, err, "%+v", tr)
	}
	check("after Tasker Core's writes")
}
