package pgerr_test

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/internal/testdb"
)

func TestTimeoutsAreTimeoutErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, testdb.URL(t))
	require.NoError(t, err)
	defer conn.Close(ctx)

	_, err = conn.Exec(ctx, `SET statement_timeout = 10`)
	require.NoError(t, err)
	_, err = conn.Exec(ctx, `SELECT pg_sleep(1)`)
	assert.Equal(t, errs.Timeout, errs.KindOf(pgerr.Wrap(err, "sleep")), "statement_timeout: %v", err)
	_, err = conn.Exec(ctx, `SET statement_timeout = 0`)
	require.NoError(t, err)

	var n int
	err = conn.QueryRow(ctx, `SELECT 1 WHERE false`).Scan(&n)
	assert.Equal(t, errs.NotFound, errs.KindOf(pgerr.Wrap(err, "none")))
	_, err = conn.Exec(ctx, `SELECT * FROM no_such_table`)
	wrapped := pgerr.Wrap(err, "select")
	assert.Equal(t, errs.Database, errs.KindOf(wrapped))
	assert.Equal(t, "42P01", pgerr.Code(wrapped))
	assert.Equal(t, "42P01", errs.DetailsOf(wrapped)["sqlstate"], "the SQLSTATE reaches callers")
	assert.Nil(t, pgerr.Wrap(nil, "x"))

	// Last: a cancelled query closes the connection.
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	_, err = conn.Exec(short, `SELECT pg_sleep(1)`)
	assert.Equal(t, errs.Timeout, errs.KindOf(pgerr.Wrap(err, "sleep")), "deadline: %v", err)

}

// A refused connection is a lost connection; a statement the server refused is
// not (the database answered), nor is a caller's deadline.
func TestConnectionLost(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close()) // nothing listens there now
	_, err = pgx.Connect(ctx, "postgres://postgres@"+addr+"/postgres?sslmode=disable&connect_timeout=2")
	require.Error(t, err)
	assert.True(t, pgerr.ConnectionLost(err), "refused: %v", err)
	assert.True(t, pgerr.ConnectionLost(pgerr.Wrap(err, "connect")), "wrapped")

	conn, err := pgx.Connect(ctx, testdb.URL(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `SELECT * FROM no_such_table`)
	assert.False(t, pgerr.ConnectionLost(err), "a failed statement: %v", err)
	assert.False(t, pgerr.ConnectionLost(context.DeadlineExceeded))
	assert.False(t, pgerr.ConnectionLost(nil))
}
