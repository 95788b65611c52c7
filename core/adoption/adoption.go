package adoption

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/migrations"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// Change actions.
const (
	ApplyMigration   = "apply_migration"   // Name: the migration file
	CreateTable      = "create_table"      // Table
	AddColumn        = "add_column"        // Table, Column
	ConvertTimestamp = "convert_timestamp" // Table, Column, Rows: timestamp → timestamptz, read as UTC
	SetDefault       = "set_default"       // Table, Column: DEFAULT now()
	Backfill         = "backfill"          // Table, Column, Rows: a new column filled for existing rows
	CreateIndex      = "create_index"      // Name, Table
	CreateFunction   = "create_function"   // Name: a helper function a migration creates
	ReplaceFunction  = "replace_function"  // Name: the signature of a function dropped (CASCADE) and created anew
	InstallFunction  = "install_function"  // Name: a Tasker Core SQL function (re)installed
)

// Problem kinds. Blockers make Migrate fail (or lose something) until they are
// fixed; warnings do not stop it but need a decision.
const (
	NewerSchema           = "newer_schema"             // the schema was migrated by a newer Tasker Core
	EditedMigration       = "edited_migration"         // an applied migration's checksum differs (Migrate refuses)
	DependentObject       = "dependent_object"         // a view, trigger or policy on a column to convert, or on a function to drop
	DuplicateRows         = "duplicate_rows"           // rows a unique index to create would refuse
	MissingColumn         = "missing_column"           // an existing table lacks a column Tasker Core reads
	NotOwner              = "not_owner"                // the role cannot ALTER a table it must change
	Drift                 = "drift"                    // an applied migration's object is missing
	UnknownState          = "unknown_state"            // transitions to a state Tasker Core does not know
	InProcessWithoutLease = "in_process_without_lease" // steps the engine's workers hold: no lease ever expires them
	CheckFailed           = "check_failed"             // a check could not run (the message says why)
)

// Report is what adopting the schema in place (Migrate) would change, and what
// stands in its way. An up-to-date schema has no Changes.
type Report struct {
	Schema         string `json:"schema"`
	EngineDatabase bool   `json:"engine_database"` // tasker-engine's tables are there and Tasker Core never migrated the schema
	SchemaVersion  int    `json:"schema_version"`  // highest applied Tasker Core migration (0: none)
	TargetVersion  int    `json:"target_version"`  // the version this library migrates to
	ReadyToAdopt   bool   `json:"ready_to_adopt"`  // no blockers
	UpToDate       bool   `json:"up_to_date"`      // nothing left to change

	Tables   []Table   `json:"tables"`
	Changes  []Change  `json:"changes"`
	Blockers []Problem `json:"blockers"`
	Warnings []Problem `json:"warnings"`

	// Steps (tasks) without a transition row: the engine's way of saying pending.
	// Tasker Core reads them the same way and writes their first transition with
	// sort_key 1.
	StepsWithoutTransitions int64 `json:"steps_without_transitions"`
	TasksWithoutTransitions int64 `json:"tasks_without_transitions"`
	// Functions of the schema that adoption leaves alone (the engine's *_v01
	// functions, say): nothing of Tasker Core calls them.
	OtherFunctions []string `json:"other_functions"`
}

// Table is one table of the schema, or one Tasker Core would create.
type Table struct {
	Name    string `json:"name"`
	Present bool   `json:"present"`
	Managed bool   `json:"managed"` // created (when absent) by Tasker Core's migrations
	Rows    int64  `json:"rows"`
	Bytes   int64  `json:"bytes"` // with indexes and TOAST: what a timestamp conversion rewrites
}

// Change is one thing Migrate would do.
type Change struct {
	Action    string `json:"action"`
	Migration string `json:"migration,omitempty"`
	Table     string `json:"table,omitempty"`
	Column    string `json:"column,omitempty"`
	Name      string `json:"name,omitempty"`
	Rows      int64  `json:"rows,omitempty"`
	Detail    string `json:"detail,omitempty"`
}

// Problem is a blocker or a warning.
type Problem struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
	Table   string `json:"table,omitempty"`
	Column  string `json:"column,omitempty"`
	Object  string `json:"object,omitempty"`
	Count   int64  `json:"count,omitempty"`
}

// Beginner starts transactions (*pgxpool.Pool, *pgx.Conn).
type Beginner interface {
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
}

// utcMigration is the migration that converts Rails' timestamp columns and gives
// created_at/updated_at their defaults (0002_utc_timestamps.sql).
const utcMigration = 2

