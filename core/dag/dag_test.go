package dag_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"pgregory.net/rapid"

	"github.com/taskercore/tasker-core/core/dag"
)

// ---------------------------------------------------------------- helpers

type step struct {
	id   int64
	name string
}

// build adds the steps in the given order, then the edges (parent, child).
func build(t testing.TB, steps []step, edges [][2]int64) *dag.Graph {
	t.Helper()
	g := dag.New()
	for _, s := range steps {
		require.NoError(t, g.AddNode(s.id, s.name))
	}
	for _, e := range edges {
		require.NoError(t, g.AddEdge(e[0], e[1]), "edge %d -> %d", e[0], e[1])
	}
	return g
}

// shape is the expected analysis of an acyclic graph.
type shape struct {
	levels        map[int64]int
	byLevel       [][]int64
	roots, leaves []int64
	critical      []int64
	criticalNames []string
	parallel      int
	factor        float64
	bottlenecks   []int64
}

func checkShape(t *testing.T, g *dag.Graph, edges int, w shape) {
	t.Helper()

	assert.Nil(t, g.FindCycle())
	levels, err := g.Levels()
	require.NoError(t, err)
	assert.Equal(t, w.levels, levels, "Levels")

	a := g.Analyze()
	assert.False(t, a.HasCycles)
	assert.Nil(t, a.Cycle)
	assert.Nil(t, a.CycleNames)
	assert.Equal(t, len(w.levels), a.TotalSteps, "TotalSteps")
	assert.Equal(t, edges, a.TotalEdges, "TotalEdges")
	assert.Equal(t, w.levels, a.DependencyLevels, "DependencyLevels")
	assert.Equal(t, w.byLevel, a.Levels, "Levels")
	assert.Equal(t, len(w.byLevel), a.MaxDepth, "MaxDepth")
	assert.Equal(t, w.roots, a.Roots, "Roots")
	assert.Equal(t, w.leaves, a.Leaves, "Leaves")
	assert.Equal(t, w.critical, a.CriticalPath, "CriticalPath")
	assert.Equal(t, w.criticalNames, a.CriticalPathNames, "CriticalPathNames")
	assert.Equal(t, len(w.critical), a.CriticalPathLength, "CriticalPathLength")
	assert.Equal(t, w.parallel, a.ParallelBranches, "ParallelBranches")
	assert.InDelta(t, w.factor, a.ParallelizationFactor, 1e-9, "ParallelizationFactor")
	assert.Equal(t, w.bottlenecks, a.Bottlenecks, "Bottlenecks")
	names := make([]string, len(w.bottlenecks))
	for k, id := range w.bottlenecks {
		names[k] = g.Name(id)
	}
	assert.Equal(t, names, a.BottleneckNames, "BottleneckNames")
}

// ---------------------------------------------------------------- shapes

func TestLinear(t *testing.T) {
	g := build(t,
		[]step{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}},
		[][2]int64{{1, 2}, {2, 3}, {3, 4}})
	checkShape(t, g, 3, shape{
		levels:        map[int64]int{1: 0, 2: 1, 3: 2, 4: 3},
		byLevel:       [][]int64{{1}, {2}, {3}, {4}},
		roots:         []int64{1},
		leaves:        []int64{4},
		critical:      []int64{1, 2, 3, 4},
		criticalNames: []string{"a", "b", "c", "d"},
		parallel:      1,
		factor:        1,
		bottlenecks:   []int64{}, // a chain has no fan-in/fan-out points
	})
}

func TestDiamond(t *testing.T) {
	g := build(t,
		[]step{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}},
		[][2]int64{{1, 2}, {1, 3}, {2, 4}, {3, 4}})
	checkShape(t, g, 4, shape{
		levels:        map[int64]int{1: 0, 2: 1, 3: 1, 4: 2},
		byLevel:       [][]int64{{1}, {2, 3}, {4}},
		roots:         []int64{1},
		leaves:        []int64{4},
		critical:      []int64{1, 2, 4}, // tie between b and c: lowest id
		criticalNames: []string{"a", "b", "d"},
		parallel:      2,
		factor:        1.33,
		bottlenecks:   []int64{1, 4}, // the fork and the join
	})
}

