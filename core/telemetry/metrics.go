package telemetry

import (
	"bytes"
	"context"
	"regexp"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"
)

// Namespace of every metric name.
const metricPrefix = "tasker_"

// MaxNamespaceLabels bounds the namespace label's values: namespaces beyond the
// first this many seen by a process are counted as OtherNamespace, so a
// misbehaving caller cannot grow the registry without end.
const MaxNamespaceLabels = 256

// OtherNamespace is the namespace label of namespaces past MaxNamespaceLabels,
// and of reported steps this process did not claim.
const OtherNamespace = "_other"

// Histogram buckets. Calls are a database round trip or a few (sub-millisecond
// to seconds); steps run handlers (milliseconds to minutes).
var (
	callBuckets = prometheus.ExponentialBuckets(0.0005, 2, 16)  // 0.5 ms … 16 s
	stepBuckets = prometheus.ExponentialBuckets(0.005, 2.5, 14) // 5 ms … ~12 min
)

type metrics struct {
	calls, errors                                                *prometheus.CounterVec
	callDuration                                                 *prometheus.HistogramVec
	tasksCreated, tasksFinished                                  *prometheus.CounterVec
	stepsClaimed, stepsRetried                                   *prometheus.CounterVec
	stepsCompleted, stepsFailed, stepsRecovered                  *prometheus.CounterVec
	stepReports                                                  *prometheus.CounterVec
	stepDuration, handoff                                        *prometheus.HistogramVec
	lastClaim                                                    prometheus.Gauge
	scrapeErrors                                                 prometheus.Counter
	nsMu                                                         sync.Mutex
	namespaces                                                   map[string]struct{}
	attached                                                     bool
	collectors                                                   []prometheus.Collector
	histograms                                                   map[string]bool
	readyTasks, readySteps, oldestReady, workersActive, inFlight *prometheus.Desc
}

func newMetrics(reg *prometheus.Registry) *metrics {
	var all []prometheus.Collector
	histograms := map[string]bool{}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: metricPrefix + name, Help: help}, labels)
		all = append(all, c)
		return c
	}
	histogram := func(name, help string, buckets []float64, labels ...string) *prometheus.HistogramVec {
		h := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: metricPrefix + name, Help: help, Buckets: buckets}, labels)
		all = append(all, h)
		histograms[metricPrefix+name] = true
		return h
	}
	m := &metrics{
		calls:          counter("api_calls_total", "Calls of the C API / JSON API by operation and outcome (ok or error).", "method", "outcome"),
		errors:         counter("errors_total", "Failed calls by error type (validation_error, database_error, timeout_error, ...).", "type"),
		callDuration:   histogram("api_call_duration_seconds", "Latency of one C API call by operation (claim, report, create, ...).", callBuckets, "method"),
		tasksCreated:   counter("tasks_created_total", "Tasks created (an identity-hash repeat is not counted).", "namespace"),
		tasksFinished:  counter("tasks_finished_total", "Tasks that reached complete or error on a report or recovery, or were ended by transition_task.", "state"),
		stepsClaimed:   counter("steps_claimed_total", "Steps handed to a worker by a claim.", "namespace"),
		stepsRetried:   counter("steps_retried_total", "Claims that are a retry (attempt 2 or later).", "namespace"),
		stepsCompleted: counter("steps_completed_total", "Step reports applied as complete.", "namespace"),
		stepsFailed:    counter("steps_failed_total", "Step reports applied as error (retryable or not).", "namespace"),
		stepsRecovered: counter("steps_recovered_total", "Steps whose lease expired and that recovery failed (error) or cancelled.", "state"),
		stepReports:    counter("step_reports_total", "Step reports by status: applied, duplicate or rejected.", "status"),
		stepDuration:   histogram("step_duration_seconds", "Claim to report of a step claimed by this process, by outcome (complete, error, rejected, recovered).", stepBuckets, "namespace", "outcome"),
		handoff:        histogram("handoff_latency_seconds", "How long ready work waited: from the task's ready_at to the claim that took its step.", callBuckets, "namespace"),
		lastClaim: prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + "worker_last_claim_timestamp_seconds",
			Help: "Unix time of this process's last claim call (with or without steps): a polling worker is alive."}),
		scrapeErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: metricPrefix + "scrape_errors_total",
			Help: "Scrapes whose backlog query failed (the backlog gauges are missing from those scrapes)."}),
		namespaces: map[string]struct{}{},
		readyTasks: prometheus.NewDesc(metricPrefix+"ready_tasks", "Tasks with a ready step now, by namespace; computed on scrape.", []string{"namespace"}, nil),
		readySteps: prometheus.NewDesc(metricPrefix+"ready_steps", "Steps ready to run now (the queue depth), by namespace; computed on scrape.", []string{"namespace"}, nil),
		oldestReady: prometheus.NewDesc(metricPrefix+"oldest_ready_seconds",
			"Age of the oldest ready work (now - the earliest ready_at) by namespace; computed on scrape.", []string{"namespace"}, nil),
		workersActive: prometheus.NewDesc(metricPrefix+"workers_active", "Distinct workers holding an unexpired step lease; computed on scrape.", nil, nil),
		inFlight:      prometheus.NewDesc(metricPrefix+"steps_in_progress", "Steps in progress under a lease (all processes); computed on scrape.", nil, nil),
	}
	exportErrs := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: metricPrefix + "trace_export_errors_total",
		Help: "Errors the OpenTelemetry SDK reported in this process (failed span exports)."},
		func() float64 { return float64(ExportErrors()) })
	m.histograms = histograms
	m.register(reg, append(all, m.lastClaim, m.scrapeErrors, exportErrs, collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))...)
	return m
}

