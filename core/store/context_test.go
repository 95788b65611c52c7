package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// cxExp is an expected execution context; recommended_action follows from exec.
type cxExp struct {
	status                                                                   string // task state
	total, pending, inProgress, completed, failed, ready, blocked, cancelled int32
	exec, health                                                             string
	pct                                                                      float64
	next                                                                     *time.Time // next_retry_at
}

func cxGet(t *testing.T, s *store.Store, taskID int64, asOf *time.Time) sqlfuncs.TaskExecutionContext {
	t.Helper()
	ec, err := s.ExecutionContext(context.Background(), taskID, asOf)
	require.NoError(t, err)
	require.Equal(t, taskID, ec.TaskID)
	return ec
}

func cxAssert(t *testing.T, w cxExp, ec sqlfuncs.TaskExecutionContext, msg string) {
	t.Helper()
	if w.status == "" {
		w.status = string(state.Pending)
	}
	assert.Equal(t, w.status, ec.Status, "%s: status", msg)
	assert.Equal(t, w.total, ec.TotalSteps, "%s: total_steps", msg)
	assert.Equal(t, w.pending, ec.PendingSteps, "%s: pending_steps", msg)
	assert.Equal(t, w.inProgress, ec.InProgressSteps, "%s: in_progress_steps", msg)
	assert.Equal(t, w.completed, ec.CompletedSteps, "%s: completed_steps", msg)
	assert.Equal(t, w.failed, ec.FailedSteps, "%s: failed_steps", msg)
	assert.Equal(t, w.ready, ec.ReadySteps, "%s: ready_steps", msg)
	assert.Equal(t, w.blocked, ec.PermanentlyBlockedSteps, "%s: permanently_blocked_steps", msg)
	assert.Equal(t, w.cancelled, ec.CancelledSteps, "%s: cancelled_steps", msg)
	assert.Equal(t, w.exec, ec.ExecutionStatus, "%s: execution_status", msg)
	assert.Equal(t, patAction[w.exec], ec.RecommendedAction, "%s: recommended_action", msg)
	assert.Equal(t, w.health, ec.HealthStatus, "%s: health_status", msg)
	assert.Equal(t, w.pct, ec.CompletionPercentage, "%s: completion_percentage", msg)
	rdyAssertTime(t, w.next, ec.NextRetryAt, msg+": next_retry_at")
}

// cxLastFailure returns when a step last failed.
func cxLastFailure(t *testing.T, s *store.Store, ct store.CreatedTask, name string) time.Time {
	t.Helper()
	r := rdyOne(t, s, ct, name, nil)
	require.NotNil(t, r.LastFailureAt, "%s has failed", name)
	return *r.LastFailureAt
}

func TestContextHasReadySteps(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "ctx-ready", step("a"), step("b", "a"), step("c", "b"))
	ec := cxGet(t, s, ct.TaskID, nil)
	cxAssert(t, cxExp{total: 3, pending: 3, ready: 1, exec: sqlfuncs.StatusHasReadySteps,
		health: sqlfuncs.HealthHealthy}, ec, "fresh")
	assert.Equal(t, ct.NamedTaskID, ec.NamedTaskID)
	assert.Equal(t, ct.CorrelationID, ec.CorrelationID)

	// Ready wins over processing: one step running, another ready.
	ct2 := create(t, s, "ctx-ready-2", step("x"), step("y"))
	move(t, s, ct2.StepIDs["x"], state.InProgress)
	_, err := s.TransitionTask(context.Background(), store.TaskTransition{TaskID: ct2.TaskID, To: state.InProgress})
	require.NoError(t, err)
	cxAssert(t, cxExp{status: "in_progress", total: 2, pending: 1, inProgress: 1, ready: 1,
		exec: sqlfuncs.StatusHasReadySteps, health: sqlfuncs.HealthHealthy}, cxGet(t, s, ct2.TaskID, nil), "one running, one ready")
}

