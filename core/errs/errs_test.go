package errs

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestKindsSurviveWrapping(t *testing.T) {
	t.Parallel()
	base := New(NotFound, map[string]any{"task_id": int64(7)}, "task %d not found", 7)
	wrapped := fmt.Errorf("load: %w", base)
	assert.Equal(t, NotFound, KindOf(wrapped))
	assert.True(t, errors.Is(wrapped, Of(NotFound)))
	assert.False(t, errors.Is(wrapped, Of(Validation)))
	assert.Equal(t, int64(7), DetailsOf(wrapped)["task_id"])
	assert.Equal(t, Internal, KindOf(errors.New("plain")))
	assert.Equal(t, Kind(""), KindOf(nil))
	assert.NoError(t, Wrap(Database, nil, "x"))

	cause := errors.New("connection refused")
	err := Wrap(Database, cause, "query readiness")
	assert.Equal(t, "query readiness: connection refused", err.Error())
	assert.ErrorIs(t, err, cause)
}
