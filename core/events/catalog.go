package events

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/internal/safefile"
)

//go:embed system_events.yml
var systemEvents []byte

// Definition describes one event.
type Definition struct {
	Name        string         `json:"name" yaml:"-"`
	Description string         `json:"description" yaml:"description"`
	FiredBy     string         `json:"fired_by" yaml:"fired_by"`
	Delivery    string         `json:"delivery" yaml:"delivery"` // durable, live or worker (custom events: durable)
	Payload     map[string]any `json:"payload_schema" yaml:"payload"`
	Custom      bool           `json:"custom" yaml:"-"`
}

// Catalog is the set of known events.
type Catalog struct {
	defs map[string]Definition
}

// System loads the built-in catalog. The file is part of the binary; a defect in
// it is a bug caught by TestSystemCatalog.
func System() (*Catalog, error) {
	var file struct {
		Events map[string]Definition `yaml:"events"`
	}
	if err := yaml.Unmarshal(systemEvents, &file); err != nil {
		return nil, fmt.Errorf("system_events.yml: %w", err)
	}
	c := &Catalog{defs: make(map[string]Definition, len(file.Events))}
	for name, d := range file.Events {
		d.Name = name
		c.defs[name] = d
	}
	return c, nil
}

// AddFile extends the catalog with the events a YAML file defines
// (events.definitions_paths), in the system file's format: a top-level "events"
// map of name → {description, fired_by, payload (a JSON Schema)}. Names follow the
// custom events' rule and may not redefine a system event; a payload schema must
// compile. Errors are configuration errors naming the file and the event. Only
// a regular file of at most maxBytes (files.max_bytes) is read.
func (c *Catalog) AddFile(path string, maxBytes int64) error {
	raw, err := safefile.Read(path, maxBytes)
	if err != nil {
		details := map[string]any{"key": "events.definitions_paths", "path": path}
		for k, v := range errs.DetailsOf(err) {
			details[k] = v
		}
		return &errs.Error{Kind: errs.Configuration, Message: "event definitions " + err.Error(), Details: details, Err: err}
	}
	var file struct {
		Events map[string]Definition `yaml:"events"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return errs.New(errs.Configuration, map[string]any{"key": "events.definitions_paths", "path": path},
			"event definitions %s: %v", path, err)
	}
	if len(file.Events) == 0 {
		return errs.New(errs.Configuration, map[string]any{"key": "events.definitions_paths", "path": path},
			"event definitions %s: no events (want a top-level \"events\" map)", path)
	}
	names := make([]string, 0, len(file.Events))
	for n := range file.Events {
		names = append(names, n)
	}
	sort.Strings(names)
	add := make([]Definition, 0, len(names)) // all or nothing
	for _, name := range names {
		d := file.Events[name]
		bad := func(format string, args ...any) error {
			return errs.New(errs.Configuration, map[string]any{"key": "events.definitions_paths", "path": path, "event": name},
				"event definitions %s: event %q: "+format, append([]any{path, name}, args...)...)
		}
		if !customName.MatchString(name) {
			return bad("want dotted lower-case words, like billing.invoice_sent")
		}
		if old, ok := c.defs[name]; ok && !old.Custom {
			return bad("that is a system event's name")
		}
		if d.Description == "" {
			return bad("description is required")
		}
		if d.Payload != nil {
			if err := compileSchema(name, d.Payload); err != nil {
				return bad("payload schema: %v", err)
			}
		}
		d.Name, d.Custom = name, true
		if d.FiredBy == "" {
			d.FiredBy = "application (" + path + ")"
		}
		if d.Delivery == "" {
			d.Delivery = "durable" // published with publish_event
		}
		add = append(add, d)
	}
	for _, d := range add {
		c.defs[d.Name] = d
	}
	return nil
}

func compileSchema(name string, schema map[string]any) error {
	raw, err := json.Marshal(schema)
	if err != nil {
		return err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return err
	}
	comp := jsonschema.NewCompiler()
	if err := comp.AddResource("mem://"+name, doc); err != nil {
		return err
	}
	_, err = comp.Compile("mem://" + name)
	return err
}

// Definitions lists every definition, sorted by name.
func (c *Catalog) Definitions() []Definition {
	out := make([]Definition, 0, len(c.defs))
	for _, n := range c.Names() {
		out = append(out, c.defs[n])
	}
	return out
}

// Clone returns an independent copy (a client extends its own).
func (c *Catalog) Clone() *Catalog {
	out := &Catalog{defs: make(map[string]Definition, len(c.defs))}
	for k, v := range c.defs {
		out.defs[k] = v
	}
	return out
}

var customName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// AddCustom registers a template's custom event. Its name must be dotted
// lower-case words and must not take a system event's name.
func (c *Catalog) AddCustom(name, description, template string) error {
	if !customName.MatchString(name) {
		return errs.New(errs.Validation, map[string]any{"event": name, "template": template},
			"custom event %q of %s: want dotted lower-case words, like order.fulfilled", name, template)
	}
	if d, ok := c.defs[name]; ok && !d.Custom {
		return errs.New(errs.Validation, map[string]any{"event": name, "template": template},
			"custom event %q of %s: that is a system event's name", name, template)
	}
	c.defs[name] = Definition{Name: name, Description: description, FiredBy: "template " + template, Delivery: "durable", Custom: true}
	return nil
}

// Lookup returns an event's definition.
func (c *Catalog) Lookup(name string) (Definition, bool) {
	d, ok := c.defs[name]
	return d, ok
}

// Names lists every event, sorted.
func (c *Catalog) Names() []string {
	out := make([]string, 0, len(c.defs))
	for n := range c.defs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// TaskPayload is the payload of a task transition event (REFERENCE §7).
type TaskPayload struct {
	TaskID         int64  `json:"task_id"`
	TaskName       string `json:"task_name"`
	TaskContext    any    `json:"task_context"`
	FromState      string `json:"from_state"`
	ToState        string `json:"to_state"`
	TransitionedAt string `json:"transitioned_at"`
}

// StepPayload is the payload of a step transition event (REFERENCE §7).
type StepPayload struct {
	TaskID         int64  `json:"task_id"`
	StepID         int64  `json:"step_id"`
	StepName       string `json:"step_name"`
	FromState      string `json:"from_state"`
	ToState        string `json:"to_state"`
	TransitionedAt string `json:"transitioned_at"`
}

// Timestamp formats a transition time as ISO-8601 UTC with microseconds, as
// PostgreSQL keeps it.
func Timestamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000000Z") }

// ForTaskTransition returns the event name and payload a task transition publishes
// ("" when the transition has none).
func ForTaskTransition(taskID int64, taskName string, context any, from, to state.State, at time.Time) (string, TaskPayload) {
	return state.Task.EventFor(from, to), TaskPayload{TaskID: taskID, TaskName: taskName, TaskContext: context,
		FromState: string(from), ToState: string(to), TransitionedAt: Timestamp(at)}
}

// ForStepTransition returns the event name and payload a step transition
// publishes ("" when the transition has none).
func ForStepTransition(taskID, stepID int64, stepName string, from, to state.State, at time.Time) (string, StepPayload) {
	return state.Step.EventFor(from, to), StepPayload{TaskID: taskID, StepID: stepID, StepName: stepName,
		FromState: string(from), ToState: string(to), TransitionedAt: Timestamp(at)}
}

// ValidPattern reports whether pattern is a subscription pattern: "*" (every
// event), a name ("step.completed") or a prefix wildcard ("step.*", "workflow.*").
func ValidPattern(pattern string) bool {
	if pattern == "*" {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, ".*"); ok {
		return patternWords.MatchString(p)
	}
	return patternWords.MatchString(pattern)
}

var patternWords = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$`)

// Match reports whether an event name matches a subscription pattern: "*" matches
// everything, "step.*" every name with one or more words after "step.", any
// other pattern only that name.
func Match(pattern, name string) bool {
	if pattern == "*" {
		return true
	}
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return len(name) > len(p) && strings.HasPrefix(name, p)
	}
	return pattern == name
}