func TestContextProcessing(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "ctx-processing", step("a"), step("b", "a"), step("c", "a"))
	move(t, s, ct.StepIDs["a"], state.InProgress)
	cxAssert(t, cxExp{total: 3, pending: 2, inProgress: 1, exec: sqlfuncs.StatusProcessing,
		health: sqlfuncs.HealthHealthy}, cxGet(t, s, ct.TaskID, nil), "a running")
	move(t, s, ct.StepIDs["a"], state.Complete)
	move(t, s, ct.StepIDs["b"], state.InProgress)
	move(t, s, ct.StepIDs["c"], state.InProgress)
	cxAssert(t, cxExp{total: 3, inProgress: 2, completed: 1, exec: sqlfuncs.StatusProcessing,
		health: sqlfuncs.HealthHealthy, pct: 33.33}, cxGet(t, s, ct.TaskID, nil), "b and c running")
}

func TestContextBlockedByFailures(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	// A permanent failure.
	perm := create(t, s, "ctx-blocked-permanent", step("a"), step("b", "a"))
	rdyFail(t, s, perm.StepIDs["a"], nil, true)
	want := cxExp{total: 2, pending: 1, failed: 1, blocked: 1, exec: sqlfuncs.StatusBlockedByFailures,
		health: sqlfuncs.HealthBlocked}
	cxAssert(t, want, cxGet(t, s, perm.TaskID, nil), "permanent failure")
	lf := cxLastFailure(t, s, perm, "a")
	cxAssert(t, want, cxGet(t, s, perm.TaskID, rdyAt(lf.Add(24*time.Hour))), "permanent failure, a day later")

	// Retries exhausted.
	ex := create(t, s, "ctx-blocked-exhausted", store.StepSpec{Name: "a", RetryLimit: rdyI32(1)}, step("b"), step("c", "a", "b"))
	complete(t, s, ex, "b")
	rdyFail(t, s, ex.StepIDs["a"], nil, false)
	cxAssert(t, cxExp{total: 3, pending: 1, completed: 1, failed: 1, blocked: 1, exec: sqlfuncs.StatusBlockedByFailures,
		health: sqlfuncs.HealthBlocked, pct: 33.33}, cxGet(t, s, ex.TaskID, nil), "retries exhausted")

	// Processing comes before blocked_by_failures; health is still blocked.
	mix := create(t, s, "ctx-blocked-processing", step("a"), step("b"))
	rdyFail(t, s, mix.StepIDs["a"], nil, true)
	move(t, s, mix.StepIDs["b"], state.InProgress)
	cxAssert(t, cxExp{total: 2, inProgress: 1, failed: 1, blocked: 1, exec: sqlfuncs.StatusProcessing,
		health: sqlfuncs.HealthBlocked}, cxGet(t, s, mix.TaskID, nil), "permanent failure while another step runs")
}

func TestContextAllComplete(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "ctx-complete", step("a"), step("b", "a"), step("c", "a"))
	complete(t, s, ct, "a", "b")
	move(t, s, ct.StepIDs["c"], state.ResolvedManually)
	cxAssert(t, cxExp{total: 3, completed: 3, exec: sqlfuncs.StatusAllComplete, health: sqlfuncs.HealthHealthy, pct: 100},
		cxGet(t, s, ct.TaskID, nil), "complete and resolved_manually")

	_, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.InProgress})
	require.NoError(t, err)
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Complete})
	require.NoError(t, err, "resolved_manually satisfies the task guard")
	cxAssert(t, cxExp{status: "complete", total: 3, completed: 3, exec: sqlfuncs.StatusAllComplete,
		health: sqlfuncs.HealthHealthy, pct: 100}, cxGet(t, s, ct.TaskID, nil), "task complete")
}