// register registers collectors and remembers them for MetricNames.
func (m *metrics) register(reg *prometheus.Registry, cs ...prometheus.Collector) {
	reg.MustRegister(cs...)
	m.collectors = append(m.collectors, cs...)
}

// ns bounds the namespace label.
func (m *metrics) ns(name string) string {
	if name == "" {
		return OtherNamespace
	}
	m.nsMu.Lock()
	defer m.nsMu.Unlock()
	if _, ok := m.namespaces[name]; ok {
		return name
	}
	if len(m.namespaces) >= MaxNamespaceLabels {
		return OtherNamespace
	}
	m.namespaces[name] = struct{}{}
	return name
}

// EventStats are the live event publisher's counters (core/events Publisher).
type EventStats struct {
	Enabled                               bool
	Published, Delivered, Dropped, Failed uint64
	Buffered, BufferSize                  int
}

// NamespaceBacklog is the ready work of one namespace.
type NamespaceBacklog struct {
	Namespace          string
	ReadyTasks         int64
	ReadySteps         int64
	OldestReadySeconds float64
}

// Backlog is what a scrape asks the database (one query).
type Backlog struct {
	Namespaces      []NamespaceBacklog
	ActiveWorkers   int64
	InProgressSteps int64
}

// Sources are where the scrape-time metrics come from.
type Sources struct {
	Pool    *pgxpool.Pool
	Events  func() EventStats
	Backlog func(ctx context.Context) (Backlog, error)
	Info    map[string]string // constant labels of tasker_build_info
}

// Attach registers the scrape-time collectors (pool, events, backlog, build
// info). Call it once, after the pool exists.
func (t *Telemetry) Attach(src Sources) {
	if !t.MetricsEnabled() || t.m.attached {
		return
	}
	t.m.attached = true
	reg := t.reg
	if src.Info != nil {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricPrefix + "build_info",
			Help: "Library and schema version of this process (always 1).", ConstLabels: src.Info})
		g.Set(1)
		t.m.register(reg, g)
	}
	if p := src.Pool; p != nil {
		t.m.register(reg, poolCollector{p})
	}
	if src.Events != nil {
		t.m.register(reg, eventCollector{src.Events})
	}
	if src.Backlog != nil {
		t.m.register(reg, backlogCollector{m: t.m, fetch: src.Backlog, timeout: t.s.ScrapeTimeout})
	}
}

// Text renders the registry in the Prometheus text exposition format (0.0.4).
func (t *Telemetry) Text() ([]byte, error) {
	mfs, err := t.reg.Gather()
	if err != nil && len(mfs) == 0 {
		return nil, err
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			return nil, err
		}
	}
	return buf.Bytes(), nil
}

// MetricNames lists every series name the registry can export (after Attach),
// whether or not it has been observed yet: each collector's descriptors, with
// the _bucket, _sum and _count series of histograms. Dashboards and alert rules
// are checked against it.
func (t *Telemetry) MetricNames() []string {
	if !t.MetricsEnabled() {
		return nil
	}
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range t.m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	var out []string
	for d := range ch {
		m := descName.FindStringSubmatch(d.String())
		if m == nil {
			continue
		}
		out = append(out, m[1])
		if t.m.histograms[m[1]] {
			out = append(out, m[1]+"_bucket", m[1]+"_sum", m[1]+"_count")
		}
	}
	return out
}

// descName reads a descriptor's name from its String form (Desc has no getter).
var descName = regexp.MustCompile(`fqName: "([^"]+)"`)

type poolCollector struct{ p *pgxpool.Pool }

