package bench

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
)

// apiLatticeSteps and apiDoneDiagonals describe the task of the FFI figures, the
// same one bench/ruby/ffi_bench.rb builds: a 10×10 lattice whose anti-diagonals
// 0…5 are complete (21 steps), so 7 steps are ready and 72 wait.
const (
	apiLatticeSteps  = 100
	apiDoneDiagonals = 5
	apiBatchSteps    = 100
)

// BenchmarkAPI runs the four functions of the FFI figures through
// api.Client.CallJSON — the path every C API call takes: payload checks, strict
// JSON decoding, the store call, the JSON envelope — beside the store call alone
// (*_store), so the Go-side JSON cost is visible apart from FFI (the Ruby script
// measures the FFI and gem on top). batch_update_300 cycles 100 steps
// pending → in_progress → error → pending in one call (300 updates), so it can
// repeat on the same steps; ns/update is reported.
func BenchmarkAPI(b *testing.B) {
	logMode(b, "100-step lattice (no quick/full difference)")
	ctx := context.Background()
	e := newEnv(b, 8)
	client := e.openAPI(b)

	ct := e.createTask(b, "bench_api_lattice", lattice(apiLatticeSteps))
	var walk []store.StepTransition
	for d := 0; d <= apiDoneDiagonals; d++ {
		for k := 0; k < apiLatticeSteps; k++ {
			if latticeDiagonal(apiLatticeSteps, k) == d {
				walk = append(walk, run(ct.StepIDs[stepName(k)])...)
			}
		}
	}
	_, err := e.store.BatchTransitionSteps(ctx, walk)
	must(b, err)
	bt := e.createTask(b, "bench_api_batch", independent(apiBatchSteps))
	e.analyze(b)

	taskPayload := []byte(`{"task_id":` + strconv.FormatInt(ct.TaskID, 10) + `}`)
	var cycle []store.StepTransition
	var sb strings.Builder
	sb.WriteString(`{"updates":[`)
	for _, to := range []state.State{state.InProgress, state.Error, state.Pending} {
		for k := 0; k < apiBatchSteps; k++ {
			id := bt.StepIDs[stepName(k)]
			cycle = append(cycle, store.StepTransition{StepID: id, To: to})
			if sb.Len() > len(`{"updates":[`) {
				sb.WriteByte(',')
			}
			sb.WriteString(`{"step_id":` + strconv.FormatInt(id, 10) + `,"state":"` + string(to) + `"}`)
		}
	}
	sb.WriteString(`]}`)
	batchPayload := []byte(sb.String())

	callJSON := func(method string, payload []byte) func(b *testing.B) {
		return func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				out := client.CallJSON(ctx, method, payload)
				if !bytes.HasPrefix(out, []byte(`{"ok":true`)) {
					b.Fatalf("%s: %.300s", method, out)
				}
			}
		}
	}
	perUpdate := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(cycle)), "ns/update")
	}

	b.Run("context_store", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, err := e.store.ExecutionContext(ctx, ct.TaskID, nil)
			must(b, err)
		}
	})
	b.Run("context_json", callJSON("get_task_execution_context", taskPayload))
	b.Run("viable_store", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			rs, err := e.store.ReadySteps(ctx, ct.TaskID, nil)
			must(b, err)
			if len(rs) != apiDoneDiagonals+2 {
				b.Fatalf("%d viable steps", len(rs))
			}
		}
	})
	b.Run("viable_json", callJSON("discover_viable_steps", taskPayload))
	b.Run("analyze_store", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			_, err := e.store.AnalyzeDependencies(ctx, ct.TaskID)
			must(b, err)
		}
	})
	b.Run("analyze_json", callJSON("analyze_dependencies", taskPayload))
	// Each batch run adds 300 transitions; fresh statistics before each keeps the
	// two runs comparable (stale ones let the transition writes seq-scan the
	// growing table until autovacuum catches up).
	b.Run("batch_update_300_store", func(b *testing.B) {
		e.analyze(b)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			outs, err := e.store.BatchTransitionSteps(ctx, cycle)
			must(b, err)
			if o := outs[len(outs)-1]; o.Status != store.OutcomeApplied {
				b.Fatalf("%s: %v", o, o.Err)
			}
		}
		perUpdate(b)
	})
	b.Run("batch_update_300_json", func(b *testing.B) {
		e.analyze(b)
		b.ResetTimer()
		callJSON("batch_update_step_states", batchPayload)(b)
		perUpdate(b)
	})
}
