package readiness

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/state"
)

func i32(v int32) *int32 { return &v }
func bp(v bool) *bool    { return &v }

func TestEvaluate(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	failed := now.Add(-time.Second)
	p := backoff.Policy{Strategy: backoff.Exponential, BaseSeconds: 1, Multiplier: 2, CapSeconds: 30}
	steps := []Step{
		{ID: 1, Name: "root", State: state.Complete, Processed: true},
		{ID: 2, Name: "fresh", State: state.Pending, Parents: []int64{1}, RetryLimit: i32(0)},
		{ID: 3, Name: "failed", State: state.Error, Attempts: i32(1), LastFailureAt: &failed},
		{ID: 4, Name: "child", State: state.Pending, Parents: []int64{1, 3}},
		{ID: 5, Name: "permanent", State: state.Error, Retryable: bp(false), LastFailureAt: &failed},
		{ID: 6, Name: "exhausted", State: state.Error, Attempts: i32(3), LastFailureAt: &failed},
		{ID: 7, Name: "claimed", State: state.Pending, InProcess: true},
	}
	got := map[string]Result{}
	for i, r := range Evaluate(steps, p, now) {
		got[steps[i].Name] = r
	}
	assert.Equal(t, WrongState, got["root"].Reason)
	assert.True(t, got["fresh"].Ready, "a first attempt is always allowed, whatever the limit")
	assert.Equal(t, Backoff, got["failed"].Reason)
	assert.Equal(t, 1.0, got["failed"].SecondsRemaining, "2 s after the failure, 1 s ago")
	assert.Equal(t, DependenciesUnmet, got["child"].Reason)
	assert.Equal(t, []string{"failed"}, got["child"].UnmetParents)
	assert.Equal(t, NotRetryable, got["permanent"].Reason)
	assert.Nil(t, got["permanent"].NextRetryAt)
	assert.Equal(t, RetriesExhausted, got["exhausted"].Reason)
	assert.Equal(t, Claimed, got["claimed"].Reason)

	later := Evaluate(steps, p, now.Add(2*time.Second))
	assert.True(t, later[2].Ready, "the backoff is over")
}

// Nothing of a complete, cancelled or resolved_manually task is ready, and it has
// no retry time; a task in error may still run (its failed steps may be retried or
// resolved), so its steps are judged as usual.
func TestEvaluateTerminalTask(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	failed := now.Add(-time.Hour)
	p := backoff.Policy{Strategy: backoff.Exponential, BaseSeconds: 1, Multiplier: 2, CapSeconds: 30}
	for _, ts := range []state.State{state.Complete, state.Cancelled, state.ResolvedManually} {
		steps := []Step{
			{ID: 1, Name: "pending", State: state.Pending, TaskState: ts},
			{ID: 2, Name: "failed", State: state.Error, Attempts: i32(1), LastFailureAt: &failed, TaskState: ts},
			{ID: 3, Name: "running", State: state.InProgress, InProcess: true, TaskState: ts},
		}
		got := Evaluate(steps, p, now)
		assert.Equal(t, TaskTerminal, got[0].Reason, "%s", ts)
		assert.Equal(t, TaskTerminal, got[1].Reason, "%s", ts)
		assert.Nil(t, got[1].NextRetryAt, "%s", ts)
		assert.Equal(t, WrongState, got[2].Reason, "%s: the step's own state comes first", ts)
		assert.False(t, got[0].Ready || got[1].Ready, "%s", ts)
	}
	for _, ts := range []state.State{"", state.Pending, state.InProgress, state.Error} {
		got := Evaluate([]Step{{ID: 1, Name: "pending", State: state.Pending, TaskState: ts}}, p, now)
		assert.True(t, got[0].Ready, "task %q", ts)
	}
}
