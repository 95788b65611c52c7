package events

import (
	"sync"
	"sync/atomic"
	"time"
)

// Overflow policies of a full Publisher buffer (events.overflow).
const (
	DropOldest = "drop_oldest"
	DropNewest = "drop_newest"
)

// Event is what a Publisher carries: a name, its payload, when it was published.
type Event struct {
	Name          string
	TaskID        int64
	CorrelationID string
	Payload       any
	PublishedAt   time.Time
}

// Sink receives delivered batches. An error counts the batch as failed (it is not
// retried: the durable outbox is where retries come from).
type Sink func(batch []Event) error

// PublisherConfig is the events.* group.
type PublisherConfig struct {
	BufferSize    int           // events held before the overflow policy applies
	BatchSize     int           // events per delivery
	FlushInterval time.Duration // longest wait before a partial batch is delivered
	Overflow      string        // DropOldest or DropNewest
	OnOverflow    func(dropped Event)
}

// Metrics are a Publisher's counters.
type Metrics struct {
	Published       uint64        `json:"published"`
	Delivered       uint64        `json:"delivered"`
	Dropped         uint64        `json:"dropped"`
	Failed          uint64        `json:"failed"`
	Batches         uint64        `json:"batches"`
	MaxLatency      time.Duration `json:"max_latency_ns"`
	AverageLatency  time.Duration `json:"average_latency_ns"`
	BufferedNow     int           `json:"buffered_now"`
	OverflowApplied string        `json:"overflow"`
}

// Publisher buffers events in memory and delivers them to a Sink in batches of
// BatchSize or every FlushInterval, whichever comes first. Publish never blocks:
// when the buffer is full the overflow policy drops the oldest or the newest
// event, counts it and calls OnOverflow.
type Publisher struct {
	cfg  PublisherConfig
	sink Sink

	mu     sync.Mutex
	buf    []Event
	wake   chan struct{}
	stop   chan struct{}
	done   chan struct{}
	closed bool

	published, delivered, dropped, failed, batches atomic.Uint64
	latencySum, latencyMax, latencyN               atomic.Int64
}

// NewPublisher starts a publisher delivering to sink.
func NewPublisher(cfg PublisherConfig, sink Sink) *Publisher {
	if cfg.BufferSize < 1 {
		cfg.BufferSize = 1
	}
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 1
	}
	if cfg.Overflow != DropNewest {
		cfg.Overflow = DropOldest
	}
	p := &Publisher{cfg: cfg, sink: sink, wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go p.loop()
	return p
}

// Publish queues an event without blocking. It returns false when the event (or,
// under drop_oldest, an older one) was dropped.
func (p *Publisher) Publish(e Event) bool {
	if e.PublishedAt.IsZero() {
		e.PublishedAt = time.Now()
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.dropped.Add(1)
		return false
	}
	p.published.Add(1)
	var lost *Event
	if len(p.buf) >= p.cfg.BufferSize {
		if p.cfg.Overflow == DropNewest {
			lost = &e
		} else {
			first := p.buf[0]
			lost = &first
			p.buf = append(p.buf[1:], e)
		}
	} else {
		p.buf = append(p.buf, e)
	}
	full := len(p.buf) >= p.cfg.BatchSize
	p.mu.Unlock()
	if lost != nil {
		p.dropped.Add(1)
		if p.cfg.OnOverflow != nil {
			p.cfg.OnOverflow(*lost)
		}
	}
	if full {
		select {
		case p.wake <- struct{}{}:
		default:
		}
	}
	return lost == nil
}

func (p *Publisher) loop() {
	defer close(p.done)
	tick := time.NewTicker(p.cfg.FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-p.wake:
		case <-tick.C:
		case <-p.stop:
			for p.flush() > 0 {
			}
			return
		}
		for p.flush() >= p.cfg.BatchSize {
		}
	}
}

// flush delivers up to one batch and returns its size.
func (p *Publisher) flush() int {
	p.mu.Lock()
	n := min(len(p.buf), p.cfg.BatchSize)
	batch := append([]Event(nil), p.buf[:n]...)
	p.buf = p.buf[n:]
	p.mu.Unlock()
	if n == 0 {
		return 0
	}
	p.batches.Add(1)
	if err := p.sink(batch); err != nil {
		p.failed.Add(uint64(n))
		return n
	}
	now := time.Now()
	for _, e := range batch {
		lat := int64(now.Sub(e.PublishedAt))
		p.latencySum.Add(lat)
		p.latencyN.Add(1)
		for {
			cur := p.latencyMax.Load()
			if lat <= cur || p.latencyMax.CompareAndSwap(cur, lat) {
				break
			}
		}
	}
	p.delivered.Add(uint64(n))
	return n
}

// Close delivers what is buffered and stops. Publish after Close drops.
func (p *Publisher) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.stop)
	<-p.done
}

// Metrics returns the counters.
func (p *Publisher) Metrics() Metrics {
	p.mu.Lock()
	buffered := len(p.buf)
	p.mu.Unlock()
	m := Metrics{Published: p.published.Load(), Delivered: p.delivered.Load(), Dropped: p.dropped.Load(),
		Failed: p.failed.Load(), Batches: p.batches.Load(), MaxLatency: time.Duration(p.latencyMax.Load()),
		BufferedNow: buffered, OverflowApplied: p.cfg.Overflow}
	if n := p.latencyN.Load(); n > 0 {
		m.AverageLatency = time.Duration(p.latencySum.Load() / n)
	}
	return m
}
