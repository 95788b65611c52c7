package api

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/events"
	"github.com/taskercore/tasker-core/core/logging"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/core/sysevents"
)

// liveHub is a client's in-process event delivery. The store hands it the events
// of each committed transaction (and the live-only ones: before_transition, the
// observability timings); it queues them in a batching events.Publisher (never
// blocking the caller: a full buffer applies events.overflow) whose delivery loop
// fans every batch out to the client's Go subscribers (Client.Subscribe) and to
// the one event stream the FFI reads (open_event_stream / read_event_stream),
// which a Ruby thread drains (TaskerCore::Events::LiveRelay).
//
// The store only does the extra work of returning its events while someone
// listens: a subscriber or an open stream.
type liveHub struct {
	st      *store.Store
	log     zerolog.Logger
	pub     *events.Publisher
	timeout time.Duration      // events.delivery_timeout_ms
	sys     *sysevents.Emitter // set once at open, before anyone subscribes

	mu     sync.Mutex
	subs   []*subscription
	stream *eventStream

	closeOnce        sync.Once
	subscriberErrors atomic.Uint64
	droppedUnlogged  atomic.Uint64
	cfgBuffer        int64
	cfgOverflow      string
}

type subscription struct {
	pattern string
	fn      func(store.Event)
}

// eventStream hands batches to one reader at a time (the FFI relay).
type eventStream struct {
	patterns []string
	batches  chan []store.Event
	closed   chan struct{}
}

func newLiveHub(cfg *config.Config, st *store.Store, log zerolog.Logger) *liveHub {
	h := &liveHub{st: st, log: log.With().Str(logging.Component, "events").Logger(),
		timeout:   time.Duration(cfg.Int("events.delivery_timeout_ms")) * time.Millisecond,
		cfgBuffer: cfg.Int("events.buffer_size"), cfgOverflow: cfg.String("events.overflow")}
	h.pub = events.NewPublisher(events.PublisherConfig{
		BufferSize:    int(cfg.Int("events.buffer_size")),
		BatchSize:     int(cfg.Int("events.batch_size")),
		FlushInterval: time.Duration(cfg.Int("events.flush_interval_ms")) * time.Millisecond,
		Overflow:      cfg.String("events.overflow"),
		OnOverflow:    h.overflowed,
	}, h.deliver)
	return h
}

// publish is the store's live sink: it only queues.
func (h *liveHub) publish(evs []store.Event) {
	now := time.Now()
	for _, e := range evs {
		h.pub.Publish(events.Event{Name: e.Name, TaskID: e.TaskID, CorrelationID: e.CorrelationID, Payload: e, PublishedAt: now})
	}
}

// overflowed runs on the publishing goroutine when the buffer is full: the first
// drop of an episode is logged at once, the rest are summed up at the next
// delivery (and always counted in the metrics).
func (h *liveHub) overflowed(lost events.Event) {
	h.sys.Dropped(h.cfgOverflow)
	if h.droppedUnlogged.Add(1) == 1 {
		h.log.Warn().Int64("buffer_size", h.cfgBuffer).Str("overflow", h.cfgOverflow).Str("event", lost.Name).
			Int64(logging.TaskID, lost.TaskID).Str(logging.CorrelationID, lost.CorrelationID).
			Msg("event buffer full: dropping events (see event_metrics; raise events.buffer_size or subscribe faster)")
	}
}

func (h *liveHub) reportDrops() {
	if n := h.droppedUnlogged.Swap(0); n > 1 {
		h.log.Warn().Uint64("dropped", n).Str("overflow", h.cfgOverflow).Msg("event buffer overflowed: events dropped")
	}
}

