package bench

import (
	"context"
	"fmt"
	"math"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// full is true when TASKER_BENCH_FULL=1: the sizes the issue asks for. Otherwise
// every benchmark runs at quick sizes (a tenth, roughly) and says so in a b.Log.
var full = os.Getenv("TASKER_BENCH_FULL") == "1"

// sizes returns the quick or the full list.
func sizes(quick, fullSizes []int) []int {
	if full {
		return fullSizes
	}
	return quick
}

func modeName() string {
	if full {
		return "full"
	}
	return "quick"
}

func logMode(b *testing.B, what string) {
	b.Helper()
	b.Logf("mode=%s (TASKER_BENCH_FULL=1 for the full sizes): %s", modeName(), what)
}

// env is one benchmark's schema: a pool whose connections use it and a store.
type env struct {
	pool   *pgxpool.Pool
	store  *store.Store
	schema string
	url    string
}

// newEnv creates a fresh migrated schema (dropped when the benchmark ends) and a
// store with the default retry policy synced to SQL.
func newEnv(b *testing.B, maxConns int32) *env {
	b.Helper()
	pool, schema := testdb.SchemaWithName(b, testdb.Options{MaxConns: maxConns, Session: librarySession(b)})
	s := store.New(pool, backoff.Default())
	must(b, s.SyncRetryPolicy(context.Background()))
	return &env{pool: pool, store: s, schema: schema, url: testdb.URL(b)}
}

// librarySession is the session settings the library's pool gives its
// connections by default (core/api: database.plan_cache_mode,
// database.random_page_cost, database.statement_timeout_ms), which every
// benchmark's pool uses too.
func librarySession(b *testing.B) map[string]string {
	b.Helper()
	return map[string]string{
		"plan_cache_mode":   defaultString(b, "database.plan_cache_mode"),
		"random_page_cost":  defaultString(b, "database.random_page_cost"),
		"statement_timeout": defaultString(b, "database.statement_timeout_ms"),
	}
}

func must(b testing.TB, err error) {
	b.Helper()
	if err != nil {
		b.Fatal(err)
	}
}

// analyze vacuums and refreshes the planner's statistics after a bulk set-up, as
// autovacuum would on a live system (it does not get the chance within a
// benchmark). Without it, fresh task ids are estimated at one row each and the
// readiness query can pick a quadratic plan (bench/README.md, "Notes").
func (e *env) analyze(b *testing.B) {
	b.Helper()
	for _, t := range []string{"tasker_tasks", "tasker_workflow_steps", "tasker_workflow_step_edges",
		"tasker_workflow_step_transitions", "tasker_task_transitions", "tasker_named_steps"} {
		_, err := e.pool.Exec(context.Background(), `VACUUM (ANALYZE) `+t)
		must(b, err)
	}
}

func stepName(i int) string { return "s" + strconv.Itoa(i) }

// lattice returns n steps on a grid w = floor(sqrt(n)) wide: step (r, c) depends on
// (r-1, c) and (r, c-1). One root, every path to a step has the same length, depth
// about 2·sqrt(n). A 10×10 lattice is the 100-step task of the FFI figures.
func lattice(n int) []store.StepSpec {
	w := int(math.Sqrt(float64(n)))
	steps := make([]store.StepSpec, n)
	for k := range steps {
		r, c := k/w, k%w
		st := store.StepSpec{Name: stepName(k)}
		if r > 0 {
			st.DependsOn = append(st.DependsOn, stepName(k-w))
		}
		if c > 0 {
			st.DependsOn = append(st.DependsOn, stepName(k-1))
		}
		steps[k] = st
	}
	return steps
}

// latticeDiagonal is the anti-diagonal (r + c) of step k of lattice(n).
func latticeDiagonal(n, k int) int {
	w := int(math.Sqrt(float64(n)))
	return k/w + k%w
}

// diamondWidth is the fan-out of each diamond in diamonds().
const diamondWidth = 8

// diamonds returns n steps as a chain of diamonds: a fork step, diamondWidth
// parallel steps, a join step that is the next diamond's fork, and so on. The
// number of root-to-leaf paths is diamondWidth^(diamonds), which is what made the
// engine's path-enumerating CTE exponential; depth is about n/4.5.
func diamonds(n int) []store.StepSpec {
	steps := make([]store.StepSpec, 0, n)
	steps = append(steps, store.StepSpec{Name: stepName(0)})
	fork := 0
	for len(steps) < n {
		var mids []string
		for j := 0; j < diamondWidth && len(steps) < n; j++ {
			k := len(steps)
			steps = append(steps, store.StepSpec{Name: stepName(k), DependsOn: []string{stepName(fork)}})
			mids = append(mids, stepName(k))
		}
		if len(steps) < n {
			fork = len(steps)
			steps = append(steps, store.StepSpec{Name: stepName(fork), DependsOn: mids})
		}
	}
	return steps
}

// layered returns n steps in layers of width w: step (l, c) depends on (l-1, c)
// and (l-1, (c+1) mod w). Walked level by level, each claim round has w ready steps.
func layered(n, w int) []store.StepSpec {
	steps := make([]store.StepSpec, n)
	for k := range steps {
		l, c := k/w, k%w
		st := store.StepSpec{Name: stepName(k)}
		if l > 0 {
			st.DependsOn = []string{stepName((l-1)*w + c)}
			if w > 1 {
				st.DependsOn = append(st.DependsOn, stepName((l-1)*w+(c+1)%w))
			}
		}
		steps[k] = st
	}
	return steps
}

// independent returns n root steps that may be retried (practically) forever, so a
// benchmark can cycle them pending → in_progress → error → pending.
func independent(n int) []store.StepSpec {
	limit := int32(1 << 30)
	steps := make([]store.StepSpec, n)
	for i := range steps {
		steps[i] = store.StepSpec{Name: stepName(i), RetryLimit: &limit}
	}
	return steps
}

func (e *env) createTask(b *testing.B, name string, steps []store.StepSpec) store.CreatedTask {
	b.Helper()
	ct, err := e.store.CreateTask(context.Background(), store.TaskSpec{Name: name, Namespace: "bench",
		Context: []byte(`{"bench": true}`), Steps: steps})
	must(b, err)
	return ct
}

// run returns the updates that take step pending → in_progress → complete.
func run(id int64) []store.StepTransition {
	return []store.StepTransition{{StepID: id, To: state.InProgress}, {StepID: id, To: state.Complete,
		Results: []byte(`{"ok":true}`)}}
}

// The 10-step task of the at-scale population:
//
//	a → b, c, d;  b, c → e;  c, d → f;  e, f → g;  g → h, i;  h, i → j
var tenSteps = []store.StepSpec{
	{Name: "a"},
	{Name: "b", DependsOn: []string{"a"}},
	{Name: "c", DependsOn: []string{"a"}},
	{Name: "d", DependsOn: []string{"a"}},
	{Name: "e", DependsOn: []string{"b", "c"}},
	{Name: "f", DependsOn: []string{"c", "d"}},
	{Name: "g", DependsOn: []string{"e", "f"}},
	{Name: "h", DependsOn: []string{"g"}},
	{Name: "i", DependsOn: []string{"g"}},
	{Name: "j", DependsOn: []string{"h", "i"}},
}

// mixedUpdates returns the updates that put task number i of the population in one
// of ten situations, so readiness and context meet every reason:
//
//	0, 1  untouched: a ready
//	2, 3  a complete, b in progress: c, d ready
//	4     a–d complete, e in progress: f ready
//	5     a failed, server asked for a 1 h backoff: backoff
//	6     b failed permanently, the rest it does not block done: blocked_by_failures
//	7, 8  every step complete (the task is finalized complete)
//	9     a–g complete, h in progress: i ready
func mixedUpdates(i int, ids map[string]int64) []store.StepTransition {
	var u []store.StepTransition
	done := func(names ...string) {
		for _, n := range names {
			u = append(u, run(ids[n])...)
		}
	}
	start := func(n string) { u = append(u, store.StepTransition{StepID: ids[n], To: state.InProgress}) }
	fail := func(n string, permanent bool) {
		start(n)
		hour := int32(3600)
		u = append(u, store.StepTransition{StepID: ids[n], To: state.Error, Results: []byte(`{"error":"bench"}`),
			BackoffRequestSeconds: &hour, Permanent: permanent})
	}
	switch i % 10 {
	case 2, 3:
		done("a")
		start("b")
	case 4:
		done("a", "b", "c", "d")
		start("e")
	case 5:
		fail("a", false)
	case 6:
		done("a")
		fail("b", true)
		done("c", "d", "f")
	case 7, 8:
		done("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
	case 9:
		done("a", "b", "c", "d", "e", "f", "g")
		start("h")
	}
	return u
}

// population is a schema that grows: grow(n) adds tasks of tenSteps in mixed states
// until n exist.
type population struct {
	*env
	taskIDs []int64
}

// grow creates tasks (createWorkers at a time) until n exist, applies mixedUpdates
// through BatchTransitionSteps in chunks of about 2,000 updates, refreshes
// statistics, finalizes the tasks (task state, ready_at) and refreshes statistics
// again. It logs how long that took.
func (p *population) grow(b *testing.B, n int) {
	b.Helper()
	ctx := context.Background()
	start := time.Now()
	first := len(p.taskIDs)
	if n <= first {
		return
	}
	created := make([]store.CreatedTask, n-first)
	const createWorkers = 4
	var wg sync.WaitGroup
	errc := make(chan error, createWorkers)
	for w := 0; w < createWorkers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < len(created); i += createWorkers {
				ct, err := p.store.CreateTask(ctx, store.TaskSpec{Name: "bench_ten", Namespace: "bench",
					Context: []byte(`{"order_id": ` + strconv.Itoa(first+i) + `}`), Steps: tenSteps})
				if err != nil {
					errc <- err
					return
				}
				created[i] = ct
			}
		}(w)
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		b.Fatal(err)
	}
	createdIn := time.Since(start)

	var batch []store.StepTransition
	flush := func() {
		if len(batch) == 0 {
			return
		}
		outs, err := p.store.BatchTransitionSteps(ctx, batch)
		must(b, err)
		for _, o := range outs {
			if o.Status != store.OutcomeApplied {
				b.Fatalf("set-up update %s: %v", o, o.Err)
			}
		}
		batch = batch[:0]
	}
	newIDs := make([]int64, len(created))
	for i, ct := range created {
		newIDs[i] = ct.TaskID
		batch = append(batch, mixedUpdates(first+i, ct.StepIDs)...)
		if len(batch) >= 2000 {
			flush()
		}
	}
	flush()
	statesIn := time.Since(start) - createdIn
	// Statistics first: finalizing hundreds of tasks the statistics have never
	// seen is slow (see analyze).
	p.analyze(b)
	for lo := 0; lo < len(newIDs); lo += 500 {
		hi := min(lo+500, len(newIDs))
		must(b, pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
			_, err := p.store.FinalizeTasksTx(ctx, tx, newIDs[lo:hi])
			return err
		}))
	}
	p.taskIDs = append(p.taskIDs, newIDs...)
	p.analyze(b)
	b.Logf("population: %d tasks × %d steps (created %d in %v, states in %v, finalize and ANALYZE in %v)",
		len(p.taskIDs), len(tenSteps), len(created), createdIn.Round(time.Millisecond),
		statesIn.Round(time.Millisecond), (time.Since(start) - createdIn - statesIn).Round(time.Millisecond))
}

// window returns k task ids starting at i (wrapping), so successive iterations ask
// about different tasks.
func window(ids []int64, i, k int) []int64 {
	out := make([]int64, k)
	for j := range out {
		out[j] = ids[(i*k+j)%len(ids)]
	}
	return out
}

func sizeLabel(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}
