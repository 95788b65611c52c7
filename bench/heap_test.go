package bench

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/taskercore/tasker-core/core/store"
)

// heapWidth is the width of the layered workflow: each claim round has this many
// ready steps.
const heapWidth = 100

// BenchmarkWorkflowHeap creates one workflow of 10,000 steps (quick: 1,000) in layers
// of 100, walks it to completion through the orchestration path (ClaimSteps of up to
// 100 steps of the task, then ReportResults with success for each), and reports the
// Go heap: heap-inuse-MB after a GC at the end (pool, store and the last results
// still referenced), heap-growth-MB (that minus the same figure before the workflow
// was created), and alloc-B/step (bytes allocated over the whole run per step).
// steps/s is the walk's throughput with one client in this process (no handler).
func BenchmarkWorkflowHeap(b *testing.B) {
	n := sizes([]int{1000}, []int{10000})[0]
	logMode(b, "workflow of "+sizeLabel(n)+" steps")
	ctx := context.Background()
	e := newEnv(b, 4)

	var before, after runtime.MemStats
	var walked time.Duration
	for i := 0; i < b.N; i++ {
		runtime.GC()
		runtime.ReadMemStats(&before)
		ct := e.createTask(b, "bench_heap", layered(n, heapWidth))
		// A live system's autovacuum analyzes a table that just grew by n rows
		// within a minute; do it now so the claims plan with real statistics.
		b.StopTimer()
		e.analyze(b)
		b.StartTimer()
		start := time.Now()
		done, rounds := 0, 0
		for done < n {
			claimed, err := e.store.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "bench-heap", TaskID: ct.TaskID,
				Limit: heapWidth, LeaseSeconds: 300})
			must(b, err)
			if len(claimed) == 0 {
				b.Fatalf("nothing to claim after %d of %d steps", done, n)
			}
			reports := make([]store.StepReport, len(claimed))
			for j, c := range claimed {
				reports[j] = store.StepReport{StepID: c.StepID, WorkerID: "bench-heap", Success: true,
					Results: []byte(`{"ok":true}`)}
			}
			res, err := e.store.ReportResults(ctx, reports)
			must(b, err)
			for _, o := range res.Outcomes {
				if o.Status != store.OutcomeApplied {
					b.Fatalf("report: %s: %v", o, o.Err)
				}
			}
			done += len(claimed)
			rounds++
			if done == n && (len(res.Tasks) != 1 || res.Tasks[0].Status != "complete") {
				b.Fatalf("task not complete after the last report: %+v", res.Tasks)
			}
		}
		walked += time.Since(start)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.Logf("walked %d steps in %d claim/report rounds in %v", n, rounds, time.Since(start).Round(time.Millisecond))
	}
	mb := func(v uint64) float64 { return float64(v) / (1 << 20) }
	b.ReportMetric(mb(after.HeapInuse), "heap-inuse-MB")
	b.ReportMetric(mb(after.HeapInuse)-mb(before.HeapInuse), "heap-growth-MB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "alloc-B/step")
	b.ReportMetric(float64(n*b.N)/walked.Seconds(), "steps/s")
}
