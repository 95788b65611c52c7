package bench

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// statementCounter counts a pool's statements and round trips.
type statementCounter = testdb.StatementCounter

// countingStore is a store over the env's schema whose pool counts its
// statements and uses the library's session settings, as api.Open's pool does.
func (e *env) countingStore(b *testing.B) (*store.Store, *statementCounter) {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(e.url)
	must(b, err)
	for k, v := range librarySession(b) {
		cfg.ConnConfig.RuntimeParams[k] = v
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = e.schema
	cfg.MaxConns = 4
	counter := &statementCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	must(b, err)
	b.Cleanup(pool.Close)
	s := store.New(pool, backoff.Default())
	must(b, s.SyncRetryPolicy(context.Background()))
	counter.Reset()
	return s, counter
}