// Inspect reports what Migrate would change in the connection's current schema.
// It runs in one READ ONLY, REPEATABLE READ transaction, rolled back: it writes
// nothing, whatever it finds, and sees one consistent snapshot.
func Inspect(ctx context.Context, db Beginner) (Report, error) {
	tx, err := db.BeginTx(ctx, pgx.TxOptions{AccessMode: pgx.ReadOnly, IsoLevel: pgx.RepeatableRead})
	if err != nil {
		return Report{}, pgerr.Wrap(err, "adoption report: begin")
	}
	defer tx.Rollback(ctx) //nolint:errcheck // read only: nothing to keep
	in := &inspector{tx: tx, plan: readPlan()}
	if err := in.run(ctx); err != nil {
		return Report{}, err
	}
	r := in.r
	r.ReadyToAdopt = len(r.Blockers) == 0
	r.UpToDate = len(r.Changes) == 0
	if r.Changes == nil {
		r.Changes = []Change{}
	}
	if r.Blockers == nil {
		r.Blockers = []Problem{}
	}
	if r.Warnings == nil {
		r.Warnings = []Problem{}
	}
	if r.OtherFunctions == nil {
		r.OtherFunctions = []string{}
	}
	return r, nil
}

type column struct {
	dataType   string
	hasDefault bool
}

type inspector struct {
	tx   pgx.Tx
	plan plan
	r    Report

	tables   map[string]*Table
	owned    map[string]bool
	columns  map[string]map[string]column // table → column
	indexes  map[string]bool
	funcs    map[string][]string // name → signatures
	pending  map[int]bool        // migration version → not applied
	applied  map[int]string      // version → checksum
	recorded bool
}

func (in *inspector) run(ctx context.Context) error {
	in.r.TargetVersion = migrations.LatestVersion()
	steps := []func(context.Context) error{
		in.readCatalog, in.readRecord, in.migrationsToApply, in.tablesAndColumns, in.timestamps,
		in.indexesToCreate, in.functionsToInstall, in.data,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (in *inspector) readCatalog(ctx context.Context) error {
	if err := in.tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&in.r.Schema); err != nil {
		return pgerr.Wrap(err, "adoption report: schema")
	}
	in.tables, in.owned = map[string]*Table{}, map[string]bool{}
	rows, err := in.tx.Query(ctx, `
		SELECT c.relname, pg_total_relation_size(c.oid), pg_has_role(c.relowner, 'USAGE')
		FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'p')
		  AND c.relname LIKE 'tasker\_%'`)
	if err != nil {
		return pgerr.Wrap(err, "adoption report: tables")
	}
	for rows.Next() {
		t := &Table{Present: true}
		var owner bool
		if err := rows.Scan(&t.Name, &t.Bytes, &owner); err != nil {
			return pgerr.Wrap(err, "adoption report: tables")
		}
		in.tables[t.Name], in.owned[t.Name] = t, owner
	}
	if err := rows.Err(); err != nil {
		return pgerr.Wrap(err, "adoption report: tables")
	}
	for name, t := range in.tables {
		if err := in.tx.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{name}.Sanitize()).Scan(&t.Rows); err != nil {
			return pgerr.Wrap(err, "adoption report: count "+name)
		}
	}

	in.columns = map[string]map[string]column{}
	rows, err = in.tx.Query(ctx, `
		SELECT table_name, column_name, data_type, column_default IS NOT NULL
		FROM information_schema.columns
		WHERE table_schema = current_schema() AND table_name LIKE 'tasker\_%'`)
	if err != nil {
		return pgerr.Wrap(err, "adoption report: columns")
	}
	for rows.Next() {
		var table, name string
		var c column
		if err := rows.Scan(&table, &name, &c.dataType, &c.hasDefault); err != nil {
			return pgerr.Wrap(err, "adoption report: columns")
		}
		if in.columns[table] == nil {
			in.columns[table] = map[string]column{}
		}
		in.columns[table][name] = c
	}
	if err := rows.Err(); err != nil {
		return pgerr.Wrap(err, "adoption report: columns")
	}

	names, err := collect[string](ctx, in.tx, `SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()`)
	if err != nil {
		return pgerr.Wrap(err, "adoption report: indexes")
	}
	in.indexes = map[string]bool{}
	for _, n := range names {
		in.indexes[n] = true
	}

	rows, err = in.tx.Query(ctx, `
		SELECT p.proname::text, p.oid::regprocedure::text FROM pg_proc p
		WHERE p.pronamespace = current_schema()::regnamespace ORDER BY 2`)
	if err != nil {
		return pgerr.Wrap(err, "adoption report: functions")
	}
	in.funcs = map[string][]string{}
	for rows.Next() {
		var name, sig string
		if err := rows.Scan(&name, &sig); err != nil {
			return pgerr.Wrap(err, "adoption report: functions")
		}
		in.funcs[name] = append(in.funcs[name], sig)
	}
	return pgerr.Wrap(rows.Err(), "adoption report: functions")
}

