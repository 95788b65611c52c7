package store_test

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// rdyOne returns the readiness row of one named step (asOf nil = now).
func rdyOne(t *testing.T, s *store.Store, ct store.CreatedTask, name string, asOf *time.Time) sqlfuncs.StepReadiness {
	t.Helper()
	id, ok := ct.StepIDs[name]
	require.True(t, ok, "unknown step %s", name)
	rs, err := s.StepReadiness(context.Background(), ct.TaskID, []int64{id}, asOf)
	require.NoError(t, err)
	require.Len(t, rs, 1, "readiness of %s", name)
	require.Equal(t, name, rs[0].Name)
	return rs[0]
}

func rdyAt(tm time.Time) *time.Time { return &tm }

func rdyI32(v int32) *int32 { return &v }

// rdyFail moves a pending step pending→in_progress→error with the given options.
func rdyFail(t *testing.T, s *store.Store, stepID int64, backoffSeconds *int32, permanent bool) {
	t.Helper()
	move(t, s, stepID, state.InProgress)
	_, err := s.TransitionStep(context.Background(), store.StepTransition{StepID: stepID, To: state.Error,
		BackoffRequestSeconds: backoffSeconds, Permanent: permanent, Results: []byte(`{"error":"boom"}`)})
	require.NoError(t, err, "step %d -> error", stepID)
}

// rdyAssertReady checks a row that is ready, with the given next_retry_at (nil for
// a step that never failed).
func rdyAssertReady(t *testing.T, r sqlfuncs.StepReadiness, nextRetryAt *time.Time, msg string) {
	t.Helper()
	assert.True(t, r.ReadyForExecution, "%s: ready_for_execution", msg)
	assert.Equal(t, sqlfuncs.ReasonReady, r.Reason, msg)
	assert.Equal(t, map[string]any{}, r.ReasonDetail, msg)
	assert.True(t, r.DependenciesSatisfied, msg)
	assert.True(t, r.RetryEligible, msg)
	rdyAssertTime(t, nextRetryAt, r.NextRetryAt, msg+": next_retry_at")
}

// rdyAssertNotReady checks a row that is not ready, its reason, detail and next_retry_at.
func rdyAssertNotReady(t *testing.T, r sqlfuncs.StepReadiness, reason string, detail map[string]any,
	nextRetryAt *time.Time, msg string) {
	t.Helper()
	assert.False(t, r.ReadyForExecution, "%s: ready_for_execution", msg)
	assert.Equal(t, reason, r.Reason, "%s: reason", msg)
	assert.Equal(t, detail, r.ReasonDetail, "%s: reason_detail", msg)
	rdyAssertTime(t, nextRetryAt, r.NextRetryAt, msg+": next_retry_at")
}

// rdyAssertBackoff checks a row in backoff at asOf: reason, source, next_retry_at
// (column and detail) and seconds_remaining, exactly.
func rdyAssertBackoff(t *testing.T, r sqlfuncs.StepReadiness, next, asOf time.Time, source, msg string) {
	t.Helper()
	assert.False(t, r.ReadyForExecution, "%s: ready_for_execution", msg)
	assert.True(t, r.RetryEligible, "%s: retry_eligible", msg)
	assert.Equal(t, sqlfuncs.ReasonBackoff, r.Reason, "%s: reason", msg)
	rdyAssertTime(t, &next, r.NextRetryAt, msg+": next_retry_at")
	d := r.ReasonDetail
	assert.Len(t, d, 3, "%s: reason_detail %v", msg, d)
	assert.Equal(t, source, d["source"], "%s: source", msg)
	want := math.Round(next.Sub(asOf).Seconds()*1000) / 1000
	assert.Equal(t, want, d["seconds_remaining"], "%s: seconds_remaining", msg)
	if s, ok := d["next_retry_at"].(string); assert.True(t, ok, "%s: detail next_retry_at %v", msg, d["next_retry_at"]) {
		got, err := time.Parse(time.RFC3339Nano, s)
		if assert.NoError(t, err, msg) {
			assert.WithinDuration(t, next, got, 0, "%s: detail next_retry_at", msg)
		}
	}
}

func rdyAssertTime(t *testing.T, want, got *time.Time, msg string) {
	t.Helper()
	if want == nil {
		assert.Nil(t, got, msg)
		return
	}
	if assert.NotNil(t, got, msg) {
		assert.WithinDuration(t, *want, *got, 0, msg)
	}
}

