package migrations_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/testdb"
	"github.com/taskercore/tasker-core/migrations"
)

func TestMigrateTwiceIsNoOp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t, testdb.Options{SkipMigrate: true})

	first, err := migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	assert.Len(t, first.Applied, len(migrations.All()))
	assert.True(t, first.FunctionsInstalled)
	assert.Equal(t, migrations.LatestVersion(), first.SchemaVersion)

	second, err := migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	assert.Empty(t, second.Applied)
	assert.False(t, second.FunctionsInstalled)
	assert.Equal(t, first.SchemaVersion, second.SchemaVersion)

	v, err := migrations.SchemaVersion(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, migrations.LatestVersion(), v)

	var fns int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace
		AND proname IN ('get_step_readiness_status','get_step_readiness_status_batch','get_task_execution_context',
		'get_task_execution_contexts_batch','calculate_dependency_levels')`).Scan(&fns))
	assert.Equal(t, 5, fns)
}

func TestConcurrentMigrateIsSerialized(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t, testdb.Options{SkipMigrate: true})
	errc := make(chan error, 4)
	applied := make(chan int, 4)
	for range 4 {
		go func() {
			res, err := migrations.Migrate(ctx, pool)
			errc <- err
			applied <- len(res.Applied)
		}()
	}
	total := 0
	for range 4 {
		require.NoError(t, <-errc)
		total += <-applied
	}
	assert.Equal(t, len(migrations.All()), total, "each migration applied exactly once")
}

func TestEditedMigrationIsRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t)
	_, err := pool.Exec(ctx, `UPDATE tasker_core_schema_migrations SET checksum = 'x' WHERE version = 1`)
	require.NoError(t, err)
	_, err = migrations.Migrate(ctx, pool)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "different contents")
}

func TestReadStatusBeforeAndAfterMigrate(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t, testdb.Options{SkipMigrate: true})

	before, err := migrations.ReadStatus(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, 0, before.SchemaVersion)
	assert.Equal(t, migrations.LatestVersion(), before.LatestVersion)
	assert.Len(t, before.Pending, len(migrations.All()))
	assert.Equal(t, migrations.All()[0].Name, before.Pending[0])
	assert.False(t, before.FunctionsCurrent)
	v, err := migrations.SchemaVersion(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, 0, v, "reading the status changes nothing")

	_, err = migrations.Migrate(ctx, pool)
	require.NoError(t, err)
	after, err := migrations.ReadStatus(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, migrations.Status{SchemaVersion: migrations.LatestVersion(), LatestVersion: migrations.LatestVersion(),
		Pending: []string{}, FunctionsCurrent: true}, after)

	last := migrations.All()[len(migrations.All())-1]
	_, err = pool.Exec(ctx, `DELETE FROM tasker_core_schema_migrations WHERE version = $1`, last.Version)
	require.NoError(t, err)
	_, err = pool.Exec(ctx, `UPDATE tasker_core_schema_migrations SET checksum = 'old' WHERE version = 0`)
	require.NoError(t, err)
	behind, err := migrations.ReadStatus(ctx, pool)
	require.NoError(t, err)
	assert.Equal(t, []string{last.Name}, behind.Pending)
	assert.False(t, behind.FunctionsCurrent)
}
