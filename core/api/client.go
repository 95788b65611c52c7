package api

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/events"
	"github.com/taskercore/tasker-core/core/logging"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/core/sysevents"
	"github.com/taskercore/tasker-core/core/telemetry"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/internal/pgjson"
	"github.com/taskercore/tasker-core/internal/pgurl"
	"github.com/taskercore/tasker-core/internal/pollconn"
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
	settings
	store  *store.Store
	log    zerolog.Logger
	logOut io.Closer
	live   *liveHub // nil when events.enabled is false
	opAuth operatorAuth
	sys    *sysevents.Emitter
	tel    *telemetry.Telemetry

	lastEmptyAcquires atomic.Int64 // the pool's empty-acquire count at the last readiness check

	catMu   sync.RWMutex
	catalog *events.Catalog // system events, events.definitions_paths, registered templates' custom events

	mu     sync.RWMutex
	closed bool
}

// Open loads the configuration (ParseConfig), connects (and pings, so a bad URL
// fails here), optionally migrates, and applies the retry policy (applyRetryPolicy).
func Open(ctx context.Context, rawConfig []byte) (*Client, error) {
	cfg, err := ParseConfig(rawConfig)
	if err != nil {
		return nil, err
	}
	url, schema := cfg.String("database.url"), cfg.String("database.schema")
	if url == "" {
		return nil, errs.New(errs.Configuration, map[string]any{"key": "database.url"},
			"configuration: database.url is empty: set database_url, DATABASE_URL or database.url in the file")
	}
	rules, err := cfg.ForbiddenTransitions()
	if err != nil {
		return nil, err
	}
	scfg, err := systemEventsConfig(cfg)
	if err != nil {
		return nil, err
	}
	catalog, err := events.System()
	if err != nil {
		return nil, errs.Wrap(errs.Internal, err, "event catalog")
	}
	for _, p := range cfg.Strings("events.definitions_paths") {
		if err := catalog.AddFile(p, cfg.Int("files.max_bytes")); err != nil {
			return nil, err
		}
	}
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errs.New(errs.Configuration, map[string]any{"key": "database.url"},
			"configuration: database.url %s: %v", pgurl.Mask(url), pgurl.RedactError(err, url))
	}
	acquire := time.Duration(cfg.Int("database.pool.acquire_timeout_ms")) * time.Millisecond
	pcfg.MaxConns = int32(cfg.Int("database.pool.max_connections"))
	pcfg.MinConns = int32(cfg.Int("database.pool.min_connections"))
	pcfg.MaxConnLifetime = time.Duration(cfg.Int("database.pool.max_lifetime_seconds")) * time.Second
	pcfg.MaxConnIdleTime = time.Duration(cfg.Int("database.pool.max_idle_seconds")) * time.Second
	pcfg.ConnConfig.ConnectTimeout = acquire
	pcfg.ConnConfig.RuntimeParams["application_name"] = "tasker_core"
	pooled := cfg.String("database.pooler") == "transaction"
	pcfg.ConnConfig.DefaultQueryExecMode = queryExecMode(cfg)
	if cfg.Bool("database.thread_wait") {
		pcfg.ConnConfig.DialFunc = pgconn.DialFunc(pollconn.Wrap(pollconn.DialFunc(pcfg.ConnConfig.DialFunc)))
	}
	if !pooled {
		// A transaction pooler refuses these as startup parameters (PgBouncer
		// tracks only a few, application_name among them): behind one, the
		// server side sets them and checkSessionSettings verifies.
		for k, v := range startupParams(cfg) {
			pcfg.ConnConfig.RuntimeParams[k] = v
		}
	}
	setSQL := ""
	if !pooled {
		setSQL = afterConnectSQL(cfg)
	}
	pcfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		pgjson.Register(conn.TypeMap()) // JSON the library passes on is copied, not decoded
		if setSQL == "" {
			return nil
		}
		_, err := conn.Exec(ctx, setSQL)
		return err
	}
	st := newSettings(cfg)
	ctx, cancel := context.WithTimeout(ctx, acquire+st.callTimeout)
	defer cancel()
	tel, err := openTelemetry(ctx, telemetry.SettingsFrom(cfg))
	if err != nil {
		return nil, err
	}
	if tr := tel.PgxTracer(); tr != nil {
		pcfg.ConnConfig.Tracer = tr
	}
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		_ = tel.Shutdown(ctx)
		return nil, errs.Wrap(errs.Database, pgurl.RedactError(err, url), "connect to %s", pgurl.Mask(url))
	}
	fail := func(err error) (*Client, error) {
		pool.Close()
		_ = tel.Shutdown(ctx)
		return nil, err
	}
	pingCtx, cancelPing := context.WithTimeout(ctx, acquire)
	defer cancelPing()
	if err := pool.Ping(pingCtx); err != nil {
		return fail(errs.Wrap(errs.Database, pgurl.RedactError(err, url), "connect to %s", pgurl.Mask(url)))
	}
	migrate := cfg.Bool("database.migrate")
	if migrate {
		if err := createSchema(ctx, pool, schema); err != nil {
			return fail(err)
		}
	}
	var sessionWarnings []string
	if pooled {
		if sessionWarnings, err = checkSessionSettings(ctx, pool, cfg); err != nil {
			return fail(err)
		}
	}
	if migrate {
		if _, err := migrations.Migrate(ctx, pool); err != nil {
			return fail(err)
		}
	}
	s := store.New(pool, cfg.RetryPolicy())
	if pooled {
		s.SetEventWait(store.EventWait{ListenURL: cfg.String("database.listen_url"), ConnectTimeout: acquire,
			Poll: time.Duration(cfg.Int("events.wait_poll_interval_ms")) * time.Millisecond})
	}
	s.SetRules(rules)
	s.SetDefaultRetryLimit(int32(cfg.Int("retry.default_retry_limit")))
	s.SetEventsEnabled(cfg.Bool("events.enabled"))
	log, logOut, err := logging.New(cfg)
	if err != nil {
		return fail(err)
	}
	c := &Client{settings: st, store: s, log: log.With().Str(logging.Component, "api").Logger(), logOut: logOut,
		catalog: catalog, tel: tel}
	if cfg.Bool("events.enabled") {
		c.live = newLiveHub(cfg, s, log)
	}
	c.startSystemEvents(scfg)
	fail = func(err error) (*Client, error) {
		c.sys.Stop()
		if c.live != nil {
			c.live.close()
		}
		pool.Close()
		return nil, err
	}
	if err := applyRetryPolicy(ctx, cfg, s, migrate); err != nil {
		return fail(err)
	}
	if err := c.attachTelemetry(); err != nil {
		return fail(err)
	}
	for _, w := range sessionWarnings {
		c.log.Warn().Str("database.pooler", "transaction").Msg(w)
	}
	c.log.Info().Str("database_url", pgurl.Mask(url)).Str("schema", schema).Str("environment", cfg.Environment).
		Bool("migrate", migrate).Str("pooler", cfg.String("database.pooler")).
		Str("statement_mode", pcfg.ConnConfig.DefaultQueryExecMode.String()).Msg("client opened")
	c.reportDeprecations(ctx)
	if paths := cfg.Strings("templates.paths"); len(paths) > 0 {
		tpls, err := loadTemplatePaths(paths, cfg.Environment, cfg.Int("files.max_bytes"))
		if err != nil {
			return fail(err)
		}
		if _, err := c.registerTemplates(ctx, tpls); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// createSchema creates the client's schema (database.schema) when it is set and
// missing, before migrating into it.
func createSchema(ctx context.Context, pool *pgxpool.Pool, schema string) error {
	if schema == "" {
		return nil
	}
	// Clients of several processes may start together: IF NOT EXISTS still
	// races in the catalog, and losing that race is success.
	_, err := pool.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize())
	if c := pgerr.Code(err); c == pgerr.UniqueViolation || c == pgerr.DuplicateSchema {
		err = nil
	}
	if err != nil {
		return pgerr.Wrap(err, "create schema "+schema)
	}
	return nil
}

