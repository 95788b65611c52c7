package telemetry

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// batcher is the span processor of Tasker Core's tracer provider: it queues
// ended spans and exports them in batches from one goroutine, as the SDK's
// batch span processor does, but it hands a span over by appending it to a
// slice under a mutex instead of sending it on a channel. The SDK's channel wakes
// its export goroutine on every span end (a thread wake-up, with a dozen spans a
// step: most of tracing's cost in BenchmarkTelemetry); this one wakes it once a
// batch is full, on the schedule delay, and on a flush.
type batcher struct {
	exp       sdktrace.SpanExporter
	batchSize int           // telemetry.tracing.batch_size
	queueSize int           // telemetry.tracing.queue_size
	delay     time.Duration // telemetry.tracing.schedule_delay_ms
	timeout   time.Duration // telemetry.tracing.export_timeout_ms

	mu      sync.Mutex
	queue   []sdktrace.ReadOnlySpan
	dropped uint64 // spans dropped on a full queue since the last report

	full     chan struct{} // a batch is ready (capacity 1: one pending wake-up)
	exportMu sync.Mutex    // one export at a time, in order
	stop     chan struct{}
	done     chan struct{}
	stopped  atomic.Bool
	stopOnce sync.Once
}

var _ sdktrace.SpanProcessor = (*batcher)(nil)

func newBatcher(exp sdktrace.SpanExporter, s Settings) *batcher {
	// Settings made in Go rather than from a configuration may leave these zero:
	// the SDK's defaults then (the configuration's defaults are the same).
	or := func(v, def int) int {
		if v > 0 {
			return v
		}
		return def
	}
	orMS := func(v time.Duration, defMS int) time.Duration {
		if v > 0 {
			return v
		}
		return time.Duration(defMS) * time.Millisecond
	}
	b := &batcher{exp: exp, queueSize: or(s.QueueSize, sdktrace.DefaultMaxQueueSize),
		delay: orMS(s.ScheduleDelay, sdktrace.DefaultScheduleDelay), timeout: orMS(s.ExportTimeout, sdktrace.DefaultExportTimeout),
		full: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	b.batchSize = min(or(s.BatchSize, sdktrace.DefaultMaxExportBatchSize), b.queueSize)
	go b.loop()
	return b
}

// OnStart does nothing: spans are queued when they end.
func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

// OnEnd queues a sampled span; on a full queue the span is dropped (and the
// drop reported to the error handler with the next export).
func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if b.stopped.Load() || !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	if len(b.queue) >= b.queueSize {
		b.dropped++
		b.mu.Unlock()
		return
	}
	b.queue = append(b.queue, s)
	ready := len(b.queue) == b.batchSize
	b.mu.Unlock()
	if ready {
		select {
		case b.full <- struct{}{}:
		default:
		}
	}
}

func (b *batcher) loop() {
	defer close(b.done)
	timer := time.NewTimer(b.delay)
	defer timer.Stop()
	for {
		fullOnly := false
		select {
		case <-b.stop:
			return
		case <-timer.C:
		case <-b.full:
			timer.Stop()
			fullOnly = true
		}
		_ = b.exportBatches(context.Background(), fullOnly)
		timer.Reset(b.delay)
	}
}

// export exports the queue, in batches of at most batchSize spans.
func (b *batcher) export(ctx context.Context) error { return b.exportBatches(ctx, false) }

// exportBatches is export; fullOnly, it exports full batches only and leaves
// the rest queued for the schedule (a batch that filled up is sent at once,
// and spans that end while it is exported wait for the next full batch).
func (b *batcher) exportBatches(ctx context.Context, fullOnly bool) error {
	b.exportMu.Lock()
	defer b.exportMu.Unlock()
	var errList []error
	for {
		b.mu.Lock()
		n := min(len(b.queue), b.batchSize)
		if n == 0 || fullOnly && n < b.batchSize {
			b.mu.Unlock()
			break
		}
		batch := make([]sdktrace.ReadOnlySpan, n)
		copy(batch, b.queue)
		rest := copy(b.queue, b.queue[n:])
		clear(b.queue[rest:]) // let the exported spans go
		b.queue = b.queue[:rest]
		dropped := b.dropped
		b.dropped = 0
		b.mu.Unlock()
		if dropped > 0 {
			otel.Handle(fmt.Errorf("tracing: %d spans dropped: the span queue (telemetry.tracing.queue_size) was full", dropped))
		}
		ectx, cancel := context.WithTimeout(ctx, b.timeout)
		err := b.exp.ExportSpans(ectx, batch)
		cancel()
		if err != nil {
			otel.Handle(err)
			errList = append(errList, err)
		}
		if ctx.Err() != nil {
			errList = append(errList, ctx.Err())
			break
		}
	}
	return errors.Join(errList...)
}

// ForceFlush exports every queued span.
func (b *batcher) ForceFlush(ctx context.Context) error {
	return b.export(ctx)
}

// Shutdown stops the export goroutine, exports what is queued and shuts the
// exporter down.
func (b *batcher) Shutdown(ctx context.Context) error {
	var err error
	b.stopOnce.Do(func() {
		b.stopped.Store(true)
		close(b.stop)
		<-b.done
		err = errors.Join(b.export(ctx), b.exp.Shutdown(ctx))
	})
	return err
}
