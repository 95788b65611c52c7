package template

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/safefile/safefiletest"
)

// testMaxBytes is the files.max_bytes the other tests load templates with.
const testMaxBytes = 1 << 20

// A template path that is a device, a FIFO, a directory (to Load), a link to a
// device or a file over the limit is a configuration_error naming the path, from
// Load and from LoadDir walking a directory that holds it.
func TestTemplateFilesMustBeSmallRegularFiles(t *testing.T) {
	t.Parallel()
	for _, tc := range safefiletest.Cases(t) {
		safefiletest.Within(t, 5*time.Second, func() {
			tpl, err := Load(tc.Path, "", safefiletest.Limit)
			if !assert.Error(t, err, tc.Name) {
				return
			}
			assert.Nil(t, tpl)
			assert.Equal(t, errs.Configuration, errs.KindOf(err), tc.Name)
			assert.Contains(t, err.Error(), tc.Path, tc.Name)
			assert.Contains(t, err.Error(), tc.Want, tc.Name)
		})
	}
	cases := safefiletest.Cases(t)
	dir := cases[1].Path[:len(cases[1].Path)-len("/fifo.yml")]
	safefiletest.Within(t, 5*time.Second, func() {
		tpls, err := LoadDir(dir, "", safefiletest.Limit)
		if !assert.Error(t, err) {
			return
		}
		assert.Nil(t, tpls)
		assert.Equal(t, errs.Configuration, errs.KindOf(err))
		for _, tc := range cases[1:] {
			if tc.Name == "directory" {
				continue // a directory in a walk is descended into, not read
			}
			assert.Contains(t, err.Error(), tc.Path, tc.Name)
			assert.Contains(t, err.Error(), tc.Want, tc.Name)
		}
	})
}
