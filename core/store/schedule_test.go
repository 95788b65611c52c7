package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// scheduleRow is a step's readiness beside its stored schedule, read in one
// statement (one now()).
type scheduleRow struct {
	name       string
	state      string
	ready      bool
	reason     string
	nextRetry  *time.Time
	runnableAt *time.Time
	due        bool // runnable_at <= now()
}

func scheduleRows(t require.TestingT, s *store.Store, taskID int64) ([]scheduleRow, *time.Time, bool) {
	ctx := context.Background()
	rows, err := s.Pool().Query(ctx, `
		SELECT r.name, r.current_state, r.ready_for_execution, r.reason, r.next_retry_at, ws.runnable_at,
		       COALESCE(ws.runnable_at <= now(), false)
		FROM get_step_readiness_status($1) r JOIN tasker_workflow_steps ws ON ws.workflow_step_id = r.workflow_step_id
		ORDER BY r.workflow_step_id`, taskID)
	require.NoError(t, err)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (scheduleRow, error) {
		var x scheduleRow
		err := r.Scan(&x.name, &x.state, &x.ready, &x.reason, &x.nextRetry, &x.runnableAt, &x.due)
		return x, err
	})
	require.NoError(t, err)
	var readyAt *time.Time
	var open bool
	require.NoError(t, s.Pool().QueryRow(ctx, `
		SELECT t.ready_at, COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
		                             WHERE tt.task_id = t.task_id AND tt.most_recent), 'pending') IN ('pending', 'in_progress')
		FROM tasker_tasks t WHERE t.task_id = $1`, taskID).Scan(&readyAt, &open))
	return out, readyAt, open
}

// checkSchedule asserts the stored schedule says what readiness says: a ready
// step is due, a step in backoff has its retry time, any other step none; an open
// task's ready_at is the least runnable_at of its steps.
func checkSchedule(t require.TestingT, s *store.Store, taskID int64) {
	rows, readyAt, open := scheduleRows(t, s, taskID)
	var least *time.Time
	for _, r := range rows {
		where := fmt.Sprintf("step %s (%s, %s)", r.name, r.state, r.reason)
		switch {
		case r.ready:
			require.True(t, r.due, "%s: ready, runnable_at %v", where, r.runnableAt)
		case r.reason == "backoff":
			require.NotNil(t, r.runnableAt, where)
			require.False(t, r.due, where)
			require.WithinDuration(t, *r.nextRetry, *r.runnableAt, time.Microsecond, where)
		case r.reason == "task_terminal":
			// The task has ended: its ready_at (NULL) is what keeps it unclaimed.
			continue
		default:
			require.Nil(t, r.runnableAt, where)
		}
		if r.runnableAt != nil && (least == nil || r.runnableAt.Before(*least)) {
			least = r.runnableAt
		}
	}
	checkProgress(t, s, taskID)
	if !open {
		require.Nil(t, readyAt, "a task that ended or failed has no ready_at")
		return
	}
	require.Equal(t, least == nil, readyAt == nil, "ready_at %v, least runnable_at %v", readyAt, least)
	if least != nil {
		require.WithinDuration(t, *least, *readyAt, time.Microsecond)
	}
}

// checkProgress asserts that finalization's read of the schedule answers what
// the execution context does for the fields finalization decides on, read in
// one transaction (one now()).
func checkProgress(t require.TestingT, s *store.Store, taskID int64) {
	ctx := context.Background()
	tx, err := s.Pool().BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	require.NoError(t, err)
	defer func() { _ = tx.Rollback(ctx) }()
	want, err := sqlfuncs.GetTaskExecutionContextsBatch(ctx, tx, []int64{taskID}, nil)
	require.NoError(t, err)
	got, err := store.TaskProgressTx(ctx, tx, []int64{taskID})
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.Len(t, want, 1)
	w, g := want[0], got[0]
	where := fmt.Sprintf("task %d (%s, %s)", taskID, w.Status, w.ExecutionStatus)

	// The context's counts are readiness's, aggregated.
	var ready, blocked, pending, inProgress, completed, failed, cancelled int
	var nextRetry *time.Time
	require.NoError(t, tx.QueryRow(ctx, `
		SELECT count(*) FILTER (WHERE ready_for_execution), count(*) FILTER (WHERE current_state = 'error' AND NOT retry_eligible),
		       count(*) FILTER (WHERE current_state = 'pending'), count(*) FILTER (WHERE current_state = 'in_progress'),
		       count(*) FILTER (WHERE current_state IN ('complete', 'resolved_manually')),
		       count(*) FILTER (WHERE current_state = 'error'), count(*) FILTER (WHERE current_state = 'cancelled'),
		       min(next_retry_at) FILTER (WHERE reason = 'backoff')
		FROM get_step_readiness_status($1)`, taskID).
		Scan(&ready, &blocked, &pending, &inProgress, &completed, &failed, &cancelled, &nextRetry))
	require.Equal(t, []int{ready, blocked, pending, inProgress, completed, failed, cancelled},
		[]int{int(w.ReadySteps), int(w.PermanentlyBlockedSteps), int(w.PendingSteps), int(w.InProgressSteps),
			int(w.CompletedSteps), int(w.FailedSteps), int(w.CancelledSteps)},
		"%s: ready, blocked, pending, in progress, completed, failed, cancelled", where)
	require.Equal(t, nextRetry == nil, w.NextRetryAt == nil, "%s: next_retry_at %v / %v", where, nextRetry, w.NextRetryAt)
	if nextRetry != nil {
		require.WithinDuration(t, *nextRetry, *w.NextRetryAt, time.Microsecond, where)
	}

	require.Equal(t, w.Status, g.Status, where)
	require.Equal(t, w.ExecutionStatus, g.ExecutionStatus, where)
	require.Equal(t, w.ReadySteps, g.ReadySteps, where)
	require.Equal(t, w.InProgressSteps, g.InProgressSteps, where)
	require.Equal(t, w.CorrelationID, g.CorrelationID, where)
	require.Equal(t, w.NextRetryAt == nil, g.NextRetryAt == nil, "%s: next_retry_at %v / %v", where, w.NextRetryAt, g.NextRetryAt)
	if w.NextRetryAt != nil {
		require.WithinDuration(t, *w.NextRetryAt, *g.NextRetryAt, time.Microsecond, where)
	}
}

