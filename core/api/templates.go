package api

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/core/template"
)

// RegisteredTemplate is what registering a template reports.
type RegisteredTemplate struct {
	Key         string   `json:"key"`
	NamedTaskID int32    `json:"named_task_id"`
	Namespace   string   `json:"namespace"`
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	Steps       []string `json:"steps"`
	File        string   `json:"file,omitempty"`
}

// registerTemplates stores templates as versioned named tasks.
func (c *Client) registerTemplates(ctx context.Context, tpls []*template.Template) ([]RegisteredTemplate, error) {
	// Custom events join the client's catalog once every template registered; one
	// that takes a system event's name (or is malformed) stops the registration.
	cat := c.Catalog().Clone()
	for _, t := range tpls {
		for _, e := range t.CustomEvents {
			if err := cat.AddCustom(e.Name, e.Description, t.Key()); err != nil {
				return nil, err
			}
		}
	}
	for _, t := range tpls {
		if err := checkTemplateWidths(t); err != nil {
			return nil, err
		}
	}
	out := make([]RegisteredTemplate, 0, len(tpls))
	defer func() {
		c.catMu.Lock()
		c.catalog = cat
		c.catMu.Unlock()
	}()
	for _, t := range tpls {
		raw, err := t.JSON()
		if err != nil {
			return nil, errs.Wrap(errs.Internal, err, "encode template %s", t.Key())
		}
		steps := make(map[string]string, len(t.Steps))
		names := make([]string, 0, len(t.Steps))
		for _, st := range t.Steps {
			sys := st.DependentSystem
			if sys == "" {
				sys = t.DefaultDependentSystem
			}
			steps[st.Name] = sys
			names = append(names, st.Name)
		}
		id, err := c.store.RegisterNamedTask(ctx, store.NamedTask{Namespace: t.Namespace, Name: t.Name, Version: t.Version,
			Description: t.Description, Configuration: raw}, steps)
		if err != nil {
			return nil, err
		}
		out = append(out, RegisteredTemplate{Key: t.Key(), NamedTaskID: id, Namespace: t.Namespace, Name: t.Name,
			Version: t.Version, Steps: names, File: t.File})
	}
	return out, nil
}

// loadTemplatePaths parses every file or directory of paths for the client's
// environment; nothing is registered unless all of them parse. Directories are
// walked; every file read is a regular file of at most maxBytes (safefile).
func loadTemplatePaths(paths []string, environment string, maxBytes int64) ([]*template.Template, error) {
	var all []*template.Template
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, errs.New(errs.Configuration, map[string]any{"key": "templates.paths", "path": p},
				"template path %s: %v", p, err)
		}
		if info.IsDir() {
			tpls, err := template.LoadDir(p, environment, maxBytes)
			if err != nil {
				return nil, err
			}
			all = append(all, tpls...)
			continue
		}
		t, err := template.Load(p, environment, maxBytes)
		if err != nil {
			return nil, err
		}
		all = append(all, t)
	}
	return all, nil
}

