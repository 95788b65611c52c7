package pgurl

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWithDatabase(t *testing.T) {
	got, err := WithDatabase("postgres://u:p@h:5432/postgres?sslmode=disable", "x")
	require.NoError(t, err)
	assert.Equal(t, "postgres://u:p@h:5432/x?sslmode=disable", got)
	got, err = WithDatabase("host=/tmp user=u", "x")
	require.NoError(t, err)
	assert.Equal(t, "host=/tmp user=u dbname=x", got)
}

func TestMask(t *testing.T) {
	assert.Equal(t, "postgres://u:***@h:5432/db", Mask("postgres://u:s3cret@h:5432/db"))
	assert.Equal(t, "postgres://u@h/db", Mask("postgres://u@h/db"))
	assert.Equal(t, "host=h password=*** user=u", Mask("host=h password=s3cret user=u"))
	assert.NotContains(t, Mask("postgres://u:p%40ss@h/db"), "p%40ss")
}
