package store_test

import (
	"context"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// testPolicy is a policy with round numbers, so backoff times are easy to assert.
var testPolicy = backoff.Policy{Strategy: backoff.Exponential, BaseSeconds: 1, Multiplier: 2, CapSeconds: 30}

func newStore(t *testing.T) *store.Store {
	t.Helper()
	s := store.New(testdb.Schema(t), testPolicy)
	require.NoError(t, s.SyncRetryPolicy(context.Background()))
	return s
}

// step builds a StepSpec.
func step(name string, deps ...string) store.StepSpec {
	return store.StepSpec{Name: name, DependsOn: deps}
}

func create(t *testing.T, s *store.Store, name string, steps ...store.StepSpec) store.CreatedTask {
	t.Helper()
	ct, err := s.CreateTask(context.Background(), store.TaskSpec{Name: name, Namespace: "tests", Steps: steps,
		Context: []byte(`{"order_id": 42}`)})
	require.NoError(t, err)
	require.True(t, ct.Created)
	return ct
}

// move walks a step through the given states.
func move(t *testing.T, s *store.Store, stepID int64, to ...state.State) {
	t.Helper()
	for _, st := range to {
		_, err := s.TransitionStep(context.Background(), store.StepTransition{StepID: stepID, To: st})
		require.NoError(t, err, "step %d -> %s", stepID, st)
	}
}

// complete runs a step pending → in_progress → complete.
func complete(t *testing.T, s *store.Store, ct store.CreatedTask, names ...string) {
	t.Helper()
	for _, n := range names {
		move(t, s, ct.StepIDs[n], state.InProgress, state.Complete)
	}
}

// readyNames returns the sorted names of the steps ready now (or at asOf).
func readyNames(t *testing.T, s *store.Store, taskID int64, asOf *time.Time) []string {
	t.Helper()
	rs, err := s.ReadySteps(context.Background(), taskID, asOf)
	require.NoError(t, err)
	out := []string{}
	for _, r := range rs {
		out = append(out, r.Name)
	}
	sort.Strings(out)
	return out
}

// levelsByName returns calculate_dependency_levels keyed by step name.
func levelsByName(t *testing.T, s *store.Store, ct store.CreatedTask) map[string]int {
	t.Helper()
	lv, err := s.DependencyLevels(context.Background(), ct.TaskID)
	require.NoError(t, err)
	out := map[string]int{}
	for name, id := range ct.StepIDs {
		l, ok := lv[id]
		require.True(t, ok, "no level for %s", name)
		out[name] = l
	}
	return out
}

// backdate moves every timestamp of a step's audit trail and attempt into the past,
// which is how tests control time without sleeping.
func backdate(t *testing.T, s *store.Store, stepID int64, by time.Duration) {
	t.Helper()
	ctx := context.Background()
	_, err := s.Pool().Exec(ctx, `UPDATE tasker_workflow_step_transitions SET created_at = created_at - $2::interval
		WHERE workflow_step_id = $1`, stepID, by)
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE tasker_workflow_steps SET last_attempted_at = last_attempted_at - $2::interval,
		runnable_at = runnable_at - $2::interval WHERE workflow_step_id = $1`, stepID, by)
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `UPDATE tasker_tasks t SET ready_at = (SELECT min(ws.runnable_at) FROM tasker_workflow_steps ws
		WHERE ws.task_id = t.task_id) WHERE t.ready_at IS NOT NULL
		  AND t.task_id = (SELECT task_id FROM tasker_workflow_steps WHERE workflow_step_id = $1)`, stepID)
	require.NoError(t, err)
}
