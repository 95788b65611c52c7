package store_test

import (
	"context"
	"math"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/backoff"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// The SQL and Go halves of the one backoff rule give the same delay for every
// strategy, jitter and attempt count.
func TestDelayMatchesSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t)
	policies := []backoff.Policy{
		backoff.Default(),
		{Strategy: backoff.Exponential, BaseSeconds: 0.5, Multiplier: 3, CapSeconds: 600, Jitter: 0.25},
		{Strategy: backoff.Linear, BaseSeconds: 7, Multiplier: 1, CapSeconds: 40, Jitter: 1},
		{Strategy: backoff.Fixed, BaseSeconds: 12.5, Multiplier: 1, CapSeconds: 100, Jitter: 0.5},
		{Strategy: backoff.Exponential, BaseSeconds: 0, Multiplier: 10, CapSeconds: 30, Jitter: 0},
		{Strategy: backoff.Exponential, BaseSeconds: 2, Multiplier: 1.5, CapSeconds: 0, Jitter: 0.1},
	}
	for _, p := range policies {
		for _, stepID := range []int64{1, 2, 77, 9973, 123456789, 1 << 53} {
			// A step retried past float64's range of powers (attempts 1100 and
			// up) gets the cap on both sides, not an overflow error in SQL.
			for _, attempts := range []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1100, 100000, math.MaxInt32} {
				var sqlSeconds float64
				require.NoError(t, pool.QueryRow(ctx, `SELECT tasker_backoff_seconds($1, $2, $3, $4, $5, $6, $7)`,
					string(p.Strategy), p.BaseSeconds, p.Multiplier, p.CapSeconds, p.Jitter, stepID, attempts).Scan(&sqlSeconds))
				assert.InDelta(t, p.Seconds(stepID, attempts), sqlSeconds, 1e-9, "%+v step %d attempts %d", p, stepID, attempts)
			}
		}
	}
}

func TestSeededPolicyMatchesGoDefault(t *testing.T) {
	t.Parallel()
	s := store.New(testdb.Schema(t), backoff.Default())
	got, err := s.StoredRetryPolicy(context.Background())
	require.NoError(t, err)
	assert.Equal(t, backoff.Default(), got)
}

func TestSyncRetryPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := testdb.Schema(t)
	p := backoff.Policy{Strategy: backoff.Linear, BaseSeconds: 3, Multiplier: 1, CapSeconds: 9, Jitter: 0.1}
	s := store.New(pool, p)
	require.NoError(t, s.SyncRetryPolicy(ctx))
	got, err := s.StoredRetryPolicy(ctx)
	require.NoError(t, err)
	assert.Equal(t, p, got)

	bad := store.New(pool, backoff.Policy{Strategy: backoff.Fixed, Multiplier: 1, Jitter: 2})
	err = bad.SyncRetryPolicy(ctx)
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
	got, err = s.StoredRetryPolicy(ctx)
	require.NoError(t, err)
	assert.Equal(t, p, got, "a bad policy changes nothing")
}
