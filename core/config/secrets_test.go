package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
)

// A password in database.url never reaches an error or the effective
// configuration, whatever its form and whether or not the URL parses.
func TestDatabaseURLPasswordIsMaskedEverywhere(t *testing.T) {
	t.Parallel()
	const pw = "literal-pw-77"
	p := filepath.Join(t.TempDir(), "tasker.yml")
	assert.NoError(t, os.WriteFile(p, []byte("database:\n  url: postgres://app:"+pw+"@h/${UNCLOSED\n"), 0o600))
	_, err := Load(Options{File: p, LookupEnv: env(nil)})
	if assert.Error(t, err) {
		assert.Contains(t, err.Error(), "unclosed ${")
		assert.NotContains(t, err.Error(), pw)
	}
	for _, u := range []string{
		"postgres://app@h/db?password=" + pw,
		"host=h password = " + pw,
		"postgres://app:" + pw + "@h:notaport/db",
	} {
		c, err := Load(Options{LookupEnv: env(map[string]string{"DATABASE_URL": u})})
		if assert.NoError(t, err) {
			for _, v := range c.Effective() {
				if v.Key == "database.url" {
					assert.NotContains(t, v.Value, pw, u)
				}
			}
		}
	}
}
