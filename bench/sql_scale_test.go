package bench

import (
	"context"
	"testing"

	"github.com/taskercore/tasker-core/sqlfuncs"
)

// BenchmarkSQLAtScale measures the readiness and context SQL functions, their batch
// variants and the next-ready-tasks query while many 10-step tasks in mixed states
// exist (full: 1,000, 5,000, 10,000 tasks; quick: 100, 500, 1,000), each beside a
// SELECT 1 round trip on the same pool. One schema grows from one size to the next.
// Per-task calls go through the sqlfuncs wrappers (one round trip, rows decoded into
// Go structs); *_store adds what the store does around them (an existence check).
func BenchmarkSQLAtScale(b *testing.B) {
	pops := sizes([]int{100, 500, 1000}, []int{1000, 5000, 10000})
	logMode(b, "tasks of 10 steps: "+sizeLabel(pops[0])+"/"+sizeLabel(pops[1])+"/"+sizeLabel(pops[2]))
	ctx := context.Background()
	p := &population{env: newEnv(b, 8)}
	for _, n := range pops {
		p.grow(b, n)
		ids := p.taskIDs
		b.Run("tasks_"+sizeLabel(n), func(b *testing.B) {
			b.Run("select1", func(b *testing.B) {
				var one int
				for i := 0; i < b.N; i++ {
					must(b, p.pool.QueryRow(ctx, `SELECT 1`).Scan(&one))
				}
			})
			b.Run("readiness_one_task", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rows, err := sqlfuncs.StepReadinessStatus(ctx, p.pool, ids[i%len(ids)], nil, nil)
					must(b, err)
					if len(rows) != len(tenSteps) {
						b.Fatalf("readiness: %d rows", len(rows))
					}
				}
			})
			b.Run("readiness_one_task_store", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					_, err := p.store.StepReadiness(ctx, ids[i%len(ids)], nil, nil)
					must(b, err)
				}
			})
			b.Run("context_one_task", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					_, err := sqlfuncs.GetTaskExecutionContext(ctx, p.pool, ids[i%len(ids)], nil)
					must(b, err)
				}
			})
			b.Run("readiness_batch_50", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rows, err := sqlfuncs.StepReadinessStatusBatch(ctx, p.pool, window(ids, i, 50), nil)
					must(b, err)
					if len(rows) != 50*len(tenSteps) {
						b.Fatalf("readiness batch: %d rows", len(rows))
					}
				}
			})
			b.Run("context_batch_50", func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					rows, err := sqlfuncs.GetTaskExecutionContextsBatch(ctx, p.pool, window(ids, i, 50), nil)
					must(b, err)
					if len(rows) != 50 {
						b.Fatalf("context batch: %d rows", len(rows))
					}
				}
			})
			b.Run("next_ready_tasks_"+sizeLabel(n), func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					ts, err := p.store.NextReadyTasks(ctx, 10)
					must(b, err)
					if len(ts) == 0 {
						b.Fatal("no ready tasks")
					}
				}
			})
		})
	}
}
