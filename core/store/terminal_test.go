package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/readiness"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

func moveTask(t *testing.T, s *store.Store, taskID int64, to ...state.State) {
	t.Helper()
	for _, st := range to {
		_, err := s.TransitionTask(context.Background(), store.TaskTransition{TaskID: taskID, To: st})
		require.NoError(t, err, "task %d -> %s", taskID, st)
	}
}

// assertNothingRuns checks every path that could hand out or accept work for a
// task in a terminal state: none does, and none writes anything.
func assertNothingRuns(t *testing.T, s *store.Store, taskID int64, held store.ClaimedStep, taskState state.State) {
	t.Helper()
	ctx := context.Background()
	trail := func() int {
		var n int
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT (SELECT count(*) FROM tasker_workflow_step_transitions st
			JOIN tasker_workflow_steps ws USING (workflow_step_id) WHERE ws.task_id = $1)
			+ (SELECT count(*) FROM tasker_task_transitions WHERE task_id = $1)`, taskID).Scan(&n))
		return n
	}
	before := trail()

	assert.Empty(t, claim(t, s, "w2", taskID, 10), "claim of the task")
	assert.Empty(t, claim(t, s, "w2", 0, 10), "claim across tasks")
	assert.Empty(t, readyNames(t, s, taskID, nil), "viable steps")
	later := time.Now().Add(time.Hour)
	assert.Empty(t, readyNames(t, s, taskID, &later), "viable steps later")
	rows, err := s.StepReadiness(ctx, taskID, nil, nil)
	require.NoError(t, err)
	for _, r := range rows {
		assert.False(t, r.ReadyForExecution, "step %s", r.Name)
		if r.CurrentState == string(state.Pending) || r.CurrentState == string(state.Error) {
			assert.Equal(t, readiness.TaskTerminal, r.Reason, "step %s", r.Name)
			assert.Equal(t, string(taskState), r.ReasonDetail["task_state"], "step %s", r.Name)
			assert.Nil(t, r.NextRetryAt, "step %s: no retry time on a terminal task", r.Name)
		}
	}
	ec, err := s.ExecutionContext(ctx, taskID, nil)
	require.NoError(t, err)
	assert.Zero(t, ec.ReadySteps)
	tasks, err := s.NextReadyTasks(ctx, 100)
	require.NoError(t, err)
	for _, rt := range tasks {
		assert.NotEqual(t, taskID, rt.TaskID, "next_ready_tasks lists the terminal task")
	}

	if held.StepID != 0 {
		ext, err := s.Heartbeat(ctx, "w1", []int64{held.StepID}, 30)
		require.NoError(t, err)
		assert.Empty(t, ext, "a heartbeat does not extend a lease on a terminal task")

		res, err := s.ReportResults(ctx, []store.StepReport{ok("w1", held)})
		require.NoError(t, err)
		require.Len(t, res.Outcomes, 1)
		o := res.Outcomes[0]
		assert.Equal(t, store.OutcomeRejected, o.Status)
		assert.Equal(t, errs.StateTransition, errs.KindOf(o.Err))
		assert.Equal(t, "task_terminal", errs.DetailsOf(o.Err)["reason"])
		assert.Equal(t, string(taskState), errs.DetailsOf(o.Err)["task_state"])

		failed := store.StepReport{StepID: held.StepID, WorkerID: "w1", Error: &store.StepError{Message: "boom"}}
		res, cs, err := s.ReportAndClaim(ctx, []store.StepReport{failed},
			store.ClaimRequest{WorkerID: "w1", TaskID: taskID, Limit: 5, LeaseSeconds: 30})
		require.NoError(t, err)
		assert.Equal(t, store.OutcomeRejected, res.Outcomes[0].Status, "report_and_claim's report")
		assert.Empty(t, cs, "report_and_claim's claim")
	}
	assert.Equal(t, before, trail(), "nothing was written")
}

// A cancelled task's pending steps are not handed out, its running step's report
// is refused (issue 11: an order was charged while its task stayed cancelled).
func TestCancelledTaskNeverRuns(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "cancel-me", step("a"), step("b"), step("c", "a"))
	cs := claim(t, s, "w1", ct.TaskID, 1)
	require.Len(t, cs, 1)
	moveTask(t, s, ct.TaskID, state.Cancelled)
	assertNothingRuns(t, s, ct.TaskID, cs[0], state.Cancelled)
}

// The same for a task an operator resolved by hand, and for a complete task.
func TestResolvedAndCompleteTasksNeverRun(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	no := false
	ct := create(t, s, "resolve-me", step("a"), step("b"), step("c"))
	cs := claim(t, s, "w1", ct.TaskID, 2)
	require.Len(t, cs, 2)
	res := report(t, s, store.StepReport{StepID: cs[0].StepID, WorkerID: "w1",
		Error: &store.StepError{Message: "declined", Retryable: &no}})
	require.Equal(t, store.OutcomeApplied, res.Outcomes[0].Status)
	// c is still pending and b still running; the operator gives up on the task.
	moveTask(t, s, ct.TaskID, state.Error, state.ResolvedManually)
	assertNothingRuns(t, s, ct.TaskID, cs[1], state.ResolvedManually)

	done := create(t, s, "done", step("a"))
	complete(t, s, done, "a")
	moveTask(t, s, done.TaskID, state.InProgress, state.Complete)
	assertNothingRuns(t, s, done.TaskID, store.ClaimedStep{}, state.Complete)
}

// A task in error is not terminal: an operator who resolves the failed step
// unblocks it, and its next step is claimed (the task goes error → pending →
// in_progress).
func TestTaskInErrorRunsAgainOnceUnblocked(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	no := false
	ct := create(t, s, "unblock", step("a"), step("b", "a"))
	cs := claim(t, s, "w1", ct.TaskID, 1)
	res := report(t, s, store.StepReport{StepID: cs[0].StepID, WorkerID: "w1",
		Error: &store.StepError{Message: "declined", Retryable: &no}})
	require.Equal(t, "error", res.Tasks[0].Status)
	move(t, s, ct.StepIDs["a"], state.ResolvedManually)
	assert.Equal(t, []string{"b"}, claimedNames(claim(t, s, "w1", ct.TaskID, 5)))
	assert.Equal(t, "in_progress", taskState(t, s, ct.TaskID))
}

// Recovery does not fail (and so retry) the expired step of a cancelled task: it
// cancels the step, which frees it without a retry.
func TestRecoveryCancelsExpiredStepOfCancelledTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "cancel-recover", step("a"), step("b"))
	cs, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w1", TaskID: ct.TaskID, Limit: 1, LeaseSeconds: 0.05})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	moveTask(t, s, ct.TaskID, state.Cancelled)
	time.Sleep(100 * time.Millisecond)
	rec, err := s.RecoverExpiredLeases(ctx, "reaper", 10)
	require.NoError(t, err)
	require.Len(t, rec.Outcomes, 1)
	assert.Equal(t, store.OutcomeApplied, rec.Outcomes[0].Status)
	assert.Equal(t, state.Cancelled, rec.Outcomes[0].To)
	trail, err := s.StepTransitions(ctx, cs[0].StepID)
	require.NoError(t, err)
	last := trail[len(trail)-1]
	assert.Equal(t, state.Cancelled, last.To)
	assert.Equal(t, "task_terminal", last.Metadata["reason"])
	assert.Equal(t, "cancelled", last.Metadata["task_state"])
	assert.Equal(t, "cancelled", taskState(t, s, ct.TaskID))
	again, err := s.RecoverExpiredLeases(ctx, "reaper", 10)
	require.NoError(t, err)
	assert.Empty(t, again.Outcomes)
}
