// Package jsonnul finds U+0000 in JSON text. PostgreSQL refuses U+0000 in jsonb
// and in text (SQLSTATE 22P05 / 22021), so a payload that carries one can never be
// stored: the API refuses it up front, naming where it is, instead of failing in
// the database with an error that tells the caller nothing.
//
// Find is cheap on the common path: one bytes.Index for the escape `\u0000`
// (encoding/json and every JSON encoder write U+0000 that way; a raw NUL byte is
// not valid JSON and the decoder refuses it). Only when that hits is the text
// walked, exactly: `\\u0000` is an escaped backslash followed by the letters
// "u0000", not a NUL.
package jsonnul

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
)

var nulEscape = []byte(`\u0000`)

// Find returns the path of the first JSON string (object key or value) of raw
// that contains U+0000, as dotted keys and [index]es from the top value
// ("reports[3].results.note"; "" is the top value itself), and whether there is one.
// raw is expected to be valid JSON; on invalid text the answer is best effort.
func Find(raw []byte) (path string, found bool) {
	if !bytes.Contains(raw, nulEscape) && bytes.IndexByte(raw, 0) < 0 {
		return "", false
	}
	return walk(raw)
}

// Contains reports whether raw has U+0000 in any string (Find without the path).
func Contains(raw []byte) bool {
	_, found := Find(raw)
	return found
}

// frame is one open container of the walk.
type frame struct {
	array     bool
	index     int
	key       []byte // the current member's key, still quoted and escaped
	expectKey bool
}

func walk(raw []byte) (string, bool) {
	var stack []frame
	for i := 0; i < len(raw); i++ {
		switch raw[i] {
		case '{':
			stack = append(stack, frame{expectKey: true})
		case '[':
			stack = append(stack, frame{array: true})
		case '}', ']':
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case ',':
			if n := len(stack); n > 0 {
				if stack[n-1].array {
					stack[n-1].index++
				} else {
					stack[n-1].expectKey = true
				}
			}
		case ':':
			if n := len(stack); n > 0 {
				stack[n-1].expectKey = false
			}
		case '"':
			end, nul := scanString(raw, i)
			n := len(stack)
			if n > 0 && !stack[n-1].array && stack[n-1].expectKey {
				stack[n-1].key = raw[i:end]
			}
			if nul {
				return render(stack), true
			}
			i = end - 1
		case 0:
			return render(stack), true
		}
	}
	return "", false
}

// scanString scans the string starting at the quote raw[start]; it returns the
// index just past its closing quote and whether it contains U+0000.
func scanString(raw []byte, start int) (end int, nul bool) {
	j := start + 1
	for j < len(raw) {
		switch c := raw[j]; {
		case c == '\\':
			if j+5 < len(raw) && raw[j+1] == 'u' && string(raw[j+2:j+6]) == "0000" {
				nul = true
				j += 6
			} else {
				j += 2 // the escaped character, whatever it is (\\ included)
			}
		case c == '"':
			return j + 1, nul
		case c == 0:
			nul = true
			j++
		default:
			j++
		}
	}
	return len(raw), nul
}

func render(stack []frame) string {
	var b strings.Builder
	for _, f := range stack {
		switch {
		case f.array:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case f.key != nil:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(keyName(f.key))
		}
	}
	return b.String()
}

// keyName decodes a quoted key for a path; a U+0000 in it is shown as \u0000.
func keyName(quoted []byte) string {
	var s string
	if err := json.Unmarshal(quoted, &s); err != nil {
		return strings.Trim(string(quoted), `"`)
	}
	return strings.ReplaceAll(s, "\x00", `\u0000`)
}
