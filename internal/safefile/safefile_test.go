package safefile_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/safefile"
	"github.com/taskercore/tasker-core/internal/safefile/safefiletest"
)

func TestReadRefusesWhatIsNotASmallRegularFile(t *testing.T) {
	t.Parallel()
	for _, tc := range safefiletest.Cases(t) {
		safefiletest.Within(t, 5*time.Second, func() {
			data, err := safefile.Read(tc.Path, safefiletest.Limit)
			if !assert.Error(t, err, tc.Name) {
				return
			}
			assert.Nil(t, data, tc.Name)
			assert.Equal(t, errs.Configuration, errs.KindOf(err), tc.Name)
			assert.Contains(t, err.Error(), tc.Path, "%s: the error names the path", tc.Name)
			assert.Contains(t, err.Error(), tc.Want, tc.Name)
			assert.Equal(t, tc.Path, errs.DetailsOf(err)["path"], tc.Name)
		})
	}
}

func TestReadReadsRegularFilesUpToTheLimit(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "ok.yml")
	body := []byte("exactly sixteen\n")
	require.NoError(t, os.WriteFile(p, body, 0o600))
	got, err := safefile.Read(p, int64(len(body)))
	require.NoError(t, err)
	assert.Equal(t, body, got, "a file of exactly max bytes is read")

	link := filepath.Join(dir, "link.yml")
	require.NoError(t, os.Symlink(p, link))
	got, err = safefile.Read(link, int64(len(body)))
	require.NoError(t, err, "a symbolic link to a regular file is followed")
	assert.Equal(t, body, got)

	_, err = safefile.Read(p, int64(len(body))-1)
	assert.ErrorIs(t, err, safefile.ErrTooLarge)

	_, err = safefile.Read(filepath.Join(dir, "missing.yml"), 10)
	assert.True(t, errors.Is(err, fs.ErrNotExist), "a missing file's error wraps fs.ErrNotExist")
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
}
