package api

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/internal/pgurl"
	"github.com/taskercore/tasker-core/migrations"
)

// Version numbers reported by Version.
const (
	LibraryVersion = "0.1.0"
	// ABIVersion changes when a C signature or an envelope shape changes
	// incompatibly.
	ABIVersion = 1
)

// VersionInfo is what Version reports.
type VersionInfo struct {
	LibraryVersion string `json:"library_version"`
	SchemaVersion  int    `json:"schema_version"`
	ABIVersion     int    `json:"abi_version"`
	GoVersion      string `json:"go_version"`
}

// Version returns the library's version information.
func Version() VersionInfo {
	return VersionInfo{LibraryVersion: LibraryVersion, SchemaVersion: migrations.LatestVersion(),
		ABIVersion: ABIVersion, GoVersion: runtime.Version()}
}

// Client is an open connection pool with its configuration.
type Client struct {
	cfg   Config
	store *store.Store

	mu     sync.RWMutex
	closed bool
}

// Open parses the configuration, connects (and pings, so a bad URL fails here),
// optionally migrates, and syncs the retry policy.
func Open(ctx context.Context, rawConfig []byte) (*Client, error) {
	cfg, err := ParseConfig(rawConfig)
	if err != nil {
		return nil, err
	}
	pcfg, err := pgxpool.ParseConfig(cfg.DatabaseURL)
	if err != nil {
		return nil, errs.New(errs.Configuration, map[string]any{"key": "database_url"},
			"client configuration: database_url %s: %v", pgurl.Mask(cfg.DatabaseURL), pgurl.Redact(err))
	}
	pcfg.MaxConns, pcfg.MinConns = cfg.MaxConnections, cfg.MinConnections
	pcfg.MaxConnLifetime = time.Duration(cfg.MaxConnLifetimeSeconds) * time.Second
	pcfg.MaxConnIdleTime = time.Duration(cfg.MaxConnIdleSeconds) * time.Second
	pcfg.ConnConfig.ConnectTimeout = time.Duration(cfg.AcquireTimeoutMS) * time.Millisecond
	pcfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.Itoa(cfg.StatementTimeoutMS)
	pcfg.ConnConfig.RuntimeParams["application_name"] = "tasker_core"
	if cfg.Schema != "" {
		pcfg.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	}
	ctx, cancel := context.WithTimeout(ctx, time.Duration(cfg.AcquireTimeoutMS)*time.Millisecond+cfg.callTimeout())
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, errs.Wrap(errs.Database, pgurl.Redact(err), "connect to %s", pgurl.Mask(cfg.DatabaseURL))
	}
	fail := func(err error) (*Client, error) {
		pool.Close()
		return nil, err
	}
	pingCtx, cancelPing := context.WithTimeout(ctx, time.Duration(cfg.AcquireTimeoutMS)*time.Millisecond)
	defer cancelPing()
	if err := pool.Ping(pingCtx); err != nil {
		return fail(errs.Wrap(errs.Database, err, "connect to %s", pgurl.Mask(cfg.DatabaseURL)))
	}
	if cfg.Migrate {
		if cfg.Schema != "" {
			// Clients of several processes may start together: IF NOT EXISTS still
			// races in the catalog, and losing that race is success.
			_, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{cfg.Schema}.Sanitize())
			if c := pgerr.Code(err); c == pgerr.UniqueViolation || c == pgerr.DuplicateSchema {
				err = nil
			}
			if err != nil {
				return fail(pgerr.Wrap(err, "create schema "+cfg.Schema))
			}
		}
		if _, err := migrations.Migrate(ctx, pool); err != nil {
			return fail(err)
		}
	}
	c := &Client{cfg: cfg, store: store.New(pool, *cfg.RetryPolicy)}
	if cfg.Migrate {
		if err := c.store.SyncRetryPolicy(ctx); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// Close closes the pool, waiting for calls in flight. Calls after Close fail with
// a database error.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.store.Pool().Close()
	}
}

// Store returns the client's store (for Go callers and tests).
func (c *Client) Store() *store.Store { return c.store }

// Call runs one operation: method names a function of the C API (docs/ffi.md),
// payload is its JSON. It returns the data or a typed error; it recovers panics
// into errs.Internal.
func (c *Client) Call(ctx context.Context, method string, payload []byte) (data any, err error) {
	defer func() {
		if r := recover(); r != nil {
			data, err = nil, errs.New(errs.Internal, map[string]any{"method": method}, "internal error in %s: %v", method, r)
		}
	}()
	op, ok := operations[method]
	if !ok {
		return nil, errs.New(errs.Validation, map[string]any{"method": method}, "unknown operation %q", method)
	}
	if err := checkPayload(payload, c.cfg.MaxPayloadBytes, c.cfg.MaxJSONDepth); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, errs.New(errs.Database, nil, "client is closed")
	}
	ctx, cancel := context.WithTimeout(ctx, c.cfg.callTimeout())
	defer cancel()
	return op(ctx, c, payload)
}

// CallJSON is Call with the result encoded as an envelope.
func (c *Client) CallJSON(ctx context.Context, method string, payload []byte) []byte {
	return Encode(c.Call(ctx, method, payload))
}

// Methods lists the operation names, sorted as registered.
func Methods() []string {
	out := make([]string, 0, len(operations))
	for name := range operations {
		out = append(out, name)
	}
	return out
}

func (c *Client) String() string {
	return fmt.Sprintf("tasker client (%s)", pgurl.Mask(c.cfg.DatabaseURL))
}

// MaxPayloadBytes is the configured payload limit, for callers that must bound a
// read before calling.
func (c *Client) MaxPayloadBytes() int { return c.cfg.MaxPayloadBytes }