func (in *inspector) readRecord(ctx context.Context) error {
	in.applied = map[int]string{}
	_, in.recorded = in.tables[migrations.RecordTable]
	if !in.recorded {
		return nil
	}
	rows, err := in.tx.Query(ctx, `SELECT version, checksum FROM `+migrations.RecordTable)
	if err != nil {
		return pgerr.Wrap(err, "adoption report: migration record")
	}
	for rows.Next() {
		var v int
		var sum string
		if err := rows.Scan(&v, &sum); err != nil {
			return pgerr.Wrap(err, "adoption report: migration record")
		}
		in.applied[v] = sum
		if v > in.r.SchemaVersion {
			in.r.SchemaVersion = v
		}
	}
	return pgerr.Wrap(rows.Err(), "adoption report: migration record")
}

func (in *inspector) change(c Change) { in.r.Changes = append(in.r.Changes, c) }

func (in *inspector) block(p Problem) { in.r.Blockers = append(in.r.Blockers, p) }

func (in *inspector) warn(p Problem) { in.r.Warnings = append(in.r.Warnings, p) }

// migrationName returns the file of a migration version.
func migrationName(v int) string {
	for _, m := range migrations.All() {
		if m.Version == v {
			return m.Name
		}
	}
	return ""
}

// isPending says whether Migrate would apply the named migration file.
func (in *inspector) isPending(file string) bool {
	for _, m := range migrations.All() {
		if m.Name == file {
			return in.pending[m.Version]
		}
	}
	return false
}

func (in *inspector) migrationsToApply(context.Context) error {
	in.pending = map[int]bool{}
	if in.r.SchemaVersion > in.r.TargetVersion {
		in.block(Problem{Kind: NewerSchema, Message: fmt.Sprintf(
			"the schema is at version %d, newer than this library's %d: upgrade the library instead",
			in.r.SchemaVersion, in.r.TargetVersion)})
	}
	if !in.recorded {
		in.change(Change{Action: CreateTable, Table: migrations.RecordTable,
			Detail: "Tasker Core's record of applied migrations and of the installed SQL functions' checksum"})
	}
	for _, m := range migrations.All() {
		sum, ok := in.applied[m.Version]
		switch {
		case !ok:
			in.pending[m.Version] = true
			in.change(Change{Action: ApplyMigration, Name: m.Name})
		case sum != m.Checksum:
			in.block(Problem{Kind: EditedMigration, Object: m.Name, Message: fmt.Sprintf(
				"migration %s was applied with other contents than this library's: Migrate refuses to continue", m.Name)})
		}
	}
	return nil
}

func (in *inspector) hasColumn(table, col string) bool {
	_, ok := in.columns[table][col]
	return ok
}

