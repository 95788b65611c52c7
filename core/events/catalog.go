// Package events is Tasker Core's event catalog: the system events of REFERENCE §7
// (names are a compatibility contract with tasker-engine), defined in an embedded
// YAML file with a description, a payload JSON Schema and what fires each one, plus
// the custom events task templates declare; and the payloads state transitions
// publish. Delivery (the publisher and the durable outbox) builds on this.
package events

import (
	_ "embed"
	"fmt"
	"regexp"
	"sort"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
)

//go:embed system_events.yml
var systemEvents []byte

// Definition describes one event.
type Definition struct {
	Name        string         `json:"name" yaml:"-"`
	Description string         `json:"description" yaml:"description"`
	FiredBy     string         `json:"fired_by" yaml:"fired_by"`
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
	c.defs[name] = Definition{Name: name, Description: description, FiredBy: "template " + template, Custom: true}
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