func TestParallelMerge(t *testing.T) {
	g := build(t,
		[]step{{1, "extract_a"}, {2, "extract_b"}, {3, "extract_c"}, {4, "merge"}},
		[][2]int64{{1, 4}, {2, 4}, {3, 4}})
	checkShape(t, g, 3, shape{
		levels:        map[int64]int{1: 0, 2: 0, 3: 0, 4: 1},
		byLevel:       [][]int64{{1, 2, 3}, {4}},
		roots:         []int64{1, 2, 3},
		leaves:        []int64{4},
		critical:      []int64{1, 4},
		criticalNames: []string{"extract_a", "merge"},
		parallel:      3,
		factor:        2,
		bottlenecks:   []int64{4},
	})
}

func TestTreeFanOut(t *testing.T) {
	// 1 -> 2,3,4; 2 -> 5,6; 3 -> 7; 4 -> 8,9,10; 5 -> 11,12; 9 -> 13
	steps := make([]step, 13)
	for k := range steps {
		steps[k] = step{int64(k + 1), fmt.Sprintf("s%d", k+1)}
	}
	g := build(t, steps, [][2]int64{
		{1, 2}, {1, 3}, {1, 4},
		{2, 5}, {2, 6}, {3, 7}, {4, 8}, {4, 9}, {4, 10},
		{5, 11}, {5, 12}, {9, 13},
	})
	checkShape(t, g, 12, shape{
		levels: map[int64]int{
			1: 0, 2: 1, 3: 1, 4: 1, 5: 2, 6: 2, 7: 2, 8: 2, 9: 2, 10: 2, 11: 3, 12: 3, 13: 3,
		},
		byLevel:       [][]int64{{1}, {2, 3, 4}, {5, 6, 7, 8, 9, 10}, {11, 12, 13}},
		roots:         []int64{1},
		leaves:        []int64{6, 7, 8, 10, 11, 12, 13},
		critical:      []int64{1, 2, 5, 11},
		criticalNames: []string{"s1", "s2", "s5", "s11"},
		parallel:      6,
		factor:        3.25,
		bottlenecks:   []int64{1}, // inner forks can be bypassed via sibling subtrees
	})
}

func TestMixedDAGWithSkipEdges(t *testing.T) {
	// Inserted out of id order on purpose: results must not depend on it.
	steps := []step{
		{9, "close_order"}, {3, "validate_order"}, {1, "fetch_order"},
		{7, "send_confirmation"}, {5, "charge_payment"}, {2, "fetch_customer"},
		{8, "update_loyalty"}, {4, "reserve_inventory"}, {6, "create_shipment"},
	}
	edges := [][2]int64{
		{6, 9}, {8, 9}, {7, 9}, // fan-in at the end, 6 -> 9 skips level 4
		{6, 7}, {6, 8},
		{2, 6}, // skips levels 1 and 2
		{5, 6}, {4, 6},
		{1, 4}, // skips level 1
		{3, 4}, {3, 5},
		{1, 3}, {2, 3},
	}
	g := build(t, steps, edges)
	checkShape(t, g, len(edges), shape{
		levels:   map[int64]int{1: 0, 2: 0, 3: 1, 4: 2, 5: 2, 6: 3, 7: 4, 8: 4, 9: 5},
		byLevel:  [][]int64{{1, 2}, {3}, {4, 5}, {6}, {7, 8}, {9}},
		roots:    []int64{1, 2},
		leaves:   []int64{9},
		critical: []int64{1, 3, 4, 6, 7, 9},
		criticalNames: []string{
			"fetch_order", "validate_order", "reserve_inventory",
			"create_shipment", "send_confirmation", "close_order",
		},
		parallel: 2,
		factor:   1.5,
		// 3 is alone on level 1 but 1 -> 4 and 2 -> 6 route around it, so
		// it is not a bottleneck; nothing routes around 6 or 9.
		bottlenecks: []int64{6, 9},
	})
	assert.Equal(t, []int64{1, 2}, g.Parents(3))
	assert.Equal(t, []int64{4, 5}, g.Children(3))
	assert.Equal(t, []int64{2, 4, 5}, g.Parents(6))
}

