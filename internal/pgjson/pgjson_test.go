package pgjson_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/pgjson"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// TestRawMessageGetsTheBytesPostgreSQLSent: with the codecs registered, a
// json.RawMessage receives exactly what a connection without them produces
// (which went through encoding/json), for json and jsonb, in both protocols,
// NULL included; maps are still decoded; arrays of jsonb scan too.
func TestRawMessageGetsTheBytesPostgreSQLSent(t *testing.T) {
	ctx := context.Background()
	plain, err := pgx.Connect(ctx, testdb.URL(t))
	require.NoError(t, err)
	defer plain.Close(ctx)
	withCodecs, err := pgx.Connect(ctx, testdb.URL(t))
	require.NoError(t, err)
	defer withCodecs.Close(ctx)
	require.NoError(t, pgjson.AfterConnect(ctx, withCodecs))

	values := []string{`{"a": 1, "b": [true, null, "x"]}`, `[]`, `"Zoë \u00e9"`, `null`, `12.50`, `{"deep": {"er": {"est": [1, {"k": "v"}]}}}`}
	for _, typ := range []string{"jsonb", "json"} {
		for _, mode := range []pgx.QueryExecMode{pgx.QueryExecModeCacheStatement, pgx.QueryExecModeSimpleProtocol} {
			for _, v := range values {
				var want, got json.RawMessage
				q := `SELECT $1::text::` + typ
				require.NoError(t, plain.QueryRow(ctx, q, mode, v).Scan(&want), v)
				require.NoError(t, withCodecs.QueryRow(ctx, q, mode, v).Scan(&got), v)
				assert.Equal(t, string(want), string(got), "%s %v %s", typ, mode, v)
			}
			var null json.RawMessage = json.RawMessage(`"stale"`)
			require.NoError(t, withCodecs.QueryRow(ctx, `SELECT NULL::`+typ, mode).Scan(&null))
			assert.Nil(t, null, "%s NULL scans as nil", typ)
		}
	}

	var m map[string]any
	require.NoError(t, withCodecs.QueryRow(ctx, `SELECT '{"n": 2, "s": "x"}'::jsonb`).Scan(&m))
	assert.Equal(t, map[string]any{"n": float64(2), "s": "x"}, m, "a map is decoded as before")

	var arr []json.RawMessage
	require.NoError(t, withCodecs.QueryRow(ctx, `SELECT ARRAY['{"a":1}'::jsonb, 'null'::jsonb, '[2]'::jsonb]`).Scan(&arr))
	require.Len(t, arr, 3)
	assert.Equal(t, []string{`{"a": 1}`, `null`, `[2]`}, []string{string(arr[0]), string(arr[1]), string(arr[2])})

	// The copy is the caller's: reading another row does not change it.
	var first, second json.RawMessage
	rows, err := withCodecs.Query(ctx, `SELECT v FROM (VALUES ('{"row": 1}'::jsonb), ('{"row": 2}'::jsonb)) AS t(v)`)
	require.NoError(t, err)
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&first))
	require.True(t, rows.Next())
	require.NoError(t, rows.Scan(&second))
	rows.Close()
	assert.Equal(t, `{"row": 1}`, string(first))
	assert.Equal(t, `{"row": 2}`, string(second))
}
