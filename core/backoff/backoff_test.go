package backoff

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultIsValid(t *testing.T) {
	t.Parallel()
	require.NoError(t, Default().Validate())
}

func TestStrategies(t *testing.T) {
	t.Parallel()
	exp := Policy{Strategy: Exponential, BaseSeconds: 1, Multiplier: 2, CapSeconds: 30}
	assert.Equal(t, 2.0, exp.Seconds(1, 1))
	assert.Equal(t, 8.0, exp.Seconds(1, 3))
	assert.Equal(t, 30.0, exp.Seconds(1, 10), "capped")
	assert.Equal(t, 2.0, exp.Seconds(1, 0), "attempts below 1 count as 1")

	lin := Policy{Strategy: Linear, BaseSeconds: 5, Multiplier: 1, CapSeconds: 12}
	assert.Equal(t, 10.0, lin.Seconds(1, 2))
	assert.Equal(t, 12.0, lin.Seconds(1, 3))

	fixed := Policy{Strategy: Fixed, BaseSeconds: 7, Multiplier: 1, CapSeconds: 100}
	assert.Equal(t, 7.0, fixed.Seconds(1, 1))
	assert.Equal(t, 7.0, fixed.Seconds(99, 9))
}

func TestJitterShortensWithinBoundDeterministically(t *testing.T) {
	t.Parallel()
	p := Policy{Strategy: Fixed, BaseSeconds: 100, Multiplier: 1, CapSeconds: 100, Jitter: 0.5}
	seen := map[float64]bool{}
	for id := int64(1); id <= 200; id++ {
		d := p.Seconds(id, 1)
		assert.True(t, d > 50 && d <= 100, "delay %v outside (50,100]", d)
		assert.Equal(t, d, p.Seconds(id, 1), "deterministic")
		seen[d] = true
	}
	assert.Greater(t, len(seen), 150, "jitter spreads steps apart")
	for _, f := range []float64{JitterFraction(-5, -3), JitterFraction(1<<62, 1<<30)} {
		assert.True(t, f >= 0 && f < 1)
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	bad := []Policy{
		{Strategy: "random", Multiplier: 1},
		{Strategy: Fixed, BaseSeconds: -1, Multiplier: 1},
		{Strategy: Fixed, Multiplier: 0.5},
		{Strategy: Fixed, Multiplier: 1, CapSeconds: -1},
		{Strategy: Fixed, Multiplier: 1, Jitter: 1.5},
	}
	for _, p := range bad {
		assert.Error(t, p.Validate(), "%+v", p)
	}
}

func TestNextRetryAtRequestedWins(t *testing.T) {
	t.Parallel()
	p := Default()
	failed := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	attempted := failed.Add(-time.Second)
	req := 60
	at, ok := p.NextRetryAt(1, 1, &failed, &attempted, &req)
	require.True(t, ok)
	assert.Equal(t, failed.Add(time.Minute), at, "counted from the later of attempt and failure")
	later := failed.Add(time.Hour) // an attempt started after the last failure
	at, ok = p.NextRetryAt(1, 1, &failed, &later, &req)
	require.True(t, ok)
	assert.Equal(t, later.Add(time.Minute), at)

	at, ok = p.NextRetryAt(1, 2, &failed, &attempted, nil)
	require.True(t, ok)
	assert.Equal(t, failed.Add(4*time.Second), at)

	_, ok = p.NextRetryAt(1, 0, nil, &attempted, nil)
	assert.False(t, ok)
}
