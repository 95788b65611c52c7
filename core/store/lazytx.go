package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lazyTx is a transaction that begins with its first statement: when that is a
// batch (a claim's pick, a report's facts), BEGIN goes to the server in the
// same round trip (pgx.Batch.BeginTx) instead of a round trip of its own. Any
// other first call begins the usual way. A transaction that sent nothing
// commits and rolls back without a round trip.
//
// It can also end with its last batch: after commitWithNextBatch(tx), the next
// batch sent carries COMMIT as its last statement, so the commit costs no
// round trip of its own (TestWorkerRoundTrips). A statement of that batch that
// fails makes the server skip the rest, COMMIT included, and the transaction
// is rolled back as before. The COMMIT runs once every statement before it has
// succeeded, whatever Go then does with their results: the code that asks for
// it sends nothing after that batch and decides nothing from its results.
type lazyTx struct {
	pool *pgxpool.Pool
	conn *pgxpool.Conn // held from the first statement until Commit or Rollback
	tx   pgx.Tx
	// commitNext: the next batch ends with COMMIT; commitSent: one did.
	commitNext, commitSent bool
}

var _ pgx.Tx = (*lazyTx)(nil)

func (l *lazyTx) begin(ctx context.Context) error {
	if l.tx != nil {
		return nil
	}
	c, err := l.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		c.Release()
		return err
	}
	l.conn, l.tx = c, tx
	return nil
}

// commitWithNextBatch makes the next batch tx sends end the transaction when
// tx is a lazyTx; another pgx.Tx commits on its own when its owner says so.
func commitWithNextBatch(tx pgx.Tx) {
	if l, ok := tx.(*lazyTx); ok {
		l.commitNext = true
	}
}

func (l *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if l.commitNext && b.Len() > 0 {
		l.commitNext = false
		b.Queue("COMMIT")
		l.commitSent = true
	}
	if l.tx != nil {
		return l.tx.SendBatch(ctx, b)
	}
	c, err := l.pool.Acquire(ctx)
	if err != nil {
		return pgx.FailedBatchResults(b, err)
	}
	first := &pgx.Batch{}
	first.BeginTx(pgx.TxOptions{})
	first.QueuedQueries = append(first.QueuedQueries, b.QueuedQueries...)
	br := c.SendBatch(ctx, first)
	l.conn, l.tx = c, br.Tx()
	// The BEGIN's own result is read here: the caller reads its statements'
	// results in the order it queued them (a failed BEGIN fails them too).
	_, _ = br.Exec()
	return br
}

// done says whether the connection is outside a transaction: the batch's
// COMMIT ran, or the server ended the transaction (a failed BEGIN).
func (l *lazyTx) done() bool {
	return l.conn.Conn().PgConn().TxStatus() == 'I'
}

func (l *lazyTx) release() {
	if l.conn != nil {
		l.conn.Release() // a connection left inside a transaction is closed, not reused
		l.conn = nil
	}
}

func (l *lazyTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	return l.tx.Begin(ctx)
}

func (l *lazyTx) Commit(ctx context.Context) error {
	if l.tx == nil {
		return nil
	}
	defer l.release()
	if l.commitSent && l.done() {
		return nil // committed by the last batch
	}
	return l.tx.Commit(ctx)
}

func (l *lazyTx) Rollback(ctx context.Context) error {
	if l.tx == nil {
		return nil
	}
	defer l.release()
	if l.done() {
		return nil // nothing to roll back: the server ended the transaction
	}
	return l.tx.Rollback(ctx)
}

func (l *lazyTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	if err := l.begin(ctx); err != nil {
		return 0, err
	}
	return l.tx.CopyFrom(ctx, table, columns, src)
}

func (l *lazyTx) LargeObjects() pgx.LargeObjects {
	if err := l.begin(context.Background()); err != nil {
		return pgx.LargeObjects{}
	}
	return l.tx.LargeObjects()
}

func (l *lazyTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	return l.tx.Prepare(ctx, name, sql)
}

func (l *lazyTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := l.begin(ctx); err != nil {
		return pgconn.CommandTag{}, err
	}
	return l.tx.Exec(ctx, sql, args...)
}

func (l *lazyTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := l.begin(ctx); err != nil {
		return nil, err
	}
	return l.tx.Query(ctx, sql, args...)
}

func (l *lazyTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := l.begin(ctx); err != nil {
		return errRow{err}
	}
	return l.tx.QueryRow(ctx, sql, args...)
}

func (l *lazyTx) Conn() *pgx.Conn {
	if l.tx == nil {
		return nil
	}
	return l.tx.Conn()
}

// errRow is a Row whose Scan returns err.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// inLazyTx runs fn in a lazyTx: committed when fn returns nil, rolled back
// otherwise (and when fn panics).
func (s *Store) inLazyTx(ctx context.Context, fn func(pgx.Tx) error) (err error) {
	lt := &lazyTx{pool: s.pool}
	defer func() {
		if p := recover(); p != nil {
			_ = lt.Rollback(ctx)
			panic(p)
		}
	}()
	if err := fn(lt); err != nil {
		committed := lt.commitSent && lt.tx != nil && lt.done()
		_ = lt.Rollback(ctx)
		if committed {
			// Every statement of the last batch succeeded, COMMIT included; Go
			// failed on one of their results after that.
			return fmt.Errorf("%w (the transaction was committed)", err)
		}
		return err
	}
	return lt.Commit(ctx)
}
