package sysevents

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/events"
)

type sink struct {
	mu  sync.Mutex
	got []string
	p   []map[string]any
}

func (s *sink) publish(name string, p map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got, s.p = append(s.got, name), append(s.p, p)
}

// clocked returns an emitter on a hand-moved clock (no monitor goroutine).
func clocked(cfg Config) (*Emitter, *sink, *time.Time) {
	cfg.Enabled = true
	s := &sink{}
	now := time.Unix(1000, 0)
	e := New(cfg, s.publish, func(context.Context, string, map[string]any) error { return nil }, zerolog.Nop())
	e.now = func() time.Time { return now }
	return e, s, &now
}

// A flapping connection yields at most one event per flap interval, and the
// final state is always reported, with how many changes were held back.
func TestEdgesAreFlapLimitedAndSettle(t *testing.T) {
	e, s, now := clocked(Config{FlapInterval: 5 * time.Second, CheckInterval: time.Second})
	start := *now
	e.ConnectionChanged(true, start, nil)
	for range 10 { // restored, lost, restored... within the interval
		*now = now.Add(100 * time.Millisecond)
		e.ConnectionChanged(false, start, nil)
		*now = now.Add(100 * time.Millisecond)
		e.ConnectionChanged(true, start, nil)
	}
	*now = now.Add(100 * time.Millisecond)
	e.ConnectionChanged(false, start, nil)
	assert.Equal(t, []string{ConnectionLost}, s.got, "changes within the interval are held back")
	e.flush()
	assert.Len(t, s.got, 1, "still within the interval")
	*now = start.Add(6 * time.Second)
	e.flush()
	require.Equal(t, []string{ConnectionLost, ConnectionRestored}, s.got, "the final state, once the interval passed")
	assert.Equal(t, 20, s.p[1]["flaps"])
	e.flush()
	assert.Len(t, s.got, 2, "nothing more to say")

	// Edge-triggered: the same state again is no event.
	*now = now.Add(time.Minute)
	e.setEdge(PoolSaturated, PoolRecovered, false, nil)
	assert.Len(t, s.got, 2, "a pool that was never saturated does not recover")
	e.setEdge(PoolSaturated, PoolRecovered, true, map[string]any{"ratio": 1.0})
	e.setEdge(PoolSaturated, PoolRecovered, true, map[string]any{"ratio": 1.0})
	assert.Equal(t, []string{ConnectionLost, ConnectionRestored, PoolSaturated}, s.got)
}

// Warnings of one kind are rate-limited; the tail held back is summed up.
func TestWarningsAreRateLimited(t *testing.T) {
	e, s, now := clocked(Config{WarningInterval: 10 * time.Second, CheckInterval: time.Second})
	for range 50 {
		e.TxRetried("40P01", 1, true)
		*now = now.Add(10 * time.Millisecond)
	}
	e.ReportsRefusedStale("w", []int64{1})
	assert.Equal(t, []string{DeadlockRetried, ReportRefusedStale}, s.got, "one of each kind")
	assert.Equal(t, 0, s.p[0]["suppressed"])
	*now = now.Add(10 * time.Second)
	e.flush()
	require.Equal(t, []string{DeadlockRetried, ReportRefusedStale, DeadlockRetried}, s.got)
	assert.Equal(t, 48, s.p[2]["suppressed"], "the last held back stands for the 49")
	// Drops: counted on the publishing goroutine, reported at a delivery.
	for range 7 {
		e.Dropped(events.DropNewest)
	}
	e.DeliveryRound()
	require.Equal(t, EventsDropped, s.got[len(s.got)-1])
	assert.EqualValues(t, 7, s.p[len(s.p)-1]["dropped"])
	e.Dropped(events.DropNewest)
	e.DeliveryRound()
	assert.Equal(t, 4, len(s.got), "the next report waits for the interval")
	*now = now.Add(11 * time.Second)
	e.DeliveryRound()
	assert.EqualValues(t, 1, s.p[len(s.p)-1]["dropped"])
}

// Every event this package emits is in the catalog.
func TestNamesAreInTheCatalog(t *testing.T) {
	c, err := events.System()
	require.NoError(t, err)
	for _, n := range []string{WorkerStarted, WorkerStopped, WorkerPresumedDead, ConnectionLost, ConnectionRestored,
		PoolSaturated, PoolRecovered, EventsDropped, HealthDegraded, HealthRecovered, DeadlockRetried,
		ReportRefusedStale, LeasesRecovered, ConfigDeprecated, SubscriberFailed, TransactionAbandoned} {
		d, ok := c.Lookup(n)
		if assert.True(t, ok, n) {
			assert.NotEqual(t, "worker", d.Delivery, n)
		}
	}
}
