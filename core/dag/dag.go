package dag

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrDuplicateNode is wrapped by the error AddNode returns when a node with
// the same id already exists.
var ErrDuplicateNode = errors.New("dag: duplicate node")

// ErrUnknownNode is wrapped by the error AddEdge returns when either end of
// the edge has not been added with AddNode.
var ErrUnknownNode = errors.New("dag: unknown node")

// ErrSelfDependency is wrapped by the error AddEdge returns when a step is
// made to depend on itself.
var ErrSelfDependency = errors.New("dag: step depends on itself")

// Graph is a directed graph of workflow steps. Create one with New (the zero
// value is also an empty, ready-to-use graph), add steps with AddNode and
// dependencies with AddEdge, then query it with FindCycle, Levels or Analyze.
type Graph struct {
	index    map[int64]int // step id -> insertion index
	ids      []int64       // insertion index -> step id
	names    []string      // insertion index -> name
	children [][]int       // insertion index -> children's insertion indexes
	parents  [][]int       // insertion index -> parents' insertion indexes
	// edges holds the edges into steps with at least manyParents parents, for
	// finding a repeated edge; a step with fewer is searched in its parent list,
	// which is faster than hashing for the usual few parents.
	edges map[[2]int]struct{}
}

// manyParents is the number of parents from which AddEdge looks a repeated edge
// up in Graph.edges rather than in the child's parent list.
const manyParents = 16

// New returns an empty Graph.
func New() *Graph {
	return &Graph{index: map[int64]int{}}
}

// NewSized returns an empty Graph with room for the given number of steps, so
// that loading a graph of known size does not grow its index step by step. The
// size is a hint: the graph may grow past it.
func NewSized(nodes int) *Graph {
	nodes = max(nodes, 0)
	return &Graph{
		index:    make(map[int64]int, nodes),
		ids:      make([]int64, 0, nodes),
		names:    make([]string, 0, nodes),
		children: make([][]int, 0, nodes),
		parents:  make([][]int, 0, nodes),
	}
}

// AddNode adds the step id with the given name (used in messages only).
// Adding an id twice returns an error wrapping ErrDuplicateNode and leaves
// the graph unchanged.
func (g *Graph) AddNode(id int64, name string) error {
	if g.index == nil {
		g.index = map[int64]int{}
	}
	if i, ok := g.index[id]; ok {
		return fmt.Errorf("%w: id %d (%q) already added as %q", ErrDuplicateNode, id, name, g.names[i])
	}
	g.index[id] = len(g.ids)
	g.ids = append(g.ids, id)
	g.names = append(g.names, name)
	g.children = append(g.children, nil)
	g.parents = append(g.parents, nil)
	return nil
}

// AddEdge records that step to depends on step from (from is the parent,
// to the child). Both steps must exist (else the error wraps ErrUnknownNode)
// and must differ (else it wraps ErrSelfDependency). Adding an existing edge
// again is a no-op and returns nil. AddEdge does not reject cycles; use
// FindCycle, Levels or Analyze to detect them.
func (g *Graph) AddEdge(from, to int64) error {
	f, okFrom := g.index[from]
	t, okTo := g.index[to]
	switch {
	case !okFrom:
		return fmt.Errorf("%w: edge %d -> %d: step %d does not exist", ErrUnknownNode, from, to, from)
	case !okTo:
		return fmt.Errorf("%w: edge %d -> %d: step %d does not exist", ErrUnknownNode, from, to, to)
	case f == t:
		return fmt.Errorf("%w: step %d (%q)", ErrSelfDependency, from, g.names[f])
	}
	if g.hasEdge(f, t) {
		return nil
	}
	g.children[f] = append(g.children[f], t)
	g.parents[t] = append(g.parents[t], f)
	switch k := len(g.parents[t]); {
	case k == manyParents: // from now on t's edges are looked up in the map
		if g.edges == nil {
			g.edges = map[[2]int]struct{}{}
		}
		for _, p := range g.parents[t] {
			g.edges[[2]int{p, t}] = struct{}{}
		}
	case k > manyParents:
		g.edges[[2]int{f, t}] = struct{}{}
	}
	return nil
}

