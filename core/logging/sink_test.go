package logging

import (
	"fmt"
	"testing"

	"github.com/rs/zerolog"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The sink holds whole lines, oldest first, drops the oldest when full and
// counts them, and costs one atomic load when empty.
func TestSinkBoundsAndDrops(t *testing.T) {
	s := NewSink(3)
	assert.False(t, s.Pending())
	lines, dropped := s.Drain()
	assert.Nil(t, lines)
	assert.Zero(t, dropped)

	log := NewWriter(s, zerolog.InfoLevel, "json")
	for i := 0; i < 5; i++ {
		log.Info().Int("i", i).Msg("line")
	}
	log.Debug().Msg("filtered by level")
	require.True(t, s.Pending())
	lines, dropped = s.Drain()
	require.Len(t, lines, 3)
	assert.Equal(t, uint64(2), dropped)
	for n, l := range lines {
		assert.Contains(t, string(l), fmt.Sprintf(`"i":%d`, n+2))
		assert.NotContains(t, string(l), "\n")
	}
	assert.False(t, s.Pending())

	s.SetCapacity(1)
	log.Warn().Msg("a")
	log.Warn().Msg("b")
	lines, dropped = s.Drain()
	require.Len(t, lines, 1)
	assert.Contains(t, string(lines[0]), `"message":"b"`)
	assert.Equal(t, uint64(1), dropped)
}
