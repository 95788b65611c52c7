package api_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/taskercore/tasker-core/core/api"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// The JSON API is all of the C API, callable from Go: a client opened from a
// JSON configuration (docs/ffi.md "Lifecycle"), and Call / CallJSON with an
// operation's name and payload. Every answer is an envelope, {"ok": true,
// "data": ...} or {"ok": false, "error": {"type", "message", "details"}}.
func ExampleClient_CallJSON() {
	url, schema, drop := testdb.ExampleURL()
	defer drop()
	ctx := context.Background()
	cfg, _ := json.Marshal(map[string]any{"database_url": url, "schema": schema, "migrate": true})
	c, err := api.Open(ctx, cfg)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()

	var created struct {
		OK   bool `json:"ok"`
		Data struct {
			TaskID  int64            `json:"task_id"`
			StepIDs map[string]int64 `json:"step_ids"`
		} `json:"data"`
	}
	_ = json.Unmarshal(c.CallJSON(ctx, "create_task", []byte(`{"name": "welcome", "namespace": "onboarding",
		"context": {"user_id": 9},
		"steps": [{"name": "create_account"}, {"name": "send_email", "depends_on": ["create_account"]}]}`)), &created)
	fmt.Println("created:", created.OK, "task", created.Data.TaskID, "steps", created.Data.StepIDs)

	var viable struct {
		Data struct {
			Steps []struct {
				Name   string `json:"name"`
				Reason string `json:"reason"`
			} `json:"steps"`
		} `json:"data"`
	}
	_ = json.Unmarshal(c.CallJSON(ctx, "discover_viable_steps", []byte(`{"task_id": 1}`)), &viable)
	fmt.Println("viable:", viable.Data.Steps)

	// Bad input is a typed error naming the field, and nothing is written.
	fmt.Println(string(c.CallJSON(ctx, "get_step_readiness", []byte(`{"task_id": "1"}`))))
	fmt.Println(string(c.CallJSON(ctx, "get_task_execution_context", []byte(`{"task_id": 99}`))))
	fmt.Println(string(c.CallJSON(ctx, "no_such_operation", nil)))
	// Output:
	// created: true task 1 steps map[create_account:1 send_email:2]
	// viable: [{create_account ready}]
	// {"ok":false,"error":{"type":"validation_error","message":"field task_id: expected an integer, got string","details":{"expected":"an integer","field":"task_id","got":"string"}}}
	// {"ok":false,"error":{"type":"not_found","message":"task 99 not found","details":{"task_id":99}}}
	// {"ok":false,"error":{"type":"validation_error","message":"unknown operation \"no_such_operation\"","details":{"method":"no_such_operation"}}}
}
