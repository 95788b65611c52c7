package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
)

// TestTaskRefFastPathAgreesWithTheDecoder: the hand-read {"task_id":N} gives
// what the strict decoder gives, and every other payload, valid or not, goes to
// the decoder (so its errors name the field as before).
func TestTaskRefFastPathAgreesWithTheDecoder(t *testing.T) {
	taken := map[string]int64{
		`{"task_id":1}`:                  1,
		`{"task_id":42}`:                 42,
		`{"task_id":123456789012345678}`: 123456789012345678,
		`{"task_id":0}`:                  0,
	}
	for payload, want := range taken {
		id, ok := bareTaskID([]byte(payload))
		require.True(t, ok, payload)
		assert.Equal(t, want, id, payload)
		var viaDecoder taskRef
		require.NoError(t, decode([]byte(payload), &viaDecoder), payload)
		assert.Equal(t, viaDecoder.TaskID, id, payload)
	}
	left := []string{
		``, `{}`, `{"task_id":}`, `{"task_id":01}`, `{"task_id":-1}`, `{"task_id":1.5}`, `{"task_id":1e3}`,
		`{"task_id": 1}`, `{"task_id":1 }`, `{"task_id":"1"}`, `{"task_id":1,"as_of":null}`,
		`{"task_id":1234567890123456789}`, `{"task_id":99999999999999999999}`, `{"task_id":1}x`, `{"TASK_ID":1}`,
	}
	for _, payload := range left {
		_, ok := bareTaskID([]byte(payload))
		assert.False(t, ok, "%q must go to the decoder", payload)
	}
	var r taskRef
	err := r.parse([]byte(`{"task_id":0}`))
	assert.Equal(t, errs.Validation, errs.KindOf(err), "task_id 0 is refused on the fast path too")
	assert.ErrorContains(t, err, "task_id is required")
	err = r.parse([]byte(`{"task_id":01}`))
	assert.Equal(t, errs.Validation, errs.KindOf(err), "a leading zero is the decoder's error")
}
