package api

import (
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

// A password in any form of database URL pgx accepts, and in malformed ones,
// appears in no error, no log line (at trace, the most verbose level) and not in
// effective_config — whether or not the URL parses.
func TestPasswordNeverShownForAnyURLForm(t *testing.T) {
	t.Parallel()
	base, err := url.Parse(testdb.URL(t))
	require.NoError(t, err)
	user, host, db := base.User.Username(), base.Host, strings.TrimPrefix(base.Path, "/")
	hostname, port := base.Hostname(), base.Port()
	if port == "" {
		port = "5432"
	}
	kv := fmt.Sprintf("host=%s port=%s user=%s dbname=%s sslmode=disable", hostname, port, user, db)
	const pw = "pw-S3cr3t-93"
	cases := []struct {
		name    string
		url     string
		secrets []string // texts that must appear nowhere
		opens   bool     // trust auth ignores the password: the well-formed ones connect
	}{
		{"URL userinfo", fmt.Sprintf("postgres://%s:%s@%s/%s?sslmode=disable", user, pw, host, db), []string{pw}, true},
		{"postgresql:// with %-escapes", fmt.Sprintf("postgresql://%s:p%%40ss%%2Fw0rd-71@%s/%s?sslmode=disable", user, host, db),
			[]string{"p%40ss%2Fw0rd-71", "p@ss/w0rd-71"}, true},
		{"bad port", fmt.Sprintf("postgres://%s:%s@127.0.0.1:notaport/%s", user, pw, db), []string{pw}, false},
		{"bad %-escape in the password", fmt.Sprintf("postgres://%s:pw%%zzS3cr3t@%s/%s", user, host, db), []string{"pw%zzS3cr3t"}, false},
		{"raw @ in the password", fmt.Sprintf("postgres://%s:p@w-S3cr3t@%s/%s", user, host, db), []string{"p@w-S3cr3t"}, false},
		{"raw space in the password", fmt.Sprintf("postgres://%s:pw S3cr3t-x@%s/%s", user, host, db), []string{"pw S3cr3t-x"}, false},
		{"bad IPv6 host", fmt.Sprintf("postgres://%s:%s@[::1/%s", user, pw, db), []string{pw}, false},
		{"second host with a bad port", fmt.Sprintf("postgres://%s:%s@%s,127.0.0.1:notaport/%s", user, pw, host, db), []string{pw}, false},
		{"?password= in the query", fmt.Sprintf("postgres://%s@%s/%s?sslmode=disable&password=%s", user, host, db, pw), []string{pw}, true},
		{"?password= first in the query", fmt.Sprintf("postgres://%s@%s/%s?password=%s&sslmode=disable", user, host, db, pw), []string{pw}, true},
		{"socket host", fmt.Sprintf("postgres://%s:%s@%%2Ftmp%%2Fno-such-dir/%s", user, pw, db), []string{pw}, false},
		{"DSN password=", kv + " password=" + pw, []string{pw}, true},
		{"DSN password = (spaces)", kv + " password = " + pw, []string{pw}, true},
		{"DSN password first", "password=" + pw + " " + kv, []string{pw}, true},
		{"DSN quoted with escapes", kv + ` password='pw S3 cr\'et\\x'`, []string{`pw S3 cr\'et\\x`, `pw S3 cr'et\x`}, true},
		{"DSN unterminated quote", kv + ` password='pw-S3cr3t-93 rest`, []string{pw}, false},
		{"DSN bad port", fmt.Sprintf("host=%s port=notaport user=%s password=%s dbname=%s", hostname, user, pw, db), []string{pw}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logFile := filepath.Join(t.TempDir(), "tasker.log")
			_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
			raw, err := json.Marshal(map[string]any{"database_url": tc.url, "schema": schema, "migrate": true,
				"acquire_timeout_ms": 2000, "logging": map[string]any{"level": "trace", "output": logFile}})
			require.NoError(t, err)
			var shown []string // every text a user or operator can see

			cfg, err := ParseConfig(raw)
			require.NoError(t, err, "the configuration itself is fine")
			eff, _ := json.Marshal(cfg.Effective())
			shown = append(shown, string(eff))

			c, err := Open(context.Background(), raw)
			if tc.opens {
				require.NoError(t, err)
				shown = append(shown, string(c.CallJSON(context.Background(), "get_effective_config", nil)), c.String())
				_ = c.CallJSON(context.Background(), "get_task_execution_context", []byte(`{"task_id": 1}`))
				c.Close()
			} else {
				require.Error(t, err)
				shown = append(shown, err.Error(), string(Encode(nil, err)))
			}
			if log, err := os.ReadFile(logFile); err == nil {
				shown = append(shown, string(log))
			}
			for _, text := range shown {
				for _, s := range tc.secrets {
					assert.NotContains(t, text, s)
				}
			}
		})
	}
}