func (in *inspector) tablesAndColumns(ctx context.Context) error {
	added := map[string]bool{}
	for _, c := range in.plan.columns {
		added[c.table+"."+c.column] = true
	}
	managed := map[string]bool{migrations.RecordTable: true}
	for _, t := range in.plan.tables {
		managed[t.name] = true
		_, present := in.tables[t.name]
		switch {
		case !present && in.isPending(t.migration):
			in.change(Change{Action: CreateTable, Migration: t.migration, Table: t.name})
			in.tables[t.name] = &Table{Name: t.name}
		case !present:
			in.block(Problem{Kind: Drift, Table: t.name, Message: fmt.Sprintf(
				"table %s is missing although %s is recorded as applied", t.name, t.migration)})
		default:
			for _, col := range t.columns {
				if !in.hasColumn(t.name, col) && !added[t.name+"."+col] {
					in.block(Problem{Kind: MissingColumn, Table: t.name, Column: col, Message: fmt.Sprintf(
						"%s has no column %s, which Tasker Core reads and no migration adds: add it (as tasker-engine defines it) before adopting",
						t.name, col)})
				}
			}
		}
	}
	for _, c := range in.plan.columns {
		if in.hasColumn(c.table, c.column) {
			continue
		}
		if !in.isPending(c.migration) {
			in.block(Problem{Kind: Drift, Table: c.table, Column: c.column, Message: fmt.Sprintf(
				"column %s.%s is missing although %s is recorded as applied", c.table, c.column, c.migration)})
			continue
		}
		in.change(Change{Action: AddColumn, Migration: c.migration, Table: c.table, Column: c.column})
		in.ownerNeeded(c.table)
		if t := in.tables[c.table]; t != nil && t.Present && t.Rows > 0 {
			switch c.table + "." + c.column {
			case "tasker_tasks.correlation_id":
				in.change(Change{Action: Backfill, Migration: c.migration, Table: c.table, Column: c.column, Rows: t.Rows,
					Detail: "a UUIDv7 made from each task's created_at, so ids still sort by time"})
			case "tasker_tasks.ready_at":
				var n int64
				if err := in.tx.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE NOT complete`).Scan(&n); err != nil {
					return pgerr.Wrap(err, "adoption report: incomplete tasks")
				} else if n > 0 {
					in.change(Change{Action: Backfill, Migration: c.migration, Table: c.table, Column: c.column, Rows: n,
						Detail: "now() for every incomplete task, so workers look at each once"})
				}
			}
		}
	}
	for name, t := range in.tables {
		t.Name, t.Managed = name, managed[name]
	}
	in.r.Tables = make([]Table, 0, len(in.tables))
	for _, t := range in.tables {
		in.r.Tables = append(in.r.Tables, *t)
	}
	sort.Slice(in.r.Tables, func(i, j int) bool { return in.r.Tables[i].Name < in.r.Tables[j].Name })
	for _, t := range in.plan.tables {
		if strings.HasPrefix(t.migration, "0001_") && in.tables[t.name] != nil && in.tables[t.name].Present {
			in.r.EngineDatabase = in.r.SchemaVersion == 0
		}
	}
	return nil
}

func (in *inspector) ownerNeeded(table string) {
	if t := in.tables[table]; t != nil && t.Present && !in.owned[table] {
		for _, b := range in.r.Blockers {
			if b.Kind == NotOwner && b.Table == table {
				return
			}
		}
		in.block(Problem{Kind: NotOwner, Table: table, Message: fmt.Sprintf(
			"this role does not own %s, and adoption alters it: run the migration as the table's owner", table)})
	}
}

func (in *inspector) timestamps(ctx context.Context) error {
	if !in.pending[utcMigration] {
		return nil
	}
	file := migrationName(utcMigration)
	var converting [][2]string
	tables := make([]string, 0, len(in.columns))
	for t := range in.columns {
		tables = append(tables, t)
	}
	sort.Strings(tables)
	for _, t := range tables {
		cols := make([]string, 0, len(in.columns[t]))
		for c := range in.columns[t] {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		for _, c := range cols {
			info := in.columns[t][c]
			if info.dataType == "timestamp without time zone" {
				in.change(Change{Action: ConvertTimestamp, Migration: file, Table: t, Column: c, Rows: in.tables[t].Rows,
					Detail: "timestamp without time zone → timestamptz, the stored values read as UTC (rewrites the table under an exclusive lock)"})
				converting = append(converting, [2]string{t, c})
				in.ownerNeeded(t)
			}
			if (c == "created_at" || c == "updated_at") && !info.hasDefault {
				in.change(Change{Action: SetDefault, Migration: file, Table: t, Column: c, Detail: "DEFAULT now()"})
				in.ownerNeeded(t)
			}
		}
	}
	if len(converting) == 0 {
		return nil
	}
	// A view, trigger or policy on a column makes ALTER COLUMN TYPE fail.
	rows, err := in.tx.Query(ctx, `
		SELECT t.relname::text, a.attname::text, pg_describe_object(d.classid, d.objid, d.objsubid)
		FROM pg_depend d
		JOIN pg_class t ON t.oid = d.refobjid
		JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
		WHERE d.refclassid = 'pg_class'::regclass AND d.refobjsubid > 0
		  AND d.classid IN ('pg_rewrite'::regclass, 'pg_trigger'::regclass, 'pg_policy'::regclass)
		  AND t.relnamespace = current_schema()::regnamespace
		  AND NOT (d.classid = 'pg_rewrite'::regclass
		           AND (SELECT r.ev_class FROM pg_rewrite r WHERE r.oid = d.objid) = t.oid)
		ORDER BY 1, 2, 3`)
	if err != nil {
		return pgerr.Wrap(err, "adoption report: column dependents")
	}
	conv := map[[2]string]bool{}
	for _, c := range converting {
		conv[c] = true
	}
	for rows.Next() {
		var table, col, obj string
		if err := rows.Scan(&table, &col, &obj); err != nil {
			return pgerr.Wrap(err, "adoption report: column dependents")
		}
		if conv[[2]string{table, col}] {
			in.block(Problem{Kind: DependentObject, Table: table, Column: col, Object: obj, Message: fmt.Sprintf(
				"%s uses %s.%s, whose type adoption converts, and PostgreSQL refuses to convert it: drop it before and re-create it after",
				obj, table, col)})
		}
	}
	return pgerr.Wrap(rows.Err(), "adoption report: column dependents")
}

func (in *inspector) indexesToCreate(ctx context.Context) error {
	for _, ix := range in.plan.indexes {
		if in.indexes[ix.name] {
			continue
		}
		if !in.isPending(ix.migration) {
			in.block(Problem{Kind: Drift, Table: ix.table, Object: ix.name, Message: fmt.Sprintf(
				"index %s is missing although %s is recorded as applied", ix.name, ix.migration)})
			continue
		}
		detail := ""
		if ix.unique {
			detail = "unique"
		}
		in.change(Change{Action: CreateIndex, Migration: ix.migration, Table: ix.table, Name: ix.name, Detail: detail})
		in.ownerNeeded(ix.table)
		t := in.tables[ix.table]
		if !ix.unique || t == nil || !t.Present || t.Rows == 0 {
			continue
		}
		// Rows the unique index would refuse make the whole migration fail.
		q := `SELECT count(*) FROM (SELECT 1 FROM ` + pgx.Identifier{ix.table}.Sanitize()
		if ix.where != "" {
			q += ` WHERE ` + ix.where
		}
		q += ` GROUP BY ` + ix.columns + ` HAVING count(*) > 1) dup`
		sp, err := in.tx.Begin(ctx)
		if err != nil {
			return pgerr.Wrap(err, "adoption report: savepoint")
		}
		var n int64
		if err := sp.QueryRow(ctx, q).Scan(&n); err != nil {
			_ = sp.Rollback(ctx)
			in.warn(Problem{Kind: CheckFailed, Table: ix.table, Object: ix.name, Message: fmt.Sprintf(
				"could not check %s for rows its unique index %s would refuse: %v", ix.table, ix.name, err)})
			continue
		}
		_ = sp.Rollback(ctx)
		if n > 0 {
			what := "(" + ix.columns + ")"
			if ix.where != "" {
				what += " where " + ix.where
			}
			in.block(Problem{Kind: DuplicateRows, Table: ix.table, Object: ix.name, Count: n, Message: fmt.Sprintf(
				"%d groups of %s rows share %s, which the unique index %s refuses: the engine's audit trail has duplicates to repair",
				n, ix.table, what, ix.name)})
		}
	}
	return nil
}

func (in *inspector) functionsToInstall(ctx context.Context) error {
	for _, name := range in.plan.functions {
		if len(in.funcs[name]) == 0 {
			in.change(Change{Action: CreateFunction, Name: name})
		}
	}
	sqlNames, _ := sqlfuncs.Names()
	ours := map[string]bool{}
	for _, n := range sqlNames {
		ours[n] = true
	}
	for _, n := range in.plan.functions {
		ours[n] = true
	}
	var others []string
	for name, sigs := range in.funcs {
		if !ours[name] {
			others = append(others, sigs...)
		}
	}
	sort.Strings(others)
	in.r.OtherFunctions = others

	if sum, ok := in.applied[migrations.FunctionsRecordVersion]; ok && sum == sqlfuncs.Checksum() {
		return nil
	}
	var replaced []string
	for _, name := range sqlNames {
		replaced = append(replaced, in.funcs[name]...)
	}
	sort.Strings(replaced)
	for _, sig := range replaced {
		in.change(Change{Action: ReplaceFunction, Name: sig, Detail: "dropped (CASCADE) and created anew"})
	}
	for _, name := range sqlNames {
		in.change(Change{Action: InstallFunction, Name: name})
	}
	if len(replaced) == 0 {
		return nil
	}
	// DROP FUNCTION ... CASCADE takes what depends on the function with it.
	rows, err := in.tx.Query(ctx, `
		SELECT p.oid::regprocedure::text, pg_describe_object(d.classid, d.objid, d.objsubid)
		FROM pg_depend d JOIN pg_proc p ON p.oid = d.refobjid
		WHERE d.refclassid = 'pg_proc'::regclass AND d.deptype = 'n'
		  AND p.pronamespace = current_schema()::regnamespace AND p.proname = ANY ($1)
		  AND NOT (d.classid = 'pg_proc'::regclass AND (SELECT q.proname FROM pg_proc q WHERE q.oid = d.objid) = ANY ($1))
		ORDER BY 1, 2`, sqlNames)
	if err != nil {
		return pgerr.Wrap(err, "adoption report: function dependents")
	}
	for rows.Next() {
		var sig, obj string
		if err := rows.Scan(&sig, &obj); err != nil {
			return pgerr.Wrap(err, "adoption report: function dependents")
		}
		in.block(Problem{Kind: DependentObject, Object: obj, Message: fmt.Sprintf(
			"%s depends on %s, which adoption drops with CASCADE: it would be dropped too; drop it first and re-create it on Tasker Core's function",
			obj, sig)})
	}
	return pgerr.Wrap(rows.Err(), "adoption report: function dependents")
}

// data counts what the engine's rows mean for Tasker Core.
func (in *inspector) data(ctx context.Context) error {
	present := func(t string) bool { return in.tables[t] != nil && in.tables[t].Present }
	if present("tasker_workflow_steps") && present("tasker_workflow_step_transitions") {
		if err := in.tx.QueryRow(ctx, `SELECT count(*) FROM tasker_workflow_steps ws WHERE NOT EXISTS
			(SELECT 1 FROM tasker_workflow_step_transitions t WHERE t.workflow_step_id = ws.workflow_step_id)`).
			Scan(&in.r.StepsWithoutTransitions); err != nil {
			return pgerr.Wrap(err, "adoption report: steps without transitions")
		}
	}
	if present("tasker_tasks") && present("tasker_task_transitions") {
		if err := in.tx.QueryRow(ctx, `SELECT count(*) FROM tasker_tasks tk WHERE NOT EXISTS
			(SELECT 1 FROM tasker_task_transitions t WHERE t.task_id = tk.task_id)`).
			Scan(&in.r.TasksWithoutTransitions); err != nil {
			return pgerr.Wrap(err, "adoption report: tasks without transitions")
		}
	}
	known := make([]string, len(state.All))
	for i, s := range state.All {
		known[i] = string(s)
	}
	for _, t := range []string{"tasker_task_transitions", "tasker_workflow_step_transitions"} {
		if !present(t) || !in.hasColumn(t, "to_state") {
			continue
		}
		var n int64
		var sample []string
		if err := in.tx.QueryRow(ctx, `SELECT count(*), COALESCE(array_agg(DISTINCT to_state::text), '{}') FROM `+t+
			` WHERE to_state::text <> ALL ($1)`, known).Scan(&n, &sample); err != nil {
			return pgerr.Wrap(err, "adoption report: states of "+t)
		}
		if n > 0 {
			in.warn(Problem{Kind: UnknownState, Table: t, Count: n, Object: strings.Join(sample, ", "), Message: fmt.Sprintf(
				"%d rows of %s go to states Tasker Core does not know (%s): readiness treats them as not runnable; resolve them before the cut-over",
				n, t, strings.Join(sample, ", "))})
		}
	}
	if present("tasker_workflow_steps") && in.hasColumn("tasker_workflow_steps", "in_process") {
		q := `SELECT count(*) FROM tasker_workflow_steps WHERE in_process`
		if in.hasColumn("tasker_workflow_steps", "lease_expires_at") {
			q += ` AND lease_expires_at IS NULL`
		}
		var n int64
		if err := in.tx.QueryRow(ctx, q).Scan(&n); err != nil {
			return pgerr.Wrap(err, "adoption report: steps in process")
		}
		if n > 0 {
			in.warn(Problem{Kind: InProcessWithoutLease, Table: "tasker_workflow_steps", Count: n, Message: fmt.Sprintf(
				"%d steps are in process without a Tasker Core lease (the engine's workers hold them): lease recovery never "+
					"takes them, so let the engine's workers finish them before the cut-over, or repair each with the operator API", n)})
		}
	}
	return nil
}

func collect[T any](ctx context.Context, tx pgx.Tx, sql string, args ...any) ([]T, error) {
	rows, err := tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[T])
}
