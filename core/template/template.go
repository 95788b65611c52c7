package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/safefile"
)

// The two template formats.
const (
	FormatEngine    = "engine"
	FormatSuccessor = "successor"
)

// Defaults of a template.
const (
	DefaultNamespace  = "default"
	DefaultVersion    = "0.1.0"
	DefaultRetryLimit = 3
)

// Length limits of the engine's columns (REFERENCE §1), checked at parse time so a
// template that the store would reject fails with its file and line.
const (
	maxNamespaceLen = 64
	maxTaskNameLen  = 64
	maxVersionLen   = 16
	maxStepNameLen  = 128
)

// Template is a parsed, merged and validated task template.
type Template struct {
	Name                   string          `json:"name"`
	Namespace              string          `json:"namespace"` // "default" when the file gives none
	Version                string          `json:"version"`   // "0.1.0" when the file gives none
	Description            string          `json:"description,omitempty"`
	TaskHandlerClass       string          `json:"task_handler_class,omitempty"` // required in the engine format, optional in the successor format
	ModuleNamespace        string          `json:"module_namespace,omitempty"`
	DefaultDependentSystem string          `json:"default_dependent_system,omitempty"`
	Schema                 json.RawMessage `json:"schema,omitempty"` // JSON Schema of the task context (engine schema / successor input_schema), nil if none
	Steps                  []Step          `json:"steps"`
	CustomEvents           []Event         `json:"custom_events"` // template-level events, then every step's, first of each name wins
	File                   string          `json:"file,omitempty"`
	Format                 string          `json:"format"` // FormatEngine or FormatSuccessor
}

// Step is one step of a Template.
type Step struct {
	Name            string         `json:"name"`
	Description     string         `json:"description,omitempty"`
	DependentSystem string         `json:"dependent_system,omitempty"` // as written; Spec falls back to the template's default
	HandlerClass    string         `json:"handler_class"`              // engine handler_class, successor handler.callable
	DependsOn       []string       `json:"depends_on"`                 // nil when the step has no dependencies
	Retryable       bool           `json:"retryable"`                  // default true
	RetryLimit      int32          `json:"retry_limit"`                // default 3: engine default_retry_limit, successor retry.max_attempts
	Skippable       bool           `json:"skippable"`
	TimeoutSeconds  int            `json:"timeout_seconds"` // successor timeout_seconds, 0 = none
	HandlerConfig   map[string]any `json:"handler_config"`  // engine handler_config, successor handler.initialization; nil if absent
	Backoff         *Backoff       `json:"backoff"`         // successor retry.backoff*, nil if absent
	CustomEvents    []Event        `json:"custom_events"`   // engine custom_events, successor publishes_events
}

// Backoff is a step's retry backoff (successor format).
type Backoff struct {
	Strategy string `json:"strategy,omitempty"`
	BaseMS   int64  `json:"base_ms,omitempty"`
	MaxMS    int64  `json:"max_ms,omitempty"`
}

// Event is a custom event a step (or the template) declares.
type Event struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
}

// Key returns "namespace/name@version".
func (t *Template) Key() string {
	return t.Namespace + "/" + t.Name + "@" + t.Version
}

// Step returns the step with the given name, or nil.
func (t *Template) Step(name string) *Step {
	for i := range t.Steps {
		if t.Steps[i].Name == name {
			return &t.Steps[i]
		}
	}
	return nil
}

// Parse parses one template from data. file names the source in errors and
// Template.File ("" is fine). environment selects the environments.<env>
// overrides to merge; "" merges none, and an environment the file does not
// mention merges none either. data must hold exactly one YAML document.
func Parse(data []byte, file, environment string) (*Template, error) {
	d := &decoder{file: file, budget: maxValueNodes}
	root, err := d.document(data)
	if err != nil {
		return nil, err
	}
	return d.template(root, environment)
}

// Load reads and parses the template file at path (see Parse). Only a regular
// file of at most maxBytes is read (files.max_bytes); anything else is an
// errs.Configuration naming the path.
func Load(path, environment string, maxBytes int64) (*Template, error) {
	data, err := safefile.Read(path, maxBytes)
	if err != nil {
		return nil, readError(path, err)
	}
	return Parse(data, path, environment)
}

