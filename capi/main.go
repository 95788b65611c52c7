// Command capi is Tasker Core's C API, built with -buildmode=c-shared into
// libtasker_core.so (make lib). Every export takes and returns JSON C strings and
// returns an envelope (docs/ffi.md); strings it returns are freed by the caller
// with tasker_free_string. This package holds no business logic: it converts C
// strings and handles, recovers panics, and delegates to package core/api.
package main

/*
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
*/
import "C"

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/taskercore/tasker-core/core/api"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/logging"
)

func main() {}

// The library's log lines go to the host program (logging.output "host", the
// default), which collects them from the envelopes.
func init() { logging.AttachHost() }

// Handles name clients without letting a Go pointer cross into C. They are never
// reused, so a freed handle stays invalid.
var (
	handlesMu  sync.RWMutex
	handles    = map[uint64]*api.Client{}
	nextHandle atomic.Uint64
)

func lookup(h C.uint64_t) (*api.Client, error) {
	handlesMu.RLock()
	c, ok := handles[uint64(h)]
	handlesMu.RUnlock()
	if !ok {
		return nil, errs.New(errs.FFI, map[string]any{"handle": uint64(h)},
			"invalid client handle %d (never created, or already freed)", uint64(h))
	}
	return c, nil
}

// result allocates the C string for an envelope: one copy, straight into C
// memory (C.CBytes of append(envelope, 0) copied it twice).
func result(envelope []byte) *C.char {
	p := C.malloc(C.size_t(len(envelope) + 1))
	b := unsafe.Slice((*byte)(p), len(envelope)+1)
	copy(b, envelope)
	b[len(envelope)] = 0
	return (*C.char)(p)
}

// guard runs fn and turns a panic into an internal_error envelope, so a bug in a
// call never takes the host process down.
func guard(name string, fn func() []byte) (out *C.char) {
	defer func() {
		if r := recover(); r != nil {
			out = result(api.Encode(nil, errs.New(errs.Internal, map[string]any{"function": name},
				"internal error in %s: %v", name, r)))
		}
	}()
	return result(fn())
}

// readPayload copies a C string of at most max bytes; a longer one is refused
// without being copied, and NULL is an ffi_error.
func readPayload(p *C.char, max int) ([]byte, error) {
	if p == nil {
		return nil, errs.New(errs.FFI, nil, "payload is a NULL pointer")
	}
	n := int(C.strnlen(p, C.size_t(max+1)))
	if n > max {
		return nil, errs.New(errs.Validation, map[string]any{"max_payload_bytes": max},
			"payload exceeds max_payload_bytes (%d)", max)
	}
	return C.GoBytes(unsafe.Pointer(p), C.int(n)), nil
}

func call(name string, h C.uint64_t, payload *C.char) *C.char {
	return guard(name, func() []byte {
		c, err := lookup(h)
		if err != nil {
			return api.Encode(nil, err)
		}
		raw, err := readPayload(payload, c.MaxPayloadBytes())
		if err != nil {
			return api.Encode(nil, err)
		}
		return c.CallJSON(context.Background(), name, raw)
	})
}

//export tasker_free_string
func tasker_free_string(s *C.char) {
	if s != nil {
		C.free(unsafe.Pointer(s))
	}
}

//export tasker_version
func tasker_version() *C.char {
	return guard("tasker_version", func() []byte { return api.Encode(api.Version(), nil) })
}

//export tasker_noop
func tasker_noop(payload *C.char) *C.char {
	return guard("tasker_noop", func() []byte {
		raw, err := readPayload(payload, api.DefaultMaxPayloadBytes)
		if err != nil {
			return api.Encode(nil, err)
		}
		return api.Encode(map[string]int{"bytes": len(raw)}, nil)
	})
}

//export tasker_client_new
func tasker_client_new(config *C.char) *C.char {
	return guard("tasker_client_new", func() []byte {
		raw, err := readPayload(config, api.DefaultMaxPayloadBytes)
		if err != nil {
			return api.Encode(nil, err)
		}
		c, err := api.Open(context.Background(), raw)
		if err != nil {
			return api.Encode(nil, err)
		}
		api.ApplyHostRuntime(c.Config())
		h := nextHandle.Add(1)
		handlesMu.Lock()
		handles[h] = c
		handlesMu.Unlock()
		return api.Encode(map[string]uint64{"handle": h}, nil)
	})
}

//export tasker_client_free
func tasker_client_free(h C.uint64_t) *C.char {
	return guard("tasker_client_free", func() []byte {
		handlesMu.Lock()
		c, ok := handles[uint64(h)]
		delete(handles, uint64(h))
		handlesMu.Unlock()
		if !ok {
			_, err := lookup(h)
			return api.Encode(nil, err)
		}
		c.Close()
		return api.Encode(map[string]bool{"freed": true}, nil)
	})
}

//export run_migrations
func run_migrations(h C.uint64_t, payload *C.char) *C.char { return call("run_migrations", h, payload) }

