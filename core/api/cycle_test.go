package api

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
)

// A cyclic template is refused at registration with a cycle_error naming the
// cycle, and nothing of the call is registered — also not the good templates
// registered with it — so the cycle never surfaces later at create_task.
func TestRegisteringACyclicTemplateIsACycleErrorAndRegistersNothing(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	cyclic, err := os.ReadFile("../template/testdata/broken/cycle.yaml")
	require.NoError(t, err)
	payload, err := json.Marshal(map[string]any{"paths": []string{"../template/testdata/good/data_pipeline.yaml"},
		"yaml": string(cyclic), "file": "cyclic.yaml"})
	require.NoError(t, err)
	_, err = c.Call(context.Background(), "register_task_templates", payload)
	require.Error(t, err)
	assert.Equal(t, errs.Cycle, errs.KindOf(err))
	assert.Contains(t, err.Error(), "dependency cycle: reserve -> charge -> ship -> reserve")
	assert.Equal(t, []string{"reserve", "charge", "ship"}, errs.DetailsOf(err)["cycle"])

	refs := []string{`{"name": "cyclic_order"}`, `{"name": "data_pipeline", "namespace": "analytics", "version": "2.0.0"}`}
	for _, ref := range refs {
		body := callErr(t, c, "get_task_template", ref)
		assert.Equal(t, errs.NotFound, body.Type, ref)
	}
	// The refs are right: the good template alone registers and is found by its ref.
	callOK(t, c, "register_task_templates", `{"paths": ["../template/testdata/good/data_pipeline.yaml"]}`, nil)
	callOK(t, c, "get_task_template", refs[1], nil)
}
