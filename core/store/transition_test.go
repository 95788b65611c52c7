package store_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// pathTo lists the legal moves that bring a fresh (pending) step to st.
var stepPathTo = map[state.State][]state.State{
	state.Pending:          nil,
	state.InProgress:       {state.InProgress},
	state.Complete:         {state.InProgress, state.Complete},
	state.Error:            {state.InProgress, state.Error},
	state.Cancelled:        {state.Cancelled},
	state.ResolvedManually: {state.ResolvedManually},
}

var taskPathTo = map[state.State][]state.State{
	state.Pending:          nil,
	state.InProgress:       {state.InProgress},
	state.Complete:         {state.InProgress, state.Complete},
	state.Error:            {state.Error},
	state.Cancelled:        {state.Cancelled},
	state.ResolvedManually: {state.Error, state.ResolvedManually},
}

func TestEveryStepTransitionLegalOrRefusedUnchanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	for _, from := range state.All {
		for _, to := range state.All {
			ct := create(t, s, "step-"+string(from)+"-"+string(to), step("only"))
			id := ct.StepIDs["only"]
			move(t, s, id, stepPathTo[from]...)
			before, err := s.StepTransitions(ctx, id)
			require.NoError(t, err)

			tr, err := s.TransitionStep(ctx, store.StepTransition{StepID: id, To: to})
			after, err2 := s.StepTransitions(ctx, id)
			require.NoError(t, err2)
			if state.Step.Can(from, to) {
				require.NoError(t, err, "%s -> %s must be legal", from, to)
				assert.Equal(t, from, tr.From)
				assert.Equal(t, to, tr.To)
				assert.Equal(t, state.Step.EventFor(from, to), tr.Event)
				require.Len(t, after, len(before)+1)
				assert.Equal(t, to, after[len(after)-1].To)
				continue
			}
			require.Error(t, err, "%s -> %s must be refused", from, to)
			assert.Equal(t, errs.StateTransition, errs.KindOf(err), "%s -> %s: %v", from, to, err)
			var ite *state.IllegalTransitionError
			assert.True(t, errors.As(err, &ite), "%s -> %s: %v", from, to, err)
			assert.Equal(t, before, after, "%s -> %s wrote to the audit trail", from, to)
		}
	}
}

func TestEveryTaskTransitionLegalOrRefusedUnchanged(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	for _, from := range state.All {
		for _, to := range state.All {
			ct := create(t, s, "task-"+string(from)+"-"+string(to), step("only"))
			// Steps done, so the →complete guard never hides a legal move.
			complete(t, s, ct, "only")
			for _, st := range taskPathTo[from] {
				_, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: st})
				require.NoError(t, err)
			}
			before, err := s.TaskTransitions(ctx, ct.TaskID)
			require.NoError(t, err)
			_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: to})
			after, err2 := s.TaskTransitions(ctx, ct.TaskID)
			require.NoError(t, err2)
			if state.Task.Can(from, to) {
				require.NoError(t, err, "%s -> %s", from, to)
				require.Len(t, after, len(before)+1)
				continue
			}
			require.Error(t, err, "%s -> %s must be refused", from, to)
			assert.Equal(t, errs.StateTransition, errs.KindOf(err))
			assert.Equal(t, before, after)
		}
	}
}

