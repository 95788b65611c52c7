package events

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type recorder struct {
	mu      sync.Mutex
	batches [][]Event
	fail    bool
	block   chan struct{}
}

func (r *recorder) sink(b []Event) error {
	if r.block != nil {
		<-r.block
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, b)
	if r.fail {
		return errors.New("sink down")
	}
	return nil
}

func (r *recorder) sizes() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []int
	for _, b := range r.batches {
		out = append(out, len(b))
	}
	return out
}

func TestFlushBySize(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	p := NewPublisher(PublisherConfig{BufferSize: 100, BatchSize: 5, FlushInterval: time.Hour}, r.sink)
	defer p.Close()
	for i := 0; i < 10; i++ {
		require.True(t, p.Publish(Event{Name: "step.completed"}))
	}
	require.Eventually(t, func() bool { return len(r.sizes()) == 2 }, 5*time.Second, time.Millisecond,
		"two full batches without waiting for the (hour-long) flush interval")
	assert.Equal(t, []int{5, 5}, r.sizes())
	assert.Equal(t, uint64(10), p.Metrics().Delivered)
}

func TestFlushByTime(t *testing.T) {
	t.Parallel()
	r := &recorder{}
	p := NewPublisher(PublisherConfig{BufferSize: 100, BatchSize: 50, FlushInterval: 20 * time.Millisecond}, r.sink)
	defer p.Close()
	p.Publish(Event{Name: "task.completed"})
	p.Publish(Event{Name: "task.failed"})
	require.Eventually(t, func() bool { return len(r.sizes()) == 1 }, 5*time.Second, time.Millisecond,
		"a partial batch goes out after the flush interval")
	assert.Equal(t, []int{2}, r.sizes())
	m := p.Metrics()
	assert.Equal(t, uint64(2), m.Delivered)
	assert.Greater(t, m.MaxLatency, time.Duration(0))
}

func TestOverflowDropsAndCounts(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{DropOldest, DropNewest} {
		r := &recorder{block: make(chan struct{})}
		var overflowed []string
		var mu sync.Mutex
		p := NewPublisher(PublisherConfig{BufferSize: 3, BatchSize: 1, FlushInterval: time.Hour, Overflow: policy,
			OnOverflow: func(e Event) { mu.Lock(); overflowed = append(overflowed, e.Name); mu.Unlock() }}, r.sink)
		// The first event is taken by the (blocked) sink; three more fill the buffer.
		p.Publish(Event{Name: "e0"})
		require.Eventually(t, func() bool { return p.Metrics().BufferedNow == 0 }, 5*time.Second, time.Millisecond)
		start := time.Now()
		for _, n := range []string{"e1", "e2", "e3", "e4", "e5"} {
			p.Publish(Event{Name: n})
		}
		assert.Less(t, time.Since(start), time.Second, "Publish never blocks, even with the sink stuck")
		m := p.Metrics()
		assert.Equal(t, uint64(2), m.Dropped, policy)
		assert.Equal(t, policy, m.OverflowApplied)
		mu.Lock()
		if policy == DropOldest {
			assert.Equal(t, []string{"e1", "e2"}, overflowed)
		} else {
			assert.Equal(t, []string{"e4", "e5"}, overflowed)
		}
		mu.Unlock()
		close(r.block)
		p.Close()
		var names []string
		for _, b := range r.batches {
			for _, e := range b {
				names = append(names, e.Name)
			}
		}
		if policy == DropOldest {
			assert.Equal(t, []string{"e0", "e3", "e4", "e5"}, names)
		} else {
			assert.Equal(t, []string{"e0", "e1", "e2", "e3"}, names)
		}
	}
}

func TestFailedDeliveriesAreCounted(t *testing.T) {
	t.Parallel()
	r := &recorder{fail: true}
	p := NewPublisher(PublisherConfig{BufferSize: 10, BatchSize: 2, FlushInterval: time.Millisecond}, r.sink)
	p.Publish(Event{Name: "a"})
	p.Publish(Event{Name: "b"})
	p.Close()
	m := p.Metrics()
	assert.Equal(t, uint64(2), m.Failed)
	assert.Equal(t, uint64(0), m.Delivered)
	assert.False(t, p.Publish(Event{Name: "late"}), "publishing after Close drops")
}