func TestContextWaitingForDependencies(t *testing.T) {
	t.Parallel()
	s := newStore(t)

	// A step in backoff, nothing else ready or running.
	ct := create(t, s, "ctx-waiting", step("a"), step("b", "a"))
	rdyFail(t, s, ct.StepIDs["a"], nil, false)
	lf := cxLastFailure(t, s, ct, "a")
	next := lf.Add(2 * time.Second)
	waiting := cxExp{total: 2, pending: 1, failed: 1, exec: sqlfuncs.StatusWaitingForDependencies,
		health: sqlfuncs.HealthRecovering, next: &next}
	cxAssert(t, waiting, cxGet(t, s, ct.TaskID, nil), "a in backoff")
	cxAssert(t, waiting, cxGet(t, s, ct.TaskID, rdyAt(next.Add(-time.Millisecond))), "a in backoff, 1 ms before")
	cxAssert(t, cxExp{total: 2, pending: 1, failed: 1, ready: 1, exec: sqlfuncs.StatusHasReadySteps,
		health: sqlfuncs.HealthRecovering}, cxGet(t, s, ct.TaskID, &next), "a's backoff passed (as_of)")

	// The explicit retry during the backoff: pending, healthy, still waiting.
	move(t, s, ct.StepIDs["a"], state.Pending)
	cxAssert(t, cxExp{total: 2, pending: 2, exec: sqlfuncs.StatusWaitingForDependencies,
		health: sqlfuncs.HealthHealthy, next: &next}, cxGet(t, s, ct.TaskID, &lf), "a retried, still in backoff")
	backdate(t, s, ct.StepIDs["a"], 10*time.Second)
	cxAssert(t, cxExp{total: 2, pending: 2, ready: 1, exec: sqlfuncs.StatusHasReadySteps,
		health: sqlfuncs.HealthHealthy}, cxGet(t, s, ct.TaskID, nil), "a retried, backoff passed (backdated)")

	// Two steps in backoff: next_retry_at is the earliest.
	two := create(t, s, "ctx-waiting-two", step("x"), step("y"), step("z", "x", "y"))
	rdyFail(t, s, two.StepIDs["y"], rdyI32(60), false)
	rdyFail(t, s, two.StepIDs["x"], nil, false)
	xNext := cxLastFailure(t, s, two, "x").Add(2 * time.Second)
	yr := rdyOne(t, s, two, "y", nil)
	yNext := yr.LastFailureAt.Add(60 * time.Second) // a requested backoff counts from the failure
	rdyAssertTime(t, &yNext, yr.NextRetryAt, "y requested 60 s")
	cxAssert(t, cxExp{total: 3, pending: 1, failed: 2, exec: sqlfuncs.StatusWaitingForDependencies,
		health: sqlfuncs.HealthRecovering, next: &xNext}, cxGet(t, s, two.TaskID, nil), "x and y in backoff")
	cxAssert(t, cxExp{total: 3, pending: 1, failed: 2, ready: 1, exec: sqlfuncs.StatusHasReadySteps,
		health: sqlfuncs.HealthRecovering, next: &yNext}, cxGet(t, s, two.TaskID, &xNext), "x ready, y in backoff")

	// A cancelled parent leaves its child waiting.
	cn := create(t, s, "ctx-waiting-cancelled", step("a"), step("b", "a"))
	move(t, s, cn.StepIDs["a"], state.Cancelled)
	cxAssert(t, cxExp{total: 2, pending: 1, cancelled: 1, exec: sqlfuncs.StatusWaitingForDependencies,
		health: sqlfuncs.HealthHealthy}, cxGet(t, s, cn.TaskID, nil), "parent cancelled")
}

