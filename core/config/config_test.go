package config

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func TestDefaultsOnly(t *testing.T) {
	t.Parallel()
	c, err := Load(Options{File: "", LookupEnv: env(nil)})
	require.NoError(t, err)
	assert.Equal(t, "development", c.Environment)
	for _, v := range c.Effective() {
		assert.Equal(t, SourceDefault, v.Source, v.Key)
	}
	assert.Equal(t, backoff.Default(), c.RetryPolicy(), "the retry defaults are core/backoff's")
	assert.Equal(t, int64(10), c.Int("database.pool.max_connections"))
}

func TestPrecedenceAndSources(t *testing.T) {
	t.Parallel()
	vars := map[string]string{
		"TEST_DB_URL":                          "postgres://app:s3cret@db:5432/app",
		"TASKER_ENV":                           "test",
		"TASKER_DATABASE_POOL_MAX_CONNECTIONS": "7",
		"TASKER_RETRY_JITTER":                  "0.25",
	}
	c, err := Load(Options{File: "testdata/tasker.yml", LookupEnv: env(vars),
		Explicit: map[string]any{"retry": map[string]any{"jitter": 0.5}, "lease_seconds": 4.0}})
	require.NoError(t, err)
	assert.Equal(t, "test", c.Environment)
	eff := map[string]Value{}
	for _, v := range c.Effective() {
		eff[v.Key] = v
	}
	assert.Equal(t, Value{Key: "database.schema", Value: "tasker_test", Source: SourceFile, Origin: "testdata/tasker.yml"},
		eff["database.schema"], "${VAR:-default} falls back")
	assert.Equal(t, "postgres://app:***@db:5432/app", eff["database.url"].Value, "secrets are masked")
	assert.Equal(t, "postgres://app:s3cret@db:5432/app", c.String("database.url"))
	assert.Equal(t, Value{Key: "database.pool.max_connections", Value: int64(7), Source: SourceEnv,
		Origin: "TASKER_DATABASE_POOL_MAX_CONNECTIONS"}, eff["database.pool.max_connections"], "env beats file")
	assert.Equal(t, Value{Key: "retry.jitter", Value: 0.5, Source: SourceExplicit}, eff["retry.jitter"], "explicit beats env")
	assert.Equal(t, 4.0, c.Float("execution.lease_seconds"), "client shorthand keys")
	assert.Equal(t, 2.0, c.Float("retry.base_seconds"), "shared settings through the YAML anchor")
	assert.Equal(t, SourceDefault, eff["events.batch_size"].Source)
	assert.Equal(t, int64(10), c.PriorityFor("payments"))
	assert.Equal(t, int64(0), c.PriorityFor("other"))
	rules, err := c.ForbiddenTransitions()
	require.NoError(t, err)
	assert.NotNil(t, rules)

	dev, err := Load(Options{File: "testdata/tasker.yml", Environment: "development", LookupEnv: env(vars)})
	require.NoError(t, err)
	assert.Equal(t, "console", dev.String("logging.format"))
	assert.Equal(t, "debug", dev.String("logging.level"))

	stage, err := Load(Options{File: "testdata/tasker.yml", Environment: "staging", LookupEnv: env(vars)})
	require.NoError(t, err)
	assert.Equal(t, "", stage.String("database.schema"), "no section: nothing from the file")
	assert.Equal(t, 1.0, stage.Float("retry.base_seconds"))
}

