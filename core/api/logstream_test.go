package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/logging"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// With a host attached (the C API attaches one), the default logging.output
// "host" sends log lines to the host in the next envelope, with their level
// and fields, and nothing to stderr. Not parallel: it swaps os.Stderr and
// attaches the process-wide host sink, and restores both.
func TestLogLinesReachTheHostNotStderr(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stderr := os.Stderr
	os.Stderr = w
	logging.AttachHost()
	t.Cleanup(func() {
		logging.DetachHost()
		logging.Host().Drain()
		os.Stderr = stderr
	})

	_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	cfg := fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true, "logging": {"level": "debug"}}`,
		testdb.URL(t), schema)
	c, err := Open(context.Background(), []byte(cfg))
	require.NoError(t, err)

	var env Envelope
	require.NoError(t, json.Unmarshal(c.CallJSON(context.Background(), "get_system_health", []byte(`{}`)), &env))
	require.True(t, env.OK)
	byMsg := map[string]map[string]any{}
	for _, raw := range env.Logs {
		var line map[string]any
		require.NoError(t, json.Unmarshal(raw, &line), string(raw))
		byMsg[line["message"].(string)] = line
	}
	require.Contains(t, byMsg, "client opened", "the lines logged since the last envelope")
	opened := byMsg["client opened"]
	assert.Equal(t, "info", opened["level"])
	assert.Equal(t, "api", opened["component"])
	assert.Equal(t, schema, opened["schema"])
	assert.Equal(t, true, opened["migrate"])
	assert.Zero(t, env.LogsDropped)
	assert.Equal(t, "debug", byMsg["call"]["level"], "the call's own line is in its envelope")
	assert.Equal(t, "get_system_health", byMsg["call"]["method"])

	// Lines logged between calls come with the next envelope; "client closed" is debug.
	c.Close()
	var after Envelope
	require.NoError(t, json.Unmarshal(Encode(nil, nil), &after))
	levels := map[string]string{}
	for _, raw := range after.Logs {
		var line map[string]any
		require.NoError(t, json.Unmarshal(raw, &line))
		levels[line["message"].(string)] = line["level"].(string)
	}
	assert.Equal(t, "debug", levels["client closed"])

	var none Envelope
	require.NoError(t, json.Unmarshal(Encode(nil, nil), &none))
	assert.Empty(t, none.Logs, "drained once")

	require.NoError(t, w.Close())
	written, err := io.ReadAll(r)
	require.NoError(t, err)
	assert.Empty(t, string(written), "nothing reached stderr")
}

// fetch_events' "from": a new subscriber started "now" skips the outbox's
// past, one without "from" gets it, and a malformed value is refused.
func TestFetchEventsFrom(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	callOK(t, c, "create_task", `{"name": "past", "namespace": "api", "steps": [{"name": "a"}]}`, nil)
	var batch struct {
		Events []struct {
			TaskID int64 `json:"task_id"`
		} `json:"events"`
	}
	callOK(t, c, "fetch_events", `{"subscriber": "fresh", "from": "now"}`, &batch)
	assert.Empty(t, batch.Events)
	callOK(t, c, "fetch_events", `{"subscriber": "old"}`, &batch)
	assert.NotEmpty(t, batch.Events)
	var ct created
	callOK(t, c, "create_task", `{"name": "future", "namespace": "api", "steps": [{"name": "a"}]}`, &ct)
	callOK(t, c, "fetch_events", `{"subscriber": "fresh", "from": "now"}`, &batch)
	require.NotEmpty(t, batch.Events)
	for _, e := range batch.Events {
		assert.Equal(t, ct.TaskID, e.TaskID)
	}
	e := callErr(t, c, "fetch_events", `{"subscriber": "x", "from": "yesterday"}`)
	assert.Equal(t, "validation_error", string(e.Type))
	assert.Equal(t, "from", e.Details["field"])
}
