package config_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
)

// Defaults < the file's section for the environment (with ${VAR}) < TASKER_*
// variables < explicit values; Effective says where each value came from and
// masks secrets.
func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "tasker-config")
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "tasker.yml")
	_ = os.WriteFile(file, []byte(`
production:
  database:
    url: ${PRIMARY_URL}
  execution:
    lease_seconds: 60
    claim_batch_size: 50
`), 0o600)
	env := map[string]string{
		"PRIMARY_URL":                       "postgres://app:s3cret@db.internal/app",
		"TASKER_EXECUTION_CLAIM_BATCH_SIZE": "25",
	}
	cfg, err := config.Load(config.Options{
		File: file, Environment: "production",
		Explicit:  map[string]any{"max_connections": 8},
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	show := map[string]bool{"database.url": true, "database.pool.max_connections": true,
		"execution.lease_seconds": true, "execution.claim_batch_size": true, "execution.recovery_batch_size": true}
	for _, v := range cfg.Effective() {
		if show[v.Key] {
			fmt.Printf("%s = %v (%s)\n", v.Key, v.Value, v.Source)
		}
	}
	// Output:
	// database.pool.max_connections = 8 (explicit)
	// database.url = postgres://app:***@db.internal/app (file)
	// execution.claim_batch_size = 25 (env)
	// execution.lease_seconds = 60 (file)
	// execution.recovery_batch_size = 100 (default)
}

// A bad value is refused whole, naming the key, value and expectation: nothing
// of a bad configuration is used.
func ExampleLoad_invalid() {
	_, err := config.Load(config.Options{
		Explicit:  map[string]any{"execution": map[string]any{"lease_seconds": -1}},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	fmt.Println(errs.KindOf(err))
	fmt.Println(err)
	_, err = config.Load(config.Options{
		Explicit:  map[string]any{"execution.lease_secs": 10},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	fmt.Println(err)
	// Output:
	// configuration_error
	// configuration explicit: execution.lease_seconds = -1: expected a number between 0.1 and 604800
	// configuration explicit: unknown key "execution.lease_secs" (did you mean "execution.lease_seconds"?)
}