// LoadDir loads every *.yml and *.yaml file under dir, descending into
// subdirectories (the successor keeps templates as <namespace>/<name>/<version>.yaml)
// but skipping those whose name starts with a dot, in lexical order of their
// paths. A directory without templates gives an empty slice.
//
// LoadDir does not stop at the first broken file: it loads them all and, if any
// failed, returns nil and one error listing every failure (one line per file) whose
// details hold "dir" and "errors" (each failure's details plus its "message"), and
// which wraps the individual errors (errors.Join) for errors.As. Two files defining
// the same namespace/name@version are a failure too. The combined error is of the
// failures' kind when they all share it, errs.Validation otherwise.
//
// Each file is read as Load reads it (regular files of at most maxBytes).
func LoadDir(dir, environment string, maxBytes int64) ([]*Template, error) {
	var paths []string
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() {
			if path != dir && strings.HasPrefix(e.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if ext := strings.ToLower(filepath.Ext(path)); ext == ".yml" || ext == ".yaml" {
			paths = append(paths, path)
		}
		return nil
	})
	if err != nil {
		return nil, readError(dir, err)
	}
	slices.Sort(paths)

	out := make([]*Template, 0, len(paths))
	var failures []error
	seen := map[string]string{} // key -> file
	for _, p := range paths {
		t, err := Load(p, environment, maxBytes)
		if err != nil {
			failures = append(failures, err)
			continue
		}
		if prev, dup := seen[t.Key()]; dup {
			failures = append(failures, errs.New(errs.Validation,
				map[string]any{"file": p, "template": t.Key(), "other_file": prev, "problem": "duplicate_template"},
				"%s: template %s is also defined in %s", p, t.Key(), prev))
			continue
		}
		seen[t.Key()] = p
		out = append(out, t)
	}
	if len(failures) == 0 {
		return out, nil
	}
	return nil, joinFailures(dir, len(paths), failures)
}

func joinFailures(dir string, total int, failures []error) error {
	kind := errs.KindOf(failures[0])
	lines := make([]string, 0, len(failures))
	details := make([]map[string]any, 0, len(failures))
	for _, f := range failures {
		if errs.KindOf(f) != kind {
			kind = errs.Validation
		}
		lines = append(lines, "  - "+f.Error())
		d := map[string]any{"message": f.Error(), "kind": string(errs.KindOf(f))}
		for k, v := range errs.DetailsOf(f) {
			d[k] = v
		}
		details = append(details, d)
	}
	return &errs.Error{
		Kind: kind,
		Message: fmt.Sprintf("%s: %d of %d template files failed to load:\n%s",
			dir, len(failures), total, strings.Join(lines, "\n")),
		Details: map[string]any{"dir": dir, "errors": details},
		Err:     errors.Join(failures...),
	}
}

func readError(path string, err error) error {
	kind := errs.Configuration
	if errors.Is(err, fs.ErrNotExist) {
		kind = errs.NotFound
	}
	details := map[string]any{"file": path}
	for k, v := range errs.DetailsOf(err) {
		details[k] = v
	}
	msg := fmt.Sprintf("read %s: %v", path, err)
	if _, typed := err.(*errs.Error); typed {
		msg = "read " + err.Error() // safefile's message starts with the path
	}
	return &errs.Error{Kind: kind, Message: msg, Details: details, Err: err}
}

// JSON returns the canonical JSON form of t: the fields under their json tags,
// map keys sorted, the schema compacted. FromJSON turns it back into an equal
// Template.
func (t *Template) JSON() ([]byte, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return nil, errs.Wrap(errs.Validation, err, "template %s", t.Key())
	}
	return b, nil
}

// FromJSON parses the JSON form JSON returns and checks the result as Parse
// would (required fields, dependencies, cycles, the schema); unknown fields are
// an error. FromJSON(JSON(t)) deep-equals t for every t Parse returns, also after
// the JSON went through a PostgreSQL jsonb column (key order and spacing do not
// matter: numbers and the schema are brought back to canonical form).
func FromJSON(data []byte) (*Template, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	t := new(Template)
	if err := dec.Decode(t); err != nil {
		return nil, errs.Wrap(errs.Validation, err, "template JSON")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errs.New(errs.Validation, nil, "template JSON: trailing data after the template")
	}
	if t.Schema != nil {
		// The store keeps the JSON as jsonb, which reorders keys and respaces: bring
		// the schema back to the form Parse gives.
		var v any
		dec := json.NewDecoder(bytes.NewReader(t.Schema))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			return nil, errs.Wrap(errs.Validation, err, "template JSON: schema")
		}
		b, err := json.Marshal(canonicalNumbers(v))
		if err != nil {
			return nil, errs.Wrap(errs.Validation, err, "template JSON: schema")
		}
		t.Schema = b
	}
	for i := range t.Steps {
		if t.Steps[i].HandlerConfig != nil {
			t.Steps[i].HandlerConfig = canonicalNumbers(t.Steps[i].HandlerConfig).(map[string]any)
		}
	}
	if t.Format != FormatEngine && t.Format != FormatSuccessor {
		return nil, errs.New(errs.Validation, map[string]any{"field": "format", "value": t.Format},
			"template JSON: format %q: want %q or %q", t.Format, FormatEngine, FormatSuccessor)
	}
	if err := (&decoder{file: t.File}).check(t, nil); err != nil {
		return nil, err
	}
	return t, nil
}

// canonicalNumbers replaces the json.Numbers of a decoded JSON value with int64 or
// float64, the same way parsing YAML does.
func canonicalNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = canonicalNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = canonicalNumbers(e)
		}
	case json.Number:
		if n, err := x.Int64(); err == nil {
			return n
		}
		if f, err := x.Float64(); err == nil {
			return canonicalFloat(f)
		}
		return x // out of float64's range: kept as written
	}
	return v
}