// TestReadinessBackoffAfterFailure: a failure with retries left waits for the policy
// backoff (1 s · 2^attempts: 2 s after the first attempt, 4 s after the second), then
// is ready again — by backdating, or by asking at a later as_of.
func TestReadinessBackoffAfterFailure(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "backoff", step("a"), step("b", "a"))
	a := ct.StepIDs["a"]
	rdyFail(t, s, a, nil, false)

	r := rdyOne(t, s, ct, "a", nil)
	require.NotNil(t, r.LastFailureAt)
	require.NotNil(t, r.LastAttemptedAt)
	lf := *r.LastFailureAt
	next := lf.Add(2 * time.Second)
	assert.Equal(t, "error", r.CurrentState)
	assert.Equal(t, int32(1), r.Attempts)
	assert.Equal(t, int32(3), r.RetryLimit)
	assert.Nil(t, r.BackoffRequestSeconds)
	assert.False(t, r.InProcess)
	// Now: within 2 s of the failure.
	assert.False(t, r.ReadyForExecution, "attempt 1 failed just now: in backoff")
	assert.Equal(t, sqlfuncs.ReasonBackoff, r.Reason)
	assert.Equal(t, "policy", r.ReasonDetail["source"])
	assert.InDelta(t, 2.0, r.ReasonDetail["seconds_remaining"], 1.0)
	rdyAssertTime(t, &next, r.NextRetryAt, "next_retry_at = last failure + 2 s")
	assert.Equal(t, []string{}, readyNames(t, s, ct.TaskID, nil))

	// Exactly, at chosen clocks.
	for _, off := range []time.Duration{0, 500 * time.Millisecond, 1999 * time.Millisecond} {
		asOf := lf.Add(off)
		rdyAssertBackoff(t, rdyOne(t, s, ct, "a", &asOf), next, asOf, "policy", "attempt 1 at +"+off.String())
	}
	rdyAssertReady(t, rdyOne(t, s, ct, "a", rdyAt(next)), &next, "attempt 1 at exactly next_retry_at")
	// asOf in the future instead of backdating.
	assert.Equal(t, []string{"a"}, readyNames(t, s, ct.TaskID, rdyAt(lf.Add(time.Hour))))
	rdyAssertReady(t, rdyOne(t, s, ct, "a", rdyAt(lf.Add(3*time.Second))), &next, "attempt 1 at +3 s")
	// b still waits for a, whatever the clock.
	rdyAssertNotReady(t, rdyOne(t, s, ct, "b", rdyAt(lf.Add(time.Hour))), sqlfuncs.ReasonDependenciesUnmet,
		map[string]any{"unmet": []any{"a"}, "total_parents": float64(1), "completed_parents": float64(0)}, nil, "b")

	// Backdating past the backoff makes it ready now.
	backdate(t, s, a, 3*time.Second)
	r = rdyOne(t, s, ct, "a", nil)
	lf = *r.LastFailureAt
	next = lf.Add(2 * time.Second)
	rdyAssertReady(t, r, &next, "after backdating 3 s")
	assert.Equal(t, []string{"a"}, readyNames(t, s, ct.TaskID, nil))

	// Second attempt fails: 4 s.
	move(t, s, a, state.Pending, state.InProgress)
	// A running step has no retry time.
	rdyAssertNotReady(t, rdyOne(t, s, ct, "a", nil), sqlfuncs.ReasonWrongState,
		map[string]any{"state": "in_progress"}, nil, "attempt 2 running")
	_, err := s.TransitionStep(context.Background(), store.StepTransition{StepID: a, To: state.Error})
	require.NoError(t, err)
	r = rdyOne(t, s, ct, "a", nil)
	assert.Equal(t, int32(2), r.Attempts)
	lf = *r.LastFailureAt
	next = lf.Add(4 * time.Second)
	for _, off := range []time.Duration{0, time.Second, 3*time.Second + 999*time.Millisecond} {
		asOf := lf.Add(off)
		rdyAssertBackoff(t, rdyOne(t, s, ct, "a", &asOf), next, asOf, "policy", "attempt 2 at +"+off.String())
	}
	rdyAssertReady(t, rdyOne(t, s, ct, "a", rdyAt(next)), &next, "attempt 2 at +4 s")
	backdate(t, s, a, 5*time.Second)
	assert.Equal(t, []string{"a"}, readyNames(t, s, ct.TaskID, nil), "attempt 2 after backdating 5 s")
}

