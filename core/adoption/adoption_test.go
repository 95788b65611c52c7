package adoption_test

import (
	"context"
	"os"
	"sort"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/adoption"
	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/migrations"
)

// engineSchema is the tasker-engine-shaped database of the migrations' own
// adoption test.
func engineSchema(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("../../migrations/testdata/tasker_engine_v1.sql")
	require.NoError(t, err)
	return string(b)
}

func engineDB(t *testing.T, extra ...string) *pgxpool.Pool {
	t.Helper()
	ctx := context.Background()
	pool := testdb.Schema(t, testdb.Options{SkipMigrate: true})
	_, err := pool.Exec(ctx, engineSchema(t))
	require.NoError(t, err)
	for _, sql := range extra {
		_, err := pool.Exec(ctx, sql)
		require.NoError(t, err, sql)
	}
	return pool
}

func inspect(t *testing.T, pool *pgxpool.Pool) adoption.Report {
	t.Helper()
	r, err := adoption.Inspect(context.Background(), pool)
	require.NoError(t, err)
	return r
}

// snapshot is the schema's shape as the catalog sees it, independent of the
// package under test.
type snapshot struct {
	tables  map[string]bool
	columns map[string]string // "table.column" → data type
	deflt   map[string]bool   // "table.column" → has a default
	indexes map[string]bool
	funcs   map[string]uint32 // signature → oid
	names   map[uint32]string // oid → name
}

func takeSnapshot(t *testing.T, pool *pgxpool.Pool) snapshot {
	t.Helper()
	ctx := context.Background()
	s := snapshot{tables: map[string]bool{}, columns: map[string]string{}, deflt: map[string]bool{},
		indexes: map[string]bool{}, funcs: map[string]uint32{}, names: map[uint32]string{}}
	rows, err := pool.Query(ctx, `SELECT tablename::text FROM pg_tables WHERE schemaname = current_schema()`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		s.tables[n] = true
	}
	rows, err = pool.Query(ctx, `SELECT table_name || '.' || column_name, data_type, column_default IS NOT NULL
		FROM information_schema.columns WHERE table_schema = current_schema()`)
	require.NoError(t, err)
	for rows.Next() {
		var k, typ string
		var d bool
		require.NoError(t, rows.Scan(&k, &typ, &d))
		s.columns[k], s.deflt[k] = typ, d
	}
	rows, err = pool.Query(ctx, `SELECT indexname::text FROM pg_indexes WHERE schemaname = current_schema()`)
	require.NoError(t, err)
	for rows.Next() {
		var n string
		require.NoError(t, rows.Scan(&n))
		s.indexes[n] = true
	}
	rows, err = pool.Query(ctx, `SELECT oid::regprocedure::text, oid::int8, proname::text FROM pg_proc
		WHERE pronamespace = current_schema()::regnamespace`)
	require.NoError(t, err)
	for rows.Next() {
		var sig, name string
		var oid int64
		require.NoError(t, rows.Scan(&sig, &oid, &name))
		s.funcs[sig], s.names[uint32(oid)] = uint32(oid), name
	}
	return s
}

// of returns the report's changes of one action as sorted keys.
func of(r adoption.Report, action string, key func(adoption.Change) string) []string {
	out := []string{}
	for _, c := range r.Changes {
		if c.Action == action {
			out = append(out, key(c))
		}
	}
	sort.Strings(out)
	return out
}

