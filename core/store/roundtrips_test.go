package store_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
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
	s, _ := tracedStore(t, counter)
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
		claimed = got
	}

	// A claim across tasks (no task id) picks by the tasks' ready_at, which the
	// report's writes set before the pick in the same round trip: it takes the
	// step the report made ready.
	other := create(t, s, "chain", step("a"), step("b", "a"))
	across := store.ClaimRequest{WorkerID: "w1", Limit: 1, LeaseSeconds: 60}
	claimed, err = s.ClaimSteps(ctx, across)
	require.NoError(t, err)
	require.Len(t, claimed, 1)
	require.Equal(t, other.StepIDs["a"], claimed[0].StepID, "the only ready step")
	counter.Reset()
	_, got, err := s.ReportAndClaim(ctx, []store.StepReport{{StepID: claimed[0].StepID, WorkerID: "w1",
		Attempt: claimed[0].Attempts, Success: true}}, across)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Equal(t, other.StepIDs["b"], got[0].StepID)
	require.EqualValues(t, 3, counter.RT.Load(), "report_and_claim across tasks")
}