//export create_task
func create_task(h C.uint64_t, payload *C.char) *C.char { return call("create_task", h, payload) }

//export get_task_execution_context
func get_task_execution_context(h C.uint64_t, payload *C.char) *C.char {
	return call("get_task_execution_context", h, payload)
}

//export discover_viable_steps
func discover_viable_steps(h C.uint64_t, payload *C.char) *C.char {
	return call("discover_viable_steps", h, payload)
}

//export get_step_readiness
func get_step_readiness(h C.uint64_t, payload *C.char) *C.char {
	return call("get_step_readiness", h, payload)
}

//export batch_update_step_states
func batch_update_step_states(h C.uint64_t, payload *C.char) *C.char {
	return call("batch_update_step_states", h, payload)
}

//export analyze_dependencies
func analyze_dependencies(h C.uint64_t, payload *C.char) *C.char {
	return call("analyze_dependencies", h, payload)
}

//export transition_task
func transition_task(h C.uint64_t, payload *C.char) *C.char {
	return call("transition_task", h, payload)
}

//export get_step_transitions
func get_step_transitions(h C.uint64_t, payload *C.char) *C.char {
	return call("get_step_transitions", h, payload)
}

//export get_task_transitions
func get_task_transitions(h C.uint64_t, payload *C.char) *C.char {
	return call("get_task_transitions", h, payload)
}

//export get_system_health
func get_system_health(h C.uint64_t, payload *C.char) *C.char {
	return call("get_system_health", h, payload)
}

//export get_analytics_metrics
func get_analytics_metrics(h C.uint64_t, payload *C.char) *C.char {
	return call("get_analytics_metrics", h, payload)
}

//export get_slowest_tasks
func get_slowest_tasks(h C.uint64_t, payload *C.char) *C.char {
	return call("get_slowest_tasks", h, payload)
}

//export get_slowest_steps
func get_slowest_steps(h C.uint64_t, payload *C.char) *C.char {
	return call("get_slowest_steps", h, payload)
}

//export claim_steps
func claim_steps(h C.uint64_t, payload *C.char) *C.char { return call("claim_steps", h, payload) }

//export report_step_results
func report_step_results(h C.uint64_t, payload *C.char) *C.char {
	return call("report_step_results", h, payload)
}

//export heartbeat
func heartbeat(h C.uint64_t, payload *C.char) *C.char { return call("heartbeat", h, payload) }

//export recover_expired_steps
func recover_expired_steps(h C.uint64_t, payload *C.char) *C.char {
	return call("recover_expired_steps", h, payload)
}

//export next_ready_tasks
func next_ready_tasks(h C.uint64_t, payload *C.char) *C.char {
	return call("next_ready_tasks", h, payload)
}

//export get_effective_config
func get_effective_config(h C.uint64_t, payload *C.char) *C.char {
	return call("get_effective_config", h, payload)
}

//export register_task_templates
func register_task_templates(h C.uint64_t, payload *C.char) *C.char {
	return call("register_task_templates", h, payload)
}

//export create_task_from_template
func create_task_from_template(h C.uint64_t, payload *C.char) *C.char {
	return call("create_task_from_template", h, payload)
}

//export get_task_template
func get_task_template(h C.uint64_t, payload *C.char) *C.char {
	return call("get_task_template", h, payload)
}

//export fetch_events
func fetch_events(h C.uint64_t, payload *C.char) *C.char { return call("fetch_events", h, payload) }

//export ack_events
func ack_events(h C.uint64_t, payload *C.char) *C.char { return call("ack_events", h, payload) }

//export prune_events
func prune_events(h C.uint64_t, payload *C.char) *C.char { return call("prune_events", h, payload) }

//export publish_event
func publish_event(h C.uint64_t, payload *C.char) *C.char { return call("publish_event", h, payload) }

//export event_metrics
func event_metrics(h C.uint64_t, payload *C.char) *C.char { return call("event_metrics", h, payload) }

//export event_catalog
func event_catalog(h C.uint64_t, payload *C.char) *C.char { return call("event_catalog", h, payload) }

//export open_event_stream
func open_event_stream(h C.uint64_t, payload *C.char) *C.char {
	return call("open_event_stream", h, payload)
}

//export read_event_stream
func read_event_stream(h C.uint64_t, payload *C.char) *C.char {
	return call("read_event_stream", h, payload)
}

//export close_event_stream
func close_event_stream(h C.uint64_t, payload *C.char) *C.char {
	return call("close_event_stream", h, payload)
}

//export report_and_claim
func report_and_claim(h C.uint64_t, payload *C.char) *C.char {
	return call("report_and_claim", h, payload)
}

//export announce_worker
func announce_worker(h C.uint64_t, payload *C.char) *C.char {
	return call("announce_worker", h, payload)
}

//export metrics_text
func metrics_text(h C.uint64_t, payload *C.char) *C.char { return call("metrics_text", h, payload) }

//export health_check
func health_check(h C.uint64_t, payload *C.char) *C.char { return call("health_check", h, payload) }
