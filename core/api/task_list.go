package api

import (
	"context"

	"github.com/taskercore/tasker-core/core/store"
)

// The read operations behind task lists and task pages (dashboards, REST and
// GraphQL front ends): registered here so that ops.go stays the list of the
// orchestration's own operations.
func init() {
	operations["list_tasks"] = listTasks
	operations["get_task"] = getTask
	operations["list_task_templates"] = listTaskTemplates
}

// listTasks: a page of tasks by state, namespace, name, version and creation
// range, newest (or oldest) first, resumed with the page's next_cursor.
func listTasks(ctx context.Context, c *Client, payload []byte) (any, error) {
	q := store.TaskListQuery{Limit: int(c.cfg.Int("api.list_default_limit"))}
	if err := decode(payload, &q); err != nil {
		return nil, err
	}
	return c.store.ListTasks(ctx, q, int(c.cfg.Int("api.list_max_limit")))
}

// getTask: one task with its context and steps (state, attempts, inputs,
// results, lease, parents).
func getTask(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		TaskID int64 `json:"task_id"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := required("task_id", r.TaskID); err != nil {
		return nil, err
	}
	return c.store.GetTask(ctx, r.TaskID)
}

// listTaskTemplates: the registered named tasks, of one namespace when given.
func listTaskTemplates(ctx context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		Namespace string `json:"namespace"`
		Limit     int    `json:"limit"`
	}{Limit: int(c.cfg.Int("api.list_default_limit"))}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	tpls, err := c.store.ListNamedTasks(ctx, r.Namespace, r.Limit, int(c.cfg.Int("api.list_max_limit")))
	return map[string]any{"templates": tpls}, err
}