func sorted(m map[string]bool) []string {
	out := []string{}
	for k, v := range m {
		if v {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func tableCol(c adoption.Change) string { return c.Table + "." + c.Column }

// The report on an engine-shaped database lists exactly what Migrate then
// changes — every table, column, type, default, index and function, compared
// with the catalog before and after — and, after Migrate, nothing at all.
func TestReportListsExactlyWhatMigrateChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := engineDB(t)

	before := takeSnapshot(t, pool)
	r := inspect(t, pool)
	assert.Equal(t, before, takeSnapshot(t, pool), "the report changed the schema")
	assert.Equal(t, r, inspect(t, pool), "a second report differs: the first wrote something")

	assert.True(t, r.EngineDatabase)
	assert.Equal(t, 0, r.SchemaVersion)
	assert.Equal(t, migrations.LatestVersion(), r.TargetVersion)
	assert.True(t, r.ReadyToAdopt, "%+v", r.Blockers)
	assert.False(t, r.UpToDate)
	assert.Empty(t, r.Warnings)
	assert.Equal(t, int64(1), r.StepsWithoutTransitions, "ship never had a transition")
	assert.Equal(t, int64(0), r.TasksWithoutTransitions)
	for _, tb := range r.Tables {
		if tb.Name == "tasker_workflow_steps" {
			assert.Equal(t, int64(3), tb.Rows)
			assert.True(t, tb.Present)
			assert.Positive(t, tb.Bytes)
		}
	}

	res, err := migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	after := takeSnapshot(t, pool)

	assert.Equal(t, res.Applied, func() []string {
		out := []string{}
		for _, c := range r.Changes {
			if c.Action == adoption.ApplyMigration {
				out = append(out, c.Name)
			}
		}
		return out
	}(), "migrations to apply")

	created := map[string]bool{}
	for tb := range after.tables {
		created[tb] = !before.tables[tb]
	}
	assert.Equal(t, sorted(created), of(r, adoption.CreateTable, func(c adoption.Change) string { return c.Table }), "tables")

	added, converted, defaulted := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for col, typ := range after.columns {
		old, existed := before.columns[col]
		table := col[:len(col)-len(col[indexDot(col):])]
		if !before.tables[table] {
			continue // a new table's columns come with it
		}
		added[col] = !existed
		converted[col] = existed && old == "timestamp without time zone" && typ == "timestamp with time zone"
		defaulted[col] = existed && !before.deflt[col] && after.deflt[col]
	}
	assert.Equal(t, sorted(added), of(r, adoption.AddColumn, tableCol), "columns added to existing tables")
	assert.Equal(t, sorted(converted), of(r, adoption.ConvertTimestamp, tableCol), "timestamp conversions")
	assert.Equal(t, sorted(defaulted), of(r, adoption.SetDefault, tableCol), "defaults")
	assert.Len(t, of(r, adoption.ConvertTimestamp, tableCol), 27, "created_at and updated_at of the engine's 12 tables, requested_at, processed_at, last_attempted_at")

	newIndexes := map[string]bool{}
	for ix := range after.indexes {
		newIndexes[ix] = !before.indexes[ix]
	}
	// A new table's primary key and unique constraints come with the table.
	for ix := range newIndexes {
		for _, c := range r.Changes {
			if c.Action == adoption.CreateTable && len(ix) > len(c.Table) && ix[:len(c.Table)] == c.Table &&
				(ix == c.Table+"_pkey" || ix[len(c.Table):] == "_pkey") {
				newIndexes[ix] = false
			}
		}
	}
	assert.Equal(t, sorted(newIndexes), of(r, adoption.CreateIndex, func(c adoption.Change) string { return c.Name }), "indexes")

	dropped, recreated := map[string]bool{}, map[string]bool{}
	oldOids := map[uint32]bool{}
	for sig, oid := range before.funcs {
		oldOids[oid] = true
		dropped[sig] = after.funcs[sig] != oid
	}
	for _, oid := range after.funcs {
		if !oldOids[oid] {
			recreated[after.names[oid]] = true
		}
	}
	assert.Equal(t, sorted(dropped), of(r, adoption.ReplaceFunction, func(c adoption.Change) string { return c.Name }), "functions dropped")
	installed := append(of(r, adoption.InstallFunction, func(c adoption.Change) string { return c.Name }),
		of(r, adoption.CreateFunction, func(c adoption.Change) string { return c.Name })...)
	sort.Strings(installed)
	assert.Equal(t, sorted(recreated), installed, "functions created")
	assert.Len(t, dropped, 3, "the engine's three functions of the same names")

	backfills := map[string]int64{}
	for _, c := range r.Changes {
		if c.Action == adoption.Backfill {
			backfills[tableCol(c)] = c.Rows
		}
	}
	assert.Equal(t, map[string]int64{"tasker_tasks.correlation_id": 1, "tasker_tasks.ready_at": 1}, backfills)

	done := inspect(t, pool)
	assert.True(t, done.UpToDate, "%+v", done.Changes)
	assert.Empty(t, done.Changes)
	assert.Empty(t, done.Blockers)
	assert.Empty(t, done.Warnings)
	assert.False(t, done.EngineDatabase, "adopted now")
	assert.Equal(t, migrations.LatestVersion(), done.SchemaVersion)
}

func indexDot(s string) int {
	for i := range s {
		if s[i] == '.' {
			return i
		}
	}
	return len(s)
}

// A schema Tasker Core created itself is up to date; an empty one needs every
// table and is no engine database.
func TestFreshAndEmptySchemas(t *testing.T) {
	t.Parallel()
	r := inspect(t, testdb.Schema(t))
	assert.True(t, r.UpToDate, "%+v", r.Changes)
	assert.True(t, r.ReadyToAdopt)
	assert.NotNil(t, r.Changes)

	empty := inspect(t, testdb.Schema(t, testdb.Options{SkipMigrate: true}))
	assert.False(t, empty.EngineDatabase)
	assert.True(t, empty.ReadyToAdopt)
	tables := of(empty, adoption.CreateTable, func(c adoption.Change) string { return c.Table })
	assert.Contains(t, tables, "tasker_tasks")
	assert.Contains(t, tables, migrations.RecordTable)
	assert.Empty(t, of(empty, adoption.ConvertTimestamp, tableCol))
}

func kinds(ps []adoption.Problem) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.Kind)
	}
	return out
}