// hasEdge reports whether the edge f -> t (insertion indexes) exists.
func (g *Graph) hasEdge(f, t int) bool {
	if len(g.parents[t]) < manyParents {
		return slices.Contains(g.parents[t], f)
	}
	_, ok := g.edges[[2]int{f, t}]
	return ok
}

// Len returns the number of steps in the graph.
func (g *Graph) Len() int { return len(g.ids) }

// Parents returns the steps id depends on, sorted ascending. It returns nil
// when id has no parents or is not in the graph.
func (g *Graph) Parents(id int64) []int64 {
	i, ok := g.index[id]
	if !ok {
		return nil
	}
	return g.sortedIDs(g.parents[i])
}

// Children returns the steps that depend on id, sorted ascending. It returns
// nil when id has no children or is not in the graph.
func (g *Graph) Children(id int64) []int64 {
	i, ok := g.index[id]
	if !ok {
		return nil
	}
	return g.sortedIDs(g.children[i])
}

// Name returns the name id was added with, or "" if id is not in the graph.
func (g *Graph) Name(id int64) string {
	i, ok := g.index[id]
	if !ok {
		return ""
	}
	return g.names[i]
}

func (g *Graph) sortedIDs(idx []int) []int64 {
	if len(idx) == 0 {
		return nil
	}
	out := make([]int64, len(idx))
	for k, i := range idx {
		out[k] = g.ids[i]
	}
	slices.Sort(out)
	return out
}

// CycleError reports a dependency cycle. Cycle holds the step ids of one
// cycle in edge order, starting at its lowest id, without repeating the
// first step at the end: every Cycle[k] -> Cycle[k+1] is an edge, and so is
// the last step -> Cycle[0]. Names holds the matching step names.
type CycleError struct {
	Cycle []int64
	Names []string
}

// Error reads like "dependency cycle: a -> b -> c -> a". A step without a
// name is shown as "#<id>".
func (e *CycleError) Error() string {
	if len(e.Cycle) == 0 {
		return "dependency cycle"
	}
	label := func(k int) string {
		if k < len(e.Names) && e.Names[k] != "" {
			return e.Names[k]
		}
		return "#" + strconv.FormatInt(e.Cycle[k], 10)
	}
	var b strings.Builder
	b.WriteString("dependency cycle: ")
	for k := range e.Cycle {
		b.WriteString(label(k))
		b.WriteString(" -> ")
	}
	b.WriteString(label(0))
	return b.String()
}

// FindCycle returns one dependency cycle, or nil if the graph is acyclic.
// It finds cycles anywhere in the graph, including ones no root can reach.
// The search is an iterative depth-first search visiting steps and their
// children in ascending id order, so the reported cycle is deterministic.
func (g *Graph) FindCycle() *CycleError {
	v := g.view()
	return v.cycleError(v.findCycle())
}

// Levels returns every step's dependency level: roots (steps without
// parents) are at level 0 and every other step sits one level below its
// deepest parent (max parent level + 1), so a step's level is the length of
// the longest dependency chain leading to it. On a cyclic graph Levels
// returns a nil map and a *CycleError. It uses Kahn's algorithm, O(V+E).
func (g *Graph) Levels() (map[int64]int, error) {
	v := g.view()
	_, level, ok := v.topo()
	if !ok {
		return nil, v.cycleError(v.findCycle())
	}
	out := make(map[int64]int, len(level))
	for r, l := range level {
		out[v.ids[r]] = l
	}
	return out, nil
}

