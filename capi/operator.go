package main

/*
#include <stdint.h>
*/
import "C"

// The operator API (docs/operations.md): one export per operation, each the
// generic call of core/api.

//export cancel_task
func cancel_task(h C.uint64_t, payload *C.char) *C.char { return call("cancel_task", h, payload) }

//export retry_task
func retry_task(h C.uint64_t, payload *C.char) *C.char { return call("retry_task", h, payload) }

//export reset_attempts
func reset_attempts(h C.uint64_t, payload *C.char) *C.char { return call("reset_attempts", h, payload) }

//export force_complete_task
func force_complete_task(h C.uint64_t, payload *C.char) *C.char {
	return call("force_complete_task", h, payload)
}

//export force_fail_task
func force_fail_task(h C.uint64_t, payload *C.char) *C.char {
	return call("force_fail_task", h, payload)
}

//export update_task_metadata
func update_task_metadata(h C.uint64_t, payload *C.char) *C.char {
	return call("update_task_metadata", h, payload)
}

//export retry_step
func retry_step(h C.uint64_t, payload *C.char) *C.char { return call("retry_step", h, payload) }

//export reset_step
func reset_step(h C.uint64_t, payload *C.char) *C.char { return call("reset_step", h, payload) }

//export resolve_step
func resolve_step(h C.uint64_t, payload *C.char) *C.char { return call("resolve_step", h, payload) }

//export update_step_results
func update_step_results(h C.uint64_t, payload *C.char) *C.char {
	return call("update_step_results", h, payload)
}

//export override_dependencies
func override_dependencies(h C.uint64_t, payload *C.char) *C.char {
	return call("override_dependencies", h, payload)
}

//export operator_actions
func operator_actions(h C.uint64_t, payload *C.char) *C.char {
	return call("operator_actions", h, payload)
}
