package api

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
)

// Limits used before a client (and its configuration) exists: reading the client
// configuration itself and tasker_noop. They equal the api.* defaults.
const (
	DefaultMaxPayloadBytes = 4 << 20
	DefaultMaxJSONDepth    = 128
)

// settings are the values a client reads on every call, taken once from its
// configuration.
type settings struct {
	cfg               *config.Config
	maxPayloadBytes   int
	maxJSONDepth      int
	callTimeout       time.Duration
	maxBatchSize      int
	leaseSeconds      float64
	claimBatchSize    int
	recoveryBatchSize int
	taskWindow        int
	eventBatchSize    int
}

// ParseConfig reads a client configuration: a JSON object whose "config_file" and
// "environment" say which YAML file and section to read ("config_yaml", when
// present, is that file's text as the caller read it; "defaults", with
// "defaults_origin", replace built-in defaults), whose "env" (optional)
// holds the caller's environment variables (else the process environment is read;
// all of them serve ${VAR} in the file, only TASKER_* and DATABASE_URL are settings),
// and whose other keys are
// explicit settings (nested, dotted, or the client's shorthand keys) that win over
// the file and the environment variables (docs/configuration.md).
func ParseConfig(raw []byte) (*config.Config, error) {
	opts := config.Options{Explicit: map[string]any{}}
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := checkPayload(raw, DefaultMaxPayloadBytes, DefaultMaxJSONDepth); err != nil {
			return nil, configError(err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		if err := dec.Decode(&opts.Explicit); err != nil {
			return nil, configError(decodeError(err))
		}
	}
	// "env": the caller's environment variables. A Go runtime inside another
	// process copies the environment once, when the library loads; a Ruby
	// process may set ENV later, so the gem sends the variables it has now.
	if raw, ok := opts.Explicit["env"]; ok {
		vars, isMap := raw.(map[string]any)
		if !isMap {
			return nil, errs.New(errs.Configuration, map[string]any{"key": "env"}, "client configuration: env must be an object of strings")
		}
		env := make(map[string]string, len(vars))
		for k, v := range vars {
			s, isString := v.(string)
			if !isString {
				return nil, errs.New(errs.Configuration, map[string]any{"key": "env." + k}, "client configuration: env.%s must be a string", k)
			}
			env[k] = s
		}
		opts.LookupEnv = func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		delete(opts.Explicit, "env")
	}
	// "defaults": values below the file and the environment (the Rails
	// integration's ActiveRecord database), named by "defaults_origin".
	if raw, ok := opts.Explicit["defaults"]; ok {
		m, isMap := raw.(map[string]any)
		if !isMap {
			return nil, errs.New(errs.Configuration, map[string]any{"key": "defaults"}, "client configuration: defaults must be an object")
		}
		opts.Defaults = m
		delete(opts.Explicit, "defaults")
	}
	// "config_yaml": the configuration file's text, read (and ERB-evaluated) by
	// the caller; "config_file" then only names it.
	var content string
	for key, dst := range map[string]*string{"config_file": &opts.File, "environment": &opts.Environment,
		"config_yaml": &content, "defaults_origin": &opts.DefaultsOrigin} {
		if v, ok := opts.Explicit[key]; ok {
			s, isString := v.(string)
			if !isString {
				return nil, errs.New(errs.Configuration, map[string]any{"key": key}, "client configuration: %s must be a string", key)
			}
			*dst = s
			delete(opts.Explicit, key)
			if key == "config_yaml" {
				opts.Content = []byte(s)
			}
		}
	}
	return config.Load(opts)
}

func configError(err error) error {
	return &errs.Error{Kind: errs.Configuration, Message: "client configuration: " + err.Error(), Details: errs.DetailsOf(err), Err: err}
}

func newSettings(cfg *config.Config) settings {
	return settings{
		cfg:               cfg,
		maxPayloadBytes:   int(cfg.Int("api.max_payload_bytes")),
		maxJSONDepth:      int(cfg.Int("api.max_json_depth")),
		callTimeout:       time.Duration(cfg.Int("api.call_timeout_ms")) * time.Millisecond,
		maxBatchSize:      int(cfg.Int("api.max_batch_size")),
		leaseSeconds:      cfg.Float("execution.lease_seconds"),
		claimBatchSize:    int(cfg.Int("execution.claim_batch_size")),
		recoveryBatchSize: int(cfg.Int("execution.recovery_batch_size")),
		taskWindow:        int(cfg.Int("execution.max_concurrent_tasks")),
		eventBatchSize:    int(cfg.Int("events.batch_size")),
	}
}
