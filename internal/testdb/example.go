package testdb

import (
	"context"
	"fmt"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/migrations"
)

// Example is Schema for runnable examples (func ExampleX), which get no
// testing.TB: a fresh migrated schema and a pool using it, and a function that
// drops both. An example cannot skip, so without a reachable database it exits
// the test binary with the reason; `make test` always provides one
// (scripts/with-postgres.sh), as it does for every other database test.
func Example() (*pgxpool.Pool, func()) {
	ctx := context.Background()
	once.Do(func() { baseURL, initErr = resolve() })
	if initErr != nil {
		exampleFail(fmt.Errorf("test database: %w (set DATABASE_URL, or run `make test`)", initErr))
	}
	name := NewSchemaName()
	cfg, err := pgxpool.ParseConfig(baseURL)
	if err != nil {
		exampleFail(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = name
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		exampleFail(err)
	}
	drop := func() {
		pool.Close()
		conn, err := pgx.Connect(context.Background(), baseURL)
		if err != nil {
			return
		}
		defer conn.Close(context.Background())
		_, _ = conn.Exec(context.Background(), `DROP SCHEMA IF EXISTS `+pgx.Identifier{name}.Sanitize()+` CASCADE`)
	}
	if _, err := pool.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{name}.Sanitize()); err != nil {
		drop()
		exampleFail(err)
	}
	if _, err := migrations.Migrate(ctx, pool); err != nil {
		drop()
		exampleFail(err)
	}
	return pool, drop
}

// ExampleURL is the test database's URL and a fresh schema's name in it (created
// and migrated), for examples that open their own client; drop removes the schema.
func ExampleURL() (url, schema string, drop func()) {
	pool, drop := Example()
	return baseURL, pool.Config().ConnConfig.RuntimeParams["search_path"], drop
}

func exampleFail(err error) {
	fmt.Fprintln(os.Stderr, "example:", err)
	os.Exit(1)
}
