package jsonnul

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFind(t *testing.T) {
	t.Parallel()
	cases := []struct {
		raw   string
		path  string
		found bool
	}{
		{`{"a": "x"}`, "", false},
		{`{"a": "\\u0000"}`, "", false},   // an escaped backslash, then the letters u0000
		{`{"a": "\\\\u0000"}`, "", false}, // two escaped backslashes
		{`{"a": "\\\u0000"}`, "a", true},  // an escaped backslash, then U+0000
		{`{"a": "\u0000"}`, "a", true},
		{`"\u0000"`, "", true},
		{`{"reports": [{"step_id": 1}, {"step_id": 2, "results": {"note": "x\u0000y"}}]}`, "reports[1].results.note", true},
		{`{"a": {"b\u0000c": 1}}`, `a.b\u0000c`, true},
		{`{"a": [1, [2, "\u0000"]]}`, "a[1][1]", true},
		{`{"k\"ey": {"x": "ok", "y": ["\u0000"]}}`, `k"ey.y[0]`, true},
		{`{"a": "\u00000"}`, "a", true},
		{`{"a": "\u0001", "b": "\u0000"}`, "b", true},
		{`{"a": "u0000"}`, "", false},
		{"{\"a\": \"raw\x00nul\"}", "a", true},
	}
	for _, tc := range cases {
		path, found := Find([]byte(tc.raw))
		assert.Equal(t, tc.found, found, tc.raw)
		assert.Equal(t, tc.path, path, tc.raw)
		if tc.found && json.Valid([]byte(tc.raw)) {
			var v any
			_ = json.Unmarshal([]byte(tc.raw), &v)
			b, _ := json.Marshal(v)
			assert.True(t, strings.Contains(string(b), `\u0000`), "the decoder agrees: %s", tc.raw)
		}
	}
}

// FuzzFind holds Find equal to decoding: a value decodes to a string with U+0000
// exactly when Find finds one.
func FuzzFind(f *testing.F) {
	for _, s := range []string{`{"a": "\\u0000"}`, `{"a": "\u0000"}`, `["\\\u0000"]`, `{"\u0000": 1}`, `[{"a": [1, "b"]}]`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		var v any
		if json.Unmarshal([]byte(raw), &v) != nil {
			return
		}
		want := hasNUL(v)
		if _, got := Find([]byte(raw)); got != want {
			t.Fatalf("Find(%q) = %v, decoding says %v", raw, got, want)
		}
	})
}

func hasNUL(v any) bool {
	switch x := v.(type) {
	case string:
		return strings.ContainsRune(x, 0)
	case []any:
		for _, e := range x {
			if hasNUL(e) {
				return true
			}
		}
	case map[string]any:
		for k, e := range x {
			if strings.ContainsRune(k, 0) || hasNUL(e) {
				return true
			}
		}
	}
	return false
}