// Each blocker is real: the report names it, and Migrate fails on it (or, for
// a dependent of a dropped function, loses it).
func TestBlockersStopOrHurtMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a view on a timestamp column", func(t *testing.T) {
		t.Parallel()
		pool := engineDB(t, `CREATE VIEW recent_tasks AS SELECT task_id, created_at FROM tasker_tasks`)
		r := inspect(t, pool)
		require.Equal(t, []string{adoption.DependentObject}, kinds(r.Blockers), "%+v", r.Blockers)
		assert.Equal(t, "tasker_tasks", r.Blockers[0].Table)
		assert.Equal(t, "created_at", r.Blockers[0].Column)
		assert.Contains(t, r.Blockers[0].Object, "recent_tasks")
		assert.False(t, r.ReadyToAdopt)
		_, err := migrations.Migrate(ctx, pool)
		require.Error(t, err, "Migrate must fail where the report says it will")
		assert.Contains(t, err.Error(), "view")
	})

	t.Run("two current transitions of one step", func(t *testing.T) {
		t.Parallel()
		pool := engineDB(t, `DROP INDEX index_step_transitions_parent_most_recent`,
			`UPDATE tasker_workflow_step_transitions SET most_recent = true WHERE workflow_step_id = 1`)
		r := inspect(t, pool)
		require.Equal(t, []string{adoption.DuplicateRows}, kinds(r.Blockers), "%+v", r.Blockers)
		assert.Equal(t, "tasker_step_transitions_most_recent_unique", r.Blockers[0].Object)
		assert.Equal(t, int64(1), r.Blockers[0].Count)
		_, err := migrations.Migrate(ctx, pool)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "tasker_step_transitions_most_recent_unique")
	})

	t.Run("a view on an engine function", func(t *testing.T) {
		t.Parallel()
		pool := engineDB(t, `CREATE VIEW task_one AS SELECT * FROM get_task_execution_context(1)`)
		r := inspect(t, pool)
		require.Equal(t, []string{adoption.DependentObject}, kinds(r.Blockers), "%+v", r.Blockers)
		assert.Contains(t, r.Blockers[0].Object, "task_one")
		_, err := migrations.Migrate(ctx, pool)
		require.NoError(t, err)
		var exists bool
		require.NoError(t, pool.QueryRow(ctx, `SELECT to_regclass('task_one') IS NOT NULL`).Scan(&exists))
		assert.False(t, exists, "the CASCADE took the view with it, as the report said")
	})

	t.Run("a table without a column Tasker Core reads", func(t *testing.T) {
		t.Parallel()
		pool := engineDB(t, `ALTER TABLE tasker_workflow_steps DROP COLUMN skippable`)
		r := inspect(t, pool)
		require.Equal(t, []string{adoption.MissingColumn}, kinds(r.Blockers), "%+v", r.Blockers)
		assert.Equal(t, "skippable", r.Blockers[0].Column)
	})

	t.Run("an edited migration", func(t *testing.T) {
		t.Parallel()
		pool := testdb.Schema(t)
		_, err := pool.Exec(ctx, `UPDATE `+migrations.RecordTable+` SET checksum = 'x' WHERE version = 3`)
		require.NoError(t, err)
		r := inspect(t, pool)
		require.Equal(t, []string{adoption.EditedMigration}, kinds(r.Blockers))
		_, err = migrations.Migrate(ctx, pool)
		require.Error(t, err)
	})
}

// Warnings name what adoption will not repair by itself.
func TestWarnings(t *testing.T) {
	t.Parallel()
	pool := engineDB(t,
		`UPDATE tasker_workflow_steps SET in_process = true WHERE workflow_step_id = 2`,
		`INSERT INTO tasker_task_transitions (task_id, from_state, to_state, sort_key, most_recent, created_at, updated_at)
		 VALUES (1, 'in_progress', 'paused', 2, false, now(), now())`)
	r := inspect(t, pool)
	assert.True(t, r.ReadyToAdopt)
	require.ElementsMatch(t, []string{adoption.UnknownState, adoption.InProcessWithoutLease}, kinds(r.Warnings))
	for _, w := range r.Warnings {
		assert.Equal(t, int64(1), w.Count, "%+v", w)
		if w.Kind == adoption.UnknownState {
			assert.Equal(t, "paused", w.Object)
		}
	}
	// The warning stays true after adoption: the engine's claim is not a lease.
	_, err := migrations.Migrate(context.Background(), pool)
	require.NoError(t, err)
	assert.Contains(t, kinds(inspect(t, pool).Warnings), adoption.InProcessWithoutLease)
}

// The migration guide's table-by-table section names every table and column the
// migrations create, so a new migration fails here until the guide says what
// it does to an adopted database.
func TestMigrationGuideNamesEveryTableAndColumn(t *testing.T) {
	b, err := os.ReadFile("../../docs/guides/migrating-from-tasker-engine.md")
	require.NoError(t, err)
	guide := string(b)
	r := inspect(t, testdb.Schema(t, testdb.Options{SkipMigrate: true}))
	checked := 0
	for _, c := range r.Changes {
		switch c.Action {
		case adoption.CreateTable:
			assert.Contains(t, guide, "`"+c.Table+"`", "the guide does not name table %s", c.Table)
			checked++
		case adoption.AddColumn:
			assert.Contains(t, guide, "`"+c.Column+"`", "the guide does not name column %s.%s (%s)", c.Table, c.Column, c.Migration)
			checked++
		}
	}
	assert.Greater(t, checked, 20)
}
