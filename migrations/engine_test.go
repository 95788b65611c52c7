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
