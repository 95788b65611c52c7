package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgbouncer"
	"github.com/taskercore/tasker-core/internal/pgjson"
)

// The PgBouncer walk: bouncerWalkers goroutines claim bouncerClaim steps a round
// (the Ruby worker's claim size) over bouncerServers server sessions in every
// variant: a direct pool of that many connections (the walkers queue in pgx's
// pool), or one client connection per walker through PgBouncer in transaction
// pooling mode with that default_pool_size (they queue in PgBouncer).
const (
	bouncerWalkers = 4
	bouncerClaim   = 4
	bouncerServers = 2
)

// BenchmarkPgBouncer walks the claim/report path (ReportAndClaim rounds, as in
// BenchmarkWorkflowHeap's claim4 walk, here with 4 concurrent walkers) directly
// and through Debian's PgBouncer in transaction pooling mode, started on a free
// local port for the variant and stopped after it (skipped, saying so, when
// pgbouncer is not installed). Each variant walks a fresh schema of its own, so
// all walk tables of the same size:
//
//	direct_cache_statement    named prepared statements, the default without a pooler
//	direct_cache_describe     unnamed statements, cached descriptions: the
//	                          statement mode's own cost, without PgBouncer
//	pgbouncer_cache_describe  database.pooler transaction with statement_mode auto
//	pgbouncer_exec            statement_mode exec (no description round trip ever)
//
// Server sessions get database.plan_cache_mode's default in every variant (as
// startup parameter directly, PgBouncer's connect_query otherwise). Every step
// must be applied exactly once (the walk fails otherwise). steps/s and
// stmts/step as in BenchmarkWorkflowHeap, and CPU time per step, which depends
// less on the machine's load than steps/s: server-cpu-µs/step of the
// PostgreSQL backends that served the walk (found by application_name in
// pg_stat_activity; read from /proc, so only for a server on this machine),
// bouncer-cpu-µs/step of PgBouncer, client-cpu-µs/step of this process.
func BenchmarkPgBouncer(b *testing.B) {
	tasks := sizes([]int{10}, []int{100})[0]
	logMode(b, strconv.Itoa(tasks)+" tasks × 100 steps per walk; "+strconv.Itoa(bouncerWalkers)+" walkers claiming "+
		strconv.Itoa(bouncerClaim)+" a round over "+strconv.Itoa(bouncerServers)+" server connections")
	defaults := librarySession(b)
	variants := []struct {
		name    string
		bouncer bool
		mode    pgx.QueryExecMode
	}{
		{"direct_cache_statement", false, pgx.QueryExecModeCacheStatement},
		{"direct_cache_describe", false, pgx.QueryExecModeCacheDescribe},
		{"pgbouncer_cache_describe", true, pgx.QueryExecModeCacheDescribe},
		{"pgbouncer_exec", true, pgx.QueryExecModeExec},
	}
	for _, v := range variants {
		b.Run(v.name, func(b *testing.B) {
			// A schema of its own: every variant walks tables of the same size.
			e := newEnv(b, 4)
			cfg, err := pgxpool.ParseConfig(e.url)
			must(b, err)
			cfg.MaxConns = bouncerServers
			bouncerPid := 0
			if v.bouncer {
				bouncer := pgbouncer.Start(b, pgbouncer.Options{Upstream: e.url, PoolSize: bouncerServers,
					ConnectQuery: fmt.Sprintf("SET search_path = %s; SET plan_cache_mode = %s; SET statement_timeout = %s; SET random_page_cost = %s",
						pgx.Identifier{e.schema}.Sanitize(), defaults["plan_cache_mode"], defaults["statement_timeout"], defaults["random_page_cost"])})
				b.Logf("pgbouncer on port %d, pool_mode = transaction, default_pool_size = %d", bouncer.Port(), bouncerServers)
				cfg, err = pgxpool.ParseConfig(bouncer.URL())
				must(b, err)
				cfg.MaxConns = bouncerWalkers
				bouncerPid = bouncer.Pid()
			} else {
				cfg.ConnConfig.RuntimeParams["search_path"] = e.schema
				for k, val := range defaults {
					cfg.ConnConfig.RuntimeParams[k] = val
				}
			}
			cfg.ConnConfig.DefaultQueryExecMode = v.mode
			cfg.AfterConnect = pgjson.AfterConnect // as the library's pool
			cfg.ConnConfig.RuntimeParams["application_name"] = "tasker_bench_" + v.name
			counter := &statementCounter{}
			cfg.ConnConfig.Tracer = counter
			pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
			must(b, err)
			defer pool.Close()
			st := store.New(pool, backoff.Default())
			must(b, st.SyncRetryPolicy(context.Background()))
			e.walkConcurrent(b, st, counter, tasks, "tasker_bench_"+v.name, bouncerPid)
		})
	}
}

