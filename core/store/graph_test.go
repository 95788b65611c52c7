package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
)

// TaskGraph loads exactly the task's steps, named, with exactly its edges, also
// when another task shares the tables and some of the step names.
func TestTaskGraphIsTheTasksStepsNamesAndEdges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	spec := []store.StepSpec{step("fetch"), step("left", "fetch"), step("right", "fetch"),
		step("merge", "left", "right", "fetch"), step("notify", "merge")}
	ct := create(t, s, "graph", spec...)
	other := create(t, s, "other", step("fetch"), step("merge", "fetch"), step("extra", "fetch", "merge"))

	for _, c := range []struct {
		ct   store.CreatedTask
		spec []store.StepSpec
	}{{ct, spec}, {other, []store.StepSpec{step("fetch"), step("merge", "fetch"), step("extra", "fetch", "merge")}}} {
		g, err := s.TaskGraph(ctx, c.ct.TaskID)
		require.NoError(t, err)
		assert.Equal(t, len(c.spec), g.Len())
		for _, st := range c.spec {
			id := c.ct.StepIDs[st.Name]
			assert.Equal(t, st.Name, g.Name(id))
			var want []int64
			for _, p := range st.DependsOn {
				want = append(want, c.ct.StepIDs[p])
			}
			assert.ElementsMatch(t, want, g.Parents(id), "parents of %s", st.Name)
		}
	}

	a, err := s.AnalyzeDependencies(ctx, ct.TaskID)
	require.NoError(t, err)
	assert.Equal(t, 6, a.TotalEdges)
	assert.Equal(t, []string{"fetch", "left", "merge", "notify"}, a.CriticalPathNames)
	assert.Equal(t, []string{"fetch", "merge"}, a.BottleneckNames)
}

// A task that does not exist is NotFound; one without steps (the engine's tables
// allow it) is an empty graph.
func TestTaskGraphOfAMissingOrEmptyTask(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newStore(t)
	_, err := s.TaskGraph(ctx, 987654321)
	assert.Equal(t, errs.NotFound, errs.KindOf(err), "%v", err)

	ct := create(t, s, "empty_later", step("only"))
	_, err = s.Pool().Exec(ctx, `DELETE FROM tasker_workflow_step_transitions WHERE workflow_step_id = $1`, ct.StepIDs["only"])
	require.NoError(t, err)
	_, err = s.Pool().Exec(ctx, `DELETE FROM tasker_workflow_steps WHERE task_id = $1`, ct.TaskID)
	require.NoError(t, err)
	g, err := s.TaskGraph(ctx, ct.TaskID)
	require.NoError(t, err)
	assert.Equal(t, 0, g.Len())
}
