// Package pgurl derives database URLs and creates databases, for the test helper
// and the demo, which each want a database of their own next to DATABASE_URL's.
package pgurl

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5"
)

// WithDatabase swaps the database name of a postgres:// URL or a key=value DSN.
func WithDatabase(raw, db string) (string, error) {
	if strings.HasPrefix(raw, "postgres://") || strings.HasPrefix(raw, "postgresql://") {
		u, err := url.Parse(raw)
		if err != nil {
			return "", fmt.Errorf("parse database URL: %w", RedactError(err, raw))
		}
		u.Path = "/" + db
		return u.String(), nil
	}
	return raw + " dbname=" + db, nil
}

// EnsureDatabase connects with adminURL, creates database name when it is absent,
// and returns adminURL pointed at it.
func EnsureDatabase(ctx context.Context, adminURL, name string) (string, error) {
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return "", fmt.Errorf("connect to %s: %w", Mask(adminURL), err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if !exists {
		_, err := conn.Exec(ctx, `CREATE DATABASE `+pgx.Identifier{name}.Sanitize())
		// A parallel process may have created it a moment ago.
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			return "", fmt.Errorf("create database %s: %w", name, err)
		}
	}
	return WithDatabase(adminURL, name)
}