func TestTaskCompleteGuardAndCompletedAt(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "guarded", step("a"), step("b", "a"))
	_, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.InProgress})
	require.NoError(t, err)
	complete(t, s, ct, "a")
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Complete})
	require.Error(t, err)
	assert.Equal(t, 1, errs.DetailsOf(err)["incomplete_steps"])
	move(t, s, ct.StepIDs["b"], state.ResolvedManually)
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Complete})
	require.NoError(t, err)
	var complete bool
	var completedAt *string
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT complete, completed_at::text FROM tasker_tasks WHERE task_id = $1`,
		ct.TaskID).Scan(&complete, &completedAt))
	assert.True(t, complete)
	assert.NotNil(t, completedAt)
}

func TestStepGuardRefusesStartBeforeParents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "guard", step("a"), step("b", "a"))
	_, err := s.TransitionStep(ctx, store.StepTransition{StepID: ct.StepIDs["b"], To: state.InProgress})
	require.Error(t, err)
	assert.Equal(t, errs.StateTransition, errs.KindOf(err))
	assert.Equal(t, []string{"a"}, errs.DetailsOf(err)["unmet_dependencies"])
	trail, err := s.StepTransitions(ctx, ct.StepIDs["b"])
	require.NoError(t, err)
	assert.Len(t, trail, 1, "only the initial pending row")
}

func TestExpectedFromStateMismatchIsConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "cas", step("a"))
	_, err := s.TransitionStep(ctx, store.StepTransition{StepID: ct.StepIDs["a"], From: state.InProgress, To: state.Complete})
	require.Error(t, err)
	assert.Equal(t, true, errs.DetailsOf(err)["conflict"])
}

func TestUnknownIdsAreNotFound(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	_, err := s.TransitionStep(ctx, store.StepTransition{StepID: 999999, To: state.InProgress})
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: 999999, To: state.InProgress})
	assert.Equal(t, errs.NotFound, errs.KindOf(err))
	_, err = s.TransitionStep(ctx, store.StepTransition{StepID: 1, To: "finished"})
	assert.Equal(t, errs.Validation, errs.KindOf(err))
}

// Of N concurrent attempts at the same transition exactly one wins; the others get a
// typed error and write nothing.
func TestConcurrentTransitionRace(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	const workers = 16
	for round := range 5 {
		ct := create(t, s, "race", step("contested"))
		id := ct.StepIDs["contested"]
		var wg sync.WaitGroup
		start := make(chan struct{})
		results := make(chan error, workers)
		for range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, err := s.TransitionStep(ctx, store.StepTransition{StepID: id, From: state.Pending, To: state.InProgress})
				results <- err
			}()
		}
		close(start)
		wg.Wait()
		close(results)
		wins := 0
		for err := range results {
			if err == nil {
				wins++
				continue
			}
			assert.Equal(t, errs.StateTransition, errs.KindOf(err), "round %d: %v", round, err)
		}
		assert.Equal(t, 1, wins, "round %d", round)
		trail, err := s.StepTransitions(ctx, id)
		require.NoError(t, err)
		require.Len(t, trail, 2, "round %d: initial pending + one in_progress", round)
		var attempts int
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT attempts FROM tasker_workflow_steps WHERE workflow_step_id = $1`, id).Scan(&attempts))
		assert.Equal(t, 1, attempts, "round %d: the attempt was counted once", round)
	}
}

func TestAuditTrailIsAppendOnly(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	ct := create(t, s, "audit", step("a"))
	id := ct.StepIDs["a"]
	move(t, s, id, state.InProgress, state.Error, state.Pending, state.InProgress, state.Complete)
	trail, err := s.StepTransitions(ctx, id)
	require.NoError(t, err)
	var got []string
	for i, tr := range trail {
		assert.Equal(t, int32(i+1), tr.SortKey)
		got = append(got, string(tr.From)+">"+string(tr.To)+":"+tr.Event)
	}
	assert.Equal(t, []string{
		">pending:step.initialize_requested",
		"pending>in_progress:step.execution_requested",
		"in_progress>error:step.failed",
		"error>pending:step.retry_requested",
		"pending>in_progress:step.execution_requested",
		"in_progress>complete:step.completed",
	}, got)
	var current int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_workflow_step_transitions
		WHERE workflow_step_id = $1 AND most_recent`, id).Scan(&current))
	assert.Equal(t, 1, current)
}

func TestConfiguredRulesForbidLegalTransitions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	rules, err := state.NewRules([]string{"task:complete->cancelled", "step:pending->cancelled"})
	require.NoError(t, err)
	s.SetRules(rules)
	ct := create(t, s, "tight", step("a"), step("b"))
	_, err = s.TransitionStep(ctx, store.StepTransition{StepID: ct.StepIDs["a"], To: state.Cancelled})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "forbidden by configuration")
	complete(t, s, ct, "a", "b")
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.InProgress})
	require.NoError(t, err)
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Complete})
	require.NoError(t, err)
	_, err = s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: state.Cancelled})
	assert.Equal(t, errs.StateTransition, errs.KindOf(err))
}