// TestReadinessRetriesExhausted: retry_limit 2, two failed attempts: never ready again.
func TestReadinessRetriesExhausted(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "exhausted", store.StepSpec{Name: "a", RetryLimit: rdyI32(2)})
	a := ct.StepIDs["a"]
	rdyFail(t, s, a, nil, false)
	r := rdyOne(t, s, ct, "a", nil)
	assert.Equal(t, int32(2), r.RetryLimit)
	rdyAssertBackoff(t, rdyOne(t, s, ct, "a", r.LastFailureAt), r.LastFailureAt.Add(2*time.Second),
		*r.LastFailureAt, "policy", "after attempt 1 of 2")
	backdate(t, s, a, 10*time.Second)
	move(t, s, a, state.Pending)
	rdyFail(t, s, a, nil, false)

	r = rdyOne(t, s, ct, "a", nil)
	require.NotNil(t, r.LastFailureAt)
	next := r.LastFailureAt.Add(4 * time.Second)
	want := map[string]any{"attempts": float64(2), "retry_limit": float64(2)}
	for _, asOf := range []*time.Time{nil, rdyAt(next), rdyAt(r.LastFailureAt.Add(24 * time.Hour))} {
		r := rdyOne(t, s, ct, "a", asOf)
		rdyAssertNotReady(t, r, sqlfuncs.ReasonRetriesExhausted, want, nil, "attempts 2 of 2")
		assert.False(t, r.RetryEligible)
		assert.True(t, r.Retryable)
		assert.Equal(t, []string{}, readyNames(t, s, ct.TaskID, asOf))
	}
	// The retry path refuses an exhausted step, and writes nothing.
	_, err := s.TransitionStep(context.Background(), store.StepTransition{StepID: a, To: state.Pending})
	require.Error(t, err)
	assert.Equal(t, errs.StateTransition, errs.KindOf(err))
	assert.Equal(t, "retries_exhausted", errs.DetailsOf(err)["reason"])
	rdyAssertNotReady(t, rdyOne(t, s, ct, "a", rdyAt(next.Add(time.Hour))), sqlfuncs.ReasonRetriesExhausted,
		want, nil, "exhausted step still in error")
}

// TestReadinessNotRetryable: a permanent error is never retried.
func TestReadinessNotRetryable(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "permanent", step("a"), step("b", "a"))
	rdyFail(t, s, ct.StepIDs["a"], nil, true)
	r := rdyOne(t, s, ct, "a", nil)
	require.NotNil(t, r.LastFailureAt)
	next := r.LastFailureAt.Add(2 * time.Second)
	for _, asOf := range []*time.Time{nil, rdyAt(next), rdyAt(r.LastFailureAt.Add(24 * time.Hour))} {
		r := rdyOne(t, s, ct, "a", asOf)
		rdyAssertNotReady(t, r, sqlfuncs.ReasonNotRetryable, map[string]any{"attempts": float64(1)}, nil, "permanent")
		assert.False(t, r.Retryable)
		assert.False(t, r.RetryEligible)
		assert.Equal(t, int32(1), r.Attempts)
		assert.Equal(t, []string{}, readyNames(t, s, ct.TaskID, asOf))
	}
}