// On random DAGs and random step histories (each step moved through the store,
// which updates the schedule of the steps it moves and of their children only),
// the stored schedule equals what readiness computes from the whole task.
func TestStepScheduleMatchesReadiness(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	policy := backoff.Policy{Strategy: backoff.Exponential, BaseSeconds: 2, Multiplier: 3, CapSeconds: 120, Jitter: 0.3}
	s := store.New(testdb.Schema(t), policy)
	require.NoError(t, s.SyncRetryPolicy(ctx))
	n := 0

	rapid.Check(t, func(rt *rapid.T) {
		n++
		size := rapid.IntRange(1, 10).Draw(rt, "steps")
		steps := make([]store.StepSpec, size)
		for i := range steps {
			steps[i].Name = fmt.Sprintf("s%02d", i)
			for j := 0; j < i; j++ {
				if rapid.IntRange(0, 2).Draw(rt, fmt.Sprintf("edge%d_%d", j, i)) == 0 {
					steps[i].DependsOn = append(steps[i].DependsOn, steps[j].Name)
				}
			}
			if rapid.Bool().Draw(rt, fmt.Sprintf("limit%d", i)) {
				l := int32(rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("limitv%d", i)))
				steps[i].RetryLimit = &l
			}
		}
		ct, err := s.CreateTask(ctx, store.TaskSpec{Name: fmt.Sprintf("sched%d", n), Steps: steps})
		require.NoError(rt, err)
		checkSchedule(rt, s, ct.TaskID)

		// Moves in random step order (not only topological), so a parent is
		// reset or fails after its children started.
		ids := make([]int64, 0, size)
		for _, sp := range steps {
			ids = append(ids, ct.StepIDs[sp.Name])
		}
		moves := rapid.IntRange(0, 3*size).Draw(rt, "moves")
		for m := 0; m < moves; m++ {
			id := rapid.SampledFrom(ids).Draw(rt, "step")
			var cur state.State
			require.NoError(rt, s.Pool().QueryRow(ctx, `SELECT COALESCE((SELECT to_state FROM tasker_workflow_step_transitions
				WHERE workflow_step_id = $1 AND most_recent), 'pending')`, id).Scan(&cur))
			targets := state.Step.Targets(cur)
			if len(targets) == 0 {
				continue
			}
			to := rapid.SampledFrom(targets).Draw(rt, "to")
			req := store.StepTransition{StepID: id, To: to}
			if to == state.Error {
				req.Permanent = rapid.IntRange(0, 4).Draw(rt, "permanent") == 0
				if rapid.IntRange(0, 3).Draw(rt, "requested") == 0 {
					b := int32(rapid.IntRange(0, 90).Draw(rt, "backoff"))
					req.BackoffRequestSeconds = &b
				}
			}
			if _, err := s.TransitionStep(ctx, req); err != nil {
				require.Equal(rt, errs.StateTransition, errs.KindOf(err), "%d -> %s: %v", id, to, err) // a guard refused it
			}
			if rapid.IntRange(0, 3).Draw(rt, "backdate") == 0 {
				backdate(t, s, id, time.Duration(rapid.IntRange(0, 200).Draw(rt, "ago"))*time.Second)
			}
			checkSchedule(rt, s, ct.TaskID)
		}
		if rapid.IntRange(0, 3).Draw(rt, "cancel") == 0 {
			_, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Cancelled})
			require.NoError(rt, err)
			checkSchedule(rt, s, ct.TaskID)
		}
	})
}

// A claim takes ready steps from the schedule; a schedule written by something
// else (here: by hand) is repaired by the claim that finds it wrong, and the
// claim still takes exactly the steps readiness calls ready.
func TestClaimRepairsAScheduleWrittenElsewhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := store.New(testdb.Schema(t), testPolicy)
	require.NoError(t, s.SyncRetryPolicy(ctx))
	ct := create(t, s, "repair", step("a"), step("b", "a"), step("c"))

	// A stale schedule: nothing due although a and c are ready.
	_, err := s.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET runnable_at = NULL WHERE task_id = $1`, ct.TaskID)
	require.NoError(t, err)
	got, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 5, LeaseSeconds: 30})
	require.NoError(t, err)
	assert.Empty(t, got, "the claim saw no due step")
	checkSchedule(t, s, ct.TaskID) // …and repaired the task's schedule
	got, err = s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 5, LeaseSeconds: 30})
	require.NoError(t, err)
	var names []string
	for _, c := range got {
		names = append(names, c.StepName)
	}
	assert.ElementsMatch(t, []string{"a", "c"}, names)

	// A schedule that calls a step ready that is not (its parent is running).
	_, err = s.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET runnable_at = now() - interval '1 second'
		WHERE workflow_step_id = $1`, ct.StepIDs["b"])
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE tasker_tasks SET ready_at = now() - interval '1 second' WHERE task_id = $1`, ct.TaskID)
	require.NoError(t, err)
	got, err = s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w", Limit: 5, LeaseSeconds: 30})
	require.NoError(t, err)
	assert.Empty(t, got, "b waits for a")
	checkSchedule(t, s, ct.TaskID)
}