// Analysis summarises the shape of a workflow's dependency graph. All id
// lists come with a parallel list of names. Collections are never nil (they
// encode as [] / {} in JSON), except Cycle and CycleNames, which are only
// set when HasCycles is true.
type Analysis struct {
	// HasCycles reports whether the graph contains a dependency cycle.
	HasCycles bool `json:"has_cycles"`
	// Cycle is one cycle as reported by FindCycle (nil when acyclic).
	Cycle []int64 `json:"cycle,omitempty"`
	// CycleNames are the names of the steps in Cycle.
	CycleNames []string `json:"cycle_names,omitempty"`
	// TotalSteps is the number of steps.
	TotalSteps int `json:"total_steps"`
	// TotalEdges is the number of distinct dependencies.
	TotalEdges int `json:"total_edges"`
	// MaxDepth is the number of levels: 0 for an empty graph, 1 for a
	// single step, max level + 1 in general.
	MaxDepth int `json:"max_depth"`
	// DependencyLevels maps each step id to its level (see Graph.Levels).
	DependencyLevels map[int64]int `json:"dependency_levels"`
	// Levels lists the steps of each level, level 0 first, each sorted
	// ascending.
	Levels [][]int64 `json:"levels"`
	// Roots are the steps without parents, sorted ascending.
	Roots []int64 `json:"roots"`
	// Leaves are the steps without children, sorted ascending.
	Leaves []int64 `json:"leaves"`
	// CriticalPath is a longest root -> leaf path, counted in steps. Of all
	// longest paths it is the lexicographically smallest sequence of ids.
	CriticalPath []int64 `json:"critical_path"`
	// CriticalPathNames are the names of the steps in CriticalPath.
	CriticalPathNames []string `json:"critical_path_names"`
	// CriticalPathLength is the number of steps on CriticalPath; it always
	// equals MaxDepth.
	CriticalPathLength int `json:"critical_path_length"`
	// ParallelBranches is the size of the widest level: the most steps that
	// can run at once when the workflow is executed level by level.
	ParallelBranches int `json:"parallel_branches"`
	// ParallelizationFactor is TotalSteps / CriticalPathLength rounded to
	// two decimals (0 for an empty graph): 1 for a pure chain, higher the
	// more work can overlap.
	ParallelizationFactor float64 `json:"parallelization_factor"`
	// Bottlenecks are the fan-in or fan-out steps (2+ parents or 2+
	// children) that every root -> leaf path passes through, sorted
	// ascending. Such a step is a true choke point: nothing downstream of
	// it can start, and no parallel branch can route around it, until it
	// completes. Steps on a plain chain (one parent, one child) are not
	// reported even though every path passes them, since otherwise every
	// step of a linear workflow would be a "bottleneck". A node that is
	// alone on its level is not necessarily reported: a dependency that
	// skips over its level lets work bypass it.
	Bottlenecks []int64 `json:"bottlenecks"`
	// BottleneckNames are the names of the steps in Bottlenecks.
	BottleneckNames []string `json:"bottleneck_names"`
}

// Analyze computes the Analysis of the graph in O(V+E) (plus sorting ids).
// It never fails and never panics. On a cyclic graph it sets HasCycles,
// Cycle and CycleNames and fills the structural fields TotalSteps,
// TotalEdges, Roots and Leaves; every level-derived field (MaxDepth,
// DependencyLevels, Levels, CriticalPath, CriticalPathNames,
// CriticalPathLength, ParallelBranches, ParallelizationFactor, Bottlenecks,
// BottleneckNames) is left empty (zero or an empty collection), because
// levels are undefined once a cycle exists.
func (g *Graph) Analyze() Analysis {
	v := g.view()
	n := len(v.ids)
	a := Analysis{
		TotalSteps:        n,
		TotalEdges:        len(v.childAdj),
		DependencyLevels:  map[int64]int{},
		Levels:            [][]int64{},
		Roots:             []int64{},
		Leaves:            []int64{},
		CriticalPath:      []int64{},
		CriticalPathNames: []string{},
		Bottlenecks:       []int64{},
		BottleneckNames:   []string{},
	}
	for r := range n {
		if v.indegree(r) == 0 {
			a.Roots = append(a.Roots, v.ids[r])
		}
		if v.outdegree(r) == 0 {
			a.Leaves = append(a.Leaves, v.ids[r])
		}
	}

	order, level, ok := v.topo()
	if !ok {
		ce := v.cycleError(v.findCycle())
		a.HasCycles = true
		a.Cycle, a.CycleNames = ce.Cycle, ce.Names
		return a
	}
	if n == 0 {
		return a
	}

	// Levels.
	a.DependencyLevels = make(map[int64]int, n)
	depth := 0
	for r, l := range level {
		a.DependencyLevels[v.ids[r]] = l
		depth = max(depth, l+1)
	}
	// One backing array for all levels (a 10,000-step chain has 10,000
	// levels); start[l] is where level l begins in it.
	start := make([]int, depth+1)
	for _, l := range level {
		start[l+1]++
	}
	for l := range depth {
		a.ParallelBranches = max(a.ParallelBranches, start[l+1])
		start[l+1] += start[l]
	}
	flat := make([]int64, n)
	fill := slices.Clone(start[:depth])
	for r, l := range level { // ranks ascend, so each level comes out sorted
		flat[fill[l]] = v.ids[r]
		fill[l]++
	}
	a.Levels = make([][]int64, depth)
	for l := range depth {
		a.Levels[l] = flat[start[l]:start[l+1]:start[l+1]]
	}
	a.MaxDepth = depth

	// Critical path: height[u] is the number of steps on the longest path
	// from u down to a leaf. Start at the lowest-id step of full height (it
	// is necessarily a root) and always step to the lowest-id child that
	// keeps the path longest.
	height := make([]int, n)
	for k := n - 1; k >= 0; k-- {
		u := order[k]
		h := 0
		for _, c := range v.children(u) {
			h = max(h, height[c])
		}
		height[u] = h + 1
	}
	a.CriticalPath = make([]int64, 0, depth)
	a.CriticalPathNames = make([]string, 0, depth)
	u := slices.Index(height, depth)
	for {
		a.CriticalPath = append(a.CriticalPath, v.ids[u])
		a.CriticalPathNames = append(a.CriticalPathNames, v.names[u])
		next := -1
		for _, c := range v.children(u) {
			if height[c] == height[u]-1 {
				next = c
				break
			}
		}
		if next < 0 {
			break
		}
		u = next
	}
	a.CriticalPathLength = len(a.CriticalPath)
	a.ParallelizationFactor = math.Round(float64(n)/float64(a.CriticalPathLength)*100) / 100

	// Bottlenecks.
	cut := v.pathCuts(order)
	for r := range n {
		if cut[r] && (v.indegree(r) >= 2 || v.outdegree(r) >= 2) {
			a.Bottlenecks = append(a.Bottlenecks, v.ids[r])
			a.BottleneckNames = append(a.BottleneckNames, v.names[r])
		}
	}
	return a
}

