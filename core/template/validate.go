package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
)

// check validates a decoded template: names and lengths, steps, duplicate names,
// dependencies (unknown, self, cycles) and the schema. srcs gives the steps'
// lines; it is nil for a template decoded from JSON.
func (d *decoder) check(t *Template, srcs []stepSrc) error {
	schemaKey := "schema"
	if t.Format == FormatSuccessor {
		schemaKey = "input_schema"
	}
	for _, f := range []struct {
		key, value string
		max        int
	}{
		{"name", t.Name, maxTaskNameLen},
		{"namespace_name", t.Namespace, maxNamespaceLen},
		{"version", t.Version, maxVersionLen},
	} {
		if err := d.text(d.topAt(f.key), f.key, f.value, f.max); err != nil {
			return err
		}
	}
	if len(t.Steps) == 0 {
		return d.invalid(d.topAt("steps"), probNoSteps, "template %s has no steps", t.Key())
	}
	at := func(i int, key string) where {
		w := where{step: t.Steps[i].Name, path: index("steps", i), key: key}
		if srcs != nil {
			w.line, w.path = srcs[i].line, srcs[i].path
		}
		return w
	}
	first := make(map[string]int, len(t.Steps))
	g := dag.New()
	for i := range t.Steps {
		s := &t.Steps[i]
		if err := d.text(at(i, "name"), "step name", s.Name, maxStepNameLen); err != nil {
			return err
		}
		if strings.TrimSpace(s.HandlerClass) == "" {
			return d.invalid(at(i, "handler_class"), probMissingKey, "step has no handler class")
		}
		if s.RetryLimit < 0 {
			return d.invalid(at(i, "retry_limit"), probInvalidValue, "retry limit must be >= 0, got %d", s.RetryLimit)
		}
		if s.TimeoutSeconds < 0 {
			return d.invalid(at(i, "timeout_seconds"), probInvalidValue, "timeout_seconds must be >= 0, got %d", s.TimeoutSeconds)
		}
		if j, dup := first[s.Name]; dup {
			w := at(i, "name")
			if srcs != nil {
				return d.invalid(w, probDuplicateStep, "duplicate step name %q (first defined at %s, line %d)", s.Name, srcs[j].path, srcs[j].line)
			}
			return d.invalid(w, probDuplicateStep, "duplicate step name %q (first defined at steps[%d])", s.Name, j)
		}
		first[s.Name] = i
		if err := g.AddNode(int64(i), s.Name); err != nil {
			return errs.Wrap(errs.Internal, err, "template graph")
		}
	}
	names := make([]string, len(t.Steps))
	for i := range t.Steps {
		names[i] = t.Steps[i].Name
	}
	for i := range t.Steps {
		s := &t.Steps[i]
		for _, dep := range s.DependsOn {
			w := at(i, "depends_on")
			if srcs != nil {
				if line, ok := srcs[i].deps[dep]; ok {
					w.line = line
				}
			}
			if dep == s.Name {
				return d.invalid(w, probSelfDep, "depends on itself")
			}
			j, ok := first[dep]
			if !ok {
				err := d.invalid(w, probUnknownDep, "depends on unknown step %q", dep)
				if sug := suggest(dep, names, nil); sug != "" {
					err.Message += "; did you mean " + sug + "?"
					err.Details["suggestion"] = sug
				}
				err.Details["dependency"] = dep
				return err
			}
			if err := g.AddEdge(int64(j), int64(i)); err != nil {
				return errs.Wrap(errs.Internal, err, "template graph")
			}
		}
	}
	if cyc := g.FindCycle(); cyc != nil {
		err := d.fail(errs.Cycle, at(int(cyc.Cycle[0]), ""), probCycle, "%s", cyc.Error())
		err.Details["cycle"] = cyc.Names
		err.Err = cyc
		return err
	}
	if t.Schema != nil {
		if _, err := compileSchema(t.Schema); err != nil {
			return d.schemaError(schemaKey, err)
		}
	}
	return nil
}

