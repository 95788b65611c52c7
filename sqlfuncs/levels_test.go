package sqlfuncs_test

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// levelsGraph writes one task of the named task nt whose steps are inserted in
// the order given (so step ids need not follow the dependencies) with the edges
// parent -> child of deps, and returns the task id and the step ids by name.
func levelsGraph(f *metricsFixture, nt int32, order []string, deps map[string][]string) (int64, map[string]int64) {
	f.t.Helper()
	task := f.task(nt, f.base, fxTaskOpts{})
	ids := map[string]int64{}
	for _, name := range order {
		ids[name] = f.step(task, f.namedStep(name), f.base, fxStepOpts{})
	}
	for child, parents := range deps {
		for _, p := range parents {
			_, err := f.pool.Exec(f.ctx, `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name)
				VALUES ($1, $2, 'provides')`, ids[p], ids[child])
			require.NoError(f.t, err)
		}
	}
	return task, ids
}

// goLevels is core/dag's answer for the same graph.
func goLevels(t *testing.T, ids map[string]int64, deps map[string][]string) map[int64]int {
	t.Helper()
	g := dag.New()
	for name, id := range ids {
		require.NoError(t, g.AddNode(id, name))
	}
	for child, parents := range deps {
		for _, p := range parents {
			require.NoError(t, g.AddEdge(ids[p], ids[child]))
		}
	}
	lv, err := g.Levels()
	require.NoError(t, err)
	return lv
}

// A step's level is its longest chain from a root, also when a shorter chain
// reaches it first and when ids run against the dependencies; the answer is
// core/dag's.
func TestDependencyLevelsAreLongestChains(t *testing.T) {
	t.Parallel()
	f := newMetricsFixture(t)
	nt := f.namedTask(f.namespace("levels"), "levels", "1.0.0")
	deps := map[string][]string{"b": {"a"}, "c": {"b"}, "d": {"a", "b", "c"}, "f": {"e", "c"}}
	task, ids := levelsGraph(f, nt, []string{"d", "f", "c", "a", "e", "b"}, deps)

	got, err := sqlfuncs.DependencyLevels(f.ctx, f.pool, task)
	require.NoError(t, err)
	want := map[int64]int{ids["a"]: 0, ids["b"]: 1, ids["c"]: 2, ids["d"]: 3, ids["e"]: 0, ids["f"]: 3}
	assert.Equal(t, want, got)
	assert.Equal(t, goLevels(t, ids, deps), got)
}

// Random DAGs (edges only from earlier to later in a random topological order,
// steps inserted in another random order) answer as core/dag does.
func TestDependencyLevelsMatchGoOnRandomGraphs(t *testing.T) {
	t.Parallel()
	f := newMetricsFixture(t)
	nt := f.namedTask(f.namespace("levels"), "levels", "1.0.0")
	rng := rand.New(rand.NewPCG(14, 2026))
	for round := range 8 {
		n := 5 + rng.IntN(60)
		topo := make([]string, n)
		for k := range topo {
			topo[k] = fmt.Sprintf("r%d_s%d", round, k)
		}
		rng.Shuffle(n, func(i, j int) { topo[i], topo[j] = topo[j], topo[i] })
		deps := map[string][]string{}
		for k := 1; k < n; k++ {
			for p := range k {
				if rng.IntN(k+1) < 2 {
					deps[topo[k]] = append(deps[topo[k]], topo[p])
				}
			}
		}
		insert := append([]string(nil), topo...)
		rng.Shuffle(n, func(i, j int) { insert[i], insert[j] = insert[j], insert[i] })
		task, ids := levelsGraph(f, nt, insert, deps)

		got, err := sqlfuncs.DependencyLevels(f.ctx, f.pool, task)
		require.NoError(t, err, "round %d", round)
		assert.Equal(t, goLevels(t, ids, deps), got, "round %d: %d steps", round, n)
	}
}

// A cycle is SQLSTATE TK001 (errs.Cycle) naming every step on or below a cycle,
// in id order, and no step above one: here b <-> c under the root a with d below
// c, and x <-> y that no root reaches with z below y; a and e are fine.
func TestDependencyLevelsNameTheStepsOnAndBelowCycles(t *testing.T) {
	t.Parallel()
	f := newMetricsFixture(t)
	nt := f.namedTask(f.namespace("levels"), "levels", "1.0.0")
	deps := map[string][]string{"b": {"a", "c"}, "c": {"b"}, "d": {"c"}, "x": {"y"}, "y": {"x"}, "z": {"y"}}
	task, ids := levelsGraph(f, nt, []string{"z", "a", "c", "x", "e", "b", "y", "d"}, deps)

	_, err := sqlfuncs.DependencyLevels(f.ctx, f.pool, task)
	require.Error(t, err)
	assert.Equal(t, errs.Cycle, errs.KindOf(err), "%v", err)
	stuck := []string{"b", "c", "d", "x", "y", "z"}
	sort.Slice(stuck, func(i, j int) bool { return ids[stuck[i]] < ids[stuck[j]] })
	named := make([]string, len(stuck))
	for k, s := range stuck {
		named[k] = fmt.Sprintf("%s (%d)", s, ids[s])
	}
	assert.Contains(t, err.Error(), fmt.Sprintf("dependency cycle in task %d: steps on or below a cycle: %s",
		task, strings.Join(named, ", ")))
}

// An edge from a step of another task is not followed: the step it points to
// keeps the level its own task gives it.
func TestDependencyLevelsIgnoreEdgesFromOtherTasks(t *testing.T) {
	t.Parallel()
	f := newMetricsFixture(t)
	nt := f.namedTask(f.namespace("levels"), "levels", "1.0.0")
	deps := map[string][]string{"b": {"a"}}
	task, ids := levelsGraph(f, nt, []string{"a", "b"}, deps)
	other, otherIDs := levelsGraph(f, nt, []string{"o1", "o2"}, map[string][]string{"o2": {"o1"}})
	for _, e := range [][2]int64{{otherIDs["o2"], ids["a"]}, {otherIDs["o2"], ids["b"]}} {
		_, err := f.pool.Exec(f.ctx, `INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name)
			VALUES ($1, $2, 'provides')`, e[0], e[1])
		require.NoError(t, err)
	}

	got, err := sqlfuncs.DependencyLevels(f.ctx, f.pool, task)
	require.NoError(t, err)
	assert.Equal(t, map[int64]int{ids["a"]: 0, ids["b"]: 1}, got)
	got, err = sqlfuncs.DependencyLevels(f.ctx, f.pool, other)
	require.NoError(t, err)
	assert.Equal(t, map[int64]int{otherIDs["o1"]: 0, otherIDs["o2"]: 1}, got)
}
