package api

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// adoption_report over the JSON API: a client opened without migrate on an
// engine-shaped schema reports the changes and leaves the schema as it was.
func TestAdoptionReportOperation(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	engine, err := os.ReadFile("../../migrations/testdata/tasker_engine_v1.sql")
	require.NoError(t, err)
	_, err = pool.Exec(ctx, string(engine))
	require.NoError(t, err)
	c, err := Open(ctx, []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q}`, testdb.URL(t), schema)))
	require.NoError(t, err)
	t.Cleanup(c.Close)

	var r struct {
		EngineDatabase bool             `json:"engine_database"`
		ReadyToAdopt   bool             `json:"ready_to_adopt"`
		UpToDate       bool             `json:"up_to_date"`
		Changes        []map[string]any `json:"changes"`
		Blockers       []map[string]any `json:"blockers"`
	}
	callOK(t, c, "adoption_report", `{}`, &r)
	assert.True(t, r.EngineDatabase)
	assert.True(t, r.ReadyToAdopt)
	assert.False(t, r.UpToDate)
	assert.NotEmpty(t, r.Changes)
	assert.Empty(t, r.Blockers)

	var typ string
	require.NoError(t, pool.QueryRow(ctx, `SELECT data_type FROM information_schema.columns WHERE table_schema = current_schema()
		AND table_name = 'tasker_tasks' AND column_name = 'created_at'`).Scan(&typ))
	assert.Equal(t, "timestamp without time zone", typ, "the report wrote nothing")

	assert.Equal(t, errs.Validation, callErr(t, c, "adoption_report", `{"apply": true}`).Type)

	callOK(t, c, "run_migrations", `{}`, nil)
	callOK(t, c, "adoption_report", ``, &r)
	assert.True(t, r.UpToDate)
	assert.Empty(t, r.Changes)
}
