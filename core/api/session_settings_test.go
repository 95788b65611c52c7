package api

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestDirectSessionSettings: a direct connection runs with the configured
// plan_cache_mode and random_page_cost (the latter SET once connected, not a
// startup parameter), and random_page_cost 0 leaves the server's own.
func TestDirectSessionSettings(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	read := func(c *Client) (planMode string, pageCost float64) {
		t.Helper()
		// Every connection of the pool: acquire them all at once.
		conns := 0
		for i := 0; i < 3; i++ {
			conn, err := c.store.Pool().Acquire(ctx)
			require.NoError(t, err)
			defer conn.Release()
			var pm string
			var pc float64
			require.NoError(t, conn.QueryRow(ctx, `SELECT current_setting('plan_cache_mode'), current_setting('random_page_cost')::float8`).Scan(&pm, &pc))
			if conns > 0 {
				assert.Equal(t, planMode, pm, "every connection alike")
				assert.Equal(t, pageCost, pc, "every connection alike")
			}
			planMode, pageCost, conns = pm, pc, conns+1
		}
		return planMode, pageCost
	}
	c := openClient(t, `, "database": {"pool": {"max_connections": 3}}`)
	pm, pc := read(c)
	assert.Equal(t, "force_generic_plan", pm)
	assert.Equal(t, 1.1, pc, "database.random_page_cost's default")

	c = openClient(t, `, "database": {"pool": {"max_connections": 3}, "random_page_cost": 2.5}`)
	_, pc = read(c)
	assert.Equal(t, 2.5, pc)

	c = openClient(t, `, "database": {"pool": {"max_connections": 3}, "random_page_cost": 0}`)
	var current, reset string
	require.NoError(t, c.store.Pool().QueryRow(ctx, `SELECT current_setting('random_page_cost'), reset_val
		FROM pg_settings WHERE name = 'random_page_cost'`).Scan(&current, &reset))
	assert.Equal(t, reset, current, "0: nothing is SET, the session keeps the server's value")
}