var (
	poolAcquired = prometheus.NewDesc(metricPrefix+"db_pool_acquired_connections", "Connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc(metricPrefix+"db_pool_idle_connections", "Idle connections.", nil, nil)
	poolTotal    = prometheus.NewDesc(metricPrefix+"db_pool_connections", "Open connections (acquired, idle and being opened).", nil, nil)
	poolMax      = prometheus.NewDesc(metricPrefix+"db_pool_max_connections", "Pool size (database.pool.max_connections).", nil, nil)
	poolAcquires = prometheus.NewDesc(metricPrefix+"db_pool_acquires_total", "Successful acquires.", nil, nil)
	poolWaits    = prometheus.NewDesc(metricPrefix+"db_pool_waits_total", "Acquires that had to wait for a connection (the pool was empty).", nil, nil)
	poolWaitSecs = prometheus.NewDesc(metricPrefix+"db_pool_wait_seconds_total", "Time spent waiting in acquires that had to wait.", nil, nil)
	poolCanceled = prometheus.NewDesc(metricPrefix+"db_pool_canceled_acquires_total", "Acquires given up (deadline or cancellation) while waiting.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolAcquired, poolIdle, poolTotal, poolMax, poolAcquires, poolWaits, poolWaitSecs, poolCanceled} {
		ch <- d
	}
}

func (c poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.p.Stat()
	g := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	n := func(d *prometheus.Desc, v float64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, v)
	}
	g(poolAcquired, float64(s.AcquiredConns()))
	g(poolIdle, float64(s.IdleConns()))
	g(poolTotal, float64(s.TotalConns()))
	g(poolMax, float64(s.MaxConns()))
	n(poolAcquires, float64(s.AcquireCount()))
	n(poolWaits, float64(s.EmptyAcquireCount()))
	n(poolWaitSecs, s.EmptyAcquireWaitTime().Seconds())
	n(poolCanceled, float64(s.CanceledAcquireCount()))
}

type eventCollector struct{ f func() EventStats }

var (
	evPublished = prometheus.NewDesc(metricPrefix+"events_published_total", "Events given to the live publisher.", nil, nil)
	evDelivered = prometheus.NewDesc(metricPrefix+"events_delivered_total", "Events delivered to in-process subscribers.", nil, nil)
	evDropped   = prometheus.NewDesc(metricPrefix+"events_dropped_total", "Events dropped by a full publisher buffer (events.overflow).", nil, nil)
	evFailed    = prometheus.NewDesc(metricPrefix+"events_failed_total", "Events whose delivery failed or timed out.", nil, nil)
	evBuffered  = prometheus.NewDesc(metricPrefix+"events_buffered", "Events waiting in the publisher's buffer.", nil, nil)
	evBufSize   = prometheus.NewDesc(metricPrefix+"events_buffer_size", "The publisher's buffer size (events.buffer_size).", nil, nil)
)

func (eventCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{evPublished, evDelivered, evDropped, evFailed, evBuffered, evBufSize} {
		ch <- d
	}
}

func (c eventCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.f()
	n := func(d *prometheus.Desc, v uint64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	n(evPublished, s.Published)
	n(evDelivered, s.Delivered)
	n(evDropped, s.Dropped)
	n(evFailed, s.Failed)
	ch <- prometheus.MustNewConstMetric(evBuffered, prometheus.GaugeValue, float64(s.Buffered))
	ch <- prometheus.MustNewConstMetric(evBufSize, prometheus.GaugeValue, float64(s.BufferSize))
}

type backlogCollector struct {
	m       *metrics
	fetch   func(ctx context.Context) (Backlog, error)
	timeout time.Duration
}

func (c backlogCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.m.readyTasks
	ch <- c.m.readySteps
	ch <- c.m.oldestReady
	ch <- c.m.workersActive
	ch <- c.m.inFlight
}

func (c backlogCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	b, err := c.fetch(ctx)
	if err != nil {
		c.m.scrapeErrors.Inc()
		return
	}
	for _, n := range b.Namespaces {
		ch <- prometheus.MustNewConstMetric(c.m.readyTasks, prometheus.GaugeValue, float64(n.ReadyTasks), n.Namespace)
		ch <- prometheus.MustNewConstMetric(c.m.readySteps, prometheus.GaugeValue, float64(n.ReadySteps), n.Namespace)
		ch <- prometheus.MustNewConstMetric(c.m.oldestReady, prometheus.GaugeValue, n.OldestReadySeconds, n.Namespace)
	}
	ch <- prometheus.MustNewConstMetric(c.m.workersActive, prometheus.GaugeValue, float64(b.ActiveWorkers))
	ch <- prometheus.MustNewConstMetric(c.m.inFlight, prometheus.GaugeValue, float64(b.InProgressSteps))
}
