// Package sysevents emits the events a process publishes about itself — the
// system.* health events and the library.warning.* / library.error.* events —
// without storms: a condition with a start and an end (the database out of reach,
// the pool saturated, the system health past a threshold) is edge-triggered, one
// event when it starts and one when it ends, and a change that comes sooner than
// flap_interval after the last one is held back until then (so a flapping
// condition yields at most one event per interval, and its final state is always
// reported); a warning (a deadlock retried, a stale report refused, a recovery,
// dropped events) is rate-limited per kind, the ones held back counted in the next
// one's "suppressed".
//
// An Emitter is owned by an api Client: started when the client opens, stopped
// when it closes. Its monitor goroutine samples the connection pool on an interval
// and, while a worker of the process runs, the system health counts; the store and
// the api call its small hooks from their paths, which only record and return.
package sysevents

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Event names (the catalog, core/events/system_events.yml, describes each).
const (
	WorkerStarted        = "system.worker.started"
	WorkerStopped        = "system.worker.stopped"
	WorkerPresumedDead   = "system.worker.presumed_dead"
	ConnectionLost       = "system.database.connection_lost"
	ConnectionRestored   = "system.database.connection_restored"
	PoolSaturated        = "system.pool.saturated"
	PoolRecovered        = "system.pool.recovered"
	EventsDropped        = "system.events.dropped"
	HealthDegraded       = "system.health.degraded"
	HealthRecovered      = "system.health.recovered"
	DeadlockRetried      = "library.warning.deadlock_retried"
	ReportRefusedStale   = "library.warning.report_refused_stale"
	LeasesRecovered      = "library.warning.leases_recovered"
	ConfigDeprecated     = "library.warning.config_deprecated"
	SubscriberFailed     = "library.error.subscriber_failed"
	TransactionAbandoned = "library.error.transaction_abandoned"
)

// Config is the system_events.* group.
type Config struct {
	Enabled          bool
	CheckInterval    time.Duration    // pool sampling, and flushing what was held back
	PoolThreshold    float64          // connections in use / max at or above which the pool is saturated
	HealthInterval   time.Duration    // system health checks while a worker runs (0: none)
	HealthThresholds map[string]int64 // get_system_health_counts column → count at or above which health is degraded
	FlapInterval     time.Duration    // least time between two changes of one condition
	WarningInterval  time.Duration    // least time between two warnings of one kind
}

// Publish delivers a live-only event to this process's live subscribers.
type Publish func(name string, payload map[string]any)

// Persist writes a durable event to the outbox (delivered live after its commit).
type Persist func(ctx context.Context, name string, payload map[string]any) error

// PoolStat reports the connections in use and the pool's maximum.
type PoolStat func() (inUse, max int32)

// HealthCounts reads get_system_health_counts as column → count.
type HealthCounts func(ctx context.Context) (map[string]int64, error)