// view is an immutable snapshot of a Graph in which steps are numbered by
// rank (their position in ascending id order) and adjacency is stored in
// compressed sparse rows with every neighbour list sorted by rank. Working on
// ranks makes "lowest id first" tie-breaking free.
type view struct {
	ids       []int64  // rank -> id
	names     []string // rank -> name
	childOff  []int    // children of r: childAdj[childOff[r]:childOff[r+1]]
	childAdj  []int
	parentOff []int // parents of r: parentAdj[parentOff[r]:parentOff[r+1]]
	parentAdj []int
}

func (g *Graph) view() *view {
	n := len(g.ids)
	order := make([]int, n) // rank -> insertion index
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int { return cmp.Compare(g.ids[a], g.ids[b]) })
	rank := make([]int, n) // insertion index -> rank
	for r, i := range order {
		rank[i] = r
	}

	v := &view{
		ids:       make([]int64, n),
		names:     make([]string, n),
		childOff:  make([]int, n+1),
		parentOff: make([]int, n+1),
	}
	for r, i := range order {
		v.ids[r] = g.ids[i]
		v.names[r] = g.names[i]
		v.childOff[r+1] = v.childOff[r] + len(g.children[i])
		v.parentOff[r+1] = v.parentOff[r] + len(g.parents[i])
	}
	m := v.childOff[n]
	v.childAdj = make([]int, m)
	v.parentAdj = make([]int, m)

	// Bucket fill: visiting the far end in ascending rank order leaves each
	// list sorted without a comparison sort.
	next := slices.Clone(v.childOff[:n])
	for c, i := range order {
		for _, pi := range g.parents[i] {
			p := rank[pi]
			v.childAdj[next[p]] = c
			next[p]++
		}
	}
	copy(next, v.parentOff[:n])
	for p, i := range order {
		for _, ci := range g.children[i] {
			c := rank[ci]
			v.parentAdj[next[c]] = p
			next[c]++
		}
	}
	return v
}

func (v *view) children(r int) []int { return v.childAdj[v.childOff[r]:v.childOff[r+1]] }
func (v *view) indegree(r int) int   { return v.parentOff[r+1] - v.parentOff[r] }
func (v *view) outdegree(r int) int  { return v.childOff[r+1] - v.childOff[r] }

