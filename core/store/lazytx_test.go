package store

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/testdb"
)

// lazyTxPool is a pool on a schema of its own with a table t(x int), its round
// trips counted.
func lazyTxPool(t *testing.T) (*pgxpool.Pool, *testdb.StatementCounter) {
	t.Helper()
	ctx := context.Background()
	_, schema := testdb.SchemaWithName(t, testdb.Options{})
	cfg, err := pgxpool.ParseConfig(testdb.URL(t))
	require.NoError(t, err)
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	counter := &testdb.StatementCounter{}
	cfg.ConnConfig.Tracer = counter
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	_, err = pool.Exec(ctx, `CREATE TABLE t (x int)`)
	require.NoError(t, err)
	return pool, counter
}

func lazyTxRows(t *testing.T, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(context.Background(), `SELECT x FROM t ORDER BY x`)
	require.NoError(t, err)
	xs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	return xs
}

func insertBatch(xs ...int) *pgx.Batch {
	b := &pgx.Batch{}
	for _, x := range xs {
		b.Queue(`INSERT INTO t VALUES ($1)`, x)
	}
	return b
}

// The last batch carries the COMMIT: two batches, two round trips, and the
// connection goes back to the pool outside any transaction.
func TestLazyTxCommitsWithItsLastBatch(t *testing.T) {
	ctx := context.Background()
	pool, counter := lazyTxPool(t)
	s := &Store{pool: pool}
	counter.Reset()
	err := s.inLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		commitWithNextBatch(tx)
		return tx.SendBatch(ctx, insertBatch(2)).Close()
	})
	require.NoError(t, err)
	assert.EqualValues(t, 2, counter.RT.Load(), "BEGIN with the first batch, COMMIT with the last")
	assert.EqualValues(t, 0, pool.Stat().AcquiredConns())
	assert.Equal(t, []int{1, 2}, lazyTxRows(t, pool))

	// Without it, the commit is a round trip of its own.
	counter.Reset()
	require.NoError(t, s.inLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(3)).Close(); err != nil {
			return err
		}
		return tx.SendBatch(ctx, insertBatch(4)).Close()
	}))
	assert.EqualValues(t, 3, counter.RT.Load())
	assert.Equal(t, []int{1, 2, 3, 4}, lazyTxRows(t, pool))
}

// A statement of the committing batch that fails makes the server skip the
// COMMIT: nothing of the transaction is kept, and the connection is usable.
func TestLazyTxFailedLastBatchCommitsNothing(t *testing.T) {
	ctx := context.Background()
	pool, _ := lazyTxPool(t)
	s := &Store{pool: pool}
	err := s.inLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		b := insertBatch(2)
		b.Queue(`SELECT 1 / 0`)
		b.Queue(`INSERT INTO t VALUES (3)`)
		commitWithNextBatch(tx)
		return tx.SendBatch(ctx, b).Close()
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "division by zero")
	assert.NotContains(t, err.Error(), "committed")
	assert.Empty(t, lazyTxRows(t, pool))
	assert.EqualValues(t, 0, pool.Stat().AcquiredConns())

	// The same pool's connections still work, inside a transaction and out.
	require.NoError(t, s.inLazyTx(ctx, func(tx pgx.Tx) error {
		commitWithNextBatch(tx)
		return tx.SendBatch(ctx, insertBatch(5)).Close()
	}))
	assert.Equal(t, []int{5}, lazyTxRows(t, pool))
}

// Go failing on a result of the committing batch does not undo the commit
// (every statement had succeeded): the error says the transaction committed.
func TestLazyTxErrorAfterTheCommitSaysSo(t *testing.T) {
	ctx := context.Background()
	pool, _ := lazyTxPool(t)
	s := &Store{pool: pool}
	decode := errors.New("decode failed")
	err := s.inLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		b := insertBatch(2)
		b.Queue(`SELECT 1`).QueryRow(func(pgx.Row) error { return decode })
		commitWithNextBatch(tx)
		return tx.SendBatch(ctx, b).Close()
	})
	require.ErrorIs(t, err, decode)
	assert.Contains(t, err.Error(), "the transaction was committed")
	assert.Equal(t, []int{1, 2}, lazyTxRows(t, pool))
	assert.EqualValues(t, 0, pool.Stat().AcquiredConns())
}

// Asked to commit with a next batch that never comes, the transaction commits
// the usual way; an error before any batch rolls back as always.
func TestLazyTxCommitWithoutALastBatch(t *testing.T) {
	ctx := context.Background()
	pool, counter := lazyTxPool(t)
	s := &Store{pool: pool}
	counter.Reset()
	require.NoError(t, s.inLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		commitWithNextBatch(tx)
		return nil
	}))
	assert.EqualValues(t, 2, counter.RT.Load(), "the batch, then COMMIT")
	assert.Equal(t, []int{1}, lazyTxRows(t, pool))

	refused := errors.New("refused")
	err := s.inLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(2)).Close(); err != nil {
			return err
		}
		commitWithNextBatch(tx)
		return refused
	})
	require.ErrorIs(t, err, refused)
	assert.NotContains(t, err.Error(), "committed")
	assert.Equal(t, []int{1}, lazyTxRows(t, pool))
	assert.EqualValues(t, 0, pool.Stat().AcquiredConns())
}
