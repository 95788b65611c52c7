package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// Tasker Core writes a step's current_state itself with each transition and
// tells the trigger that follows other writers (migration 0017) to skip its
// rows. Here the trigger's function fails whenever it runs: a task's whole life
// written by the store still succeeds, and a transition inserted by hand fails.
func TestOwnStepWritesSkipTheFollowingTrigger(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t)
	_, err := pool.Exec(ctx, `CREATE OR REPLACE FUNCTION tasker_follow_step_transitions() RETURNS trigger
		LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the following trigger ran for step %', NEW.workflow_step_id; END $$`)
	require.NoError(t, err)
	s := store.New(pool, testPolicy)
	require.NoError(t, s.SyncRetryPolicy(ctx))

	ct := create(t, s, "diamond", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	req := store.ClaimRequest{WorkerID: "w", TaskID: ct.TaskID, Limit: 2, LeaseSeconds: 30}
	cs, err := s.ClaimSteps(ctx, req)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	_, cs, err = s.ReportAndClaim(ctx, []store.StepReport{ok("w", cs[0])}, req)
	require.NoError(t, err)
	require.Len(t, cs, 2)
	// b fails (retryable) and c completes in one report; b is then moved on by
	// hand through the store, and d, claimed, completes the task.
	failed := store.StepReport{StepID: cs[0].StepID, WorkerID: "w", Success: false, Results: []byte(`{"error":"x"}`)}
	if cs[0].StepName != "b" {
		failed.StepID = cs[1].StepID
		cs[0], cs[1] = cs[1], cs[0]
	}
	report(t, s, failed, ok("w", cs[1]))
	_, err = s.BatchTransitionSteps(ctx, []store.StepTransition{{StepID: ct.StepIDs["b"], To: state.Pending}})
	require.NoError(t, err)
	move(t, s, ct.StepIDs["b"], state.InProgress, state.Complete)
	cs, err = s.ClaimSteps(ctx, req)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	_, cs, err = s.ReportAndClaim(ctx, []store.StepReport{ok("w", cs[0])}, req)
	require.NoError(t, err)
	require.Empty(t, cs)
	require.Equal(t, "complete", taskState(t, s, ct.TaskID))

	// Another writer's transition is followed: the trigger runs (and fails here).
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	_, err = tx.Exec(ctx, `UPDATE tasker_workflow_step_transitions SET most_recent = false
		WHERE workflow_step_id = $1 AND most_recent`, ct.StepIDs["a"])
	require.NoError(t, err)
	_, err = tx.Exec(ctx, `INSERT INTO tasker_workflow_step_transitions
		(workflow_step_id, to_state, sort_key, most_recent, created_at, updated_at)
		VALUES ($1, 'complete', 99, true, now(), now())`, ct.StepIDs["a"])
	require.ErrorContains(t, err, "the following trigger ran")
}
