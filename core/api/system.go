package api

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/core/sysevents"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// A client's system events (package sysevents): its emitter is made and hooked
// into the store when the client opens, its monitor runs until Close. Live-only
// ones go to this process's live subscribers; durable ones (workers started,
// stopped, presumed dead; deprecated configuration) to the outbox's system
// stream, for every subscriber of every process.

// healthColumns are the counts system_events.health_thresholds may name.
var healthColumns = func() map[string]bool {
	m := map[string]bool{}
	t := reflect.TypeOf(sqlfuncs.SystemHealth{})
	for i := 0; i < t.NumField(); i++ {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" {
			m[name] = true
		}
	}
	return m
}()

func systemEventsConfig(cfg *config.Config) (sysevents.Config, error) {
	ms := func(key string) time.Duration { return time.Duration(cfg.Int(key)) * time.Millisecond }
	thresholds := cfg.IntMap("system_events.health_thresholds")
	for name, n := range thresholds {
		if !healthColumns[name] || n < 0 {
			return sysevents.Config{}, errs.New(errs.Configuration,
				map[string]any{"key": "system_events.health_thresholds", "name": name},
				"configuration: system_events.health_thresholds: %q is not a count of get_system_health_counts "+
					"(or its threshold is negative)", name)
		}
	}
	return sysevents.Config{
		Enabled:          cfg.Bool("system_events.enabled") && cfg.Bool("events.enabled"),
		CheckInterval:    ms("system_events.check_interval_ms"),
		PoolThreshold:    cfg.Float("system_events.pool_saturation_threshold"),
		HealthInterval:   time.Duration(cfg.Float("system_events.health_check_interval_seconds") * float64(time.Second)),
		HealthThresholds: thresholds,
		FlapInterval:     ms("system_events.flap_interval_ms"),
		WarningInterval:  ms("system_events.warning_interval_ms"),
	}, nil
}

// startSystemEvents makes the client's emitter, hooks it into the store and the
// live hub, and starts its monitor.
func (c *Client) startSystemEvents(scfg sysevents.Config) {
	c.sys = sysevents.New(scfg, c.publishSystem, c.store.PublishSystemEvent, c.log)
	c.store.SetHooks(store.Hooks{ConnectionChanged: c.sys.ConnectionChanged, TxAborted: c.sys.TxRetried})
	if c.live != nil {
		c.live.sys = c.sys
	}
	pool := c.store.Pool()
	c.sys.Start(func() (int32, int32) {
		st := pool.Stat()
		return st.AcquiredConns(), st.MaxConns()
	}, func(ctx context.Context) (map[string]int64, error) {
		h, err := sqlfuncs.SystemHealthCounts(ctx, pool)
		if err != nil {
			return nil, err
		}
		b, _ := json.Marshal(h)
		counts := map[string]int64{}
		err = json.Unmarshal(b, &counts)
		return counts, err
	})
}

// publishSystem hands a live-only system event to the live hub (when someone listens).
func (c *Client) publishSystem(name string, payload map[string]any) {
	if c.live == nil || !c.store.LiveOn() {
		return
	}
	b, err := json.Marshal(payload)
	if err != nil {
		b = []byte(`{}`)
	}
	c.live.publish([]store.Event{{Name: name, Payload: b, CreatedAt: time.Now().UTC()}})
}

// reportDeprecations writes library.warning.config_deprecated for each value the
// configuration took under a deprecated name (durable: the client has just
// opened, before anyone in this process could subscribe).
func (c *Client) reportDeprecations(ctx context.Context) {
	for _, d := range c.cfg.Deprecations() {
		c.log.Warn().Str("key", d.Key).Str("replacement", d.Replacement).Str("source", d.Source).
			Msg("configuration: deprecated key (applied to its replacement)")
		if !c.sys.Enabled() {
			continue
		}
		if err := c.store.PublishSystemEvent(ctx, "library.warning.config_deprecated",
			map[string]any{"key": d.Key, "replacement": d.Replacement, "source": d.Source, "suppressed": 0}); err != nil {
			c.log.Warn().Err(err).Str("key", d.Key).Msg("could not publish library.warning.config_deprecated")
		}
	}
}

// staleRefusals are the steps of rejected reports whose reporter no longer held
// the step (another holder, or another attempt), by reporting worker.
func staleRefusals(reports []store.StepReport, res store.ReportResult) map[string][]int64 {
	out := map[string][]int64{}
	for _, o := range res.Outcomes {
		if o.Status != store.OutcomeRejected || o.Index < 0 || o.Index >= len(reports) {
			continue
		}
		d := errs.DetailsOf(o.Err)
		_, holder := d["claimed_by"]
		_, attempt := d["current_attempt"]
		if holder || attempt {
			w := reports[o.Index].WorkerID
			out[w] = append(out[w], o.StepID)
		}
	}
	return out
}

func (c *Client) warnStale(reports []store.StepReport, res store.ReportResult) {
	for w, ids := range staleRefusals(reports, res) {
		c.sys.ReportsRefusedStale(w, ids)
	}
}

func (c *Client) warnRecovered(recoveredBy string, res store.ReportResult) {
	var failed, cancelled int
	var ids []int64
	for _, o := range res.Outcomes {
		if o.Status != store.OutcomeApplied {
			continue
		}
		switch o.To {
		case "error":
			failed++
		case "cancelled":
			cancelled++
		}
		ids = append(ids, o.StepID)
	}
	c.sys.LeasesRecovered(recoveredBy, failed, cancelled, ids)
}

// announceWorker is announce_worker: a worker of this process says it started or
// stopped (system.worker.started / stopped, durable); while one runs, the
// client's monitor checks the system health.
func announceWorker(ctx context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		WorkerID string         `json:"worker_id"`
		State    string         `json:"state"`
		Details  map[string]any `json:"details"`
	}{}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := CheckText("worker_id", r.WorkerID, WidthWorkerID, true); err != nil {
		return nil, err
	}
	details := map[string]any{}
	for k, v := range r.Details {
		switch k {
		case "pid", "hostname", "concurrency", "namespaces", "stats":
			details[k] = v
		default:
			return nil, errs.New(errs.Validation, map[string]any{"field": "details." + k},
				"announce_worker: details.%s is not a known detail (pid, hostname, concurrency, namespaces, stats)", k)
		}
	}
	var err error
	switch r.State {
	case "started":
		err = c.sys.WorkerStarted(ctx, r.WorkerID, details)
	case "stopped":
		err = c.sys.WorkerStopped(ctx, r.WorkerID, details)
	default:
		return nil, errs.New(errs.Validation, map[string]any{"field": "state"},
			"announce_worker: state must be \"started\" or \"stopped\", got %q", r.State)
	}
	if err != nil {
		return nil, err
	}
	return map[string]any{"announced": c.sys.Enabled(), "state": r.State}, nil
}
