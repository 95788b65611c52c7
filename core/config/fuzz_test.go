package config

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/taskercore/tasker-core/core/errs"
)

// loadBound is far above what loading any configuration takes: a Load still
// running after it is a hang the fuzzer found.
const loadBound = 5 * time.Second

// FuzzFile loads any YAML as the configuration file: the answer is a
// configuration_error, or a validated configuration whose effective values,
// given back as explicit values, load to the same configuration.
func FuzzFile(f *testing.F) {
	for _, p := range []string{"testdata/tasker.yml", "testdata/typo.yml", "testdata/bad_range.yml"} {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, "test")
		}
	}
	for _, s := range []string{
		"", "\x00", "database: {url: \"postgres://u:\\0@h/db\"}\n", "execution: {lease_seconds: 1e300}\n",
		"execution: {lease_seconds: .nan}\n", "execution: {claim_batch_size: 99999999999999999999999}\n",
		"database: {pool: {max_connections: -1}}\n", "queues: {namespace_priorities: {a: 1e300}}\n",
		"queues: {namespace_priorities: [1, 2]}\n", "state_transitions: {forbid: [\"task:a->b\", 1]}\n",
		"test: {database: {url: \"${UNSET}\"}}\n", "test: {database: {url: \"${X:-d}${\"}}\n", "test: 5\n",
		"a: &a [*a]\n", "a: &a [1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n",
		strings.Repeat("[", 10000), strings.Repeat("a:\n ", 2000) + "b", "logging: {level: \"\\ud800\"}\n",
		"\xef\xbb\xbflogging: {level: debug}\n", "\xff\xfe", "---\na: 1\n---\nb: 2\n", "files: {max_bytes: 0}\n",
	} {
		f.Add([]byte(s), "test")
	}
	f.Fuzz(func(t *testing.T, data []byte, environment string) {
		p := filepath.Join(t.TempDir(), "tasker.yml")
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		lookup := env(map[string]string{"X": "1", "TEST_DB_URL": "postgres://u:pw@h/db"})
		var c *Config
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			c, err = Load(Options{File: p, Environment: environment, LookupEnv: lookup})
		}()
		select {
		case <-done:
		case <-time.After(loadBound):
			t.Fatalf("Load has not returned after %s on %q", loadBound, data)
		}
		if err != nil {
			if _, typed := err.(*errs.Error); !typed || errs.KindOf(err) != errs.Configuration {
				t.Fatalf("error %T of kind %q: %v", err, errs.KindOf(err), err)
			}
			return
		}
		eff := c.Effective()
		if _, err := json.Marshal(eff); err != nil {
			t.Fatalf("effective configuration does not encode: %v", err)
		}
		explicit := map[string]any{}
		for _, v := range eff {
			if !byPath[v.Key].Secret {
				explicit[v.Key] = v.Value
			}
		}
		again, err := Load(Options{File: "", Environment: environment, LookupEnv: env(nil), Explicit: explicit})
		if err != nil {
			t.Fatalf("the effective values do not load again: %v", err)
		}
		for _, v := range again.Effective() {
			if byPath[v.Key].Secret {
				continue
			}
			a, _ := json.Marshal(v.Value)
			b, _ := json.Marshal(c.Get(v.Key))
			if string(a) != string(b) {
				t.Fatalf("%s: %s loaded again as %s", v.Key, b, a)
			}
		}
	})
}

// Found by FuzzFile: NaN passed every range check (and ±Inf every open one),
// and the effective configuration then failed to encode.
func TestNonFiniteNumbersAreRefused(t *testing.T) {
	t.Parallel()
	for _, body := range []string{"execution: {lease_seconds: .nan}\n", "retry: {cap_seconds: .inf}\n", "retry: {base_seconds: -.inf}\n"} {
		p := filepath.Join(t.TempDir(), "tasker.yml")
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(Options{File: p, LookupEnv: env(nil)})
		if errs.KindOf(err) != errs.Configuration || !strings.Contains(err.Error(), "expected a number") {
			t.Errorf("%s: got %v", body, err)
		}
	}
	for _, raw := range []string{"NaN", "Inf", "-Infinity"} {
		_, err := Load(Options{LookupEnv: env(map[string]string{"TASKER_RETRY_CAP_SECONDS": raw})})
		if errs.KindOf(err) != errs.Configuration || !strings.Contains(err.Error(), "TASKER_RETRY_CAP_SECONDS") {
			t.Errorf("%s: got %v", raw, err)
		}
	}
}
