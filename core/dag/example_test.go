package dag_test

import (
	"fmt"
	"strings"

	"github.com/taskercore/tasker-core/core/dag"
)

func ExampleGraph_Analyze() {
	g := dag.New()
	steps := []struct {
		id   int64
		name string
	}{
		{1, "fetch_order"}, {2, "fetch_customer"}, {3, "validate"},
		{4, "reserve_stock"}, {5, "charge_card"}, {6, "ship"}, {7, "notify"},
	}
	for _, s := range steps {
		if err := g.AddNode(s.id, s.name); err != nil {
			panic(err)
		}
	}
	// parent -> child: the child runs after the parent. 5 -> 7 skips a
	// level, so work can route around ship: it is no bottleneck.
	for _, e := range [][2]int64{{1, 3}, {2, 3}, {3, 4}, {3, 5}, {4, 6}, {5, 6}, {6, 7}, {5, 7}} {
		if err := g.AddEdge(e[0], e[1]); err != nil {
			panic(err)
		}
	}

	a := g.Analyze()
	fmt.Println("levels:", a.Levels)
	fmt.Println("roots:", a.Roots, "leaves:", a.Leaves)
	fmt.Println("critical path:", strings.Join(a.CriticalPathNames, " -> "))
	fmt.Println("max depth:", a.MaxDepth, "parallel branches:", a.ParallelBranches, "factor:", a.ParallelizationFactor)
	fmt.Println("bottlenecks:", a.BottleneckNames)

	// Closing a loop is reported with the steps involved.
	_ = g.AddEdge(7, 3)
	fmt.Println(g.FindCycle())
	// Output:
	// levels: [[1 2] [3] [4 5] [6] [7]]
	// roots: [1 2] leaves: [7]
	// critical path: fetch_order -> validate -> reserve_stock -> ship -> notify
	// max depth: 5 parallel branches: 2 factor: 1.4
	// bottlenecks: [validate notify]
	// dependency cycle: validate -> reserve_stock -> ship -> notify -> validate
}