// topo runs Kahn's algorithm. It returns a topological order of the ranks,
// each rank's level (longest distance from a root) and whether every step
// could be ordered (false means the graph has a cycle).
func (v *view) topo() (order, level []int, ok bool) {
	n := len(v.ids)
	indeg := make([]int, n)
	order = make([]int, 0, n)
	for r := range n {
		indeg[r] = v.indegree(r)
		if indeg[r] == 0 {
			order = append(order, r)
		}
	}
	level = make([]int, n)
	for head := 0; head < len(order); head++ { // order doubles as the queue
		u := order[head]
		for _, c := range v.children(u) {
			level[c] = max(level[c], level[u]+1)
			if indeg[c]--; indeg[c] == 0 {
				order = append(order, c)
			}
		}
	}
	return order, level, len(order) == n
}

// findCycle returns the ranks of one cycle in edge order, rotated to start
// at its lowest rank, or nil if the graph is acyclic. It is an iterative
// three-colour depth-first search with an explicit stack.
func (v *view) findCycle() []int {
	const (
		white = iota // not visited yet
		grey         // on the current DFS path
		black        // finished: no cycle reachable from here
	)
	n := len(v.ids)
	color := make([]uint8, n)
	next := make([]int, n)  // next child offset to explore, per rank
	depth := make([]int, n) // position on stack of a grey rank
	var stack []int
	for s := range n {
		if color[s] != white {
			continue
		}
		color[s], depth[s], next[s] = grey, 0, v.childOff[s]
		stack = append(stack[:0], s)
		for len(stack) > 0 {
			u := stack[len(stack)-1]
			if next[u] == v.childOff[u+1] {
				color[u] = black
				stack = stack[:len(stack)-1]
				continue
			}
			c := v.childAdj[next[u]]
			next[u]++
			switch color[c] {
			case grey: // back edge u -> c closes the cycle c -> ... -> u -> c
				cyc := slices.Clone(stack[depth[c]:])
				lo := 0
				for k, r := range cyc {
					if r < cyc[lo] {
						lo = k
					}
				}
				return append(cyc[lo:], cyc[:lo]...)
			case white:
				color[c], depth[c], next[c] = grey, len(stack), v.childOff[c]
				stack = append(stack, c)
			}
		}
	}
	return nil
}

// cycleError converts a cycle of ranks to a *CycleError (nil for nil).
func (v *view) cycleError(cyc []int) *CycleError {
	if cyc == nil {
		return nil
	}
	e := &CycleError{Cycle: make([]int64, len(cyc)), Names: make([]string, len(cyc))}
	for k, r := range cyc {
		e.Cycle[k], e.Names[k] = v.ids[r], v.names[r]
	}
	return e
}

// pathCuts reports, per rank, whether every root -> leaf path passes
// through that step. order must be a topological order of an acyclic graph.
//
// Add a virtual source S before every root and a virtual sink T after every
// leaf and lay the steps out in topological order, S first and T last. In
// an acyclic graph every step lies on some S -> T path. If an edge a -> b
// jumps over step x (pos a < pos x < pos b), then S -> ... -> a -> b -> ...
// -> T avoids x, since positions strictly increase along a path. If no edge
// jumps over x, a path climbing from before x to after x must land on x.
// So x is a cut exactly when no edge (virtual ones included) spans its
// position, which a difference array over positions answers in O(V+E).
func (v *view) pathCuts(order []int) []bool {
	n := len(order)
	pos := make([]int, n) // rank -> position; S is 0, T is n+1
	for k, r := range order {
		pos[r] = k + 1
	}
	diff := make([]int, n+2)
	span := func(a, b int) { // edge from position a to position b > a
		if b > a+1 {
			diff[a+1]++
			diff[b]--
		}
	}
	for u := range n {
		if v.indegree(u) == 0 {
			span(0, pos[u])
		}
		if v.outdegree(u) == 0 {
			span(pos[u], n+1)
		}
		for _, c := range v.children(u) {
			span(pos[u], pos[c])
		}
	}
	covered := make([]bool, n+2) // by position
	for p, run := 1, 0; p <= n; p++ {
		run += diff[p]
		covered[p] = run > 0
	}
	cut := make([]bool, n)
	for r := range n {
		cut[r] = !covered[pos[r]]
	}
	return cut
}
