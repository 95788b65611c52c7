package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// A writer that bypasses the step locks (editing transition rows directly) moves a
// step between the batch's read and its write: the compare-and-swap notices, the
// batch is replayed item by item, and each outcome is exact. Not parallel: it sets
// a package hook.
func TestBatchReplaysItemByItemAfterAConcurrentChange(t *testing.T) {
	ctx := context.Background()
	s := New(testdb.Schema(t), backoff.Default())
	ct, err := s.CreateTask(ctx, TaskSpec{Name: "replay", Steps: []StepSpec{{Name: "a"}, {Name: "b"}}})
	require.NoError(t, err)
	a, b := ct.StepIDs["a"], ct.StepIDs["b"]

	fired := 0
	afterLoadHook = func([]int64) {
		if fired > 0 {
			return
		}
		fired++
		// A writer that takes no step lock: the transitions' trigger (migration
		// 0017) would wait for the step row this batch holds, so it is bypassed
		// for this one transaction (replica role), as a writer that never locks
		// would; the compare-and-swap must catch the change all the same.
		tx, err := s.Pool().Begin(ctx)
		require.NoError(t, err)
		defer func() { _ = tx.Rollback(ctx) }()
		_, err = tx.Exec(ctx, `SET LOCAL session_replication_role = replica`)
		require.NoError(t, err)
		_, err = tx.Exec(ctx, `
			WITH prev AS (UPDATE tasker_workflow_step_transitions SET most_recent = false
			              WHERE workflow_step_id = $1 AND most_recent RETURNING sort_key)
			INSERT INTO tasker_workflow_step_transitions (workflow_step_id, from_state, to_state, sort_key, most_recent)
			SELECT $1, 'pending', 'cancelled', sort_key + 1, true FROM prev`, a)
		require.NoError(t, err)
		require.NoError(t, tx.Commit(ctx))
	}
	t.Cleanup(func() { afterLoadHook = nil })

	outs, err := s.BatchTransitionSteps(ctx, []StepTransition{
		{StepID: a, To: state.InProgress},
		{StepID: b, To: state.InProgress},
	})
	require.NoError(t, err)
	require.Equal(t, 1, fired)
	assert.Equal(t, OutcomeRejected, outs[0].Status, "a was cancelled concurrently")
	assert.Equal(t, errs.StateTransition, errs.KindOf(outs[0].Err))
	assert.Equal(t, state.Cancelled, outs[0].From)
	assert.Equal(t, OutcomeApplied, outs[1].Status)

	trail, err := s.StepTransitions(ctx, a)
	require.NoError(t, err)
	assert.Equal(t, state.Cancelled, trail[len(trail)-1].To, "the concurrent writer's row stands, nothing added")
	trail, err = s.StepTransitions(ctx, b)
	require.NoError(t, err)
	assert.Equal(t, state.InProgress, trail[len(trail)-1].To)
	assert.Len(t, trail, 2)
}
