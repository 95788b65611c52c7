// Package pgerr types errors from pgx: every database call in Tasker Core turns its
// error into an *errs.Error here, so a statement timeout or a passed deadline is a
// timeout_error wherever it happens, and a closed pool a database_error.
package pgerr

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/taskercore/tasker-core/core/errs"
)

// SQLSTATEs with their own meaning here.
const (
	QueryCanceled      = "57014" // statement_timeout
	UniqueViolation    = "23505"
	DuplicateSchema    = "42P06"
	DeadlockDetected   = "40P01"
	SerializationRetry = "40001"
)

// Wrap types err (nil stays nil; an *errs.Error passes through unchanged):
// no rows → not_found, a deadline or statement timeout → timeout_error, anything
// else → database_error, with details.sqlstate when PostgreSQL answered. what says
// which operation failed.
func Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var typed *errs.Error
	if errors.As(err, &typed) {
		return err
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return errs.Wrap(errs.NotFound, err, "%s", what)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || Code(err) == QueryCanceled {
		return errs.Wrap(errs.Timeout, err, "%s", what)
	}
	wrapped := errs.Wrap(errs.Database, err, "%s", what)
	if code := Code(err); code != "" {
		// Callers tell a lost connection (class 08) from a refused statement by it.
		wrapped.(*errs.Error).Details = map[string]any{"sqlstate": code}
	}
	return wrapped
}

// Code returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func Code(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

// ConnectionLost reports whether err says the database could not be reached or
// the connection broke (as opposed to a statement that failed): a refused or
// broken connection, a server shutting down or starting (SQLSTATE 57P01-57P03),
// a connection exception (class 08).
func ConnectionLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if c := Code(err); c != "" {
		return strings.HasPrefix(c, "08") || c == "57P01" || c == "57P02" || c == "57P03"
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	return errors.As(err, &connectErr) || errors.As(err, &netErr) || errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) || pgconn.SafeToRetry(err)
}

// SQLSTATEs that tell a missing table or privilege from other failures.
const (
	InsufficientPrivilege = "42501"
	UndefinedTable        = "42P01"
)