// schemaError reports a schema that does not compile, at the line of the first
// offending keyword when the meta-schema pinpoints one.
func (d *decoder) schemaError(schemaKey string, err error) error {
	w := d.topAt(schemaKey)
	var sve *jsonschema.SchemaValidationError
	var ve *jsonschema.ValidationError
	if !errors.As(err, &sve) || !errors.As(sve.Err, &ve) {
		msg := strings.ReplaceAll(err.Error(), schemaURL, schemaKey)
		return d.invalid(w, probInvalidSchema, "%s is not a valid JSON Schema: %s", schemaKey, msg)
	}
	fails := leaves(ve)
	parts := make([]string, len(fails))
	for i, f := range fails {
		parts[i] = f.String()
	}
	if len(fails) > 0 && d.top != nil {
		n := d.top.get(schemaKey)
		path := schemaKey
		for _, tok := range fails[0].tokens {
			n = resolve(n)
			var next *yaml.Node
			switch n.Kind {
			case yaml.MappingNode:
				if m, err := d.mapping(n, where{}); err == nil {
					if f, ok := m.fields[tok]; ok {
						next, path = f.val, child(path, tok)
					}
				}
			case yaml.SequenceNode:
				if i, err := strconv.Atoi(tok); err == nil && i >= 0 && i < len(n.Content) {
					next, path = n.Content[i], index(path, i)
				}
			}
			if next == nil {
				break
			}
			n = next
		}
		if line := resolve(n).Line; line > 0 {
			w.line = line
		}
		w.path = path
	}
	err = d.invalid(w, probInvalidSchema, "%s is not a valid JSON Schema: %s", schemaKey, strings.Join(parts, "; "))
	return err
}

// failure is one leaf of a jsonschema validation error.
type failure struct {
	tokens  []string
	path    string // JSON pointer
	message string
}

func (f failure) String() string {
	p := f.path
	if p == "" {
		p = "(root)"
	}
	return p + ": " + f.message
}

// leaves flattens a validation error into its leaf failures, sorted by path and
// deduplicated. A missing required property is reported at its own path.
func leaves(ve *jsonschema.ValidationError) []failure {
	var out []failure
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		if req, ok := e.ErrorKind.(*kind.Required); ok {
			for _, p := range req.Missing {
				toks := append(slices.Clone(e.InstanceLocation), p)
				out = append(out, failure{toks, pointer(toks), "required property is missing"})
			}
			return
		}
		out = append(out, failure{e.InstanceLocation, pointer(e.InstanceLocation), e.ErrorKind.LocalizedString(printer)})
	}
	walk(ve)
	slices.SortStableFunc(out, func(a, b failure) int {
		if c := strings.Compare(a.path, b.path); c != 0 {
			return c
		}
		return strings.Compare(a.message, b.message)
	})
	return slices.CompactFunc(out, func(a, b failure) bool { return a.path == b.path && a.message == b.message })
}

// text checks a required name: not blank, valid UTF-8 without NULs, at most max characters.
func (d *decoder) text(w where, what, v string, max int) error {
	switch {
	case strings.TrimSpace(v) == "":
		return d.invalid(w, probMissingKey, "%s is required", what)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return d.invalid(w, probInvalidValue, "%s must be valid UTF-8 without NUL bytes", what)
	case utf8.RuneCountInString(v) > max:
		return d.invalid(w, probInvalidValue, "%s %q is longer than %d characters", what, v, max)
	}
	return nil
}

// Compiled schemas, by their JSON. Templates are few, so the cache stays small;
// it is emptied if it ever grows past maxCachedSchemas.
var (
	schemaMu    sync.Mutex
	schemaCache = map[string]*jsonschema.Schema{}
)

const maxCachedSchemas = 1024

// printer renders the schema library's messages.
var printer = message.NewPrinter(language.English)

// schemaURL is the (never fetched) location a template's schema is compiled at.
const schemaURL = "urn:tasker-core:template:context-schema"

// noLoader refuses to load anything: a schema's $ref may only point into itself
// or to the standard meta-schemas (which the library embeds).
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("loading %s refused: a template's schema must be self-contained", url)
}