// Emitter emits the system events of one client.
type Emitter struct {
	cfg     Config
	publish Publish
	persist Persist
	log     zerolog.Logger
	now     func() time.Time

	mu       sync.Mutex
	edges    map[string]*edge
	limits   map[string]*limiter
	dropped  uint64 // events the live publisher dropped, not yet reported
	policy   string
	workers  map[string]int // worker id → started count, while running
	healthAt time.Time      // last health check

	pool   PoolStat
	health HealthCounts
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

// edge is one condition with a start event and an end event.
type edge struct {
	on, off  string
	emitted  bool // the state subscribers were last told
	current  bool
	since    time.Time // when the current state began
	lastEmit time.Time
	payload  map[string]any // of the current state, while held back
	held     bool
	changes  int // state changes since the last event
}

// limiter rate-limits one warning kind.
type limiter struct {
	last       time.Time
	suppressed int
	lastLoad   map[string]any
}

// New returns an emitter; Start runs its monitor.
func New(cfg Config, publish Publish, persist Persist, log zerolog.Logger) *Emitter {
	return &Emitter{cfg: cfg, publish: publish, persist: persist, log: log, now: time.Now,
		edges: map[string]*edge{}, limits: map[string]*limiter{}, workers: map[string]int{},
		stop: make(chan struct{}), done: make(chan struct{})}
}

// Enabled reports whether the emitter emits anything (system_events.enabled and
// events.enabled).
func (e *Emitter) Enabled() bool { return e != nil && e.cfg.Enabled }

// Start runs the monitor goroutine: every CheckInterval it samples pool (nil: no
// pool checks), flushes held-back events, and, while a worker runs, reads health
// every HealthInterval.
func (e *Emitter) Start(pool PoolStat, health HealthCounts) {
	if e == nil || !e.cfg.Enabled {
		return
	}
	e.pool, e.health = pool, health
	go e.loop()
}

// Stop ends the monitor (idempotent); a worker still announced is not reported
// stopped (the worker says so itself).
func (e *Emitter) Stop() {
	if e == nil {
		return
	}
	e.once.Do(func() {
		close(e.stop)
		if e.cfg.Enabled {
			<-e.done
		}
	})
}

func (e *Emitter) loop() {
	defer close(e.done)
	t := time.NewTicker(e.cfg.CheckInterval)
	defer t.Stop()
	for {
		select {
		case <-e.stop:
			return
		case <-t.C:
			e.Tick(context.Background())
		}
	}
}

// Tick is one round of the monitor (exported for tests that drive it).
func (e *Emitter) Tick(ctx context.Context) {
	if e == nil || !e.cfg.Enabled {
		return
	}
	if e.pool != nil {
		e.checkPool()
	}
	if e.health != nil && e.cfg.HealthInterval > 0 && len(e.cfg.HealthThresholds) > 0 {
		e.mu.Lock()
		due := len(e.workers) > 0 && e.now().Sub(e.healthAt) >= e.cfg.HealthInterval
		if due {
			e.healthAt = e.now()
		}
		e.mu.Unlock()
		if due {
			e.checkHealth(ctx)
		}
	}
	e.flush()
}

// --- edges ---

// setEdge records the state of a condition and emits its start or end event
// when it changed and flap_interval allows; otherwise the change waits for flush.
func (e *Emitter) setEdge(on, off string, state bool, payload map[string]any) {
	if e == nil || !e.cfg.Enabled {
		return
	}
	now := e.now()
	e.mu.Lock()
	ed := e.edges[on]
	if ed == nil {
		ed = &edge{on: on, off: off}
		e.edges[on] = ed
	}
	if ed.current != state {
		ed.current, ed.since = state, now
		ed.changes++
	}
	if state == ed.emitted {
		ed.held, ed.payload = false, nil // back where subscribers think it is: nothing to say yet
		e.mu.Unlock()
		return
	}
	ed.payload, ed.held = payload, true
	name, p, ok := e.releaseEdge(ed, now)
	e.mu.Unlock()
	if ok {
		e.publish(name, p)
	}
}

// releaseEdge emits ed's held change when flap_interval has passed (under mu).
func (e *Emitter) releaseEdge(ed *edge, now time.Time) (string, map[string]any, bool) {
	if !ed.held || (!ed.lastEmit.IsZero() && now.Sub(ed.lastEmit) < e.cfg.FlapInterval) {
		return "", nil, false
	}
	p := map[string]any{}
	for k, v := range ed.payload {
		p[k] = v
	}
	if ed.changes > 1 {
		p["flaps"] = ed.changes - 1 // changes held back since the last event
	}
	ed.emitted, ed.held, ed.payload, ed.changes, ed.lastEmit = ed.current, false, nil, 0, now
	name := ed.off
	if ed.current {
		name = ed.on
	}
	return name, p, true
}

// --- warnings ---

// warn emits a rate-limited warning of one kind (its event name).
func (e *Emitter) warn(name string, payload map[string]any) {
	if e == nil || !e.cfg.Enabled {
		return
	}
	now := e.now()
	e.mu.Lock()
	l := e.limits[name]
	if l == nil {
		l = &limiter{}
		e.limits[name] = l
	}
	if !l.last.IsZero() && now.Sub(l.last) < e.cfg.WarningInterval {
		l.suppressed++
		l.lastLoad = payload
		e.mu.Unlock()
		return
	}
	p := withSuppressed(payload, l.suppressed)
	l.last, l.suppressed, l.lastLoad = now, 0, nil
	e.mu.Unlock()
	e.publish(name, p)
}

func withSuppressed(payload map[string]any, n int) map[string]any {
	p := make(map[string]any, len(payload)+1)
	for k, v := range payload {
		p[k] = v
	}
	p["suppressed"] = n
	return p
}

// flush emits the changes and warnings held back whose interval has passed
// (a suppressed warning tail is summed up in one event of its last payload).
func (e *Emitter) flush() {
	now := e.now()
	type out struct {
		name string
		p    map[string]any
	}
	var outs []out
	e.mu.Lock()
	for _, ed := range e.edges {
		if name, p, ok := e.releaseEdge(ed, now); ok {
			outs = append(outs, out{name, p})
		}
	}
	for name, l := range e.limits {
		if l.suppressed > 0 && now.Sub(l.last) >= e.cfg.WarningInterval {
			// The last one held back stands for them all: it and suppressed-1 before it.
			outs = append(outs, out{name, withSuppressed(l.lastLoad, l.suppressed-1)})
			l.last, l.suppressed, l.lastLoad = now, 0, nil
		}
	}
	if e.dropped > 0 && e.dropReportDue(now) {
		outs = append(outs, out{EventsDropped, e.takeDrops(now)})
	}
	e.mu.Unlock()
	sort.SliceStable(outs, func(i, j int) bool { return outs[i].name < outs[j].name })
	for _, o := range outs {
		e.publish(o.name, o.p)
	}
}

// --- hooks ---

// ConnectionChanged is the store's reachability hook: lost at the first lost
// connection of an outage, restored (with the outage's start) at the first
// success after it.
func (e *Emitter) ConnectionChanged(lost bool, outageStart time.Time, cause error) {
	if e == nil {
		return
	}
	p := map[string]any{"since": timestamp(outageStart)}
	if lost {
		if cause != nil {
			p["error"] = cause.Error()
		}
		e.setEdge(ConnectionLost, ConnectionRestored, true, p)
		return
	}
	p["outage_seconds"] = round3(e.now().Sub(outageStart).Seconds())
	e.setEdge(ConnectionLost, ConnectionRestored, false, p)
}

// TxRetried is the store's hook for a transaction PostgreSQL aborted for a
// deadlock (40P01) or a serialization failure (40001): retried is false when the
// store gave up (its attempts were used up).
func (e *Emitter) TxRetried(sqlstate string, attempt int, retried bool) {
	if e == nil {
		return
	}
	p := map[string]any{"sqlstate": sqlstate, "attempt": attempt}
	if !retried {
		e.warn(TransactionAbandoned, p)
		return
	}
	e.warn(DeadlockRetried, p)
}

// ReportsRefusedStale warns of reports refused because the reporter no longer
// held the step (its lease expired and the step was recovered or ran again).
func (e *Emitter) ReportsRefusedStale(workerID string, stepIDs []int64) {
	if e == nil || len(stepIDs) == 0 {
		return
	}
	e.warn(ReportRefusedStale, map[string]any{"worker_id": workerID, "step_ids": stepIDs, "count": len(stepIDs)})
}

// LeasesRecovered warns that a recovery failed (or cancelled) steps whose lease
// had expired.
func (e *Emitter) LeasesRecovered(recoveredBy string, failed, cancelled int, stepIDs []int64) {
	if e == nil || failed+cancelled == 0 {
		return
	}
	e.warn(LeasesRecovered, map[string]any{"recovered_by": recoveredBy, "steps": failed + cancelled,
		"failed": failed, "cancelled": cancelled, "step_ids": stepIDs})
}

// ConfigDeprecatedValue warns of a configuration value set under a deprecated
// name (one event per name: the limiter is per event kind, so these bypass it).
func (e *Emitter) ConfigDeprecatedValue(key, replacement, source string) {
	if e == nil || !e.cfg.Enabled {
		return
	}
	e.publish(ConfigDeprecated, map[string]any{"key": key, "replacement": replacement, "source": source, "suppressed": 0})
}

// SubscriberPanicked reports a Go subscriber that panicked (rate-limited).
func (e *Emitter) SubscriberPanicked(pattern, event string, panicked any) {
	if e == nil {
		return
	}
	e.warn(SubscriberFailed, map[string]any{"pattern": pattern, "event": event, "panic": describe(panicked)})
}

// Dropped is the live publisher's overflow hook: it only counts (it runs on
// the publishing goroutine); DeliveryRound reports.
func (e *Emitter) Dropped(policy string) {
	if e == nil || !e.cfg.Enabled {
		return
	}
	e.mu.Lock()
	e.dropped++
	e.policy = policy
	e.mu.Unlock()
}

// DeliveryRound runs at each live delivery, when the buffer has just made room:
// drops since the last report are reported when the warning interval allows.
func (e *Emitter) DeliveryRound() {
	if e == nil || !e.cfg.Enabled {
		return
	}
	now := e.now()
	e.mu.Lock()
	if e.dropped == 0 || !e.dropReportDue(now) {
		e.mu.Unlock()
		return
	}
	p := e.takeDrops(now)
	e.mu.Unlock()
	e.publish(EventsDropped, p)
}

func (e *Emitter) dropReportDue(now time.Time) bool {
	l := e.limits[EventsDropped]
	return l == nil || now.Sub(l.last) >= e.cfg.WarningInterval
}

// takeDrops builds the dropped report (under mu).
func (e *Emitter) takeDrops(now time.Time) map[string]any {
	l := e.limits[EventsDropped]
	if l == nil {
		l = &limiter{}
		e.limits[EventsDropped] = l
	}
	p := map[string]any{"dropped": e.dropped, "overflow": e.policy}
	if !l.last.IsZero() {
		p["period_seconds"] = round3(now.Sub(l.last).Seconds())
	}
	e.dropped, l.last = 0, now
	return p
}

// WorkerStarted announces a worker of this process (durable: every subscriber
// sees it) and turns on the health checks while one runs.
func (e *Emitter) WorkerStarted(ctx context.Context, workerID string, details map[string]any) error {
	if e == nil || !e.cfg.Enabled {
		return nil
	}
	e.mu.Lock()
	e.workers[workerID]++
	e.mu.Unlock()
	return e.persist(ctx, WorkerStarted, merge(details, map[string]any{"worker_id": workerID}))
}

// WorkerStopped announces that a worker stopped (durable).
func (e *Emitter) WorkerStopped(ctx context.Context, workerID string, details map[string]any) error {
	if e == nil || !e.cfg.Enabled {
		return nil
	}
	e.mu.Lock()
	if e.workers[workerID]--; e.workers[workerID] <= 0 {
		delete(e.workers, workerID)
	}
	e.mu.Unlock()
	return e.persist(ctx, WorkerStopped, merge(details, map[string]any{"worker_id": workerID}))
}

// --- monitor checks ---

func (e *Emitter) checkPool() {
	inUse, max := e.pool()
	if max <= 0 {
		return
	}
	ratio := float64(inUse) / float64(max)
	p := map[string]any{"in_use": inUse, "max_connections": max, "ratio": round3(ratio), "threshold": e.cfg.PoolThreshold}
	e.setEdge(PoolSaturated, PoolRecovered, ratio >= e.cfg.PoolThreshold, p)
}

func (e *Emitter) checkHealth(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, e.cfg.CheckInterval+5*time.Second)
	defer cancel()
	counts, err := e.health(ctx)
	if err != nil {
		e.log.Debug().Err(err).Msg("system health check failed") // a lost connection has its own event
		return
	}
	var exceeded []string
	watched := map[string]any{}
	for name, limit := range e.cfg.HealthThresholds {
		watched[name] = counts[name]
		if counts[name] >= limit {
			exceeded = append(exceeded, name)
		}
	}
	sort.Strings(exceeded)
	if exceeded == nil {
		exceeded = []string{}
	}
	thresholds := map[string]any{}
	for k, v := range e.cfg.HealthThresholds {
		thresholds[k] = v
	}
	e.setEdge(HealthDegraded, HealthRecovered, len(exceeded) > 0,
		map[string]any{"exceeded": exceeded, "counts": watched, "thresholds": thresholds})
}

// --- helpers ---

func merge(a, b map[string]any) map[string]any {
	out := make(map[string]any, len(a)+len(b))
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

func round3(f float64) float64 { return float64(int64(f*1000+0.5)) / 1000 }

func describe(v any) string {
	if err, ok := v.(error); ok {
		return err.Error()
	}
	return fmt.Sprint(v)
}
