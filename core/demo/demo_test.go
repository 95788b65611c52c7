package demo

import (
	"bytes"
	"context"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/internal/testdb"
)

// TestDemo runs the demo. `make demo` runs it with TASKER_DEMO=1, which prints the
// narrative; `make test` runs it quietly and checks the outcome.
func TestDemo(t *testing.T) {
	admin := os.Getenv("DATABASE_URL")
	if admin == "" {
		admin = testdb.URL(t)
	}
	var out io.Writer = &bytes.Buffer{}
	if os.Getenv("TASKER_DEMO") == "1" {
		out = os.Stdout
	}
	sum, err := Run(context.Background(), admin, out)
	require.NoError(t, err)
	assert.Equal(t, "complete", sum.Final)
	assert.Equal(t, 2, sum.Attempts[Flaky], "the flaky step failed once and succeeded on retry")
	for _, st := range Steps {
		if st.Name != Flaky {
			assert.Equal(t, 1, sum.Attempts[st.Name], st.Name)
		}
	}
	// 5 initial + 2 per successful attempt + (in_progress, error, pending) for the failure.
	assert.Equal(t, 5+2*5+3, sum.Transition)
}
