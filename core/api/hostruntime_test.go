package api

import (
	"runtime/debug"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// gcPercent reads the collector's GOGC (SetGCPercent answers the previous value).
func gcPercent() int {
	v := debug.SetGCPercent(100)
	debug.SetGCPercent(v)
	return v
}

// Not parallel: GOGC is the process's.
func TestApplyHostRuntimeSetsTheCollectorsPercent(t *testing.T) {
	before := gcPercent()
	t.Cleanup(func() { debug.SetGCPercent(before) })
	t.Setenv("GOGC", "")

	cfg, err := ParseConfig([]byte(`{"runtime": {"gc_percent": 250}}`))
	require.NoError(t, err)
	assert.True(t, ApplyHostRuntime(cfg))
	assert.Equal(t, 250, gcPercent())

	def, err := ParseConfig([]byte(`{}`))
	require.NoError(t, err)
	assert.True(t, ApplyHostRuntime(def))
	assert.Equal(t, 400, gcPercent(), "the default")

	// An operator's GOGC wins: the runtime keeps what it read from it.
	t.Setenv("GOGC", "150")
	debug.SetGCPercent(150)
	assert.False(t, ApplyHostRuntime(cfg))
	assert.Equal(t, 150, gcPercent())

	_, err = ParseConfig([]byte(`{"runtime": {"gc_percent": 5}}`))
	require.Error(t, err, "below the range")
}
