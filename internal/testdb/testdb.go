// Package testdb gives each test its own PostgreSQL schema, migrated and dropped
// afterwards, in a test database that is created when absent. Tests that use it run
// in parallel against one real server and never see each other's rows.
package testdb

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/internal/pgjson"
	"github.com/taskercore/tasker-core/internal/pgurl"
	"github.com/taskercore/tasker-core/migrations"
)

// DefaultDatabase is the database tests use unless TASKER_TEST_DATABASE_URL names one.
const DefaultDatabase = "tasker_core_test"

// fallbackURL is tried when neither DATABASE_URL nor TASKER_TEST_DATABASE_URL is set
// (`go test` run by hand on a machine with a local server); `make test` always sets
// DATABASE_URL.
const fallbackURL = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

var (
	once    sync.Once
	baseURL string
	initErr error
)

// URL returns the test database's URL, creating the database when needed.
func URL(t testing.TB) string {
	t.Helper()
	once.Do(func() { baseURL, initErr = resolve() })
	if initErr != nil {
		t.Fatalf("test database: %v (set DATABASE_URL, or run `make test`, which finds or starts a PostgreSQL)", initErr)
	}
	return baseURL
}

func resolve() (string, error) {
	if u := os.Getenv("TASKER_TEST_DATABASE_URL"); u != "" {
		return u, nil
	}
	admin := os.Getenv("DATABASE_URL")
	if admin == "" {
		admin = fallbackURL
	}
	if _, err := pgx.ParseConfig(admin); err != nil {
		return "", fmt.Errorf("parse DATABASE_URL: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	return pgurl.EnsureDatabase(ctx, admin, DefaultDatabase)
}

// NewSchemaName returns a fresh schema name.
func NewSchemaName() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return "t_" + hex.EncodeToString(b)
}

// Options tune Schema.
type Options struct {
	SkipMigrate bool // leave the schema empty (migration tests)
	MaxConns    int32
	// Session: settings every connection of the pool starts with (startup
	// parameters), beside search_path; the benchmarks give the library's
	// (core/api's pool).
	Session map[string]string
}

// Schema creates a fresh schema, returns a pool whose connections use it, migrates
// it (unless opts say not to), and drops it when the test ends.
func Schema(t testing.TB, opts ...Options) *pgxpool.Pool {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	pool, _ := SchemaWithName(t, o)
	return pool
}

// SchemaWithName is Schema that also returns the schema's name.
func SchemaWithName(t testing.TB, o Options) (*pgxpool.Pool, string) {
	t.Helper()
	ctx := context.Background()
	name := NewSchemaName()
	cfg, err := pgxpool.ParseConfig(URL(t))
	require.NoError(t, err)
	for k, v := range o.Session {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = name
	cfg.AfterConnect = pgjson.AfterConnect // as the library's own pool (core/api)
	if o.MaxConns > 0 {
		cfg.MaxConns = o.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize())
	require.NoError(t, err)
	t.Cleanup(func() {
		pool.Close()
		conn, err := pgx.Connect(context.Background(), URL(t))
		if err != nil {
			t.Logf("drop schema %s: %v", name, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), `DROP SCHEMA `+pgx.Identifier{name}.Sanitize()+` CASCADE`); err != nil {
			t.Logf("drop schema %s: %v", name, err)
		}
	})
	if !o.SkipMigrate {
		err = retryLockTableFull(func() error { _, err := migrations.Migrate(ctx, pool); return err })
		require.NoError(t, err)
	}
	return pool, name
}

// lockTableRetries bounds retryLockTableFull: a migration in one transaction
// takes a lock per object it creates, and many test packages migrating and
// dropping schemas in parallel on one server can fill its shared lock table
// (SQLSTATE 53200, "out of shared memory") for a moment. The migration rolled
// back whole, so trying again is safe.
const lockTableRetries = 5

func retryLockTableFull(fn func() error) error {
	var err error
	for attempt := 0; attempt <= lockTableRetries; attempt++ {
		if err = fn(); pgerr.Code(err) != "53200" {
			return err
		}
		time.Sleep(time.Duration(attempt+1) * 200 * time.Millisecond)
	}
	return err
}
