package store_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDiamondSmoke(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	ct := create(t, s, "diamond", step("a"), step("b", "a"), step("c", "a"), step("d", "b", "c"))
	assert.Equal(t, []string{"a"}, readyNames(t, s, ct.TaskID, nil))
	complete(t, s, ct, "a")
	assert.Equal(t, []string{"b", "c"}, readyNames(t, s, ct.TaskID, nil))
	ec, err := s.ExecutionContext(context.Background(), ct.TaskID, nil)
	require.NoError(t, err)
	t.Logf("%+v", ec)
	assert.Equal(t, map[string]int{"a": 0, "b": 1, "c": 1, "d": 2}, levelsByName(t, s, ct))
}
