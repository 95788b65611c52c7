package api

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The caller's "env" serves ${VAR} interpolation with any variable, but only
// TASKER_* and DATABASE_URL are settings, and no other variable's value appears
// in effective_config.
func TestEnvServesInterpolationButOnlyTaskerVariablesAreSettings(t *testing.T) {
	t.Parallel()
	file := t.TempDir() + "/tasker.yml"
	require.NoError(t, writeFile(file, "database:\n  url: postgres://app:${APP_DB_PASSWORD}@h/db\n  schema: ${APP_SCHEMA}\n"))
	raw, err := json.Marshal(map[string]any{"config_file": file, "env": map[string]string{
		"APP_DB_PASSWORD":          "pw-from-env-5521",
		"APP_SCHEMA":               "from_env",
		"LOGGING_LEVEL":            "debug", // not TASKER_: not a setting
		"EXECUTION_LEASE_SECONDS":  "7",
		"HOME":                     "/home/not-shown-8812",
		"TASKER_EVENTS_BATCH_SIZE": "42",
	}})
	require.NoError(t, err)
	cfg, err := ParseConfig(raw)
	require.NoError(t, err)
	assert.Equal(t, "postgres://app:pw-from-env-5521@h/db", cfg.String("database.url"))
	assert.Equal(t, "from_env", cfg.String("database.schema"))
	assert.Equal(t, "warn", cfg.String("logging.level"))
	assert.Equal(t, 30.0, cfg.Float("execution.lease_seconds"))
	assert.Equal(t, int64(42), cfg.Int("events.batch_size"))
	eff, err := json.Marshal(cfg.Effective())
	require.NoError(t, err)
	assert.NotContains(t, string(eff), "pw-from-env-5521")
	assert.NotContains(t, string(eff), "not-shown-8812")
}

func writeFile(path, body string) error { return os.WriteFile(path, []byte(body), 0o600) }
