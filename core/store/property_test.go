package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/readiness"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// On random DAGs and random step histories, the Go view of readiness (package
// readiness over the stored facts) and of levels (package dag) equals what the SQL
// functions answer.
func TestPropertyGoReadinessAndLevelsEqualSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	policy := backoff.Policy{Strategy: backoff.Exponential, BaseSeconds: 2, Multiplier: 3, CapSeconds: 120, Jitter: 0.3}
	s := store.New(testdb.Schema(t), policy)
	require.NoError(t, s.SyncRetryPolicy(ctx))
	n := 0

	rapid.Check(t, func(rt *rapid.T) {
		n++
		size := rapid.IntRange(1, 12).Draw(rt, "steps")
		steps := make([]store.StepSpec, size)
		for i := range steps {
			steps[i].Name = fmt.Sprintf("s%02d", i)
			for j := 0; j < i; j++ {
				if rapid.IntRange(0, 3).Draw(rt, fmt.Sprintf("edge%d_%d", j, i)) == 0 {
					steps[i].DependsOn = append(steps[i].DependsOn, steps[j].Name)
				}
			}
			if rapid.Bool().Draw(rt, fmt.Sprintf("limit%d", i)) {
				l := int32(rapid.IntRange(0, 4).Draw(rt, fmt.Sprintf("limitv%d", i)))
				steps[i].RetryLimit = &l
			}
		}
		ct, err := s.CreateTask(ctx, store.TaskSpec{Name: fmt.Sprintf("prop%d", n), Steps: steps})
		require.NoError(rt, err)

		// A random legal history per step, in topological (index) order so guards hold.
		st := map[string]state.State{}
		for _, sp := range steps {
			id := ct.StepIDs[sp.Name]
			cur := state.Pending
			parentsDone := true
			for _, d := range sp.DependsOn {
				parentsDone = parentsDone && st[d].Satisfies()
			}
			moves := rapid.IntRange(0, 6).Draw(rt, "moves_"+sp.Name)
			for m := 0; m < moves; m++ {
				var options []state.State
				for _, to := range state.Step.Targets(cur) {
					if to == state.InProgress && !parentsDone {
						continue
					}
					options = append(options, to)
				}
				if len(options) == 0 {
					break
				}
				to := rapid.SampledFrom(options).Draw(rt, "to")
				req := store.StepTransition{StepID: id, To: to}
				if to == state.Error {
					req.Permanent = rapid.IntRange(0, 4).Draw(rt, "permanent") == 0
					if rapid.IntRange(0, 3).Draw(rt, "requested") == 0 {
						b := int32(rapid.IntRange(0, 90).Draw(rt, "backoff"))
						req.BackoffRequestSeconds = &b
					}
				}
				_, err := s.TransitionStep(ctx, req)
				if cur == state.Error && to == state.Pending && errs.KindOf(err) == errs.StateTransition {
					continue // the retry guard refused an exhausted or permanent step
				}
				require.NoError(rt, err)
				cur = to
			}
			st[sp.Name] = cur
			if rapid.Bool().Draw(rt, "backdate_"+sp.Name) {
				backdate(t, s, id, time.Duration(rapid.IntRange(0, 200).Draw(rt, "ago"))*time.Second)
			}
			if rapid.IntRange(0, 5).Draw(rt, "odd_"+sp.Name) == 0 {
				_, err := s.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET attempts = NULL, retry_limit = NULL WHERE workflow_step_id = $1`, id)
				require.NoError(rt, err)
			}
		}

		// A random task state too: nothing of a terminal task is ready.
		var path []state.State
		switch rapid.IntRange(0, 5).Draw(rt, "task_state") {
		case 1:
			path = []state.State{state.InProgress}
		case 2:
			path = []state.State{state.Cancelled}
		case 3:
			path = []state.State{state.Error}
		case 4:
			path = []state.State{state.Error, state.ResolvedManually}
		case 5:
			path = []state.State{state.InProgress, state.Complete} // refused unless every step is done
		}
		for _, to := range path {
			if _, err := s.TransitionTask(ctx, store.TaskTransition{TaskID: ct.TaskID, To: to}); err != nil {
				require.Equal(rt, errs.StateTransition, errs.KindOf(err), "task -> %s: %v", to, err)
				break
			}
		}

		asOf := time.Now().Add(time.Duration(rapid.IntRange(-60, 300).Draw(rt, "asof")) * time.Second).UTC().Truncate(time.Microsecond)
		sqlRows, err := s.StepReadiness(ctx, ct.TaskID, nil, &asOf)
		require.NoError(rt, err)
		snaps, err := s.StepSnapshots(ctx, ct.TaskID)
		require.NoError(rt, err)
		goRows := readiness.Evaluate(snaps, policy, asOf)
		require.Len(rt, goRows, len(sqlRows))
		for i, sr := range sqlRows {
			gr := goRows[i]
			require.Equal(rt, sr.WorkflowStepID, gr.StepID)
			where := fmt.Sprintf("step %s (%s)", sr.Name, sr.CurrentState)
			require.Equal(rt, sr.Reason, gr.Reason, where)
			require.Equal(rt, sr.ReadyForExecution, gr.Ready, where)
			require.Equal(rt, sr.DependenciesSatisfied, gr.DependenciesSatisfied, where)
			require.Equal(rt, sr.RetryEligible, gr.RetryEligible, where)
			require.Equal(rt, int(sr.TotalParents), gr.TotalParents, where)
			require.Equal(rt, int(sr.CompletedParents), gr.CompletedParents, where)
			require.Equal(rt, sr.NextRetryAt == nil, gr.NextRetryAt == nil, where)
			if sr.NextRetryAt != nil {
				require.WithinDuration(rt, *sr.NextRetryAt, *gr.NextRetryAt, time.Microsecond, where)
			}
			if sr.Reason == readiness.DependenciesUnmet {
				unmet := []string{}
				for _, u := range sr.ReasonDetail["unmet"].([]any) {
					unmet = append(unmet, u.(string))
				}
				require.Equal(rt, gr.UnmetParents, unmet, where)
			}
		}

		sqlLevels, err := s.DependencyLevels(ctx, ct.TaskID)
		require.NoError(rt, err)
		g, err := s.TaskGraph(ctx, ct.TaskID)
		require.NoError(rt, err)
		goLevels, err := g.Levels()
		require.NoError(rt, err)
		require.Equal(rt, goLevels, sqlLevels)
	})
}