// Config returns the client's effective configuration.
func (c *Client) Config() *config.Config { return c.cfg }

// Close closes the pool, waiting for calls in flight. Calls after Close fail with
// a database error.
func (c *Client) Close() {
	c.sys.Stop()
	if c.live != nil {
		// Deliver what is buffered first, outside the lock: a subscriber may call
		// the client while it handles the last batches.
		c.live.close()
	}
	// The listener and the exporter outside the lock: a health request in
	// flight takes the read lock, and Shutdown waits for it.
	if err := c.tel.Shutdown(context.Background()); err != nil {
		c.log.Warn().Err(err).Msg("telemetry shutdown")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		c.store.Pool().Close()
		c.log.Debug().Msg("client closed")
		_ = c.logOut.Close()
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
	if err := checkPayload(payload, c.maxPayloadBytes, c.maxJSONDepth); err != nil {
		return nil, err
	}
	if err := refuseNUL(method, payload); err != nil {
		return nil, err
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return nil, errs.New(errs.Database, nil, "client is closed")
	}
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	ctx, endSpan := c.callContext(ctx, method, payload)
	start := time.Now()
	data, err = op(ctx, c, payload)
	d := time.Since(start)
	c.observe(ctx, method, d, data, err)
	endSpan(err)
	c.logCall(method, d, err)
	return data, err
}

// logCall writes one line per call: debug when it worked or the caller erred,
// warn when the database, a deadline or a bug did.
func (c *Client) logCall(method string, d time.Duration, err error) {
	ev := c.log.Debug()
	switch errs.KindOf(err) {
	case errs.Database, errs.Timeout, errs.Internal:
		ev = c.log.Warn()
	}
	if ev.Enabled() {
		logging.Err(ev.Str("method", method).Float64(logging.DurationMS, float64(d.Microseconds())/1000), err).Msg("call")
	}
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
	return fmt.Sprintf("tasker client (%s)", pgurl.Mask(c.cfg.String("database.url")))
}

// MaxPayloadBytes is the configured payload limit, for callers that must bound a
// read before calling.
func (c *Client) MaxPayloadBytes() int { return c.maxPayloadBytes }
