// Package pgerr types errors from pgx: every database call in Tasker Core turns its
// error into an *errs.Error here, so a statement timeout or a passed deadline is a
// timeout_error wherever it happens, and a closed pool a database_error.
package pgerr

import (
	"context"
	"errors"

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
// else → database_error. what says which operation failed.
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
	return errs.Wrap(errs.Database, err, "%s", what)
}

// Code returns the SQLSTATE of a PostgreSQL error in err's chain, or "".
func Code(err error) string {
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		return pg.Code
	}
	return ""
}

// SQLSTATEs that tell a missing table or privilege from other failures.
const (
	InsufficientPrivilege = "42501"
	UndefinedTable        = "42P01"
)
