package store

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// lazyTx is a transaction that begins with its first statement: when that is a
// batch (a claim's pick, a report's facts), BEGIN goes to the server in the
// same round trip (pgx.Batch.BeginTx) instead of a round trip of its own. Any
// other first call begins the usual way. A transaction that sent nothing
// commits and rolls back without a round trip.
type lazyTx struct {
	pool *pgxpool.Pool
	tx   pgx.Tx
}

var _ pgx.Tx = (*lazyTx)(nil)

func (l *lazyTx) begin(ctx context.Context) error {
	if l.tx != nil {
		return nil
	}
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return err
	}
	l.tx = tx
	return nil
}

func (l *lazyTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if l.tx != nil {
		return l.tx.SendBatch(ctx, b)
	}
	first := &pgx.Batch{}
	first.BeginTx(pgx.TxOptions{})
	first.QueuedQueries = append(first.QueuedQueries, b.QueuedQueries...)
	br := l.pool.SendBatch(ctx, first)
	if tx := br.Tx(); tx != nil {
		l.tx = tx
	}
	// The BEGIN's own result is read here: the caller reads its statements'
	// results in the order it queued them (a failed BEGIN fails them too).
	_, _ = br.Exec()
	return br
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
	return l.tx.Commit(ctx)
}

func (l *lazyTx) Rollback(ctx context.Context) error {
	if l.tx == nil {
		return nil
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
		_ = lt.Rollback(ctx)
		return err
	}
	return lt.Commit(ctx)
}