// deliver runs on the publisher's goroutine, one batch at a time, in order.
func (h *liveHub) deliver(batch []events.Event) error {
	h.reportDrops()
	h.sys.DeliveryRound() // the buffer has just made room for the report
	evs := make([]store.Event, len(batch))
	for i, e := range batch {
		evs[i] = e.Payload.(store.Event)
	}
	h.mu.Lock()
	subs, stream := h.subs, h.stream
	h.mu.Unlock()
	for _, e := range evs {
		for _, s := range subs {
			if events.Match(s.pattern, e.Name) {
				h.call(s, e)
			}
		}
	}
	if stream == nil {
		return nil
	}
	var mine []store.Event
	for _, e := range evs {
		for _, p := range stream.patterns {
			if events.Match(p, e.Name) {
				mine = append(mine, e)
				break
			}
		}
	}
	if len(mine) == 0 {
		return nil
	}
	t := time.NewTimer(h.timeout)
	defer t.Stop()
	select {
	case stream.batches <- mine:
		return nil
	case <-stream.closed:
		return nil
	case <-t.C:
		h.log.Warn().Int("events", len(mine)).Dur("delivery_timeout", h.timeout).
			Msg("event stream did not take a batch in time: counted as failed")
		return fmt.Errorf("event stream: not read within %s", h.timeout)
	}
}

// call runs a Go subscriber, isolating a panic: it is logged and counted, and the
// other subscribers still get the event.
func (h *liveHub) call(s *subscription, e store.Event) {
	defer func() {
		if r := recover(); r != nil {
			h.subscriberErrors.Add(1)
			h.log.Error().Str("pattern", s.pattern).Str("event", e.Name).Int64(logging.TaskID, e.TaskID).
				Str(logging.CorrelationID, e.CorrelationID).Interface("panic", r).Msg("event subscriber panicked")
			if e.Name != sysevents.SubscriberFailed { // a subscriber that panics on this one too would loop
				h.sys.SubscriberPanicked(s.pattern, e.Name, r)
			}
		}
	}()
	s.fn(e)
}

// refresh installs the store sink while someone listens, and removes it otherwise.
func (h *liveHub) refresh() {
	if len(h.subs) > 0 || h.stream != nil {
		h.st.SetLiveSink(h.publish)
	} else {
		h.st.SetLiveSink(nil)
	}
}

func (h *liveHub) close() { h.closeOnce.Do(h.doClose) }

func (h *liveHub) doClose() {
	h.mu.Lock()
	if h.stream != nil { // its reader is going away: do not wait for it
		close(h.stream.closed)
		h.stream = nil
	}
	h.mu.Unlock()
	h.pub.Close() // the Go subscribers get what is buffered
	h.mu.Lock()
	h.subs = nil
	h.refresh()
	h.mu.Unlock()
	h.reportDrops()
}

// Subscribe registers fn for the client's live events matching pattern ("*",
// "step.*", "task.completed"): every event this process's operations commit, plus
// the live-only ones. fn runs on the publisher's delivery goroutine, in order, in
// batches of events.batch_size or every events.flush_interval_ms; it must return
// promptly (a slow subscriber holds up delivery, and a full buffer drops events
// per events.overflow). A panic is recovered, logged and counted. The returned
// function unsubscribes. Events of other processes come from the durable outbox
// (FetchEvents) instead.
func (c *Client) Subscribe(pattern string, fn func(store.Event)) (func(), error) {
	if c.live == nil {
		return nil, errs.New(errs.Configuration, map[string]any{"key": "events.enabled"}, "events are disabled (events.enabled is false)")
	}
	if !events.ValidPattern(pattern) || fn == nil {
		return nil, errs.New(errs.Validation, map[string]any{"pattern": pattern},
			"subscribe: pattern %q is not \"*\", an event name or a prefix like \"step.*\" (and fn must not be nil)", pattern)
	}
	h := c.live
	s := &subscription{pattern: pattern, fn: fn}
	h.mu.Lock()
	h.subs = append(append([]*subscription(nil), h.subs...), s)
	h.refresh()
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		kept := make([]*subscription, 0, len(h.subs))
		for _, x := range h.subs {
			if x != s {
				kept = append(kept, x)
			}
		}
		h.subs = kept
		h.refresh()
	}, nil
}

// EventMetrics is what event_metrics reports.
type EventMetrics struct {
	Enabled          bool    `json:"enabled"`
	Listening        bool    `json:"listening"` // a subscriber or an open stream: the store hands events over
	Published        uint64  `json:"published"`
	Delivered        uint64  `json:"delivered"`
	Dropped          uint64  `json:"dropped"`
	Failed           uint64  `json:"failed"`
	Batches          uint64  `json:"batches"`
	BufferedNow      int     `json:"buffered_now"`
	BufferSize       int64   `json:"buffer_size"`
	Overflow         string  `json:"overflow"`
	AverageLatencyMS float64 `json:"average_latency_ms"`
	MaxLatencyMS     float64 `json:"max_latency_ms"`
	Subscribers      int     `json:"subscribers"`
	StreamOpen       bool    `json:"stream_open"`
	SubscriberErrors uint64  `json:"subscriber_errors"`
}