// TestReadinessRequestedBackoff: an explicit backoff_request_seconds counts from
// last_attempted_at and wins over the (shorter) policy backoff.
func TestReadinessRequestedBackoff(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "requested", step("a"))
	a := ct.StepIDs["a"]
	rdyFail(t, s, a, rdyI32(60), false)
	r := rdyOne(t, s, ct, "a", nil)
	require.NotNil(t, r.LastAttemptedAt)
	require.NotNil(t, r.LastFailureAt)
	if assert.NotNil(t, r.BackoffRequestSeconds) {
		assert.Equal(t, int32(60), *r.BackoffRequestSeconds)
	}
	// Counted from the failure (later than the attempt's start): never early.
	next := r.LastFailureAt.Add(60 * time.Second)
	assert.InDelta(t, 60.0, r.ReasonDetail["seconds_remaining"], 1.5)
	for _, asOf := range []time.Time{*r.LastAttemptedAt, r.LastFailureAt.Add(3 * time.Second), next.Add(-time.Millisecond)} {
		rdyAssertBackoff(t, rdyOne(t, s, ct, "a", &asOf), next, asOf, "requested", "requested 60 s at "+asOf.String())
	}
	rdyAssertReady(t, rdyOne(t, s, ct, "a", &next), &next, "requested 60 s at last failure + 60 s")

	// Backdating 30 s: still 30 s to go, now.
	backdate(t, s, a, 30*time.Second)
	r = rdyOne(t, s, ct, "a", nil)
	assert.Equal(t, sqlfuncs.ReasonBackoff, r.Reason)
	assert.Equal(t, "requested", r.ReasonDetail["source"])
	assert.InDelta(t, 30.0, r.ReasonDetail["seconds_remaining"], 1.5)
	backdate(t, s, a, 31*time.Second)
	assert.Equal(t, []string{"a"}, readyNames(t, s, ct.TaskID, nil))
}

// TestReadinessNullAttemptsAndRetryLimit: engine rows may hold NULL attempts and
// retry_limit; they read as 0 and 3.
func TestReadinessNullAttemptsAndRetryLimit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "nulls", step("fresh"), step("failed"), step("three"), step("two"))
	for _, n := range []string{"failed", "three", "two"} {
		rdyFail(t, s, ct.StepIDs[n], nil, false)
	}
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := s.Pool().Exec(ctx, sql, args...)
		require.NoError(t, err, sql)
	}
	exec(`UPDATE tasker_workflow_steps SET attempts = NULL, retry_limit = NULL WHERE workflow_step_id = ANY ($1)`,
		[]int64{ct.StepIDs["fresh"], ct.StepIDs["failed"]})
	exec(`UPDATE tasker_workflow_steps SET attempts = 3, retry_limit = NULL WHERE workflow_step_id = $1`, ct.StepIDs["three"])
	exec(`UPDATE tasker_workflow_steps SET attempts = 2, retry_limit = NULL WHERE workflow_step_id = $1`, ct.StepIDs["two"])

	r := rdyOne(t, s, ct, "fresh", nil)
	rdyAssertReady(t, r, nil, "fresh step, NULL attempts and retry_limit")
	assert.Equal(t, int32(0), r.Attempts)
	assert.Equal(t, int32(3), r.RetryLimit)

	// NULL attempts after a failure: 0 attempts, the backoff of a first attempt (2 s).
	r = rdyOne(t, s, ct, "failed", nil)
	assert.Equal(t, int32(0), r.Attempts)
	assert.Equal(t, int32(3), r.RetryLimit)
	lf := *r.LastFailureAt
	rdyAssertBackoff(t, rdyOne(t, s, ct, "failed", &lf), lf.Add(2*time.Second), lf, "policy", "NULL attempts, failed")
	next := lf.Add(2 * time.Second)
	rdyAssertReady(t, rdyOne(t, s, ct, "failed", &next), &next, "NULL attempts, after backoff")

	// retry_limit NULL = 3: attempts 3 exhausted, attempts 2 not.
	r = rdyOne(t, s, ct, "three", nil)
	next = r.LastFailureAt.Add(8 * time.Second)
	rdyAssertNotReady(t, rdyOne(t, s, ct, "three", rdyAt(next.Add(time.Hour))), sqlfuncs.ReasonRetriesExhausted,
		map[string]any{"attempts": float64(3), "retry_limit": float64(3)}, nil, "attempts 3, NULL retry_limit")
	assert.Equal(t, int32(3), r.RetryLimit)

	r = rdyOne(t, s, ct, "two", nil)
	lf = *r.LastFailureAt
	next = lf.Add(4 * time.Second)
	rdyAssertBackoff(t, rdyOne(t, s, ct, "two", &lf), next, lf, "policy", "attempts 2, NULL retry_limit")
	rdyAssertReady(t, rdyOne(t, s, ct, "two", &next), &next, "attempts 2, NULL retry_limit, after backoff")
	assert.Equal(t, int32(3), r.RetryLimit)
}