func TestDiamondChainBottlenecks(t *testing.T) {
	// 1 -> (2,3) -> 4 -> 5 -> (6,7,8) -> 9, plus 9 -> 10: the forks and
	// joins are bottlenecks, the plain links 5 and 10 are not.
	g := build(t,
		[]step{{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}, {6, "f"}, {7, "g"}, {8, "h"}, {9, "i"}, {10, "j"}},
		[][2]int64{{1, 2}, {1, 3}, {2, 4}, {3, 4}, {4, 5}, {5, 6}, {5, 7}, {5, 8}, {6, 9}, {7, 9}, {8, 9}, {9, 10}})
	a := g.Analyze()
	assert.Equal(t, []int64{1, 4, 5, 9}, a.Bottlenecks)
	assert.Equal(t, []string{"a", "d", "e", "i"}, a.BottleneckNames)
	assert.Equal(t, []int64{1, 2, 4, 5, 6, 9, 10}, a.CriticalPath)
}

func TestEmptyAndSingle(t *testing.T) {
	a := dag.New().Analyze()
	assert.False(t, a.HasCycles)
	assert.Equal(t, 0, a.TotalSteps)
	assert.Equal(t, 0, a.MaxDepth)
	assert.Equal(t, 0, a.CriticalPathLength)
	assert.Equal(t, 0.0, a.ParallelizationFactor)
	assert.Equal(t, 0, a.ParallelBranches)
	assert.Empty(t, a.Levels)
	assert.Empty(t, a.CriticalPath)
	levels, err := dag.New().Levels()
	require.NoError(t, err)
	assert.Empty(t, levels)

	g := build(t, []step{{42, "only"}}, nil)
	checkShape(t, g, 0, shape{
		levels:        map[int64]int{42: 0},
		byLevel:       [][]int64{{42}},
		roots:         []int64{42},
		leaves:        []int64{42},
		critical:      []int64{42},
		criticalNames: []string{"only"},
		parallel:      1,
		factor:        1,
		bottlenecks:   []int64{},
	})
}

func TestDisconnectedComponents(t *testing.T) {
	// Two independent chains and an isolated step.
	g := build(t,
		[]step{{1, "a1"}, {2, "a2"}, {3, "a3"}, {10, "b1"}, {11, "b2"}, {20, "lone"}},
		[][2]int64{{1, 2}, {2, 3}, {10, 11}})
	checkShape(t, g, 3, shape{
		levels:        map[int64]int{1: 0, 2: 1, 3: 2, 10: 0, 11: 1, 20: 0},
		byLevel:       [][]int64{{1, 10, 20}, {2, 11}, {3}},
		roots:         []int64{1, 10, 20},
		leaves:        []int64{3, 11, 20},
		critical:      []int64{1, 2, 3},
		criticalNames: []string{"a1", "a2", "a3"},
		parallel:      3,
		factor:        2,
		bottlenecks:   []int64{},
	})
}

