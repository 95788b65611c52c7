package bench

import (
	"context"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/taskercore/tasker-core/core/api"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// BenchmarkBatchUpdate moves 1,000 fresh pending steps to in_progress: in one
// BatchTransitionSteps call (batch_1000), through the JSON API's
// batch_update_step_states (batch_1000_json), and as 1,000 TransitionStep calls, each
// its own transaction (single_1000). The goal is batch ≥ 20× faster than single.
// write_tx, a trivial write transaction, is the floor of single's cost per update.
// Every iteration gets a new task of 1,000 independent steps, created with the timer
// stopped; the *_tasks_of_10 variants the same 1,000 steps as 100 tasks of 10, so
// single_1000 ÷ single_1000_tasks_of_10 is what a task's size costs a single
// update. ns/update is ns/op divided by 1,000.
func BenchmarkBatchUpdate(b *testing.B) {
	const n = 1000
	logMode(b, "1,000 updates in both modes (the size does not scale down)")
	ctx := context.Background()
	e := newEnv(b, 8)
	client := e.openAPI(b)
	fresh := func(b *testing.B) []int64 {
		b.StopTimer()
		defer b.StartTimer()
		ct := e.createTask(b, "bench_batch", independent(n))
		ids := make([]int64, 0, n)
		for _, id := range ct.StepIDs {
			ids = append(ids, id)
		}
		return ids
	}
	// The same 1,000 steps as 100 tasks of 10 (the at-scale shape): each update
	// pays for a 10-step task's schedule, not a 1,000-step one's.
	fresh10 := func(b *testing.B) []int64 {
		b.StopTimer()
		defer b.StartTimer()
		ids := make([]int64, 0, n)
		for t := 0; t < n/10; t++ {
			for _, id := range e.createTask(b, "bench_batch_10", independent(10)).StepIDs {
				ids = append(ids, id)
			}
		}
		return ids
	}
	perUpdate := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/update")
	}

	batch := func(fresh func(*testing.B) []int64) func(*testing.B) {
		return func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ids := fresh(b)
				reqs := make([]store.StepTransition, len(ids))
				for j, id := range ids {
					reqs[j] = store.StepTransition{StepID: id, To: state.InProgress}
				}
				outs, err := e.store.BatchTransitionSteps(ctx, reqs)
				must(b, err)
				if outs[n-1].Status != store.OutcomeApplied {
					b.Fatalf("batch: %s: %v", outs[n-1], outs[n-1].Err)
				}
			}
			perUpdate(b)
		}
	}
	single := func(fresh func(*testing.B) []int64) func(*testing.B) {
		return func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				ids := fresh(b)
				for _, id := range ids {
					_, err := e.store.TransitionStep(ctx, store.StepTransition{StepID: id, To: state.InProgress})
					must(b, err)
				}
			}
			perUpdate(b)
		}
	}
	b.Run("batch_1000", batch(fresh))
	b.Run("batch_1000_tasks_of_10", batch(fresh10))
	// batch_1000 again with a live subscriber on the client: the store returns
	// what it wrote (1,000 step.execution_requested rows) and publishes 1,000
	// step.before_transition besides; the publisher delivers them off the hot path.
	b.Run("batch_1000_live", func(b *testing.B) {
		var delivered atomic.Int64
		m0 := client.EventMetrics() // counters are the client's, across runs
		stop, err := client.Subscribe("*", func(store.Event) { delivered.Add(1) })
		must(b, err)
		defer stop()
		for i := 0; i < b.N; i++ {
			ids := fresh(b)
			reqs := make([]store.StepTransition, len(ids))
			for j, id := range ids {
				reqs[j] = store.StepTransition{StepID: id, To: state.InProgress}
			}
			outs, err := client.Store().BatchTransitionSteps(ctx, reqs)
			must(b, err)
			if outs[n-1].Status != store.OutcomeApplied {
				b.Fatalf("batch: %s: %v", outs[n-1], outs[n-1].Err)
			}
		}
		perUpdate(b)
		b.StopTimer()
		m := client.EventMetrics()
		for deadline := time.Now().Add(10 * time.Second); m.Published != m.Delivered+m.Dropped+m.Failed && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond) // the last batches are on their way
			m = client.EventMetrics()
		}
		if m.Published == 0 || m.Published != m.Delivered+m.Dropped+m.Failed || uint64(delivered.Load()) != m.Delivered-m0.Delivered {
			b.Fatalf("live events not accounted for: %+v (subscriber saw %d)", m, delivered.Load())
		}
		b.ReportMetric(float64(m.Dropped), "dropped")
	})
	b.Run("batch_1000_json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			ids := fresh(b)
			var sb strings.Builder
			sb.WriteString(`{"updates":[`)
			for j, id := range ids {
				if j > 0 {
					sb.WriteByte(',')
				}
				sb.WriteString(`{"step_id":` + strconv.FormatInt(id, 10) + `,"state":"in_progress"}`)
			}
			sb.WriteString(`]}`)
			out := client.CallJSON(ctx, "batch_update_step_states", []byte(sb.String()))
			if !strings.Contains(string(out), `"applied":1000,"rejected":0`) {
				b.Fatalf("batch json: %.300s", out)
			}
		}
		perUpdate(b)
	})
	// The floor of single_1000's per-update cost: one trivial write transaction
	// (BEGIN, a one-row UPDATE, COMMIT with its WAL flush).
	b.Run("write_tx", func(b *testing.B) {
		_, err := e.pool.Exec(ctx, `CREATE TABLE IF NOT EXISTS bench_write_tx (id int PRIMARY KEY, n bigint);
			INSERT INTO bench_write_tx VALUES (1, 0) ON CONFLICT DO NOTHING`)
		must(b, err)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			tx, err := e.pool.Begin(ctx)
			must(b, err)
			_, err = tx.Exec(ctx, `UPDATE bench_write_tx SET n = n + 1 WHERE id = 1`)
			must(b, err)
			must(b, tx.Commit(ctx))
		}
	})
	b.Run("single_1000", single(fresh))
	b.Run("single_1000_tasks_of_10", single(fresh10))
}

// openAPI opens an api.Client (the object behind a C API handle) on the env's schema.
func (e *env) openAPI(b *testing.B) *api.Client {
	b.Helper()
	cfg := `{"database_url": ` + strconv.Quote(e.url) + `, "schema": ` + strconv.Quote(e.schema) +
		`, "migrate": false, "max_connections": 8}`
	c, err := api.Open(context.Background(), []byte(cfg))
	must(b, err)
	b.Cleanup(c.Close)
	return c
}
