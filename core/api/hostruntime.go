package api

import (
	"os"
	"runtime/debug"

	"github.com/taskercore/tasker-core/core/config"
)

// ApplyHostRuntime sets the Go runtime of a process that loads the library
// through the C API from cfg's runtime.* keys: runtime.gc_percent becomes the
// garbage collector's GOGC, unless a GOGC environment variable is set (the
// operator's choice wins). It reports whether it set it. Only the C API calls
// it: a Go program that uses this package keeps its own runtime settings.
func ApplyHostRuntime(cfg *config.Config) (applied bool) {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		return false
	}
	debug.SetGCPercent(int(cfg.Int("runtime.gc_percent")))
	return true
}