// TestReadinessParentResolvedManually: resolved_manually satisfies a child like complete.
func TestReadinessParentResolvedManually(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "resolved", step("p1"), step("p2"), step("child", "p1", "p2"))
	// p1 fails for good, and an operator resolves it.
	rdyFail(t, s, ct.StepIDs["p1"], nil, true)
	move(t, s, ct.StepIDs["p1"], state.ResolvedManually)
	rdyAssertNotReady(t, rdyOne(t, s, ct, "child", nil), sqlfuncs.ReasonDependenciesUnmet,
		map[string]any{"unmet": []any{"p2"}, "total_parents": float64(2), "completed_parents": float64(1)}, nil,
		"child with p1 resolved, p2 pending")
	r := rdyOne(t, s, ct, "p1", nil)
	require.NotNil(t, r.LastFailureAt)
	rdyAssertNotReady(t, r, sqlfuncs.ReasonWrongState, map[string]any{"state": "resolved_manually"}, nil, "p1")
	assert.True(t, r.Processed)

	// p2 is resolved straight from pending.
	move(t, s, ct.StepIDs["p2"], state.ResolvedManually)
	r = rdyOne(t, s, ct, "child", nil)
	rdyAssertReady(t, r, nil, "child of two resolved parents")
	assert.Equal(t, int32(2), r.TotalParents)
	assert.Equal(t, int32(2), r.CompletedParents)
	assert.Equal(t, []string{"child"}, readyNames(t, s, ct.TaskID, nil))
	move(t, s, ct.StepIDs["child"], state.InProgress) // the transition guard agrees
}

// TestReadinessClaimedAndWrongState: a running step, a claimed pending step, a
// processed pending step and finished steps are not ready, each with its reason.
func TestReadinessClaimedAndWrongState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "claimed", step("running"), step("claimed"), step("processed"), step("done"),
		step("cancelled"), step("after", "running"))
	move(t, s, ct.StepIDs["running"], state.InProgress)
	complete(t, s, ct, "done")
	move(t, s, ct.StepIDs["cancelled"], state.Cancelled)
	_, err := s.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET in_process = true WHERE workflow_step_id = $1`, ct.StepIDs["claimed"])
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET processed = true WHERE workflow_step_id = $1`, ct.StepIDs["processed"])
	require.NoError(t, err)

	r := rdyOne(t, s, ct, "running", nil)
	rdyAssertNotReady(t, r, sqlfuncs.ReasonWrongState, map[string]any{"state": "in_progress"}, nil, "running")
	assert.True(t, r.InProcess)
	assert.Equal(t, int32(1), r.Attempts)
	r = rdyOne(t, s, ct, "claimed", nil)
	rdyAssertNotReady(t, r, sqlfuncs.ReasonClaimed, map[string]any{}, nil, "pending with in_process = true")
	assert.Equal(t, "pending", r.CurrentState)
	assert.True(t, r.InProcess)
	rdyAssertNotReady(t, rdyOne(t, s, ct, "processed", nil), sqlfuncs.ReasonAlreadyProcessed, map[string]any{}, nil,
		"pending with processed = true")
	rdyAssertNotReady(t, rdyOne(t, s, ct, "done", nil), sqlfuncs.ReasonWrongState, map[string]any{"state": "complete"}, nil, "done")
	rdyAssertNotReady(t, rdyOne(t, s, ct, "cancelled", nil), sqlfuncs.ReasonWrongState, map[string]any{"state": "cancelled"}, nil, "cancelled")
	rdyAssertNotReady(t, rdyOne(t, s, ct, "after", nil), sqlfuncs.ReasonDependenciesUnmet,
		map[string]any{"unmet": []any{"running"}, "total_parents": float64(1), "completed_parents": float64(0)}, nil, "after")
	assert.Equal(t, []string{}, readyNames(t, s, ct.TaskID, nil))
}

// TestReadinessTwoUnmetParentsSorted: two unmet parents (put in order in place, not
// through a sort) are named sorted whichever of them was created first.
func TestReadinessTwoUnmetParentsSorted(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	for _, order := range [][]string{{"zeta", "alpha"}, {"alpha", "zeta"}} {
		ct := create(t, s, "two_unmet_"+order[0], step(order[0]), step(order[1]), step("sink", order[0], order[1]))
		rdyAssertNotReady(t, rdyOne(t, s, ct, "sink", nil), sqlfuncs.ReasonDependenciesUnmet,
			map[string]any{"unmet": []any{"alpha", "zeta"}, "total_parents": float64(2), "completed_parents": float64(0)},
			nil, order[0]+" created first")
	}
}

