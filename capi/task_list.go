package main

/*
#include <stdint.h>
*/
import "C"

// The task list and task page reads (core/api/task_list.go).

//export list_tasks
func list_tasks(h C.uint64_t, payload *C.char) *C.char { return call("list_tasks", h, payload) }

//export get_task
func get_task(h C.uint64_t, payload *C.char) *C.char { return call("get_task", h, payload) }

//export list_task_templates
func list_task_templates(h C.uint64_t, payload *C.char) *C.char {
	return call("list_task_templates", h, payload)
}
