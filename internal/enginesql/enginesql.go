// Package enginesql loads tasker-engine's own SQL functions (read from a copy of
// its SQL outside this repository, never vendored) into a schema of their own, so
// tests and benchmarks can run them over Tasker Core's tables — which carry the
// engine's table names — beside Tasker Core's functions: a differential test of
// answers, and a baseline of speed on identical rows.
package enginesql

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// EnvDir names the directory of tasker-engine's SQL (schema.sql and
// get_step_readiness_status_single_and_batch_v02.sql).
const EnvDir = "TASKER_ENGINE_SQL_DIR"

// Dir is where tasker-engine's SQL is read from: $TASKER_ENGINE_SQL_DIR, else
// ../shared/tasker-engine beside the repository whose root is repoRoot.
func Dir(repoRoot string) string {
	if d := os.Getenv(EnvDir); d != "" {
		return d
	}
	return filepath.Join(repoRoot, "..", "shared", "tasker-engine")
}

// Where each function the callers need is defined: readiness from the engine's
// v02 fix (NULL attempts), the rest from its schema dump.
var sources = map[string]string{
	"get_step_readiness_status":         "get_step_readiness_status_single_and_batch_v02.sql",
	"get_step_readiness_status_batch":   "get_step_readiness_status_single_and_batch_v02.sql",
	"get_task_execution_context":        "schema.sql",
	"get_task_execution_contexts_batch": "schema.sql",
	"calculate_dependency_levels":       "schema.sql",
}

// Execer runs a statement: *pgxpool.Pool, *pgx.Conn and pgx.Tx all do.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Function returns the text of `CREATE FUNCTION [public.]<name>(...) ... $$;` in
// src, created in schema, with its result columns' `timestamp without time zone`
// read as timestamptz (Tasker Core's columns hold the same UTC instants), or ""
// when src does not define it.
func Function(src, name, schema string) string {
	re := regexp.MustCompile(`(?s)CREATE (?:OR REPLACE )?FUNCTION (?:public\.)?` + regexp.QuoteMeta(name) + `\(.*?\n\s*AS \$\$.*?\n\$\$;`)
	m := re.FindString(src)
	if m == "" {
		return ""
	}
	m = strings.Replace(m, "FUNCTION public."+name, "FUNCTION "+name, 1)
	head, body, _ := strings.Cut(m, "AS $$")
	m = strings.ReplaceAll(head, "timestamp without time zone", "timestamp with time zone") + "AS $$" + body
	return strings.Replace(m, "FUNCTION "+name, "FUNCTION "+pgx.Identifier{schema}.Sanitize()+"."+name, 1)
}

// Load creates schema and the named engine functions in it, read from dir. A
// connection whose search_path is "<schema>,<Tasker Core's schema>" then calls the
// engine's functions, which resolve each other in their schema first and the
// tables in Tasker Core's. It returns an error wrapping os.ErrNotExist when dir
// lacks a file, so callers can skip with a reason.
func Load(ctx context.Context, db Execer, dir, schema string, names ...string) error {
	texts := map[string]string{}
	for _, name := range names {
		file, ok := sources[name]
		if !ok {
			return fmt.Errorf("enginesql: no known source for %s", name)
		}
		if _, ok := texts[file]; !ok {
			b, err := os.ReadFile(filepath.Join(dir, file))
			if err != nil {
				return fmt.Errorf("tasker-engine's SQL: %w", err)
			}
			texts[file] = string(b)
		}
	}
	if _, err := db.Exec(ctx, `CREATE SCHEMA IF NOT EXISTS `+pgx.Identifier{schema}.Sanitize()); err != nil {
		return err
	}
	for _, name := range names {
		def := Function(texts[sources[name]], name, schema)
		if def == "" {
			return fmt.Errorf("enginesql: %s not found in %s", name, filepath.Join(dir, sources[name]))
		}
		if _, err := db.Exec(ctx, def); err != nil {
			return fmt.Errorf("enginesql: load %s: %w", name, err)
		}
	}
	return nil
}
