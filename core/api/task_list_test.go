package api

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
)

func TestListTasksAndGetTaskOperations(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "api": {"list_default_limit": 2, "list_max_limit": 3}`)
	var ids []int64
	for i := 0; i < 3; i++ {
		var ct created
		callOK(t, c, "create_task", fmt.Sprintf(`{"name": "t%d", "namespace": "api", "context": {"i": %d}, "steps": [{"name": "a"}, {"name": "b", "depends_on": ["a"]}]}`, i, i), &ct)
		ids = append(ids, ct.TaskID)
	}

	var page struct {
		Tasks []struct {
			TaskID int64  `json:"task_id"`
			State  string `json:"state"`
			Name   string `json:"name"`
		} `json:"tasks"`
		NextCursor string `json:"next_cursor"`
		Limit      int    `json:"limit"`
	}
	callOK(t, c, "list_tasks", `{}`, &page)
	assert.Equal(t, 2, page.Limit, "api.list_default_limit")
	require.Len(t, page.Tasks, 2)
	assert.Equal(t, ids[2], page.Tasks[0].TaskID, "newest first")
	require.NotEmpty(t, page.NextCursor)
	cursor := page.NextCursor
	page.NextCursor = ""
	callOK(t, c, "list_tasks", fmt.Sprintf(`{"cursor": %q}`, cursor), &page)
	require.Len(t, page.Tasks, 1)
	assert.Equal(t, ids[0], page.Tasks[0].TaskID)
	assert.Empty(t, page.NextCursor)

	callOK(t, c, "list_tasks", `{"states": ["pending"], "name": "t1", "sort": "created_asc"}`, &page)
	require.Len(t, page.Tasks, 1)
	assert.Equal(t, "t1", page.Tasks[0].Name)

	e := callErr(t, c, "list_tasks", `{"limit": 4}`)
	assert.Equal(t, errs.Validation, e.Type)
	assert.Equal(t, "limit", e.Details["field"], "api.list_max_limit")
	e = callErr(t, c, "list_tasks", `{"state": "pending"}`)
	assert.Equal(t, errs.Validation, e.Type, "unknown fields are refused")

	var d struct {
		TaskID  int64          `json:"task_id"`
		Context map[string]any `json:"context"`
		Steps   []struct {
			Name      string  `json:"name"`
			DependsOn []int64 `json:"depends_on"`
		} `json:"steps"`
	}
	callOK(t, c, "get_task", fmt.Sprintf(`{"task_id": %d}`, ids[1]), &d)
	assert.Equal(t, float64(1), d.Context["i"])
	require.Len(t, d.Steps, 2)
	assert.Equal(t, "b", d.Steps[1].Name)
	assert.Len(t, d.Steps[1].DependsOn, 1)
	e = callErr(t, c, "get_task", `{"task_id": 999999}`)
	assert.Equal(t, errs.NotFound, e.Type)
	e = callErr(t, c, "get_task", `{}`)
	assert.Equal(t, errs.Validation, e.Type)
}

func TestListTaskTemplatesOperation(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	callOK(t, c, "register_task_templates", `{"yaml": "name: checkout\nnamespace_name: shop\nversion: 1.0.0\ntask_handler_class: Checkout\nstep_templates:\n  - name: pay\n    handler_class: Pay\n", "file": "checkout.yaml"}`, nil)
	var out struct {
		Templates []struct {
			Namespace string `json:"namespace"`
			Name      string `json:"name"`
			StepCount int    `json:"step_count"`
		} `json:"templates"`
	}
	callOK(t, c, "list_task_templates", `{"namespace": "shop"}`, &out)
	require.Len(t, out.Templates, 1)
	assert.Equal(t, "checkout", out.Templates[0].Name)
	assert.Equal(t, 1, out.Templates[0].StepCount)
	callOK(t, c, "list_task_templates", `{"namespace": "none"}`, &out)
	assert.Empty(t, out.Templates)
}