func TestAnalysisJSON(t *testing.T) {
	raw, err := json.Marshal(dag.New().Analyze())
	require.NoError(t, err)
	s := string(raw)
	assert.Contains(t, s, `"levels":[]`)
	assert.Contains(t, s, `"bottlenecks":[]`)
	assert.Contains(t, s, `"dependency_levels":{}`)
	assert.NotContains(t, s, `"cycle"`)
	assert.NotContains(t, s, "null")

	g := build(t, []step{{1, "a"}, {2, "b"}}, [][2]int64{{1, 2}})
	raw, err = json.Marshal(g.Analyze())
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"dependency_levels":{"1":0,"2":1}`)
	assert.Contains(t, string(raw), `"critical_path_names":["a","b"]`)
}

// ---------------------------------------------------------------- cycles

func requireCycle(t *testing.T, g *dag.Graph, ids []int64, names []string, msg string) {
	t.Helper()
	ce := g.FindCycle()
	require.NotNil(t, ce)
	assert.Equal(t, ids, ce.Cycle)
	assert.Equal(t, names, ce.Names)
	assert.EqualError(t, ce, msg)

	levels, err := g.Levels()
	assert.Nil(t, levels)
	var lce *dag.CycleError
	require.ErrorAs(t, err, &lce)
	assert.Equal(t, ce, lce)

	a := g.Analyze()
	assert.True(t, a.HasCycles)
	assert.Equal(t, ids, a.Cycle)
	assert.Equal(t, names, a.CycleNames)
}

func TestCycleTwoSteps(t *testing.T) {
	g := build(t, []step{{1, "a"}, {2, "b"}}, [][2]int64{{1, 2}, {2, 1}})
	requireCycle(t, g, []int64{1, 2}, []string{"a", "b"}, "dependency cycle: a -> b -> a")
}

func TestCycleThreeStepsInsideBiggerGraph(t *testing.T) {
	// start -> load -> [transform -> validate -> enrich -> transform] -> publish
	g := build(t,
		[]step{{1, "start"}, {2, "load"}, {3, "transform"}, {4, "validate"}, {5, "enrich"}, {6, "publish"}, {7, "side"}},
		[][2]int64{{1, 2}, {2, 3}, {3, 4}, {4, 5}, {5, 3}, {5, 6}, {1, 7}})
	requireCycle(t, g, []int64{3, 4, 5}, []string{"transform", "validate", "enrich"},
		"dependency cycle: transform -> validate -> enrich -> transform")

	a := g.Analyze()
	// Structural fields survive a cycle, level-derived ones stay empty.
	assert.Equal(t, 7, a.TotalSteps)
	assert.Equal(t, 7, a.TotalEdges)
	assert.Equal(t, []int64{1}, a.Roots)
	assert.Equal(t, []int64{6, 7}, a.Leaves)
	assert.Empty(t, a.DependencyLevels)
	assert.Empty(t, a.Levels)
	assert.Empty(t, a.CriticalPath)
	assert.Empty(t, a.Bottlenecks)
	assert.Zero(t, a.MaxDepth)
	assert.Zero(t, a.ParallelBranches)
	assert.Zero(t, a.ParallelizationFactor)
}

func TestCycleNotReachableFromAnyRoot(t *testing.T) {
	// 1 -> 2 is fine; 30 -> 10 -> 20 -> 30 has no root at all.
	g := build(t,
		[]step{{1, "ok_a"}, {2, "ok_b"}, {30, "z"}, {10, "x"}, {20, "y"}},
		[][2]int64{{1, 2}, {30, 10}, {10, 20}, {20, 30}})
	requireCycle(t, g, []int64{10, 20, 30}, []string{"x", "y", "z"},
		"dependency cycle: x -> y -> z -> x")

	// A graph with no root at all.
	g = build(t, []step{{5, "p"}, {3, "q"}, {9, "r"}}, [][2]int64{{5, 9}, {9, 3}, {3, 5}})
	requireCycle(t, g, []int64{3, 5, 9}, []string{"q", "p", "r"}, "dependency cycle: q -> p -> r -> q")
	assert.Empty(t, g.Analyze().Roots)
}

func TestCycleErrorFormatting(t *testing.T) {
	assert.Equal(t, "dependency cycle: #7 -> b -> #7", (&dag.CycleError{Cycle: []int64{7, 8}, Names: []string{"", "b"}}).Error())
	assert.Equal(t, "dependency cycle: #1 -> #2 -> #1", (&dag.CycleError{Cycle: []int64{1, 2}}).Error())
	assert.Equal(t, "dependency cycle", (&dag.CycleError{}).Error())
}

// ---------------------------------------------------------------- errors and accessors

func TestErrors(t *testing.T) {
	g := build(t, []step{{1, "a"}, {2, "b"}}, nil)

	err := g.AddNode(1, "again")
	require.ErrorIs(t, err, dag.ErrDuplicateNode)
	assert.Contains(t, err.Error(), "1")
	assert.Equal(t, "a", g.Name(1), "failed AddNode must not overwrite")
	assert.Equal(t, 2, g.Len())

	err = g.AddEdge(1, 99)
	require.ErrorIs(t, err, dag.ErrUnknownNode)
	assert.Contains(t, err.Error(), "99")
	require.ErrorIs(t, g.AddEdge(99, 1), dag.ErrUnknownNode)
	require.ErrorIs(t, g.AddEdge(98, 99), dag.ErrUnknownNode)

	err = g.AddEdge(2, 2)
	require.ErrorIs(t, err, dag.ErrSelfDependency)
	assert.Contains(t, err.Error(), `"b"`)

	assert.Equal(t, 0, g.Analyze().TotalEdges, "failed AddEdge must not add anything")
	assert.False(t, errors.Is(err, dag.ErrUnknownNode))
}

func TestDuplicateEdgeIsIgnored(t *testing.T) {
	g := build(t, []step{{1, "a"}, {2, "b"}}, [][2]int64{{1, 2}, {1, 2}})
	require.NoError(t, g.AddEdge(1, 2))
	assert.Equal(t, []int64{2}, g.Children(1))
	assert.Equal(t, []int64{1}, g.Parents(2))
	assert.Equal(t, 1, g.Analyze().TotalEdges)
}

// A step with many parents finds repeated edges in a map rather than its parent
// list (past a threshold): repeats before, at and after the switch, in any order,
// are still no-ops, on a zero Graph and on one from NewSized.
func TestDuplicateEdgesIntoAWideJoinAreIgnored(t *testing.T) {
	const parents = 40
	for name, g := range map[string]*dag.Graph{"zero": {}, "sized": dag.NewSized(parents + 1)} {
		require.NoError(t, g.AddNode(0, "join"))
		for p := int64(1); p <= parents; p++ {
			require.NoError(t, g.AddNode(p, fmt.Sprint("p", p)))
		}
		for p := int64(1); p <= parents; p++ {
			require.NoError(t, g.AddEdge(p, 0))
			for q := int64(1); q <= p; q++ { // every edge so far, again
				require.NoError(t, g.AddEdge(q, 0))
			}
		}
		for p := int64(parents); p >= 1; p-- {
			require.NoError(t, g.AddEdge(p, 0))
		}
		want := make([]int64, parents)
		for k := range want {
			want[k] = int64(k + 1)
		}
		assert.Equal(t, want, g.Parents(0), name)
		assert.Equal(t, []int64{0}, g.Children(parents), name)
		a := g.Analyze()
		assert.Equal(t, parents, a.TotalEdges, name)
		assert.Equal(t, 2, a.MaxDepth, name)
	}
}

func TestAccessors(t *testing.T) {
	g := build(t,
		[]step{{5, "e"}, {1, "a"}, {3, "c"}},
		[][2]int64{{5, 3}, {1, 3}})
	assert.Equal(t, 3, g.Len())
	assert.Equal(t, []int64{1, 5}, g.Parents(3))
	assert.Equal(t, []int64{3}, g.Children(5))
	assert.Nil(t, g.Parents(1))
	assert.Nil(t, g.Children(3))
	assert.Nil(t, g.Parents(404))
	assert.Nil(t, g.Children(404))
	assert.Equal(t, "e", g.Name(5))
	assert.Equal(t, "", g.Name(404))

	// Returned slices are copies.
	p := g.Parents(3)
	p[0] = 77
	assert.Equal(t, []int64{1, 5}, g.Parents(3))

	// The zero value is usable.
	var z dag.Graph
	require.NoError(t, z.AddNode(1, "a"))
	require.NoError(t, z.AddNode(2, "b"))
	require.NoError(t, z.AddEdge(1, 2))
	assert.Equal(t, []int64{1, 2}, z.Analyze().CriticalPath)
}

// ---------------------------------------------------------------- scale

func chain(tb testing.TB, n int) *dag.Graph {
	g := dag.New()
	for i := 1; i <= n; i++ {
		require.NoError(tb, g.AddNode(int64(i), fmt.Sprintf("step_%d", i)))
		if i > 1 {
			require.NoError(tb, g.AddEdge(int64(i-1), int64(i)))
		}
	}
	return g
}

// lattice builds n/width layers of width steps; step (l, i) feeds (l+1, i)
// and (l+1, i+1 mod width). The number of root -> leaf paths is
// astronomically large, so anything that enumerates paths never finishes.
func lattice(tb testing.TB, n, width int) *dag.Graph {
	g := dag.New()
	layers := n / width
	id := func(l, i int) int64 { return int64(l*width + i + 1) }
	for l := range layers {
		for i := range width {
			require.NoError(tb, g.AddNode(id(l, i), ""))
			if l > 0 {
				require.NoError(tb, g.AddEdge(id(l-1, i), id(l, i)))
				require.NoError(tb, g.AddEdge(id(l-1, (i+width-1)%width), id(l, i)))
			}
		}
	}
	return g
}

// wide builds 10 layers of n/10 steps; every step below the first layer
// depends on up to 12 pseudo-random steps of the layer above (about 10.7n
// distinct edges, so over 100,000 edges for 10,000 steps).
func wide(tb testing.TB, n int) *dag.Graph {
	g := dag.New()
	rng := rand.New(rand.NewPCG(1, 2))
	width := n / 10
	for l := range 10 {
		for i := range width {
			id := int64(l*width + i)
			require.NoError(tb, g.AddNode(id, ""))
			if l > 0 {
				for range 12 {
					require.NoError(tb, g.AddEdge(int64((l-1)*width+rng.IntN(width)), id))
				}
			}
		}
	}
	return g
}

func TestLargeGraphs(t *testing.T) {
	t.Run("chain of 10,000", func(t *testing.T) {
		const n = 10_000
		g := chain(t, n)
		a := g.Analyze()
		assert.Equal(t, n, a.MaxDepth)
		assert.Equal(t, n, a.CriticalPathLength)
		assert.Equal(t, 1.0, a.ParallelizationFactor)
		assert.Empty(t, a.Bottlenecks)
		assert.Nil(t, g.FindCycle())

		require.NoError(t, g.AddEdge(n, 1))
		ce := g.FindCycle()
		require.NotNil(t, ce)
		assert.Len(t, ce.Cycle, n)
		assert.Equal(t, int64(1), ce.Cycle[0])
		assert.Equal(t, int64(n), ce.Cycle[n-1])
		assert.True(t, g.Analyze().HasCycles)
	})
	t.Run("chain of 200,000", func(t *testing.T) {
		g := chain(t, 200_000)
		assert.Equal(t, 200_000, g.Analyze().CriticalPathLength)
		require.NoError(t, g.AddEdge(200_000, 1))
		assert.Len(t, g.FindCycle().Cycle, 200_000)
	})
	t.Run("lattice 100x100", func(t *testing.T) {
		a := lattice(t, 10_000, 100).Analyze()
		assert.Equal(t, 100, a.MaxDepth)
		assert.Equal(t, 100, a.ParallelBranches)
		assert.Equal(t, 100.0, a.ParallelizationFactor)
		assert.Equal(t, 19_800, a.TotalEdges)
		assert.Empty(t, a.Bottlenecks)
	})
	t.Run("chain of 2,500 diamonds", func(t *testing.T) {
		// joint_k -> (left_k, right_k) -> joint_k+1
		g := dag.New()
		const d = 2_500
		require.NoError(t, g.AddNode(0, "joint_0"))
		var want []int64
		for k := range int64(d) {
			j, l, r, next := 3*k, 3*k+1, 3*k+2, 3*k+3
			require.NoError(t, g.AddNode(l, ""))
			require.NoError(t, g.AddNode(r, ""))
			require.NoError(t, g.AddNode(next, ""))
			for _, e := range [][2]int64{{j, l}, {j, r}, {l, next}, {r, next}} {
				require.NoError(t, g.AddEdge(e[0], e[1]))
			}
			want = append(want, j)
		}
		want = append(want, 3*d)
		a := g.Analyze()
		assert.Equal(t, want, a.Bottlenecks)
		assert.Equal(t, 2*d+1, a.CriticalPathLength)
	})
	t.Run("wide 10,000 with 100,000+ edges", func(t *testing.T) {
		a := wide(t, 10_000).Analyze()
		assert.Greater(t, a.TotalEdges, 100_000)
		assert.Equal(t, 10, a.MaxDepth)
		assert.Equal(t, 10, a.CriticalPathLength)
	})
}

// ---------------------------------------------------------------- properties

// randomDAG draws a graph whose edges only go from a lower to a higher
// insertion index, so it is acyclic. Ids are distinct but in random order.
func randomDAG(t *rapid.T, minN int) (g *dag.Graph, ids []int64, edges map[[2]int64]bool) {
	n := rapid.IntRange(minN, 40).Draw(t, "n")
	ids = rapid.SliceOfNDistinct(rapid.Int64Range(-500, 500), n, n, rapid.ID[int64]).Draw(t, "ids")
	g = dag.New()
	for _, id := range ids {
		if err := g.AddNode(id, fmt.Sprintf("n%d", id)); err != nil {
			t.Fatal(err)
		}
	}
	edges = map[[2]int64]bool{}
	if n < 2 {
		return g, ids, edges
	}
	m := rapid.IntRange(0, 3*n).Draw(t, "m")
	for range m {
		i := rapid.IntRange(0, n-2).Draw(t, "from")
		j := rapid.IntRange(i+1, n-1).Draw(t, "to")
		if err := g.AddEdge(ids[i], ids[j]); err != nil {
			t.Fatal(err)
		}
		edges[[2]int64{ids[i], ids[j]}] = true
	}
	return g, ids, edges
}

// naiveLevels relaxes every edge until nothing changes.
func naiveLevels(ids []int64, edges map[[2]int64]bool) map[int64]int {
	level := map[int64]int{}
	for _, id := range ids {
		level[id] = 0
	}
	for changed := true; changed; {
		changed = false
		for e := range edges {
			if level[e[1]] < level[e[0]]+1 {
				level[e[1]] = level[e[0]] + 1
				changed = true
			}
		}
	}
	return level
}

// naiveBottlenecks removes each step in turn and checks whether any root
// still reaches any leaf without it.
func naiveBottlenecks(ids []int64, edges map[[2]int64]bool) []int64 {
	in, out := map[int64]int{}, map[int64]int{}
	adj := map[int64][]int64{}
	for e := range edges {
		out[e[0]]++
		in[e[1]]++
		adj[e[0]] = append(adj[e[0]], e[1])
	}
	res := []int64{}
	for _, x := range ids {
		seen := map[int64]bool{x: true}
		var queue []int64
		for _, r := range ids {
			if in[r] == 0 && r != x {
				seen[r] = true
				queue = append(queue, r)
			}
		}
		bypassed := false
		for len(queue) > 0 && !bypassed {
			u := queue[0]
			queue = queue[1:]
			if out[u] == 0 {
				bypassed = true
			}
			for _, c := range adj[u] {
				if !seen[c] {
					seen[c] = true
					queue = append(queue, c)
				}
			}
		}
		if !bypassed && (in[x] >= 2 || out[x] >= 2) {
			res = append(res, x)
		}
	}
	slices.Sort(res)
	return res
}

func TestPropertyRandomDAG(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g, ids, edges := randomDAG(t, 0)
		want := naiveLevels(ids, edges)

		require.Nil(t, g.FindCycle())
		got, err := g.Levels()
		require.NoError(t, err)
		require.Equal(t, want, got)

		a := g.Analyze()
		require.False(t, a.HasCycles)
		require.Equal(t, len(ids), a.TotalSteps)
		require.Equal(t, len(edges), a.TotalEdges)
		require.Equal(t, want, a.DependencyLevels)
		for e := range edges {
			require.Less(t, got[e[0]], got[e[1]], "edge %v", e)
		}
		if len(ids) == 0 {
			require.Zero(t, a.CriticalPathLength)
			return
		}

		maxLevel := slices.Max(slices.Collect(maps.Values(want)))
		require.Equal(t, maxLevel+1, a.CriticalPathLength)
		require.Equal(t, maxLevel+1, a.MaxDepth)
		require.Len(t, a.CriticalPath, a.CriticalPathLength)
		require.Empty(t, g.Parents(a.CriticalPath[0]), "critical path starts at a root")
		require.Empty(t, g.Children(a.CriticalPath[len(a.CriticalPath)-1]), "critical path ends at a leaf")
		for k := 1; k < len(a.CriticalPath); k++ {
			require.True(t, edges[[2]int64{a.CriticalPath[k-1], a.CriticalPath[k]}], "critical path follows edges")
			require.Equal(t, g.Name(a.CriticalPath[k]), a.CriticalPathNames[k])
		}

		widest := 0
		for l, lv := range a.Levels {
			require.True(t, slices.IsSorted(lv))
			for _, id := range lv {
				require.Equal(t, l, want[id])
			}
			widest = max(widest, len(lv))
		}
		require.Equal(t, widest, a.ParallelBranches)
		require.Equal(t, math.Round(float64(len(ids))/float64(maxLevel+1)*100)/100, a.ParallelizationFactor)
		require.Equal(t, naiveBottlenecks(ids, edges), a.Bottlenecks)
	})
}

func requireRealCycle(t *rapid.T, g *dag.Graph, ce *dag.CycleError, edges map[[2]int64]bool) {
	require.GreaterOrEqual(t, len(ce.Cycle), 2)
	require.Len(t, ce.Names, len(ce.Cycle))
	require.Equal(t, slices.Min(ce.Cycle), ce.Cycle[0], "cycle starts at its lowest id")
	seen := map[int64]bool{}
	for k, id := range ce.Cycle {
		require.False(t, seen[id], "cycle repeats %d", id)
		seen[id] = true
		require.Equal(t, g.Name(id), ce.Names[k])
		next := ce.Cycle[(k+1)%len(ce.Cycle)]
		require.True(t, edges[[2]int64{id, next}], "%d -> %d is not an edge", id, next)
	}
	labels := make([]string, 0, len(ce.Cycle)+1)
	for k, id := range append(slices.Clone(ce.Cycle), ce.Cycle[0]) {
		if name := ce.Names[k%len(ce.Names)]; name != "" {
			labels = append(labels, name)
		} else {
			labels = append(labels, fmt.Sprintf("#%d", id))
		}
	}
	wantMsg := "dependency cycle: " + strings.Join(labels, " -> ")
	require.Equal(t, wantMsg, ce.Error())
}

func TestPropertyBackEdgeMakesCycle(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		g, ids, edges := randomDAG(t, 2)
		n := len(ids)
		// Force a path i -> ... -> j through random intermediate steps,
		// then close it with the back edge j -> i.
		i := rapid.IntRange(0, n-2).Draw(t, "i")
		j := rapid.IntRange(i+1, n-1).Draw(t, "j")
		path := []int{i}
		for k := i + 1; k < j; k++ {
			if rapid.Bool().Draw(t, "via") {
				path = append(path, k)
			}
		}
		path = append(path, j)
		for k := 1; k < len(path); k++ {
			require.NoError(t, g.AddEdge(ids[path[k-1]], ids[path[k]]))
			edges[[2]int64{ids[path[k-1]], ids[path[k]]}] = true
		}
		require.NoError(t, g.AddEdge(ids[j], ids[i]))
		edges[[2]int64{ids[j], ids[i]}] = true

		ce := g.FindCycle()
		require.NotNil(t, ce)
		requireRealCycle(t, g, ce, edges)
		require.True(t, slices.Contains(ce.Cycle, ids[i]) && slices.Contains(ce.Cycle, ids[j]),
			"the only cycles go through the back edge")

		_, err := g.Levels()
		var lce *dag.CycleError
		require.ErrorAs(t, err, &lce)
		a := g.Analyze()
		require.True(t, a.HasCycles)
		require.Equal(t, ce.Cycle, a.Cycle)
	})
}

func TestPropertyArbitraryGraph(t *testing.T) {
	// Any directed graph: FindCycle is nil exactly when no edge u -> v has
	// v reaching u, and otherwise returns a real cycle.
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(1, 15).Draw(t, "n")
		g := dag.New()
		for i := range n {
			require.NoError(t, g.AddNode(int64(i), ""))
		}
		edges := map[[2]int64]bool{}
		adj := map[int64][]int64{}
		for range rapid.IntRange(0, 2*n).Draw(t, "m") {
			u := int64(rapid.IntRange(0, n-1).Draw(t, "u"))
			v := int64(rapid.IntRange(0, n-1).Draw(t, "v"))
			if u == v {
				require.ErrorIs(t, g.AddEdge(u, v), dag.ErrSelfDependency)
				continue
			}
			require.NoError(t, g.AddEdge(u, v))
			if !edges[[2]int64{u, v}] {
				adj[u] = append(adj[u], v)
			}
			edges[[2]int64{u, v}] = true
		}
		reaches := func(from, to int64) bool {
			seen := map[int64]bool{from: true}
			stack := []int64{from}
			for len(stack) > 0 {
				u := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if u == to {
					return true
				}
				for _, c := range adj[u] {
					if !seen[c] {
						seen[c] = true
						stack = append(stack, c)
					}
				}
			}
			return false
		}
		cyclic := false
		for e := range edges {
			cyclic = cyclic || reaches(e[1], e[0])
		}
		ce := g.FindCycle()
		require.Equal(t, cyclic, ce != nil)
		_, err := g.Levels()
		require.Equal(t, cyclic, err != nil)
		require.Equal(t, cyclic, g.Analyze().HasCycles)
		if ce != nil {
			requireRealCycle(t, g, ce, edges)
		}
	})
}

// ---------------------------------------------------------------- benchmarks

func BenchmarkAnalyze(b *testing.B) {
	run := func(name string, g *dag.Graph) {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if a := g.Analyze(); a.HasCycles || a.TotalSteps != g.Len() {
					b.Fatal("unexpected analysis")
				}
			}
		})
	}
	run("chain_10000", chain(b, 10_000))
	run("lattice_10000", lattice(b, 10_000, 100))
	for _, n := range []int{100, 1_000, 10_000} {
		run(fmt.Sprintf("wide_%d", n), wide(b, n))
	}
}
