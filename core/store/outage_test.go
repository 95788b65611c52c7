package store_test

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgcluster"
	"github.com/taskercore/tasker-core/internal/tcpfault"
	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/migrations"
)

// outageLease is the lease of the outage tests: short, so the tests take seconds.
const outageLease = 1.0

// untilOK retries fn like a worker retries after an outage (its pool's first use
// of a connection broken by the outage may fail) and returns its first success.
func untilOK[T any](t *testing.T, what string, fn func() (T, error)) T {
	t.Helper()
	var err error
	for range 20 {
		var v T
		if v, err = fn(); err == nil {
			return v
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.NoError(t, err, what)
	var zero T
	return zero
}

// runOutage: a live holder and a dead one hold a step each with a short lease; the
// database is out of reach for longer than the lease (outage, then restore); a
// peer's recovery right after must not fail the live holder's step, whose report
// then succeeds; one lease period later the dead holder's lease is recovered.
func runOutage(t *testing.T, holderPool, peerPool *pgxpool.Pool, outage, restore func()) {
	ctx := context.Background()
	holder := store.New(holderPool, testPolicy)
	require.NoError(t, holder.SyncRetryPolicy(ctx))
	peer := store.New(peerPool, testPolicy)
	ct := create(t, holder, "outage", step("finished"), step("abandoned"))
	live, err := holder.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "holder", TaskID: ct.TaskID, Limit: 1, LeaseSeconds: outageLease})
	require.NoError(t, err)
	require.Len(t, live, 1)
	dead, err := holder.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "dead", TaskID: ct.TaskID, Limit: 1, LeaseSeconds: outageLease})
	require.NoError(t, err)
	require.Len(t, dead, 1)

	outage()
	time.Sleep(time.Duration(outageLease * float64(2*time.Second))) // both leases run out meanwhile
	_, err = peer.RecoverExpiredLeases(ctx, "peer", 10)
	require.Error(t, err, "the database is out of reach")
	restore()
	back := time.Now()

	rec := untilOK(t, "peer's recovery after the outage", func() (store.ReportResult, error) {
		return peer.RecoverExpiredLeases(ctx, "peer", 10)
	})
	assert.Empty(t, rec.Outcomes, "right after the outage, no holder has had a chance to renew or report")

	// The holder finished during the outage; it reports as soon as it can.
	res := untilOK(t, "holder's report", func() (store.ReportResult, error) {
		return holder.ReportResults(ctx, []store.StepReport{ok("holder", live[0])})
	})
	require.Len(t, res.Outcomes, 1)
	assert.Equal(t, store.OutcomeApplied, res.Outcomes[0].Status, "the holder's late report is accepted: %v", res.Outcomes[0].Err)

	// The dead holder never comes back: one lease period later its step is failed.
	var recovered store.ReportResult
	require.Eventually(t, func() bool {
		recovered, err = peer.RecoverExpiredLeases(ctx, "peer", 10)
		return err == nil && len(recovered.Outcomes) > 0
	}, time.Duration(outageLease*float64(5*time.Second)), 50*time.Millisecond)
	assert.GreaterOrEqual(t, time.Since(back).Seconds(), 0.9*outageLease, "not before one lease period after the outage")
	require.Len(t, recovered.Outcomes, 1)
	assert.Equal(t, dead[0].StepID, recovered.Outcomes[0].StepID)
	assert.Equal(t, state.Error, recovered.Outcomes[0].To)

	trail, err := holder.StepTransitions(ctx, live[0].StepID)
	require.NoError(t, err)
	var got []state.State
	for _, tr := range trail {
		got = append(got, tr.To)
	}
	assert.Equal(t, []state.State{state.Pending, state.InProgress, state.Complete}, got, "the finished step ran once")
}

// The database server is stopped for longer than a lease and started again (a
// throwaway cluster of this test's own).
func TestOutageLongerThanLeaseServerRestart(t *testing.T) {
	t.Parallel()
	c := pgcluster.New(t)
	ctx := context.Background()
	pool := func() *pgxpool.Pool {
		p, err := pgxpool.New(ctx, c.URL())
		require.NoError(t, err)
		t.Cleanup(p.Close)
		return p
	}
	holderPool, peerPool := pool(), pool()
	_, err := migrations.Migrate(ctx, holderPool)
	require.NoError(t, err)
	runOutage(t, holderPool, peerPool, c.Stop, c.Start)
}

// The network between the processes and the database is cut for longer than a
// lease while the server stays up: only the recovering process's own view of the
// outage protects the holder.
func TestOutageLongerThanLeaseNetworkCut(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	_, schema := testdb.SchemaWithName(t, testdb.Options{})
	cfg, err := pgxpool.ParseConfig(testdb.URL(t))
	require.NoError(t, err)
	if strings.HasPrefix(cfg.ConnConfig.Host, "/") {
		t.Skipf("the test database is reached over a unix socket (%s); the network cut needs TCP", cfg.ConnConfig.Host)
	}
	proxy := tcpfault.New(t, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	pool := func() *pgxpool.Pool {
		c := cfg.Copy()
		host, port, err := net.SplitHostPort(proxy.Addr())
		require.NoError(t, err)
		n, err := strconv.Atoi(port)
		require.NoError(t, err)
		c.ConnConfig.Host, c.ConnConfig.Port = host, uint16(n)
		// Every connection goes through the proxy: without sslmode=disable the URL
		// has a fallback (no TLS) to the server's own address, which would
		// reach the server around the cut.
		c.ConnConfig.Fallbacks = nil
		c.ConnConfig.ConnectTimeout = 2 * time.Second
		c.ConnConfig.RuntimeParams["search_path"] = schema
		p, err := pgxpool.NewWithConfig(ctx, c)
		require.NoError(t, err)
		t.Cleanup(p.Close)
		return p
	}
	runOutage(t, pool(), pool(), proxy.Cut, proxy.Restore)
}