// TestReadinessDependenciesUnmet: reason_detail names the unmet parents, sorted.
func TestReadinessDependenciesUnmet(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "unmet", step("zeta"), step("alpha"), step("mid", "zeta"),
		step("sink", "zeta", "alpha", "mid"))
	unmet := func(names []any, done float64) map[string]any {
		return map[string]any{"unmet": names, "total_parents": float64(3), "completed_parents": done}
	}
	r := rdyOne(t, s, ct, "sink", nil)
	rdyAssertNotReady(t, r, sqlfuncs.ReasonDependenciesUnmet, unmet([]any{"alpha", "mid", "zeta"}, 0), nil, "nothing done")
	assert.False(t, r.DependenciesSatisfied)
	assert.Equal(t, int32(3), r.TotalParents)
	assert.Equal(t, int32(0), r.CompletedParents)

	complete(t, s, ct, "zeta")
	rdyAssertNotReady(t, rdyOne(t, s, ct, "sink", nil), sqlfuncs.ReasonDependenciesUnmet,
		unmet([]any{"alpha", "mid"}, 1), nil, "zeta done")
	// A failed parent is unmet too.
	rdyFail(t, s, ct.StepIDs["alpha"], nil, false)
	move(t, s, ct.StepIDs["mid"], state.InProgress)
	rdyAssertNotReady(t, rdyOne(t, s, ct, "sink", nil), sqlfuncs.ReasonDependenciesUnmet,
		unmet([]any{"alpha", "mid"}, 1), nil, "alpha failed, mid running")
	move(t, s, ct.StepIDs["mid"], state.Complete)
	rdyAssertNotReady(t, rdyOne(t, s, ct, "sink", nil), sqlfuncs.ReasonDependenciesUnmet,
		unmet([]any{"alpha"}, 2), nil, "only alpha left")
	backdate(t, s, ct.StepIDs["alpha"], 10*time.Second)
	move(t, s, ct.StepIDs["alpha"], state.Pending, state.InProgress, state.Complete)
	r = rdyOne(t, s, ct, "sink", nil)
	rdyAssertReady(t, r, nil, "every parent done")
	assert.Equal(t, int32(3), r.CompletedParents)
}

