package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/rs/zerolog"

	"github.com/taskercore/tasker-core/core/config"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/events"
	"github.com/taskercore/tasker-core/core/store"
)

// Fuzz targets of the JSON API's decoders. They need no database: the client they
// call has a pool pointed at a closed port (127.0.0.1:1), so a request that
// decodes and validates reaches SQL only to fail at once with a database_error.
// `go test` runs the seeds; `make fuzz` runs each target for $(FUZZTIME).

// knownKinds are the error kinds a call may answer with. internal_error is not
// among them: it is a recovered panic, a bug the fuzzer found.
var knownKinds = []errs.Kind{errs.Validation, errs.NotFound, errs.StateTransition, errs.Cycle, errs.Database,
	errs.Configuration, errs.Timeout}

// fuzzSeeds are the hostile payloads of issue 11 and its neighbours: NUL
// bytes, deep nesting, huge numbers, malformed JSON, odd Unicode.
var fuzzSeeds = []string{
	``, `{}`, `[]`, `null`, `"x"`, `0`, `{"task_id": 1}`, `{"task_id": -1}`, `{"task_id": 1e300}`,
	`{"task_id": 99999999999999999999999999}`, `{"task_id": 1.5}`, `{"task_id": "1"}`, `{"step_id": 9223372036854775807}`,
	`{"lease_seconds": 1e300}`, `{"lease_seconds": -1}`, `{"limit": 1e300}`, `{"wait_ms": 1e300}`, `{"wait_ms": 59999}`,
	`{"worker_id": "w\u0000x"}`, "{\"worker_id\": \"w\x00x\"}", `{"subscriber": "` + strings.Repeat("s", 300) + `"}`,
	`{"name": "t", "steps": [{"name": "a", "depends_on": ["b"]}, {"name": "b", "depends_on": ["a"]}]}`,
	`{"name": "t", "steps": [{"name": "a", "depends_on": ["a"]}]}`,
	`{"name": "t\u0000", "context": {"k": "\u0000"}, "steps": [{"name": "a"}]}`,
	`{"name": "\ud800", "steps": [{"name": "\uffff\u202e"}]}`, "{\"name\": \"\xef\xbb\xbft\", \"steps\": []}",
	`{"updates": [[1, "complete", {"r": "\u0000"}]]}`, `{"updates": [[1]]}`, `{"updates": [[1, 2, 3, 4]]}`,
	`{"updates": [{"step_id": 1, "state": "nonsense"}]}`, `{"updates": [null]}`, `{"reports": [null]}`,
	`{"reports": [{"step_id": 1, "worker_id": "w", "success": false, "error": {"message": "\u0000"}}]}`,
	`{"report": {"reports": []}, "claim": {"worker_id": "w"}}`, `{"claim": "nope"}`,
	`{"paths": ["/dev/zero"]}`, `{"yaml": "name: x\nsteps: [{name: a, depends_on: [a]}]"}`,
	`{"task_id": 1, "name": "custom.event", "payload": {"a": 1e300}}`, `{"patterns": ["**"]}`,
	strings.Repeat(`{"a":`, 200) + `1` + strings.Repeat(`}`, 200), strings.Repeat(`[`, 100000),
	`{"task_id": 1,}`, `{"task_id": 1} {"task_id": 2}`, `{"task_id"`, `{"unknown_field": 1}`, "\xff\xfe",
	`{"as_of": "10000-01-01T00:00:00Z", "task_id": 1}`, `{"as_of": "not a time", "task_id": 1}`,
}

var (
	fuzzClientOnce sync.Once
	fuzzClientVal  *Client
)

// fuzzClient is a client without a database (see above), with short timeouts
// so that no call waits long.
func fuzzClient(t testing.TB) *Client {
	fuzzClientOnce.Do(func() {
		url := "postgres://fuzz@127.0.0.1:1/fuzz?sslmode=disable&connect_timeout=1"
		cfg, err := config.Load(config.Options{LookupEnv: func(string) (string, bool) { return "", false },
			Explicit: map[string]any{"database_url": url, "call_timeout_ms": 300.0, "acquire_timeout_ms": 300.0}})
		if err != nil {
			panic(err)
		}
		pcfg, err := pgxpool.ParseConfig(url)
		if err != nil {
			panic(err)
		}
		pool, err := pgxpool.NewWithConfig(context.Background(), pcfg) // connects lazily: never, here
		if err != nil {
			panic(err)
		}
		cat, err := events.System()
		if err != nil {
			panic(err)
		}
		s := store.New(pool, cfg.RetryPolicy())
		c := &Client{settings: newSettings(cfg), store: s, log: zerolog.Nop(), logOut: nopCloser{}, catalog: cat}
		c.live = newLiveHub(cfg, s, zerolog.Nop())
		fuzzClientVal = c
	})
	return fuzzClientVal
}

