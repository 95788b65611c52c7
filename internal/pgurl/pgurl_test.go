package pgurl

import (
	"errors"
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

// Mask works on the text: every form pgx accepts, and malformed ones, lose their
// password and keep the rest readable.
func TestMaskEveryForm(t *testing.T) {
	cases := []struct{ in, want string }{
		{"postgres://app:pw@127.0.0.1:notaport/db", "postgres://app:***@127.0.0.1:notaport/db"},
		{"postgres://app:p%zzw@h/db", "postgres://app:***@h/db"},
		{"postgres://app:p@w@h/db", "postgres://app:***@h/db"},
		{"postgres://app:p w@h/db?sslmode=disable", "postgres://app:***@h/db?sslmode=disable"},
		{"postgres://app@h/db?sslmode=disable&password=pw&x=1", "postgres://app@h/db?sslmode=disable&password=***&x=1"},
		{"postgres://app@h/db?password=pw", "postgres://app@h/db?password=***"},
		{"POSTGRESQL://app:pw@%2Ftmp%2Fsock/db", "POSTGRESQL://app:***@%2Ftmp%2Fsock/db"},
		{"postgres://app:pw@h1:5432,h2:notaport/db", "postgres://app:***@h1:5432,h2:notaport/db"},
		{"postgres://h:5432/db", "postgres://h:5432/db"},
		{"host=h password = pw user=u", "host=h password=*** user=u"},
		{"host=h password=pw", "host=h password=***"},
		{`password='p w\'x\\' host=h`, "password=*** host=h"},
		{`host=h password='unterminated rest`, "host=h password=***"},
		{"host=h user=u", "host=h user=u"},
		{"user=u mypassword=keep password=pw", "user=u mypassword=keep password=***"},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, Mask(tc.in), tc.in)
	}
}

// Redact finds URLs and DSN passwords anywhere in a message (quoted by a parser,
// say) and replaces the given secrets wherever they are.
func TestRedactMessages(t *testing.T) {
	assert.Equal(t, `parse "postgres://app:***@h:notaport/db": invalid port ":notaport" after host`,
		Redact(`parse "postgres://app:pw@h:notaport/db": invalid port ":notaport" after host`))
	assert.Equal(t, "cannot parse `host=h password=***`: invalid port",
		Redact("cannot parse `host=h password = pw`: invalid port"))
	assert.Equal(t, "echoed *** here", Redact("echoed s3cret here", Secrets("postgres://u:s3cret@h/db")...))
	assert.ElementsMatch(t, []string{"p%40ss", "p@ss"}, Secrets("postgres://u:p%40ss@h/db"))
	assert.ElementsMatch(t, []string{"p@ss", "p%40ss"}, Secrets("postgres://u:p@ss@h/db"))
	assert.Contains(t, Secrets(`host=h password='a\'b'`), "a'b")
	err := RedactError(errors.New(`parse "postgres://u:s3cret@h:x/db": bad`), "postgres://u:s3cret@h:x/db")
	assert.NotContains(t, err.Error(), "s3cret")
	assert.Nil(t, RedactError(nil, "x"))
}