// EventMetrics returns the live publisher's counters.
func (c *Client) EventMetrics() EventMetrics {
	h := c.live
	if h == nil {
		return EventMetrics{}
	}
	m := h.pub.Metrics()
	h.mu.Lock()
	subs, open := len(h.subs), h.stream != nil
	h.mu.Unlock()
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return EventMetrics{Enabled: true, Listening: c.store.LiveOn(), Published: m.Published, Delivered: m.Delivered,
		Dropped: m.Dropped, Failed: m.Failed, Batches: m.Batches, BufferedNow: m.BufferedNow, BufferSize: h.cfgBuffer,
		Overflow: m.OverflowApplied, AverageLatencyMS: ms(m.AverageLatency), MaxLatencyMS: ms(m.MaxLatency),
		Subscribers: subs, StreamOpen: open, SubscriberErrors: h.subscriberErrors.Load()}
}

func eventMetrics(_ context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	return c.EventMetrics(), nil
}

func openEventStream(_ context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		Patterns []string `json:"patterns"`
	}{}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if len(r.Patterns) == 0 {
		r.Patterns = []string{"*"}
	}
	for i, p := range r.Patterns {
		if !events.ValidPattern(p) {
			return nil, errs.New(errs.Validation, map[string]any{"field": "patterns", "index": i, "pattern": p},
				"pattern %q is not \"*\", an event name or a prefix like \"step.*\"", p)
		}
	}
	h := c.live
	if h == nil {
		return nil, errs.New(errs.Configuration, map[string]any{"key": "events.enabled"}, "events are disabled (events.enabled is false)")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream != nil {
		return nil, errs.New(errs.Validation, nil, "this client's event stream is already open (close_event_stream first)")
	}
	h.stream = &eventStream{patterns: r.Patterns, batches: make(chan []store.Event), closed: make(chan struct{})}
	h.refresh()
	return map[string]any{"open": true, "patterns": r.Patterns}, nil
}

func closeEventStream(_ context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	h := c.live
	if h == nil {
		return map[string]bool{"closed": false}, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stream == nil {
		return map[string]bool{"closed": false}, nil
	}
	close(h.stream.closed)
	h.stream = nil
	h.refresh()
	return map[string]bool{"closed": true}, nil
}

// streamRead is what read_event_stream returns.
type streamRead struct {
	Events []store.Event `json:"events"`
	Open   bool          `json:"open"`
}

func readEventStream(ctx context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		WaitMS int `json:"wait_ms"`
	}{}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	wait, err := c.eventWait(r.WaitMS)
	if err != nil {
		return nil, err
	}
	h := c.live
	if h == nil {
		return streamRead{Events: []store.Event{}}, nil
	}
	h.mu.Lock()
	stream := h.stream
	h.mu.Unlock()
	if stream == nil {
		return streamRead{Events: []store.Event{}}, nil
	}
	select { // a batch already waiting is taken even when wait is 0
	case b := <-stream.batches:
		return streamRead{Events: b, Open: true}, nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case b := <-stream.batches:
		return streamRead{Events: b, Open: true}, nil
	case <-stream.closed:
		return streamRead{Events: []store.Event{}}, nil
	case <-t.C:
		return streamRead{Events: []store.Event{}, Open: true}, nil
	case <-ctx.Done():
		return streamRead{Events: []store.Event{}, Open: true}, nil
	}
}

// Catalog returns the client's event catalog: the system events, those of
// events.definitions_paths, and the custom events of the templates it registered.
func (c *Client) Catalog() *events.Catalog {
	c.catMu.RLock()
	defer c.catMu.RUnlock()
	return c.catalog
}

func eventCatalog(_ context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	return map[string]any{"events": c.Catalog().Definitions()}, nil
}
