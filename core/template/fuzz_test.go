package template

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/taskercore/tasker-core/core/errs"
)

// templateKinds are the errors Parse may answer with; anything else (a
// recovered panic, an untyped error) is a bug the fuzzer found.
var templateKinds = []errs.Kind{errs.Validation, errs.Cycle}

// parseBound is far above what parsing a template of any size takes: a parse
// still running after it is a hang (or a blow-up) the fuzzer found.
const parseBound = 5 * time.Second

// FuzzParse parses any YAML as a template: the answer is a typed validation or
// cycle error, or a template whose JSON form turns back into an equal template
// (FromJSON) and encodes the same again.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/good", "testdata/broken"} {
		_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasSuffix(p, "ml") {
				if data, err := os.ReadFile(p); err == nil {
					f.Add(data, "test")
				}
			}
			return nil
		})
	}
	for _, s := range []string{
		"", "\x00", "name: \"a\\0b\"\nsteps: [{name: a, handler_class: A}]\n",
		"name: t\nnamespace_name: n\nsteps:\n  - name: \"\\u0000\"\n    handler_class: A\n",
		"name: t\nsteps: [{name: a, handler_class: A, depends_on: [b]}, {name: b, handler_class: A, depends_on: [a]}]\n",
		"name: t\nsteps: [{name: a, handler_class: A, retry_limit: 1e300}]\n",
		"name: t\nsteps: [{name: a, handler_class: A, retry_limit: 99999999999999999999999}]\n",
		"name: t\nsteps: [{name: a, handler_class: A}]\nschema: {type: object, properties: {a: {$ref: \"#\"}}}\n",
		"a: &a [*a]\n", "a: &a [1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
		strings.Repeat("[", 10000), strings.Repeat("- ", 5000) + "x",
		"name: \"\\ud800\"\nsteps: [{name: \"\\uffff\\u202e\", handler_class: A}]\n", "\xef\xbb\xbfname: t\n", "\xff\xfe",
		"---\nname: a\n---\nname: b\n", "name: [unclosed\n",
	} {
		f.Add([]byte(s), "")
	}
	f.Fuzz(func(t *testing.T, data []byte, env string) {
		var tpl *Template
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			tpl, err = Parse(data, "fuzz.yaml", env)
		}()
		select {
		case <-done:
		case <-time.After(parseBound):
			t.Fatalf("Parse has not returned after %s on %q", parseBound, data)
		}
		if err != nil {
			var e *errs.Error
			if !errors.As(err, &e) || !slices.Contains(templateKinds, e.Kind) {
				t.Fatalf("Parse: error %T of kind %q: %v", err, errs.KindOf(err), err)
			}
			return
		}
		once, err := tpl.JSON()
		if err != nil {
			t.Fatalf("a parsed template does not encode: %v", err)
		}
		back, err := FromJSON(once)
		if err != nil {
			t.Fatalf("FromJSON(JSON(t)): %v\n%s", err, once)
		}
		if !reflect.DeepEqual(tpl, back) {
			t.Fatalf("FromJSON(JSON(t)) differs from t:\n%#v\n%#v", tpl, back)
		}
		twice, err := back.JSON()
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("re-encoding changed (%v):\n%s\n%s", err, once, twice)
		}
	})
}
