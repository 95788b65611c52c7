package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// tracedStore is a store on a fresh schema whose pool traces its statements
// with tracer.
func tracedStore(t *testing.T, tracer pgx.QueryTracer) (*store.Store, *pgxpool.Pool) {
	t.Helper()
	ctx := context.Background()
	_, schema := testdb.SchemaWithName(t, testdb.Options{})
	cfg, err := pgxpool.ParseConfig(testdb.URL(t))
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	require.NoError(t, pool.Ping(ctx))
	s := store.New(pool, testPolicy)
	require.NoError(t, s.SyncRetryPolicy(ctx))
	return s, pool
}

// TestWorkerRoundTrips counts the round trips of a worker's steady round, a
// report whose success makes the next step ready and the claim that takes it
// (report_and_claim on a task already in progress), and of a claim alone.
func TestWorkerRoundTrips(t *testing.T) {
	ctx := context.Background()
	counter := &testdb.StatementCounter{}
	s, pool := tracedStore(t, counter)
	ct := create(t, s, "chain", step("a"), step("b", "a"), step("c", "b"))

	req := store.ClaimRequest{WorkerID: "w1", TaskID: ct.TaskID, Limit: 1, LeaseSeconds: 60}
	claimed, err := s.ClaimSteps(ctx, req)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, ct.StepIDs["a"], claimed[0].StepID)

	for _, next := range []string{"b", "c"} {
		counter.Reset()
		res, got, err := s.ReportAndClaim(ctx, []store.StepReport{{StepID: claimed[0].StepID, WorkerID: "w1",
			Attempt: claimed[0].Attempts, Success: true}}, req)
		require.NoError(t, err)
		require.Equal(t, store.OutcomeApplied, res.Outcomes[0].Status)
		require.Len(t, got, 1)
		require.Equal(t, ct.StepIDs[next], got[0].StepID)
		// BEGIN with the report's locks and facts; the report's writes (steps,
		// transitions, schedule, task progress, its tasks' ready_at) with the
		// claim's pick, which locks and reads the steps it takes; the claim's
		// writes with every event of the round, its tasks' ready_at and the
		// claimed step's handler data, and COMMIT.
		require.EqualValues(t, 3, counter.RT.Load(), "report_and_claim taking %s", next)
		// Events: the report's (its transition's and workflow.step_completed),
		// its finalization's and the claim's (the claim's transition's and
		// workflow.viable_steps_discovered) in one statement, which also sets
		// the claimed task's ready_at.
		require.EqualValues(t, 1, counter.EventWrites.Load(), "event-writing statements, report_and_claim taking %s", next)
		require.EqualValues(t, 1, counter.TaskWrites.Load(), "the task's row written once, report_and_claim taking %s", next)
		require.Len(t, res.Tasks, 1)
		assert.Nil(t, res.Tasks[0].ReadyAt, "%s claimed, nothing else ready", next)
		claimed = got
	}

	// A claim across tasks (no task id) picks the tasks due by their ready_at
	// and the report's own, whose ready_at is written after the claim: it takes
	// a step the report made ready, and the task's ready_at says the other one
	// is ready.
	other := create(t, s, "fork", step("a"), step("b", "a"), step("c", "a"))
	across := store.ClaimRequest{WorkerID: "w1", Limit: 1, LeaseSeconds: 60}
	claimed, err = s.ClaimSteps(ctx, across)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, other.StepIDs["a"], claimed[0].StepID, "the only ready step")
	counter.Reset()
	res, got, err := s.ReportAndClaim(ctx, []store.StepReport{{StepID: claimed[0].StepID, WorkerID: "w1",
		Attempt: claimed[0].Attempts, Success: true}}, across)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, other.StepIDs["b"], got[0].StepID)
	require.EqualValues(t, 3, counter.RT.Load(), "report_and_claim across tasks")
	require.EqualValues(t, 1, counter.TaskWrites.Load(), "the task's row written once")
	require.Len(t, res.Tasks, 1)
	require.NotNil(t, res.Tasks[0].ReadyAt, "c is ready")
	assert.WithinDuration(t, time.Now(), *res.Tasks[0].ReadyAt, time.Minute)
	var stored *time.Time
	require.NoError(t, pool.QueryRow(ctx, `SELECT ready_at FROM tasker_tasks WHERE task_id = $1`, other.TaskID).Scan(&stored))
	require.NotNil(t, stored)
	assert.True(t, stored.Equal(*res.Tasks[0].ReadyAt), "the status gives the stored ready_at")
	c, err := s.ClaimSteps(ctx, across)
	require.NoError(t, err)
	require.Len(t, c, 1)
	require.Equal(t, other.StepIDs["c"], c[0].StepID, "the next claim finds c by the task's ready_at")
}
