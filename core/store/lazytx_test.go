package store_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// lazyTxPool is a store on a schema of its own with a table t(x int), its
// round trips counted.
func lazyTxPool(t *testing.T) (*store.Store, *pgxpool.Pool, *testdb.StatementCounter) {
	t.Helper()
	counter := &testdb.StatementCounter{}
	s, pool := tracedStore(t, counter)
	_, err := pool.Exec(context.Background(), `CREATE TABLE t (x int)`)
	require.NoError(t, err)
	return s, pool, counter
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
	s, pool, counter := lazyTxPool(t)
	counter.Reset()
	err := s.InLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		store.CommitWithNextBatch(tx)
		return tx.SendBatch(ctx, insertBatch(2)).Close()
	})
	require.NoError(t, err)
	assert.EqualValues(t, 2, counter.RT.Load(), "BEGIN with the first batch, COMMIT with the last")
	assert.EqualValues(t, 0, pool.Stat().AcquiredConns())
	assert.Equal(t, []int{1, 2}, lazyTxRows(t, pool))

	// Without it, the commit is a round trip of its own.
	counter.Reset()
	require.NoError(t, s.InLazyTx(ctx, func(tx pgx.Tx) error {
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
	s, pool, _ := lazyTxPool(t)
	err := s.InLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		b := insertBatch(2)
		b.Queue(`SELECT 1 / 0`)
		b.Queue(`INSERT INTO t VALUES (3)`)
		store.CommitWithNextBatch(tx)
		return tx.SendBatch(ctx, b).Close()
	})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "division by zero")
	assert.NotContains(t, err.Error(), "committed")
	assert.Empty(t, lazyTxRows(t, pool))
	assert.EqualValues(t, 0, pool.Stat().AcquiredConns())

	// The same pool's connections still work, inside a transaction and out.
	require.NoError(t, s.InLazyTx(ctx, func(tx pgx.Tx) error {
		store.CommitWithNextBatch(tx)
		return tx.SendBatch(ctx, insertBatch(5)).Close()
	}))
	assert.Equal(t, []int{5}, lazyTxRows(t, pool))
}

// Go failing on a result of the committing batch does not undo the commit
// (every statement had succeeded): the error says the transaction committed.
func TestLazyTxErrorAfterTheCommitSaysSo(t *testing.T) {
	ctx := context.Background()
	s, pool, _ := lazyTxPool(t)
	decode := errors.New("decode failed")
	err := s.InLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		b := insertBatch(2)
		b.Queue(`SELECT 1`).QueryRow(func(pgx.Row) error { return decode })
		store.CommitWithNextBatch(tx)
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
	s, pool, counter := lazyTxPool(t)
	counter.Reset()
	require.NoError(t, s.InLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(1)).Close(); err != nil {
			return err
		}
		store.CommitWithNextBatch(tx)
		return nil
	}))
	assert.EqualValues(t, 2, counter.RT.Load(), "the batch, then COMMIT")
	assert.Equal(t, []int{1}, lazyTxRows(t, pool))

	refused := errors.New("refused")
	err := s.InLazyTx(ctx, func(tx pgx.Tx) error {
		if err := tx.SendBatch(ctx, insertBatch(2)).Close(); err != nil {
			return err
		}
		store.CommitWithNextBatch(tx)
		return refused
	})
	require.ErrorIs(t, err, refused)
	assert.NotContains(t, err.Error(), "committed")
	assert.Equal(t, []int{1}, lazyTxRows(t, pool))
	assert.EqualValues(t, 0, pool.Stat().AcquiredConns())
}
