package logging

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "connect to postgres://u:***@h/db: refused", Redact("connect to postgres://u:pw@h/db: refused"))
	assert.Equal(t, "dsn host=h password=*** user=u", Redact("dsn host=h password=pw user=u"))
	assert.Equal(t, "nothing secret", Redact("nothing secret"))
}

func TestJSONLinesWithStandardFields(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := NewWriter(&buf, zerolog.InfoLevel, "json").With().Str(Component, "tasker_core").Logger()
	Err(l.Warn().Str(CorrelationID, "01J").Int64(TaskID, 7), errs.New(errs.Timeout, nil, "slow postgres://a:b@h/x")).Msg("late")
	l.Debug().Msg("hidden")
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line))
	assert.Equal(t, "warn", line["level"])
	assert.Equal(t, "late", line["message"])
	assert.Equal(t, "tasker_core", line[Component])
	assert.Equal(t, "01J", line[CorrelationID])
	assert.Equal(t, map[string]any{"type": "timeout_error", "message": "slow postgres://a:***@h/x"}, line[Error])
	assert.NotContains(t, buf.String(), "hidden")
	assert.Equal(t, "internal_error", func() string {
		var b bytes.Buffer
		l := NewWriter(&b, zerolog.InfoLevel, "json")
		Err(l.Error(), errors.New("plain")).Msg("x")
		var m map[string]any
		_ = json.Unmarshal(b.Bytes(), &m)
		return m[Error].(map[string]any)["type"].(string)
	}())
}

func TestNewFromConfig(t *testing.T) {
	t.Parallel()
	cfg, err := config.Load(config.Options{LookupEnv: func(string) (string, bool) { return "", false },
		Explicit: map[string]any{"logging": map[string]any{"level": "warn", "format": "console", "output": t.TempDir() + "/x.log"}}})
	require.NoError(t, err)
	l, closer, err := New(cfg)
	require.NoError(t, err)
	defer closer.Close()
	assert.Equal(t, zerolog.WarnLevel, l.GetLevel())

	bad, err := config.Load(config.Options{LookupEnv: func(string) (string, bool) { return "", false },
		Explicit: map[string]any{"logging.output": "/nonexistent-dir/x.log"}})
	require.NoError(t, err)
	_, _, err = New(bad)
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
}
