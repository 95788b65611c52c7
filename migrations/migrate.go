package migrations

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

//go:embed *.sql
var files embed.FS

// Migration is one numbered schema file.
type Migration struct {
	Version  int
	Name     string
	SQL      string
	Checksum string
}

// Result says what a Migrate call did.
type Result struct {
	Applied            []string `json:"applied"`             // migration files applied by this call
	FunctionsInstalled bool     `json:"functions_installed"` // SQL functions were (re)installed
	SchemaVersion      int      `json:"schema_version"`      // the highest applied migration
}

// recordTable lists applied migrations; functionsKey is its row for the SQL
// functions' checksum (version 0 is never a migration number).
const (
	recordTable  = "tasker_core_schema_migrations"
	functionsKey = "sqlfuncs"
)

// All returns the embedded migrations in order. It panics on a misnamed file,
// which a unit test catches at build time.
func All() []Migration {
	names, _ := fs.Glob(files, "*.sql")
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			panic(fmt.Sprintf("migration %q: name must start with a positive number and '_'", name))
		}
		b, _ := files.ReadFile(name)
		sum := sha256.Sum256(b)
		out = append(out, Migration{Version: v, Name: name, SQL: string(b), Checksum: hex.EncodeToString(sum[:])})
	}
	return out
}

// LatestVersion is the schema version this binary migrates to.
func LatestVersion() int {
	all := All()
	return all[len(all)-1].Version
}

// Beginner starts transactions: *pgxpool.Pool, *pgx.Conn and pgx.Tx all are.
type Beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Migrate applies what is missing. An applied migration whose file has since
// changed is refused (errs.Configuration) rather than silently re-run.
func Migrate(ctx context.Context, db Beginner) (Result, error) {
	var res Result
	tx, err := db.Begin(ctx)
	if err != nil {
		return res, errs.Wrap(errs.Database, err, "migrate: begin")
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after commit

	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('tasker_core.migrate.' || current_schema()))`); err != nil {
		return res, errs.Wrap(errs.Database, err, "migrate: advisory lock")
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+recordTable+` (
		version integer PRIMARY KEY,
		name text NOT NULL,
		checksum text NOT NULL,
		applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return res, errs.Wrap(errs.Database, err, "migrate: record table")
	}
	applied := map[int]string{}
	rows, err := tx.Query(ctx, `SELECT version, checksum FROM `+recordTable+` WHERE version > 0`)
	if err != nil {
		return res, errs.Wrap(errs.Database, err, "migrate: read record")
	}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return res, errs.Wrap(errs.Database, err, "migrate: read record")
		}
		applied[v] = sum
	}
	if err := rows.Err(); err != nil {
		return res, errs.Wrap(errs.Database, err, "migrate: read record")
	}

	for _, m := range All() {
		if sum, ok := applied[m.Version]; ok {
			if sum != m.Checksum {
				return res, errs.New(errs.Configuration, map[string]any{"migration": m.Name},
					"migration %s was applied with different contents; write a new migration instead of editing an applied one", m.Name)
			}
			res.SchemaVersion = m.Version
			continue
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return res, errs.Wrap(errs.Database, err, "migrate: apply %s", m.Name)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+recordTable+` (version, name, checksum) VALUES ($1, $2, $3)`,
			m.Version, m.Name, m.Checksum); err != nil {
			return res, errs.Wrap(errs.Database, err, "migrate: record %s", m.Name)
		}
		res.Applied = append(res.Applied, m.Name)
		res.SchemaVersion = m.Version
	}

	installed, err := installFunctions(ctx, tx)
	if err != nil {
		return res, err
	}
	res.FunctionsInstalled = installed
	for _, name := range res.Applied {
		if fill, ok := afterFunctions[name]; ok {
			if _, err := tx.Exec(ctx, fill); err != nil {
				return res, errs.Wrap(errs.Database, err, "migrate: fill %s", name)
			}
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return res, errs.Wrap(errs.Database, err, "migrate: commit")
	}
	return res, nil
}

// afterFunctions holds, by migration, what fills its new columns with the SQL
// functions, run once the functions are installed in the call that applied it.
var afterFunctions = map[string]string{
	// The step schedule of every unfinished task (an adopted database's too),
	// then the tasks' ready_at from it (core/store/schedule.go's rule).
	"0016_step_schedule.sql": `
		UPDATE tasker_workflow_steps ws SET runnable_at = r.runnable_at
		FROM tasker_step_runnable_at(ARRAY(
			SELECT s.workflow_step_id FROM tasker_workflow_steps s
			JOIN tasker_tasks t ON t.task_id = s.task_id WHERE NOT t.complete)) r
		WHERE ws.workflow_step_id = r.workflow_step_id AND ws.runnable_at IS DISTINCT FROM r.runnable_at;
		UPDATE tasker_tasks t SET ready_at = CASE
				WHEN COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
				               WHERE tt.task_id = t.task_id AND tt.most_recent), 'pending')
				     IN ('complete', 'cancelled', 'resolved_manually', 'error') THEN NULL
				ELSE (SELECT min(ws.runnable_at) FROM tasker_workflow_steps ws
				      WHERE ws.task_id = t.task_id AND ws.runnable_at IS NOT NULL)
			END
		WHERE NOT t.complete`,
}

