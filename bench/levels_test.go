package bench

import (
	"context"
	"testing"

	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// BenchmarkLevels compares dependency analysis in Go with calculate_dependency_levels
// in SQL on wide DAGs of 100, 1,000 and 10,000 steps (the goal's sizes, also in
// quick mode): lattices and chains of diamonds (see lattice and diamonds). For
// each shape and size, side by side:
//
//	go_<shape>_<n>         store.AnalyzeDependencies: load the steps, edges and names
//	                       (one query answering one row of arrays) and analyse in Go
//	go_dag_<shape>_<n>     dag.Graph.Analyze alone on the preloaded graph (levels,
//	                       critical path, bottlenecks...)
//	go_levels_<shape>_<n>  dag.Graph.Levels alone: what the SQL function computes
//	sql_<shape>_<n>        calculate_dependency_levels through sqlfuncs (one round
//	                       trip, rows decoded into a map)
//
// Every graph exists before any is measured: a small task is measured with the
// large ones in the same tables (the goal: 10k steps < 100x 100 steps, with
// no plan that degrades small tasks when a large one exists).
func BenchmarkLevels(b *testing.B) {
	ns := sizes([]int{100, 1000, 10000}, []int{100, 1000, 10000})
	logMode(b, "sizes "+sizeLabel(ns[0])+" … "+sizeLabel(ns[len(ns)-1])+" steps")
	ctx := context.Background()
	e := newEnv(b, 4)
	type graph struct {
		shape, suffix string
		n             int
		task          int64
	}
	// Every graph is created before any is measured: small tasks are measured with
	// the large ones in the same tables, where a plan that reads every edge (or a
	// generic plan chosen for the large task) would show.
	var graphs []graph
	for _, shape := range []struct {
		name  string
		steps func(int) []store.StepSpec
	}{{"lattice", lattice}, {"diamonds", diamonds}} {
		for _, n := range ns {
			ct := e.createTask(b, "bench_"+shape.name, shape.steps(n))
			graphs = append(graphs, graph{shape.name, "_" + shape.name + "_" + sizeLabel(n), n, ct.TaskID})
		}
	}
	e.analyze(b)
	for _, gr := range graphs {
		{
			n, suffix := gr.n, gr.suffix
			ct := struct{ TaskID int64 }{gr.task}
			g, err := e.store.TaskGraph(ctx, ct.TaskID)
			must(b, err)
			want := g.Analyze().MaxDepth

			b.Run("go"+suffix, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					a, err := e.store.AnalyzeDependencies(ctx, ct.TaskID)
					must(b, err)
					if a.MaxDepth != want {
						b.Fatalf("depth %d, want %d", a.MaxDepth, want)
					}
				}
			})
			b.Run("go_dag"+suffix, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					if a := g.Analyze(); a.MaxDepth != want {
						b.Fatalf("depth %d, want %d", a.MaxDepth, want)
					}
				}
			})
			b.Run("go_levels"+suffix, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					lv, err := g.Levels()
					must(b, err)
					if len(lv) != n {
						b.Fatalf("%d levels", len(lv))
					}
				}
			})
			b.Run("sql"+suffix, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					lv, err := sqlfuncs.DependencyLevels(ctx, e.pool, ct.TaskID)
					must(b, err)
					if len(lv) != n {
						b.Fatalf("%d levels", len(lv))
					}
				}
			})
		}
	}
}
