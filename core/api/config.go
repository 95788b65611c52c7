// Package api is Tasker Core's JSON API: a Client opened from a JSON configuration,
// and Call, which decodes a JSON payload strictly, runs one operation of the core,
// and encodes the result or a typed error as an envelope. The C API (capi/) is a
// thin layer over this package that only converts C strings and handles; everything
// it exposes is tested here in Go against a real PostgreSQL.
package api

import (
	"bytes"
	"os"
	"time"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
)

// Defaults of the client configuration (documented in docs/configuration.md).
const (
	DefaultMaxConnections         = 10
	DefaultMinConnections         = 0
	DefaultAcquireTimeoutMS       = 5_000
	DefaultMaxConnLifetimeSeconds = 3_600
	DefaultMaxConnIdleSeconds     = 300
	DefaultStatementTimeoutMS     = 30_000
	DefaultCallTimeoutMS          = 30_000
	DefaultMaxPayloadBytes        = 4 << 20 // 4 MiB
	DefaultMaxJSONDepth           = 128
	DefaultLeaseSeconds           = 30.0
	DefaultClaimBatchSize         = 10
	DefaultRecoveryBatchSize      = 100
)

// Config configures a Client. Zero values take the defaults above.
type Config struct {
	DatabaseURL            string          `json:"database_url"`
	Schema                 string          `json:"schema"`
	MaxConnections         int32           `json:"max_connections"`
	MinConnections         int32           `json:"min_connections"`
	AcquireTimeoutMS       int             `json:"acquire_timeout_ms"`
	MaxConnLifetimeSeconds int             `json:"max_conn_lifetime_seconds"`
	MaxConnIdleSeconds     int             `json:"max_conn_idle_seconds"`
	StatementTimeoutMS     int             `json:"statement_timeout_ms"`
	CallTimeoutMS          int             `json:"call_timeout_ms"`
	MaxPayloadBytes        int             `json:"max_payload_bytes"`
	MaxJSONDepth           int             `json:"max_json_depth"`
	LeaseSeconds           float64         `json:"lease_seconds"`
	ClaimBatchSize         int             `json:"claim_batch_size"`
	RecoveryBatchSize      int             `json:"recovery_batch_size"`
	Migrate                bool            `json:"migrate"`
	RetryPolicy            *backoff.Policy `json:"retry_policy"`
}

// ParseConfig decodes a JSON configuration strictly, fills defaults (DATABASE_URL
// from the environment when database_url is empty) and validates it. Errors are
// errs.Configuration naming the key.
func ParseConfig(raw []byte) (Config, error) {
	var c Config
	if len(bytes.TrimSpace(raw)) > 0 {
		if err := strictDecode(raw, &c); err != nil {
			return Config{}, &errs.Error{Kind: errs.Configuration, Message: "client configuration: " + err.Error(),
				Details: errs.DetailsOf(err), Err: err}
		}
	}
	if c.DatabaseURL == "" {
		c.DatabaseURL = os.Getenv("DATABASE_URL")
	}
	if c.MaxConnections == 0 {
		c.MaxConnections = DefaultMaxConnections
	}
	if c.AcquireTimeoutMS == 0 {
		c.AcquireTimeoutMS = DefaultAcquireTimeoutMS
	}
	if c.MaxConnLifetimeSeconds == 0 {
		c.MaxConnLifetimeSeconds = DefaultMaxConnLifetimeSeconds
	}
	if c.MaxConnIdleSeconds == 0 {
		c.MaxConnIdleSeconds = DefaultMaxConnIdleSeconds
	}
	if c.StatementTimeoutMS == 0 {
		c.StatementTimeoutMS = DefaultStatementTimeoutMS
	}
	if c.CallTimeoutMS == 0 {
		c.CallTimeoutMS = DefaultCallTimeoutMS
	}
	if c.MaxPayloadBytes == 0 {
		c.MaxPayloadBytes = DefaultMaxPayloadBytes
	}
	if c.MaxJSONDepth == 0 {
		c.MaxJSONDepth = DefaultMaxJSONDepth
	}
	if c.LeaseSeconds == 0 {
		c.LeaseSeconds = DefaultLeaseSeconds
	}
	if c.ClaimBatchSize == 0 {
		c.ClaimBatchSize = DefaultClaimBatchSize
	}
	if c.RecoveryBatchSize == 0 {
		c.RecoveryBatchSize = DefaultRecoveryBatchSize
	}
	if c.RetryPolicy == nil {
		p := backoff.Default()
		c.RetryPolicy = &p
	}
	return c, c.validate()
}

func (c Config) validate() error {
	bad := func(key string, value any, want string) error {
		return errs.New(errs.Configuration, map[string]any{"key": key, "value": value, "expected": want},
			"client configuration: %s = %v: expected %s", key, value, want)
	}
	switch {
	case c.DatabaseURL == "":
		return bad("database_url", `""`, "a PostgreSQL URL (or DATABASE_URL in the environment)")
	case c.MaxConnections < 1:
		return bad("max_connections", c.MaxConnections, "an integer >= 1")
	case c.MinConnections < 0 || c.MinConnections > c.MaxConnections:
		return bad("min_connections", c.MinConnections, "an integer between 0 and max_connections")
	case c.AcquireTimeoutMS < 0:
		return bad("acquire_timeout_ms", c.AcquireTimeoutMS, "an integer >= 0")
	case c.MaxConnLifetimeSeconds < 0:
		return bad("max_conn_lifetime_seconds", c.MaxConnLifetimeSeconds, "an integer >= 0")
	case c.MaxConnIdleSeconds < 0:
		return bad("max_conn_idle_seconds", c.MaxConnIdleSeconds, "an integer >= 0")
	case c.StatementTimeoutMS < 0:
		return bad("statement_timeout_ms", c.StatementTimeoutMS, "an integer >= 0 (0: none)")
	case c.CallTimeoutMS < 0:
		return bad("call_timeout_ms", c.CallTimeoutMS, "an integer >= 0")
	case c.MaxPayloadBytes < 1:
		return bad("max_payload_bytes", c.MaxPayloadBytes, "an integer >= 1")
	case c.MaxJSONDepth < 1:
		return bad("max_json_depth", c.MaxJSONDepth, "an integer >= 1")
	case !(c.LeaseSeconds > 0):
		return bad("lease_seconds", c.LeaseSeconds, "a number > 0")
	case c.ClaimBatchSize < 1:
		return bad("claim_batch_size", c.ClaimBatchSize, "an integer >= 1")
	case c.RecoveryBatchSize < 1:
		return bad("recovery_batch_size", c.RecoveryBatchSize, "an integer >= 1")
	}
	if err := c.RetryPolicy.Validate(); err != nil {
		return errs.New(errs.Configuration, map[string]any{"key": "retry_policy"}, "client configuration: retry_policy: %v", err)
	}
	return nil
}

func (c Config) callTimeout() time.Duration { return time.Duration(c.CallTimeoutMS) * time.Millisecond }
