package store_test

import (
	"context"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

func statuses(outs []store.BatchOutcome) []string {
	s := make([]string, len(outs))
	for i, o := range outs {
		s[i] = o.Status
	}
	return s
}

func TestBatchAppliesInOrderWithinOneCall(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "diamond", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	id := ct.StepIDs
	outs, err := s.BatchTransitionSteps(ctx, []store.StepTransition{
		{StepID: id["a"], To: state.InProgress},
		{StepID: id["a"], To: state.Complete, Results: []byte(`{"ok": true}`)},
		{StepID: id["b"], To: state.InProgress}, // its parent completed earlier in this call
		{StepID: id["d"], To: state.InProgress}, // c is not complete: refused
		{StepID: id["a"], To: state.Complete},   // repeated delivery
		{StepID: 987654321, To: state.Complete}, // unknown
		{StepID: id["c"], To: "done"},           // bad state
		{StepID: id["c"], To: state.Complete},   // illegal from pending
	})
	require.NoError(t, err)
	assert.Equal(t, []string{"applied", "applied", "applied", "rejected", "duplicate", "rejected", "rejected", "rejected"}, statuses(outs))
	assert.Equal(t, errs.StateTransition, errs.KindOf(outs[3].Err))
	assert.Equal(t, []string{"b", "c"}, errs.DetailsOf(outs[3].Err)["unmet_dependencies"])
	assert.Equal(t, errs.NotFound, errs.KindOf(outs[5].Err))
	assert.Equal(t, errs.Validation, errs.KindOf(outs[6].Err))
	assert.Equal(t, errs.StateTransition, errs.KindOf(outs[7].Err))
	for i, o := range outs {
		assert.Equal(t, i, o.Index)
	}
	assert.Equal(t, state.Pending, outs[0].From)
	assert.Equal(t, state.InProgress, outs[1].From)
	assert.NotZero(t, outs[1].TransitionID)

	trail, err := s.StepTransitions(ctx, id["a"])
	require.NoError(t, err)
	require.Len(t, trail, 3, "the duplicate wrote nothing")
	assert.Equal(t, []int32{1, 2, 3}, []int32{trail[0].SortKey, trail[1].SortKey, trail[2].SortKey})
	trail, err = s.StepTransitions(ctx, id["d"])
	require.NoError(t, err)
	assert.Len(t, trail, 1, "the rejected item wrote nothing")

	var results string
	var processed, inProcess bool
	var attempts int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT results::text, processed, in_process, attempts FROM tasker_workflow_steps
		WHERE workflow_step_id = $1`, id["a"]).Scan(&results, &processed, &inProcess, &attempts))
	assert.JSONEq(t, `{"ok": true}`, results)
	assert.True(t, processed)
	assert.False(t, inProcess)
	assert.Equal(t, 1, attempts)
	assert.Equal(t, []string{"c"}, readyNames(t, s, ct.TaskID, nil))
}

func TestBatchOfManyStepsIsOneRound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	specs := []store.StepSpec{}
	for i := range 300 {
		specs = append(specs, step("s"+string(rune('a'+i%26))+string(rune('a'+i/26))))
	}
	ct := create(t, s, "wide", specs...)
	var start, finish []store.StepTransition
	for _, id := range ct.StepIDs {
		start = append(start, store.StepTransition{StepID: id, To: state.InProgress})
		finish = append(finish, store.StepTransition{StepID: id, To: state.Complete, Results: []byte(`{"n": 1}`)})
	}
	for _, batch := range [][]store.StepTransition{start, finish} {
		outs, err := s.BatchTransitionSteps(ctx, batch)
		require.NoError(t, err)
		for _, o := range outs {
			require.Equal(t, store.OutcomeApplied, o.Status, o.String())
		}
	}
	ec, err := s.ExecutionContext(ctx, ct.TaskID, nil)
	require.NoError(t, err)
	assert.Equal(t, int32(300), ec.CompletedSteps)
	assert.Equal(t, "all_complete", ec.ExecutionStatus)
}

// Concurrent batches over the same steps: every transition is applied exactly once,
// whichever batch wins, and the losers report rejected or duplicate per item.
func TestConcurrentBatchesApplyEachTransitionOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const n = 40
	specs := make([]store.StepSpec, n)
	for i := range specs {
		specs[i] = step("p" + string(rune('A'+i%26)) + string(rune('A'+i/26)))
	}
	ct := create(t, s, "contested", specs...)
	var reqs []store.StepTransition
	for _, id := range ct.StepIDs {
		reqs = append(reqs, store.StepTransition{StepID: id, From: state.Pending, To: state.InProgress})
	}
	const workers = 6
	var wg sync.WaitGroup
	applied := make([]int, workers)
	start := make(chan struct{})
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			// Each worker sends the steps in a different order.
			mine := append([]store.StepTransition(nil), reqs[w*n/workers:]...)
			mine = append(mine, reqs[:w*n/workers]...)
			outs, err := s.BatchTransitionSteps(ctx, mine)
			assert.NoError(t, err)
			for _, o := range outs {
				if o.Status == store.OutcomeApplied {
					applied[w]++
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	total := 0
	for _, a := range applied {
		total += a
	}
	assert.Equal(t, n, total, "each step started exactly once across all batches")
	var rows, attempts int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_workflow_step_transitions t
		JOIN tasker_workflow_steps ws USING (workflow_step_id) WHERE ws.task_id = $1 AND t.to_state = 'in_progress'`,
		ct.TaskID).Scan(&rows))
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT sum(attempts) FROM tasker_workflow_steps WHERE task_id = $1`,
		ct.TaskID).Scan(&attempts))
	assert.Equal(t, n, rows)
	assert.Equal(t, n, attempts)
}

func TestBatchDatabaseFailureWritesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "closed", step("a"))
	ctxCancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err := s.BatchTransitionSteps(ctxCancelled, []store.StepTransition{{StepID: ct.StepIDs["a"], To: state.InProgress}})
	require.Error(t, err)
	assert.Equal(t, errs.Timeout, errs.KindOf(err))
	trail, err := s.StepTransitions(ctx, ct.StepIDs["a"])
	require.NoError(t, err)
	assert.Len(t, trail, 1)

	s.Pool().Close()
	_, err = s.BatchTransitionSteps(ctx, []store.StepTransition{{StepID: ct.StepIDs["a"], To: state.InProgress}})
	require.Error(t, err)
	assert.Equal(t, errs.Database, errs.KindOf(err), "a closed pool is a typed database error: %v", err)
}