func registerTaskTemplates(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		Paths       []string `json:"paths"`
		YAML        string   `json:"yaml"`
		File        string   `json:"file"`
		Environment string   `json:"environment"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if r.Environment == "" {
		r.Environment = c.cfg.Environment
	}
	if len(r.Paths) == 0 && r.YAML == "" {
		return nil, errs.New(errs.Validation, map[string]any{"field": "paths"}, "give paths (files or directories) or yaml")
	}
	tpls, err := loadTemplatePaths(r.Paths, r.Environment, c.cfg.Int("files.max_bytes"))
	if err != nil {
		return nil, err
	}
	if r.YAML != "" {
		t, err := template.Parse([]byte(r.YAML), r.File, r.Environment)
		if err != nil {
			return nil, err
		}
		tpls = append(tpls, t)
	}
	reg, err := c.registerTemplates(ctx, tpls)
	return map[string]any{"templates": reg}, err
}

type templateRef struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	Version   string `json:"version"`
}

func (r *templateRef) fill() error {
	if r.Name == "" {
		return errs.New(errs.Validation, map[string]any{"field": "name"}, "name is required")
	}
	if r.Namespace == "" {
		r.Namespace = template.DefaultNamespace
	}
	if r.Version == "" {
		r.Version = template.DefaultVersion
	}
	for _, f := range []struct {
		field, v string
		width    int
	}{{"name", r.Name, WidthTaskName}, {"namespace", r.Namespace, WidthNamespace}, {"version", r.Version, WidthVersion}} {
		if err := CheckText(f.field, f.v, f.width, true); err != nil {
			return err
		}
	}
	return nil
}

// checkTemplateWidths refuses a template whose names do not fit their columns,
// naming the template (and its file) and the field.
func checkTemplateWidths(t *template.Template) error {
	fields := []struct {
		field, v string
		width    int
	}{{"namespace", t.Namespace, WidthNamespace}, {"name", t.Name, WidthTaskName}, {"version", t.Version, WidthVersion},
		{"description", t.Description, WidthDescription}, {"default_dependent_system", t.DefaultDependentSystem, WidthDependentSystem}}
	for i, st := range t.Steps {
		fields = append(fields, struct {
			field, v string
			width    int
		}{fmt.Sprintf("steps[%d].name", i), st.Name, WidthStepName}, struct {
			field, v string
			width    int
		}{fmt.Sprintf("steps[%d].dependent_system", i), st.DependentSystem, WidthDependentSystem})
	}
	for _, f := range fields {
		if err := CheckText(f.field, f.v, f.width, false); err != nil {
			e := err.(*errs.Error)
			e.Details["template"], e.Details["file"] = t.Key(), t.File
			e.Message = fmt.Sprintf("template %s%s: %s", t.Key(), map[bool]string{true: " (" + t.File + ")", false: ""}[t.File != ""], e.Message)
			return e
		}
	}
	return nil
}

func (c *Client) template(ctx context.Context, r templateRef) (*template.Template, error) {
	nt, err := c.store.NamedTaskByKey(ctx, r.Namespace, r.Name, r.Version)
	if err != nil {
		return nil, err
	}
	t, err := template.FromJSON(nt.Configuration)
	if err != nil {
		return nil, errs.New(errs.NotFound, map[string]any{"namespace": r.Namespace, "name": r.Name, "version": r.Version},
			"%s/%s@%s is a named task without a Tasker Core template (%v); register its template", r.Namespace, r.Name, r.Version, err)
	}
	return t, nil
}

func getTaskTemplate(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r templateRef
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := r.fill(); err != nil {
		return nil, err
	}
	return c.template(ctx, r)
}

func createTaskFromTemplate(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		templateRef
		Context       json.RawMessage `json:"context"`
		Initiator     string          `json:"initiator"`
		SourceSystem  string          `json:"source_system"`
		Reason        string          `json:"reason"`
		Tags          json.RawMessage `json:"tags"`
		BypassSteps   []string        `json:"bypass_steps"`
		RequestedAt   *time.Time      `json:"requested_at"`
		Priority      *int32          `json:"priority"`
		CorrelationID string          `json:"correlation_id"`
		Identity      string          `json:"identity_strategy"`
		TraceParent   string          `json:"traceparent"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := r.fill(); err != nil {
		return nil, err
	}
	t, err := c.template(ctx, r.templateRef)
	if err != nil {
		return nil, err
	}
	spec, err := t.Spec(r.Context)
	if err != nil {
		return nil, err
	}
	spec.Initiator, spec.SourceSystem, spec.Reason, spec.Tags = r.Initiator, r.SourceSystem, r.Reason, r.Tags
	spec.BypassSteps, spec.RequestedAt, spec.CorrelationID, spec.Identity = r.BypassSteps, r.RequestedAt, r.CorrelationID, r.Identity
	spec.TraceParent = r.TraceParent
	spec.Priority = int32(c.cfg.PriorityFor(spec.Namespace))
	if r.Priority != nil {
		spec.Priority = *r.Priority
	}
	return c.createTask(ctx, spec)
}