// TestReadinessRetryPathAudited: error→pending is the explicit, recorded retry; it
// does not bypass the backoff, and the audit trail shows every step of the way.
func TestReadinessRetryPathAudited(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "retry", step("a"))
	a := ct.StepIDs["a"]
	rdyFail(t, s, a, nil, false)

	// error → in_progress is not a legal shortcut.
	_, err := s.TransitionStep(ctx, store.StepTransition{StepID: a, To: state.InProgress})
	require.Error(t, err)
	assert.Equal(t, errs.StateTransition, errs.KindOf(err))

	// The retry transition during the backoff: pending, but still waiting.
	move(t, s, a, state.Pending)
	r := rdyOne(t, s, ct, "a", nil)
	lf := *r.LastFailureAt
	next := lf.Add(2 * time.Second)
	assert.Equal(t, "pending", r.CurrentState)
	rdyAssertBackoff(t, rdyOne(t, s, ct, "a", &lf), next, lf, "policy", "retried during backoff")
	assert.Equal(t, []string{}, readyNames(t, s, ct.TaskID, &lf))

	backdate(t, s, a, 10*time.Second)
	r = rdyOne(t, s, ct, "a", nil)
	next = r.LastFailureAt.Add(2 * time.Second)
	rdyAssertReady(t, r, &next, "retried, backoff passed")
	assert.Equal(t, int32(1), r.Attempts)
	move(t, s, a, state.InProgress)
	assert.Equal(t, int32(2), rdyOne(t, s, ct, "a", nil).Attempts)
	move(t, s, a, state.Complete)
	next = r.LastFailureAt.Add(4 * time.Second) // formula with the current attempts (2)

	trs, err := s.StepTransitions(ctx, a)
	require.NoError(t, err)
	var from, to []state.State
	var events []string
	var keys []int32
	for _, tr := range trs {
		from, to, events, keys = append(from, tr.From), append(to, tr.To), append(events, tr.Event), append(keys, tr.SortKey)
	}
	assert.Equal(t, []state.State{state.Pending, state.InProgress, state.Error, state.Pending, state.InProgress, state.Complete}, to)
	assert.Equal(t, []state.State{"", state.Pending, state.InProgress, state.Error, state.Pending, state.InProgress}, from)
	assert.Equal(t, []string{state.StepInitializeRequested, state.StepExecutionRequested, state.StepFailed,
		state.StepRetryRequested, state.StepExecutionRequested, state.StepCompleted}, events)
	assert.Equal(t, []int32{1, 2, 3, 4, 5, 6}, keys)
	var current int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_workflow_step_transitions
		WHERE workflow_step_id = $1 AND most_recent`, a).Scan(&current))
	assert.Equal(t, 1, current, "exactly one current transition row")
	rdyAssertNotReady(t, rdyOne(t, s, ct, "a", nil), sqlfuncs.ReasonWrongState, map[string]any{"state": "complete"},
		nil, "completed after retry")
}

// TestReadinessStepSubset: the stepIDs argument restricts the rows.
func TestReadinessStepSubset(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "subset", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	other := create(t, s, "subset-other", step("x"))

	all, err := s.StepReadiness(ctx, ct.TaskID, nil, nil)
	require.NoError(t, err)
	assert.Len(t, all, 4)
	for i := 1; i < len(all); i++ {
		assert.Less(t, all[i-1].WorkflowStepID, all[i].WorkflowStepID, "rows ordered by step id")
	}

	sub, err := s.StepReadiness(ctx, ct.TaskID, []int64{ct.StepIDs["d"], ct.StepIDs["a"]}, nil)
	require.NoError(t, err)
	if assert.Len(t, sub, 2) {
		assert.Equal(t, "a", sub[0].Name)
		assert.True(t, sub[0].ReadyForExecution)
		assert.Equal(t, "d", sub[1].Name)
		assert.Equal(t, sqlfuncs.ReasonDependenciesUnmet, sub[1].Reason)
		assert.Equal(t, []any{"b", "c"}, sub[1].ReasonDetail["unmet"], "unmet parents are named even when not in the subset")
		for _, r := range sub {
			assert.Equal(t, ct.TaskID, r.TaskID)
		}
	}

	// A step of another task is not returned for this task.
	sub, err = s.StepReadiness(ctx, ct.TaskID, []int64{ct.StepIDs["b"], other.StepIDs["x"]}, nil)
	require.NoError(t, err)
	if assert.Len(t, sub, 1) {
		assert.Equal(t, "b", sub[0].Name)
	}
	// An empty (non-nil) subset selects nothing.
	sub, err = s.StepReadiness(ctx, ct.TaskID, []int64{}, nil)
	require.NoError(t, err)
	assert.Empty(t, sub)
}

// TestReadinessBatch: get_step_readiness_status_batch over two tasks (and an unknown id).
func TestReadinessBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	t1 := create(t, s, "batch-one", step("a"), step("b", "a"))
	t2 := create(t, s, "batch-two", step("x"), step("y"), step("z", "x", "y"))
	complete(t, s, t1, "a")
	rdyFail(t, s, t2.StepIDs["x"], nil, false)

	rows, err := sqlfuncs.StepReadinessStatusBatch(ctx, s.Pool(), []int64{t2.TaskID, 987654321, t1.TaskID}, nil)
	require.NoError(t, err)
	require.Len(t, rows, 5)
	byTask := map[int64][]sqlfuncs.StepReadiness{}
	for i, r := range rows {
		byTask[r.TaskID] = append(byTask[r.TaskID], r)
		if i > 0 {
			prev := rows[i-1]
			assert.True(t, prev.TaskID < r.TaskID || (prev.TaskID == r.TaskID && prev.WorkflowStepID < r.WorkflowStepID),
				"rows ordered by task, then step")
		}
	}
	reasons := func(rs []sqlfuncs.StepReadiness) map[string]string {
		out := map[string]string{}
		for _, r := range rs {
			out[r.Name] = r.Reason
		}
		return out
	}
	assert.Equal(t, map[string]string{"a": sqlfuncs.ReasonWrongState, "b": sqlfuncs.ReasonReady}, reasons(byTask[t1.TaskID]))
	assert.Equal(t, map[string]string{"x": sqlfuncs.ReasonBackoff, "y": sqlfuncs.ReasonReady,
		"z": sqlfuncs.ReasonDependenciesUnmet}, reasons(byTask[t2.TaskID]))

	// The batch agrees with the single-task function, row for row.
	for _, ct := range []store.CreatedTask{t1, t2} {
		one, err := s.StepReadiness(ctx, ct.TaskID, nil, nil)
		require.NoError(t, err)
		if assert.Len(t, byTask[ct.TaskID], len(one)) {
			for i := range one {
				assert.Equal(t, one[i].WorkflowStepID, byTask[ct.TaskID][i].WorkflowStepID)
				assert.Equal(t, one[i].Reason, byTask[ct.TaskID][i].Reason)
				assert.Equal(t, one[i].ReadyForExecution, byTask[ct.TaskID][i].ReadyForExecution)
			}
		}
	}

	// as_of applies to the batch: past x's backoff, x is ready.
	lf := byTask[t2.TaskID][0].LastFailureAt
	require.NotNil(t, lf)
	later := lf.Add(2 * time.Second)
	rows, err = sqlfuncs.StepReadinessStatusBatch(ctx, s.Pool(), []int64{t1.TaskID, t2.TaskID}, &later)
	require.NoError(t, err)
	var ready []string
	for _, r := range rows {
		if r.ReadyForExecution {
			ready = append(ready, r.Name)
		}
	}
	assert.Equal(t, []string{"b", "x", "y"}, ready)

	rows, err = sqlfuncs.StepReadinessStatusBatch(ctx, s.Pool(), []int64{987654321}, nil)
	require.NoError(t, err)
	assert.Empty(t, rows)
}

// TestReadinessNotFound: an unknown task is errs.NotFound, not an empty result.
func TestReadinessNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	_, err := s.StepReadiness(ctx, 987654321, nil, nil)
	assert.Equal(t, errs.NotFound, errs.KindOf(err), "StepReadiness: %v", err)
	_, err = s.ReadySteps(ctx, 987654321, nil)
	assert.Equal(t, errs.NotFound, errs.KindOf(err), "ReadySteps: %v", err)
	_, err = s.DependencyLevels(ctx, 987654321)
	assert.Equal(t, errs.NotFound, errs.KindOf(err), "DependencyLevels: %v", err)
	_, err = s.AnalyzeDependencies(ctx, 987654321)
	assert.Equal(t, errs.NotFound, errs.KindOf(err), "AnalyzeDependencies: %v", err)
}

// TestReadinessPermanentErrorBeforeFirstAttempt: a step failed for good straight
// from pending (pending→error is legal, e.g. no handler) has failed before and is
// not retryable, so by the reason contract of 002_step_readiness.sql ("not_retryable:
// failed before and retryable = false") it must never become ready.
func TestReadinessPermanentErrorBeforeFirstAttempt(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "permanent-unattempted", step("a"), step("b"))
	_, err := s.TransitionStep(context.Background(), store.StepTransition{StepID: ct.StepIDs["a"], To: state.Error, Permanent: true})
	require.NoError(t, err)
	r := rdyOne(t, s, ct, "a", nil)
	require.False(t, r.Retryable, "Permanent makes the step not retryable")
	require.Equal(t, int32(0), r.Attempts)
	require.NotNil(t, r.LastFailureAt)
	for _, asOf := range []*time.Time{nil, rdyAt(r.LastFailureAt.Add(3 * time.Second)), rdyAt(r.LastFailureAt.Add(24 * time.Hour))} {
		r := rdyOne(t, s, ct, "a", asOf)
		assert.False(t, r.ReadyForExecution,
			"BUG (sqlfuncs/002_step_readiness.sql retry_ok): a permanently failed step with attempts 0 becomes ready "+
				"after the policy backoff because retry_ok = (attempts = 0 OR ...) ignores retryable = false")
		assert.Equal(t, sqlfuncs.ReasonNotRetryable, r.Reason,
			"BUG: pending→error with Permanent must read not_retryable, got %s", r.Reason)
		assert.Equal(t, map[string]any{"attempts": float64(0)}, r.ReasonDetail)
	}
	ec := cxGet(t, s, ct.TaskID, rdyAt(r.LastFailureAt.Add(3*time.Second)))
	assert.Equal(t, int32(1), ec.PermanentlyBlockedSteps,
		"BUG (003_task_execution_context.sql via retry_eligible): the permanent failure is not counted as blocked")
	assert.Equal(t, int32(1), ec.ReadySteps, "only b is ready; a failed for good")
}
