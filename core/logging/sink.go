package logging

import (
	"bytes"
	"sync"
	"sync/atomic"
)

// DefaultBufferLines is the host sink's capacity before a client configures it
// (logging.buffer_lines).
const DefaultBufferLines = 1000

// Sink holds log lines for a host program to collect (logging.output "host"):
// the C API hands them to the Ruby gem in the envelopes of its calls, and the
// gem writes them to its logger (Rails.logger under Rails). It is bounded: when
// full, the oldest line is dropped and counted, so logging never blocks or
// grows without end. Each Write is one zerolog line.
type Sink struct {
	mu       sync.Mutex
	lines    [][]byte // a ring of capacity cap(lines)
	start    int
	size     int
	capacity int
	dropped  uint64
	pending  atomic.Int64 // size, read without the lock: a drain with nothing to take costs one load
}

// NewSink returns a sink holding at most capacity lines.
func NewSink(capacity int) *Sink {
	s := &Sink{}
	s.SetCapacity(capacity)
	return s
}

// SetCapacity changes how many lines the sink holds (at least 1), keeping the
// newest ones.
func (s *Sink) SetCapacity(capacity int) {
	if capacity < 1 {
		capacity = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if capacity == s.capacity {
		return
	}
	kept := s.takeLocked()
	if len(kept) > capacity {
		s.dropped += uint64(len(kept) - capacity)
		kept = kept[len(kept)-capacity:]
	}
	s.capacity = capacity
	s.lines = make([][]byte, capacity)
	for _, l := range kept {
		s.pushLocked(l)
	}
}

// Write stores one line (a copy, without its trailing newline).
func (s *Sink) Write(p []byte) (int, error) {
	line := bytes.TrimRight(p, "\n")
	if len(line) == 0 {
		return len(p), nil
	}
	cp := append([]byte(nil), line...)
	s.mu.Lock()
	s.pushLocked(cp)
	s.mu.Unlock()
	return len(p), nil
}

// Pending reports whether lines (or drops) wait to be drained.
func (s *Sink) Pending() bool { return s.pending.Load() > 0 }

// Drain takes the lines held, oldest first, and the number dropped since the
// last drain.
func (s *Sink) Drain() (lines [][]byte, dropped uint64) {
	if !s.Pending() {
		return nil, 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	lines, dropped = s.takeLocked(), s.dropped
	s.dropped = 0
	s.pending.Store(0)
	return lines, dropped
}

func (s *Sink) pushLocked(line []byte) {
	if s.size == s.capacity {
		s.lines[s.start] = nil
		s.start = (s.start + 1) % s.capacity
		s.size--
		s.dropped++
	}
	s.lines[(s.start+s.size)%s.capacity] = line
	s.size++
	s.pending.Store(int64(s.size) + int64(s.dropped))
}

func (s *Sink) takeLocked() [][]byte {
	out := make([][]byte, 0, s.size)
	for i := 0; i < s.size; i++ {
		idx := (s.start + i) % s.capacity
		out = append(out, s.lines[idx])
		s.lines[idx] = nil
	}
	s.start, s.size = 0, 0
	return out
}

var (
	host         = NewSink(DefaultBufferLines)
	hostAttached atomic.Bool
)

// Host is the process's host sink (logging.output "host").
func Host() *Sink { return host }

// AttachHost says that a host program collects the host sink's lines (the C
// API does, for the Ruby gem). Before it, and after DetachHost,
// logging.output "host" writes to stderr.
func AttachHost() { hostAttached.Store(true) }

// DetachHost undoes AttachHost (tests).
func DetachHost() { hostAttached.Store(false) }

// HostAttached reports whether a host program collects the host sink's lines.
func HostAttached() bool { return hostAttached.Load() }