// compileSchema compiles a JSON Schema (draft 2020-12 unless it names another
// with $schema; formats such as "email" are asserted).
func compileSchema(raw json.RawMessage) (*jsonschema.Schema, error) {
	key := string(raw)
	schemaMu.Lock()
	sch, ok := schemaCache[key]
	schemaMu.Unlock()
	if ok {
		return sch, nil
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	c.AssertFormat()
	if err := c.AddResource(schemaURL, doc); err != nil {
		return nil, err
	}
	if sch, err = c.Compile(schemaURL); err != nil {
		return nil, err
	}
	schemaMu.Lock()
	if len(schemaCache) >= maxCachedSchemas {
		clear(schemaCache)
	}
	schemaCache[key] = sch
	schemaMu.Unlock()
	return sch, nil
}

// ValidateContext validates a task context against the template's Schema. A nil
// Schema accepts any JSON; an empty context is validated as {}. A mismatch is an
// errs.Validation error whose details hold "errors": [{"path": "/customer/email",
// "message": "..."}, ...] (JSON pointers into the context, sorted by path; a
// missing required property is reported at its own path), and whose message lists
// the failing paths.
func (t *Template) ValidateContext(context json.RawMessage) error {
	if len(bytes.TrimSpace(context)) == 0 {
		context = json.RawMessage("{}")
	}
	if !json.Valid(context) {
		return errs.New(errs.Validation, map[string]any{"template": t.Key(), "file": t.File, "field": "context", "problem": "invalid_json"},
			"context for template %s is not valid JSON", t.Key())
	}
	if len(t.Schema) == 0 {
		return nil
	}
	sch, err := compileSchema(t.Schema)
	if err != nil {
		key := "schema"
		if t.Format == FormatSuccessor {
			key = "input_schema"
		}
		return (&decoder{file: t.File}).schemaError(key, err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(context))
	if err != nil {
		return errs.Wrap(errs.Validation, err, "context for template %s", t.Key())
	}
	err = sch.Validate(doc)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return errs.Wrap(errs.Validation, err, "context for template %s", t.Key())
	}
	fails := leaves(ve)
	list := make([]map[string]any, len(fails))
	parts := make([]string, len(fails))
	for i, f := range fails {
		list[i] = map[string]any{"path": f.path, "message": f.message}
		parts[i] = f.String()
	}
	return &errs.Error{
		Kind: errs.Validation,
		Message: fmt.Sprintf("context does not match the schema of template %s: %s",
			t.Key(), strings.Join(parts, "; ")),
		Details: map[string]any{"template": t.Key(), "file": t.File, "problem": "invalid_context", "errors": list},
	}
}

// pointer renders a JSON pointer ("" for the whole document).
func pointer(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteString("/" + escapePointer(t))
	}
	return b.String()
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// Spec validates context against the schema and returns the TaskSpec that creates
// a task from the template: its name, namespace, version, description and context,
// and its steps with their dependencies, dependent system (the step's, else the
// template's default, else "", which the store turns into "default"), retryable,
// retry limit and skippable.
func (t *Template) Spec(context json.RawMessage) (store.TaskSpec, error) {
	if err := t.ValidateContext(context); err != nil {
		return store.TaskSpec{}, err
	}
	spec := store.TaskSpec{
		Name:        t.Name,
		Namespace:   t.Namespace,
		Version:     t.Version,
		Description: t.Description,
		Steps:       make([]store.StepSpec, len(t.Steps)),
	}
	if len(bytes.TrimSpace(context)) > 0 {
		spec.Context = slices.Clone(context)
	}
	for i, s := range t.Steps {
		retryable, limit := s.Retryable, s.RetryLimit
		ds := s.DependentSystem
		if ds == "" {
			ds = t.DefaultDependentSystem
		}
		spec.Steps[i] = store.StepSpec{
			Name:            s.Name,
			DependsOn:       slices.Clone(s.DependsOn),
			DependentSystem: ds,
			Retryable:       &retryable,
			RetryLimit:      &limit,
			Skippable:       s.Skippable,
		}
	}
	return spec, nil
}
