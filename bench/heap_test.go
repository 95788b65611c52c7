package bench

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/taskercore/tasker-core/core/store"
)

// claimWidth is how many steps a claim asks for, and the width of the layered
// workflows, so every claim round is full.
const claimWidth = 100

// BenchmarkWorkflowHeap walks workflows to completion through the orchestration
// path — ClaimSteps (up to 100 steps) then ReportResults with a success for each, no
// handler, one client in this process — and reports the Go heap afterwards:
//
//	heap-inuse-MB   runtime.MemStats.HeapInuse after a GC at the end (pool, store,
//	                the last results still referenced)
//	heap-growth-MB  that minus the same figure before the workflow was created
//	alloc-B/step    bytes allocated during the whole run, per step
//	steps/s         steps walked per second (creation excluded)
//
// Sub-benchmarks:
//
//	tasks_<t>x100   10,000 steps (quick: 1,000) as t tasks of 100 steps (10 layers of
//	                10), claimed from any task by priority and age: the heap figure
//	                of the issue
//	tasks_<t>x100_claim4  the same walk claiming 4 steps a round, the Ruby
//	                worker's claim size (its handler threads): the figure to set
//	                beside the end-to-end steps/s
//	one_task_<n>    one task of n steps in layers of 100 (quick: 1,000; full: 1,000
//	                and 3,000), claimed by task id: shows how the per-step cost of a
//	                claim grows with the size of the task
//
// stmts/step counts the statements the store sent (a pgx tracer; each of a
// batch too) and round-trips/step the round trips they took: figures
// that does not depend on the machine's load.
func BenchmarkWorkflowHeap(b *testing.B) {
	tasks := sizes([]int{10}, []int{100})[0]
	big := sizes([]int{1000}, []int{1000, 3000})
	logMode(b, strconv.Itoa(tasks)+" tasks × 100 steps; one task of "+sizeLabel(big[len(big)-1])+" steps at most")
	e := newEnv(b, 4)

	small := func(b *testing.B) int64 {
		for t := 0; t < tasks; t++ {
			e.createTask(b, "bench_heap_small", layered(100, 10))
		}
		return 0 // claim from any task
	}
	b.Run("tasks_"+strconv.Itoa(tasks)+"x100", func(b *testing.B) { e.walkHeap(b, tasks*100, false, claimWidth, small) })
	// The same walk with ReportAndClaim: each round reports the previous claim
	// and claims the next in one transaction.
	b.Run("tasks_"+strconv.Itoa(tasks)+"x100_report_and_claim", func(b *testing.B) {
		e.walkHeap(b, tasks*100, true, claimWidth, small)
	})
	b.Run("tasks_"+strconv.Itoa(tasks)+"x100_claim4", func(b *testing.B) { e.walkHeap(b, tasks*100, true, 4, small) })
	for _, n := range big {
		b.Run("one_task_"+sizeLabel(n), func(b *testing.B) {
			e.walkHeap(b, n, false, claimWidth, func(b *testing.B) int64 {
				return e.createTask(b, "bench_heap_big", layered(n, claimWidth)).TaskID
			})
		})
	}
}

// walkHeap creates a workflow of n steps with create (which returns the task id to
// claim from, or 0 for any task) and walks it as BenchmarkWorkflowHeap says.
func (e *env) walkHeap(b *testing.B, n int, combined bool, limit int, create func(*testing.B) int64) {
	ctx := context.Background()
	st, counter := e.countingStore(b)
	var statements, roundTrips int64
	var before, after runtime.MemStats
	var walked time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&before)
		taskID := create(b)
		// A live system's autovacuum analyzes a table that just grew by n rows
		// within a minute; do it now so the claims plan with real statistics.
		e.analyze(b)
		b.StartTimer()
		start := time.Now()
		done, rounds := 0, 0
		claim := store.ClaimRequest{WorkerID: "bench-heap", TaskID: taskID, Limit: limit, LeaseSeconds: 300}
		counter.Reset()
		var claimed []store.ClaimedStep
		check := func(res store.ReportResult) {
			for _, o := range res.Outcomes {
				if o.Status != store.OutcomeApplied {
					b.Fatalf("report: %s: %v", o, o.Err)
				}
			}
		}
		reportsOf := func(cs []store.ClaimedStep) []store.StepReport {
			reports := make([]store.StepReport, len(cs))
			for j, c := range cs {
				reports[j] = store.StepReport{StepID: c.StepID, WorkerID: "bench-heap", Success: true,
					Results: []byte(`{"ok":true}`)}
			}
			return reports
		}
		for done < n {
			var err error
			if combined {
				var res store.ReportResult
				res, claimed, err = st.ReportAndClaim(ctx, reportsOf(claimed), claim)
				must(b, err)
				check(res)
				done += len(res.Outcomes)
			} else {
				claimed, err = st.ClaimSteps(ctx, claim)
				must(b, err)
				res, err := st.ReportResults(ctx, reportsOf(claimed))
				must(b, err)
				check(res)
				done += len(claimed)
			}
			if len(claimed) == 0 && done < n {
				b.Fatalf("nothing to claim after %d of %d steps", done, n)
			}
			rounds++
		}
		took := time.Since(start)
		walked += took
		statements += counter.N.Load()
		roundTrips += counter.RT.Load()
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.StartTimer()
		b.Logf("walked %d steps in %d claim/report rounds in %v", n, rounds, took.Round(time.Millisecond))
	}
	mb := func(v uint64) float64 { return float64(v) / (1 << 20) }
	b.ReportMetric(mb(after.HeapInuse), "heap-inuse-MB")
	b.ReportMetric(mb(after.HeapInuse)-mb(before.HeapInuse), "heap-growth-MB")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(n), "alloc-B/step")
	b.ReportMetric(float64(n*b.N)/walked.Seconds(), "steps/s")
	b.ReportMetric(float64(statements)/float64(n*b.N), "stmts/step")
	b.ReportMetric(float64(roundTrips)/float64(n*b.N), "round-trips/step")
}