// callBound is far above the fuzz client's call timeout: a call still running
// after it hangs.
const callBound = 5 * time.Second

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// checkTyped fails t unless err is nil or an *errs.Error of a known kind.
func checkTyped(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("%s: untyped error %T: %v", what, err, err)
	}
	if !slices.Contains(knownKinds, e.Kind) {
		t.Fatalf("%s: error of kind %q: %v", what, e.Kind, err)
	}
}

// FuzzCall sends any payload to any operation: the answer is a typed error of a
// known kind or data that encodes as JSON, the envelope is always valid JSON,
// and nothing panics or hangs.
func FuzzCall(f *testing.F) {
	methods := slices.DeleteFunc(Methods(), func(m string) bool { return strings.HasSuffix(m, "_for_test") })
	slices.Sort(methods)
	for i := range methods {
		for _, s := range fuzzSeeds {
			f.Add(uint8(i), []byte(s))
		}
	}
	f.Fuzz(func(t *testing.T, m uint8, payload []byte) {
		c := fuzzClient(t)
		method := methods[int(m)%len(methods)]
		var data any
		var err error
		done := make(chan struct{})
		go func() {
			defer close(done)
			data, err = c.Call(context.Background(), method, payload)
		}()
		select {
		case <-done:
		case <-time.After(callBound):
			buf := make([]byte, 1<<20)
			t.Fatalf("%s %q has not returned after %s:\n%s", method, payload, callBound, buf[:runtime.Stack(buf, true)])
		}
		checkTyped(t, method, err)
		env := Encode(data, err)
		if !json.Valid(env) {
			t.Fatalf("%s: envelope is not JSON: %s", method, env)
		}
		if err == nil {
			if _, mErr := json.Marshal(data); mErr != nil {
				t.Fatalf("%s: data does not encode: %v", method, mErr)
			}
		}
	})
}

// FuzzDecodeRequests decodes any payload into the request shapes the operations
// decode (strictly, as decode does): an error is a validation_error, and a
// value that decodes re-encodes to JSON that decodes to the same encoding.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	shapes := []func() any{
		func() any { return new(store.TaskSpec) },
		func() any { return new(taskRef) },
		func() any { return new(stepRef) },
		func() any { return new(templateRef) },
		func() any {
			return new(struct {
				Updates []batchItem `json:"updates"`
			})
		},
		func() any { return new(batchItem) },
		func() any { return new(store.EventBatch) },
		func() any { return new(struct{}) },
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		if checkPayload(payload, DefaultMaxPayloadBytes, DefaultMaxJSONDepth) != nil {
			return // refused before decoding, as Call refuses it
		}
		for _, shape := range shapes {
			v := shape()
			err := decode(payload, v)
			if err != nil {
				if k := errs.KindOf(err); k != errs.Validation {
					t.Fatalf("decode %T: error of kind %q: %v", v, k, err)
				}
				continue
			}
			once, mErr := json.Marshal(v)
			if mErr != nil {
				t.Fatalf("decoded %T does not re-encode: %v", v, mErr)
			}
			again := shape()
			if err := decode(once, again); err != nil {
				t.Fatalf("re-encoded %T does not decode: %v\n%s", v, err, once)
			}
			twice, _ := json.Marshal(again)
			if !bytes.Equal(once, twice) {
				t.Fatalf("%T: re-encoding changed:\n%s\n%s", v, once, twice)
			}
		}
	})
}

// FuzzParseConfig reads any client configuration: the answer is a
// configuration_error or a configuration whose effective values encode.
func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{}`, `{"database_url": "postgres://u:pw@h:notaport/db"}`, `{"env": {"A": "\u0000"}}`, `{"env": []}`,
		`{"env": {"TASKER_LOGGING_LEVEL": "loud"}}`, `{"config_file": "/dev/zero"}`, `{"config_file": 1}`,
		`{"execution": {"lease_seconds": 1e300}}`, `{"lease_seconds": -1e300}`, `{"max_connections": 1e300}`,
		`{"queues": {"namespace_priorities": {"a": 1e300}}}`, `{"state_transitions.forbid": ["\u0000"]}`,
		`{"retry_policy": {"strategy": "\ud800"}}`, `{"files": {"max_bytes": 0}}`, `{"database": {"url": {"nested": 1}}}`,
		strings.Repeat(`{"a":`, 129) + `1` + strings.Repeat(`}`, 129), `{"a":`, "\x00",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		cfg, err := ParseConfig(raw)
		if err != nil {
			if k := errs.KindOf(err); k != errs.Configuration {
				t.Fatalf("error of kind %q: %v", k, err)
			}
			return
		}
		if _, err := json.Marshal(cfg.Effective()); err != nil {
			t.Fatalf("effective configuration does not encode: %v", err)
		}
	})
}