func TestContextHealthStatus(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "ctx-health", step("a"), step("b"), step("c", "a", "b"))

	cxAssert(t, cxExp{total: 3, pending: 3, ready: 2, exec: sqlfuncs.StatusHasReadySteps, health: sqlfuncs.HealthHealthy},
		cxGet(t, s, ct.TaskID, nil), "healthy: no failures")

	// recovering: a failure with retries left (b still ready).
	rdyFail(t, s, ct.StepIDs["a"], nil, false)
	next := cxLastFailure(t, s, ct, "a").Add(2 * time.Second)
	cxAssert(t, cxExp{total: 3, pending: 2, failed: 1, ready: 1, exec: sqlfuncs.StatusHasReadySteps,
		health: sqlfuncs.HealthRecovering, next: &next}, cxGet(t, s, ct.TaskID, nil), "recovering: a in backoff, b ready")
	// recovering, and the failed step ready again.
	cxAssert(t, cxExp{total: 3, pending: 2, failed: 1, ready: 2, exec: sqlfuncs.StatusHasReadySteps,
		health: sqlfuncs.HealthRecovering}, cxGet(t, s, ct.TaskID, &next), "recovering: a's backoff passed")

	// blocked: a permanent failure and nothing ready.
	bl := create(t, s, "ctx-health-blocked", step("a"), step("b"), step("c", "a", "b"))
	complete(t, s, bl, "b")
	rdyFail(t, s, bl.StepIDs["a"], nil, true)
	cxAssert(t, cxExp{total: 3, pending: 1, completed: 1, failed: 1, blocked: 1, exec: sqlfuncs.StatusBlockedByFailures,
		health: sqlfuncs.HealthBlocked, pct: 33.33}, cxGet(t, s, bl.TaskID, nil), "blocked")

	// A permanent failure while other work is ready: the engine's rule (failed > 0
	// and ready > 0) comes before blocked, so recovering.
	un := create(t, s, "ctx-health-failed-and-ready", step("a"), step("b"), step("c", "a", "b"))
	rdyFail(t, s, un.StepIDs["a"], nil, true)
	cxAssert(t, cxExp{total: 3, pending: 2, failed: 1, ready: 1, blocked: 1, exec: sqlfuncs.StatusHasReadySteps,
		health: sqlfuncs.HealthRecovering}, cxGet(t, s, un.TaskID, nil), "permanent failure, b ready")
}

func TestContextCompletionPercentage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	text := func(taskID int64) string {
		t.Helper()
		var v string
		require.NoError(t, s.Pool().QueryRow(ctx,
			`SELECT completion_percentage::text FROM get_task_execution_context($1)`, taskID).Scan(&v))
		return v
	}

	three := create(t, s, "pct-three", step("a"), step("b"), step("c"))
	assert.Equal(t, 0.0, cxGet(t, s, three.TaskID, nil).CompletionPercentage)
	assert.Equal(t, "0.00", text(three.TaskID))
	complete(t, s, three, "a")
	assert.Equal(t, 33.33, cxGet(t, s, three.TaskID, nil).CompletionPercentage)
	assert.Equal(t, "33.33", text(three.TaskID))
	move(t, s, three.StepIDs["b"], state.ResolvedManually)
	assert.Equal(t, 66.67, cxGet(t, s, three.TaskID, nil).CompletionPercentage, "resolved_manually counts as completed")
	assert.Equal(t, "66.67", text(three.TaskID))
	complete(t, s, three, "c")
	assert.Equal(t, 100.0, cxGet(t, s, three.TaskID, nil).CompletionPercentage)
	assert.Equal(t, "100.00", text(three.TaskID))

	seven := create(t, s, "pct-seven", step("s1"), step("s2"), step("s3"), step("s4"), step("s5"), step("s6"), step("s7"))
	for i, want := range []struct {
		name string
		pct  float64
		text string
	}{
		{"s1", 14.29, "14.29"}, {"s2", 28.57, "28.57"}, {"s3", 42.86, "42.86"}, {"s4", 57.14, "57.14"},
		{"s5", 71.43, "71.43"}, {"s6", 85.71, "85.71"}, {"s7", 100, "100.00"},
	} {
		complete(t, s, seven, want.name)
		assert.Equal(t, want.pct, cxGet(t, s, seven.TaskID, nil).CompletionPercentage, "%d of 7", i+1)
		assert.Equal(t, want.text, text(seven.TaskID), "%d of 7", i+1)
	}

	// Failed and running steps do not count.
	six := create(t, s, "pct-six", step("a"), step("b"), step("c"), step("d"), step("e"), step("f"))
	complete(t, s, six, "a")
	rdyFail(t, s, six.StepIDs["b"], nil, true)
	move(t, s, six.StepIDs["c"], state.InProgress)
	move(t, s, six.StepIDs["d"], state.Cancelled)
	assert.Equal(t, 16.67, cxGet(t, s, six.TaskID, nil).CompletionPercentage)
	assert.Equal(t, "16.67", text(six.TaskID))
}

func TestContextBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ready := create(t, s, "batch-ready", step("a"), step("b", "a"))
	waiting := create(t, s, "batch-waiting", step("x"))
	done := create(t, s, "batch-done", step("only"))
	rdyFail(t, s, waiting.StepIDs["x"], nil, false)
	complete(t, s, done, "only")

	ids := []int64{done.TaskID, 987654321, ready.TaskID, waiting.TaskID}
	rows, err := sqlfuncs.GetTaskExecutionContextsBatch(ctx, s.Pool(), ids, nil)
	require.NoError(t, err)
	require.Len(t, rows, 3, "the unknown id is left out")
	assert.Equal(t, []int64{ready.TaskID, waiting.TaskID, done.TaskID}, []int64{rows[0].TaskID, rows[1].TaskID, rows[2].TaskID},
		"ordered by task id")
	for _, row := range rows {
		one := cxGet(t, s, row.TaskID, nil)
		assert.Equal(t, one, row, "batch row equals the single-task context")
	}
	next := cxLastFailure(t, s, waiting, "x").Add(2 * time.Second)
	cxAssert(t, cxExp{total: 2, pending: 2, ready: 1, exec: sqlfuncs.StatusHasReadySteps, health: sqlfuncs.HealthHealthy},
		rows[0], "batch: ready")
	cxAssert(t, cxExp{total: 1, failed: 1, exec: sqlfuncs.StatusWaitingForDependencies, health: sqlfuncs.HealthRecovering,
		next: &next}, rows[1], "batch: waiting")
	cxAssert(t, cxExp{total: 1, completed: 1, exec: sqlfuncs.StatusAllComplete, health: sqlfuncs.HealthHealthy, pct: 100},
		rows[2], "batch: done")

	// as_of applies to the batch.
	rows, err = sqlfuncs.GetTaskExecutionContextsBatch(ctx, s.Pool(), []int64{waiting.TaskID}, &next)
	require.NoError(t, err)
	require.Len(t, rows, 1)
	cxAssert(t, cxExp{total: 1, failed: 1, ready: 1, exec: sqlfuncs.StatusHasReadySteps, health: sqlfuncs.HealthRecovering},
		rows[0], "batch at x's retry time")

	rows, err = sqlfuncs.GetTaskExecutionContextsBatch(ctx, s.Pool(), []int64{987654321}, nil)
	require.NoError(t, err)
	assert.Empty(t, rows)
	rows, err = sqlfuncs.GetTaskExecutionContextsBatch(ctx, s.Pool(), []int64{}, nil)
	require.NoError(t, err)
	assert.Empty(t, rows)
}

func TestContextNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	_, err := s.ExecutionContext(ctx, 987654321, nil)
	assert.Equal(t, errs.NotFound, errs.KindOf(err), "ExecutionContext: %v", err)
	_, err = sqlfuncs.GetTaskExecutionContext(ctx, s.Pool(), 987654321, nil)
	assert.Equal(t, errs.NotFound, errs.KindOf(err), "GetTaskExecutionContext: %v", err)
}