// The Ruby gem reads config/tasker.yml itself (to evaluate ERB) and passes the
// text; a host application's defaults sit below the file and the environment.
func TestContentAndDefaults(t *testing.T) {
	t.Parallel()
	content := []byte("test:\n  database:\n    schema: from_content\n  logging:\n    level: warn\n")
	c, err := Load(Options{File: "config/not_on_disk.yml", Content: content, Environment: "test", LookupEnv: env(nil),
		Defaults:       map[string]any{"database": map[string]any{"url": "postgres://ar@h/app", "schema": "tasker"}, "max_connections": 3},
		DefaultsOrigin: "ActiveRecord"})
	require.NoError(t, err, "Content is used instead of reading File")
	eff := map[string]Value{}
	for _, v := range c.Effective() {
		eff[v.Key] = v
	}
	assert.Equal(t, Value{Key: "database.schema", Value: "from_content", Source: SourceFile, Origin: "config/not_on_disk.yml"},
		eff["database.schema"], "the file beats the defaults")
	assert.Equal(t, Value{Key: "database.url", Value: "postgres://ar@h/app", Source: SourceDefault, Origin: "ActiveRecord"},
		eff["database.url"], "a default is used when nothing else sets the key")
	assert.Equal(t, int64(3), c.Int("database.pool.max_connections"), "shorthand keys in defaults")
	assert.Equal(t, "warn", c.String("logging.level"))

	withEnv, err := Load(Options{Content: content, Environment: "test",
		LookupEnv: env(map[string]string{"DATABASE_URL": "postgres://env@h/app"}),
		Defaults:  map[string]any{"database.url": "postgres://ar@h/app"}})
	require.NoError(t, err)
	assert.Equal(t, "postgres://env@h/app", withEnv.String("database.url"), "the environment beats the defaults")

	_, err = Load(Options{Content: []byte("test: [unclosed"), File: "config/tasker.yml", Environment: "test", LookupEnv: env(nil)})
	require.Error(t, err)
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
	assert.Contains(t, err.Error(), "config/tasker.yml", "a broken content is named by File")

	_, err = Load(Options{LookupEnv: env(nil), Defaults: map[string]any{"database.urll": "x"}, DefaultsOrigin: "ActiveRecord"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ActiveRecord")
	assert.Contains(t, err.Error(), `did you mean "database.url"`)
}

func TestErrorsNameFileKeyValueAndExpectation(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		o    Options
		want []string
		key  string
	}{
		{"typo with suggestion", Options{File: "testdata/typo.yml", LookupEnv: env(nil)},
			[]string{"testdata/typo.yml", `unknown key "database.pool.max_conections"`, `did you mean "database.pool.max_connections"`},
			"database.pool.max_conections"},
		{"range", Options{File: "testdata/bad_range.yml", Environment: "test", LookupEnv: env(nil)},
			[]string{"testdata/bad_range.yml", "retry.jitter = 1.5", "between 0 and 1"}, "retry.jitter"},
		{"unset variable", Options{File: "testdata/tasker.yml", Environment: "production", LookupEnv: env(nil)},
			[]string{"testdata/tasker.yml", "PRODUCTION_DATABASE_URL is not set"}, "database.url"},
		{"env type", Options{LookupEnv: env(map[string]string{"TASKER_EVENTS_BATCH_SIZE": "many"})},
			[]string{"TASKER_EVENTS_BATCH_SIZE", "events.batch_size = many", "an integer"}, "events.batch_size"},
		{"explicit type", Options{LookupEnv: env(nil), Explicit: map[string]any{"logging": map[string]any{"level": 3}}},
			[]string{"explicit", "logging.level = 3", "a string"}, "logging.level"},
		{"enum", Options{LookupEnv: env(nil), Explicit: map[string]any{"logging.format": "xml"}},
			[]string{"logging.format = xml", "one of json, console"}, "logging.format"},
		{"pool min > max", Options{LookupEnv: env(nil), Explicit: map[string]any{"min_connections": 50.0}},
			[]string{"database.pool.min_connections = 50", "at most database.pool.max_connections (10)"}, "database.pool.min_connections"},
		{"heartbeat >= lease", Options{LookupEnv: env(nil), Explicit: map[string]any{"execution.heartbeat_interval_seconds": 40.0}},
			[]string{"heartbeat_interval_seconds", "less than execution.lease_seconds (30)"}, "execution.heartbeat_interval_seconds"},
		{"prepared statements behind a transaction pooler", Options{LookupEnv: env(nil),
			Explicit: map[string]any{"database.pooler": "transaction", "database.statement_mode": "cache_statement"}},
			[]string{"database.statement_mode = cache_statement", "not cache_statement with database.pooler transaction"},
			"database.statement_mode"},
		{"backoff cap past a PostgreSQL timestamp", Options{LookupEnv: env(nil), Explicit: map[string]any{"retry.cap_seconds": 1e13}},
			[]string{"retry.cap_seconds = 1e+13"}, "retry.cap_seconds"},
		{"illegal forbid", Options{LookupEnv: env(nil), Explicit: map[string]any{"state_transitions.forbid": []any{"task:complete->pending"}}},
			[]string{"not a legal task transition"}, "state_transitions.forbid"},
		{"unknown explicit", Options{LookupEnv: env(nil), Explicit: map[string]any{"lease_secs": 3.0}},
			[]string{`unknown key "lease_secs"`, `did you mean "execution.lease_seconds"`}, "lease_secs"},
		{"missing named file", Options{File: "testdata/nope.yml", LookupEnv: env(nil)}, []string{"testdata/nope.yml"}, ""},
	}
	for _, tc := range cases {
		c, err := Load(tc.o)
		require.Error(t, err, tc.name)
		assert.Nil(t, c, "%s: a bad configuration never half-applies", tc.name)
		assert.Equal(t, errs.Configuration, errs.KindOf(err), tc.name)
		for _, w := range tc.want {
			assert.Contains(t, err.Error(), w, tc.name)
		}
		if tc.key != "" {
			assert.Equal(t, tc.key, errs.DetailsOf(err)["key"], tc.name)
		}
	}
}

// docs/configuration.md documents exactly the keys in Keys, each with its
// environment variable and its default (as JSON).
func TestEveryKeyIsDocumentedAndNothingElse(t *testing.T) {
	t.Parallel()
	f, err := os.Open("../../docs/configuration.md")
	require.NoError(t, err)
	defer f.Close()
	cell := `(?:[^|\\]|\\\|)+` // a table cell; "\|" is an escaped pipe inside it
	row := regexp.MustCompile("^\\| `([a-z_.]+)` \\|" + cell + "\\| `([^`]*)` \\| `([A-Z_]+)` \\|")
	documented := map[string]string{}
	defaults := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := row.FindStringSubmatch(sc.Text()); m != nil {
			documented[m[1]] = m[3]
			defaults[m[1]] = m[2]
		}
	}
	var missing, extra []string
	for _, k := range Keys {
		envName, ok := documented[k.Path]
		if !ok {
			missing = append(missing, k.Path)
			continue
		}
		assert.Equal(t, k.EnvName(), envName, "environment variable of %s", k.Path)
		def, err := json.Marshal(k.Default)
		require.NoError(t, err)
		assert.Equal(t, string(def), defaults[k.Path], "default of %s", k.Path)
		delete(documented, k.Path)
	}
	for k := range documented {
		extra = append(extra, k)
	}
	sort.Strings(extra)
	assert.Empty(t, missing, "keys in code but not in docs/configuration.md")
	assert.Empty(t, extra, "keys in docs/configuration.md but not in code")
}

func TestNearest(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "execution.lease_seconds", Nearest("execution.lease_second"))
	assert.Equal(t, "", Nearest("completely.unrelated.thing"))
}
