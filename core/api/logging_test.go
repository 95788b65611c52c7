package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/testdb"
)

// Structured log lines carry the standard fields, one correlation id joins the
// lines of one task, and a password in the database URL never appears.
func TestLogLinesAndSecrets(t *testing.T) {
	t.Parallel()
	const secret = "s3cr3t-pw-7781"
	u, err := url.Parse(testdb.URL(t))
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), secret) // trust auth ignores it; the logs must too
	_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	logFile := filepath.Join(t.TempDir(), "tasker.log")
	cfg := fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true,
		"logging": {"level": "debug", "output": %q}}`, u.String(), schema, logFile)
	c, err := Open(context.Background(), []byte(cfg))
	require.NoError(t, err)

	var ct struct {
		TaskID        int64  `json:"task_id"`
		CorrelationID string `json:"correlation_id"`
	}
	callOK(t, c, "create_task", `{"name": "logged", "namespace": "ops", "steps": [{"name": "a"}]}`, &ct)
	callOK(t, c, "claim_steps", `{"worker_id": "w1"}`, nil)
	callOK(t, c, "report_step_results", fmt.Sprintf(`{"reports": [{"step_id": %d, "worker_id": "w1", "success": true}]}`,
		firstStep(t, c, ct.TaskID)), nil)
	callErr(t, c, "get_task_execution_context", `{"task_id": 0}`)
	c.Close()

	bad := strings.Replace(u.String(), u.Host, "127.0.0.1:1", 1)
	_, err = Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "acquire_timeout_ms": 300,
		"logging": {"output": %q}}`, bad, logFile)))
	require.Error(t, err)
	assert.NotContains(t, err.Error(), secret)

	raw, err := os.ReadFile(logFile)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), secret, "the password never reaches a log line")

	byMsg := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	for sc.Scan() {
		var line map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "every line is JSON: %s", sc.Text())
		for _, f := range []string{"time", "level", "message", "component"} {
			assert.Contains(t, line, f, sc.Text())
		}
		byMsg[line["message"].(string)] = line
	}
	require.Contains(t, byMsg, "client opened")
	assert.Contains(t, byMsg["client opened"]["database_url"], "***")
	for _, msg := range []string{"task created", "step claimed", "step reported"} {
		require.Contains(t, byMsg, msg)
		assert.Equal(t, ct.CorrelationID, byMsg[msg]["correlation_id"], msg)
		assert.Equal(t, float64(ct.TaskID), byMsg[msg]["task_id"], msg)
	}
	claim := byMsg["step claimed"]
	assert.Equal(t, "a", claim["step_name"])
	assert.Equal(t, "ops", claim["namespace"])
	assert.Equal(t, float64(1), claim["attempt"])
	call := byMsg["call"]
	assert.Contains(t, call, "duration_ms")
	errLine := map[string]any{}
	for _, l := range strings.Split(strings.TrimSpace(string(raw)), "\n") {
		if strings.Contains(l, "task_id is required") {
			require.NoError(t, json.Unmarshal([]byte(l), &errLine))
		}
	}
	assert.Equal(t, map[string]any{"type": "validation_error", "message": "task_id is required (a positive integer)"}, errLine["error"])
}

func firstStep(t *testing.T, c *Client, taskID int64) int64 {
	t.Helper()
	var id int64
	require.NoError(t, c.Store().Pool().QueryRow(context.Background(),
		`SELECT workflow_step_id FROM tasker_workflow_steps WHERE task_id = $1`, taskID).Scan(&id))
	return id
}