// walkConcurrent creates tasks × 100 steps per iteration and walks them with
// bouncerWalkers goroutines, each in ReportAndClaim rounds of bouncerClaim.
// appName names the walk's server sessions; bouncerPid is PgBouncer's process
// (0: none).
func (e *env) walkConcurrent(b *testing.B, st *store.Store, counter *statementCounter, tasks int, appName string, bouncerPid int) {
	ctx := context.Background()
	n := tasks * 100
	var walked, serverCPU, bouncerCPU, clientCPU time.Duration
	var statements int64
	cpuKnown := true
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		for t := 0; t < tasks; t++ {
			e.createTask(b, "bench_pgbouncer", layered(100, 10))
		}
		e.analyze(b)
		counter.N.Store(0)
		serverBefore, ok := e.backendCPU(b, appName)
		cpuKnown = cpuKnown && ok
		bouncerBefore, _ := processCPU(bouncerPid)
		clientBefore := selfCPU()
		b.StartTimer()
		start := time.Now()
		var done atomic.Int64
		var wg sync.WaitGroup
		errc := make(chan error, bouncerWalkers)
		for w := 0; w < bouncerWalkers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				worker := "bench-bouncer-" + strconv.Itoa(w)
				claim := store.ClaimRequest{WorkerID: worker, Limit: bouncerClaim, LeaseSeconds: 300}
				var claimed []store.ClaimedStep
				for {
					reports := make([]store.StepReport, len(claimed))
					for j, c := range claimed {
						reports[j] = store.StepReport{StepID: c.StepID, WorkerID: worker, Success: true, Results: []byte(`{"ok":true}`)}
					}
					res, next, err := st.ReportAndClaim(ctx, reports, claim)
					if err != nil {
						errc <- err
						return
					}
					for _, o := range res.Outcomes {
						if o.Status != store.OutcomeApplied {
							errc <- fmt.Errorf("report: %s: %v", o, o.Err)
							return
						}
					}
					done.Add(int64(len(res.Outcomes)))
					claimed = next
					if len(claimed) == 0 {
						if done.Load() >= int64(n) {
							return
						}
						time.Sleep(time.Millisecond) // the others hold the parents of what is left
					}
				}
			}(w)
		}
		wg.Wait()
		took := time.Since(start)
		b.StopTimer()
		clientCPU += selfCPU() - clientBefore
		bouncerAfter, _ := processCPU(bouncerPid)
		bouncerCPU += bouncerAfter - bouncerBefore
		serverAfter, ok := e.backendCPU(b, appName)
		cpuKnown = cpuKnown && ok
		for pid, t := range serverAfter {
			serverCPU += t - serverBefore[pid] // a session opened during the walk had 0 before it
		}
		close(errc)
		for err := range errc {
			b.Fatal(err)
		}
		if got := done.Load(); got != int64(n) {
			b.Fatalf("applied %d reports for %d steps", got, n)
		}
		walked += took
		statements += counter.N.Load()
		b.StartTimer()
		b.Logf("walked %d steps with %d walkers in %v", n, bouncerWalkers, took.Round(time.Millisecond))
	}
	steps := float64(n * b.N)
	b.ReportMetric(steps/walked.Seconds(), "steps/s")
	b.ReportMetric(float64(statements)/steps, "stmts/step")
	if cpuKnown {
		b.ReportMetric(float64(serverCPU.Microseconds())/steps, "server-cpu-µs/step")
	}
	b.ReportMetric(float64(bouncerCPU.Microseconds())/steps, "bouncer-cpu-µs/step")
	b.ReportMetric(float64(clientCPU.Microseconds())/steps, "client-cpu-µs/step")
}

// backendCPU is the CPU time of the PostgreSQL backends whose application_name
// is appName, by pid; ok is false when one of them cannot be read (a server on
// another machine).
func (e *env) backendCPU(b *testing.B, appName string) (map[int]time.Duration, bool) {
	rows, err := e.pool.Query(context.Background(), `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, appName)
	must(b, err)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	must(b, err)
	out := map[int]time.Duration{}
	for _, pid := range pids {
		t, ok := processCPU(int(pid))
		if !ok {
			return nil, false
		}
		out[int(pid)] = t
	}
	return out, true
}

// clockTicks is the unit of /proc/<pid>/stat's utime and stime (USER_HZ: 100 on
// Linux, whatever the kernel's HZ).
const clockTicks = 100

// processCPU is a process's user and system CPU time from /proc/<pid>/stat.
func processCPU(pid int) (time.Duration, bool) {
	if pid <= 0 {
		return 0, false
	}
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces: fields
	// are counted after its closing one; utime and stime are fields 14 and 15.
	f := strings.Fields(string(raw[bytes.LastIndexByte(raw, ')')+1:]))
	if len(f) < 13 {
		return 0, false
	}
	user, err1 := strconv.ParseInt(f[11], 10, 64)
	sys, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(user+sys) * time.Second / clockTicks, true
}

// selfCPU is this process's user and system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