// installFunctions drops every function and type the sqlfuncs files define (of any
// signature, so tasker-engine's older functions of the same names go too) and
// creates them anew, when the installed checksum differs.
func installFunctions(ctx context.Context, tx pgx.Tx) (bool, error) {
	want := sqlfuncs.Checksum()
	var have string
	err := tx.QueryRow(ctx, `SELECT checksum FROM `+recordTable+` WHERE version = 0`).Scan(&have)
	if err != nil && err != pgx.ErrNoRows {
		return false, errs.Wrap(errs.Database, err, "migrate: read functions checksum")
	}
	if have == want {
		return false, nil
	}
	functions, types := sqlfuncs.Names()
	rows, err := tx.Query(ctx, `
		SELECT p.oid::regprocedure::text FROM pg_proc p
		WHERE p.pronamespace = current_schema()::regnamespace AND p.proname = ANY ($1)`, functions)
	if err != nil {
		return false, errs.Wrap(errs.Database, err, "migrate: list functions")
	}
	sigs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return false, errs.Wrap(errs.Database, err, "migrate: list functions")
	}
	for _, sig := range sigs {
		if _, err := tx.Exec(ctx, `DROP FUNCTION IF EXISTS `+sig+` CASCADE`); err != nil {
			return false, errs.Wrap(errs.Database, err, "migrate: drop %s", sig)
		}
	}
	for _, typ := range types {
		if _, err := tx.Exec(ctx, `DROP TYPE IF EXISTS `+pgx.Identifier{typ}.Sanitize()+` CASCADE`); err != nil {
			return false, errs.Wrap(errs.Database, err, "migrate: drop type %s", typ)
		}
	}
	for _, f := range sqlfuncs.Files() {
		if _, err := tx.Exec(ctx, f.SQL); err != nil {
			return false, errs.Wrap(errs.Database, err, "migrate: install %s", f.Name)
		}
	}
	if _, err := tx.Exec(ctx, `
		INSERT INTO `+recordTable+` (version, name, checksum) VALUES (0, $1, $2)
		ON CONFLICT (version) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now()`,
		functionsKey, want); err != nil {
		return false, errs.Wrap(errs.Database, err, "migrate: record functions")
	}
	return true, nil
}

// SchemaVersion returns the highest applied migration in the current schema, 0 if
// none.
func SchemaVersion(ctx context.Context, q interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, recordTable).Scan(&exists); err != nil {
		return 0, errs.Wrap(errs.Database, err, "schema version")
	}
	if !exists {
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, `SELECT COALESCE(max(version), 0) FROM `+recordTable).Scan(&v); err != nil {
		return 0, errs.Wrap(errs.Database, err, "schema version")
	}
	return v, nil
}

// Status is what Migrate would do in the current schema, read without changing
// anything (the Rails integration's `tasker_core:status`).
type Status struct {
	SchemaVersion    int      `json:"schema_version"`    // the highest applied migration, 0 when none
	LatestVersion    int      `json:"latest_version"`    // the highest migration this binary has
	Pending          []string `json:"pending"`           // migration files not applied yet, in order
	FunctionsCurrent bool     `json:"functions_current"` // the installed SQL functions are this binary's
}

// ReadStatus reports the current schema's migrations against the embedded ones.
func ReadStatus(ctx context.Context, q interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}) (Status, error) {
	st := Status{LatestVersion: LatestVersion(), Pending: []string{}}
	var exists bool
	if err := q.QueryRow(ctx, `SELECT to_regclass($1) IS NOT NULL`, recordTable).Scan(&exists); err != nil {
		return st, errs.Wrap(errs.Database, err, "migration status")
	}
	applied := map[int]string{}
	if exists {
		rows, err := q.Query(ctx, `SELECT version, checksum FROM `+recordTable)
		if err != nil {
			return st, errs.Wrap(errs.Database, err, "migration status")
		}
		for rows.Next() {
			var v int
			var sum string
			if err := rows.Scan(&v, &sum); err != nil {
				return st, errs.Wrap(errs.Database, err, "migration status")
			}
			applied[v] = sum
		}
		if err := rows.Err(); err != nil {
			return st, errs.Wrap(errs.Database, err, "migration status")
		}
	}
	for _, m := range All() {
		if _, ok := applied[m.Version]; ok {
			if m.Version > st.SchemaVersion {
				st.SchemaVersion = m.Version
			}
			continue
		}
		st.Pending = append(st.Pending, m.Name)
	}
	st.FunctionsCurrent = applied[0] == sqlfuncs.Checksum()
	return st, nil
}
