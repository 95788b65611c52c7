package main

/*
#include <stdint.h>
*/
import "C"

// The adoption pre-flight report (core/adoption, docs/guides/migrating-from-tasker-engine.md):
// the generic call of core/api.

//export adoption_report
func adoption_report(h C.uint64_t, payload *C.char) *C.char {
	return call("adoption_report", h, payload)
}
