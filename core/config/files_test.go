package config

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/safefile/safefiletest"
)

// config_file naming a device, a FIFO, a directory or a file over files.max_bytes
// is a configuration_error naming the path; nothing blocks or fills memory.
func TestConfigFileMustBeASmallRegularFile(t *testing.T) {
	t.Parallel()
	limit := env(map[string]string{"TASKER_FILES_MAX_BYTES": strconv.Itoa(safefiletest.Limit)})
	for _, tc := range safefiletest.Cases(t) {
		safefiletest.Within(t, 5*time.Second, func() {
			c, err := Load(Options{File: tc.Path, LookupEnv: limit})
			if !assert.Error(t, err, tc.Name) {
				return
			}
			assert.Nil(t, c, tc.Name)
			assert.Equal(t, errs.Configuration, errs.KindOf(err), tc.Name)
			assert.Contains(t, err.Error(), "configuration file "+tc.Path, tc.Name)
			assert.Contains(t, err.Error(), tc.Want, tc.Name)
			assert.Equal(t, tc.Path, errs.DetailsOf(err)["path"], tc.Name)
		})
	}
}

// The file's own limit comes from the caller or the environment: the file
// cannot raise it, and an explicit value wins over the environment's.
func TestConfigFileLimitComesFromTheCaller(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "tasker.yml")
	body := "files:\n  max_bytes: 100000\nlogging:\n  level: debug\n"
	assert.NoError(t, os.WriteFile(p, []byte(body), 0o600))

	_, err := Load(Options{File: p, LookupEnv: env(map[string]string{"TASKER_FILES_MAX_BYTES": "10"})})
	assert.ErrorContains(t, err, "larger than files.max_bytes (10 bytes)")

	c, err := Load(Options{File: p, LookupEnv: env(map[string]string{"TASKER_FILES_MAX_BYTES": "10"}),
		Explicit: map[string]any{"files": map[string]any{"max_bytes": 1000.0}}})
	if assert.NoError(t, err) {
		assert.Equal(t, "debug", c.String("logging.level"))
		assert.Equal(t, int64(1000), c.Int("files.max_bytes"))
	}
}

// The default file (config/tasker.yml) may be absent, but when it is there it
// must be a readable regular file.
func TestDefaultFileThatIsAFIFOIsRefused(t *testing.T) {
	dir := t.TempDir()
	cases := safefiletest.Cases(t)
	assert.NoError(t, os.MkdirAll(filepath.Join(dir, "config"), 0o700))
	assert.NoError(t, os.Symlink(cases[1].Path, filepath.Join(dir, DefaultFile)))
	t.Chdir(dir)
	safefiletest.Within(t, 5*time.Second, func() {
		_, err := Load(Options{LookupEnv: env(nil)})
		assert.ErrorContains(t, err, "named pipe")
		assert.Equal(t, errs.Configuration, errs.KindOf(err))
	})
}
