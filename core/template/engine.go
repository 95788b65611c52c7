package template

import (
	"slices"

	"go.yaml.in/yaml/v3"
)

// Keys of the engine format, in the order suggestions prefer them.
var (
	engineKeys = []string{
		"name", "namespace_name", "version", "module_namespace", "task_handler_class", "description",
		"default_dependent_system", "named_steps", "schema", "step_templates", "environments",
		"custom_events", "concurrent",
	}
	engineHints = map[string]string{
		"input_schema": "schema", "namespace": "namespace_name", "task_handler": "task_handler_class",
		"domain_events": "custom_events",
	}
	engineStepKeys = []string{
		"name", "description", "handler_class", "dependent_system", "depends_on_step", "depends_on_steps",
		"default_retryable", "default_retry_limit", "skippable", "handler_config", "custom_events",
	}
	engineStepHints = map[string]string{
		"dependencies": "depends_on_steps", "depends_on": "depends_on_steps", "handler": "handler_class",
		"callable": "handler_class", "retry": "default_retry_limit", "retry_limit": "default_retry_limit",
		"max_attempts": "default_retry_limit", "retryable": "default_retryable",
		"system_dependency": "dependent_system", "initialization": "handler_config",
		"publishes_events": "custom_events", "timeout_seconds": "handler_config.timeout_seconds",
	}
	engineEnvKeys      = []string{"step_templates"}
	engineEnvHints     = map[string]string{"steps": "step_templates"}
	engineOverrideKeys = []string{"name", "handler_config"}
	engineOverrideHint = map[string]string{"handler": "handler_config", "initialization": "handler_config"}
	engineEventKeys    = []string{"name", "description"}
)

// engine decodes a template in the engine format.
func (d *decoder) engine(top *mapping) (*Template, []stepSrc, []override, error) {
	if err := top.check(engineKeys, engineHints); err != nil {
		return nil, nil, nil, err
	}
	t := &Template{Format: FormatEngine, File: d.file}
	var err error
	for _, f := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"name", &t.Name, true},
		{"task_handler_class", &t.TaskHandlerClass, true},
		{"namespace_name", &t.Namespace, false},
		{"version", &t.Version, false},
		{"module_namespace", &t.ModuleNamespace, false},
		{"description", &t.Description, false},
		{"default_dependent_system", &t.DefaultDependentSystem, false},
	} {
		if *f.dst, err = top.str(f.key, f.required); err != nil {
			return nil, nil, nil, err
		}
	}
	if _, err := top.boolean("concurrent", false); err != nil {
		return nil, nil, nil, err
	}
	if t.Schema, err = d.schema(top, "schema"); err != nil {
		return nil, nil, nil, err
	}
	if t.CustomEvents, err = d.events(top, "custom_events", engineEventKeys); err != nil {
		return nil, nil, nil, err
	}
	named, _, err := top.strList("named_steps")
	if err != nil {
		return nil, nil, nil, err
	}
	_, namedGiven := top.fields["named_steps"]

	items, err := top.list("step_templates")
	if err != nil {
		return nil, nil, nil, err
	}
	if len(items) == 0 {
		return nil, nil, nil, d.invalid(top.at("step_templates"), probNoSteps, "step_templates is empty: a template needs at least one step")
	}
	srcs := make([]stepSrc, 0, len(items))
	for i, it := range items {
		s, src, err := d.engineStep(it, index("step_templates", i))
		if err != nil {
			return nil, nil, nil, err
		}
		if namedGiven && !slices.Contains(named, s.Name) {
			return nil, nil, nil, d.invalid(where{line: src.line, step: s.Name, path: src.path, key: "named_steps"}, probNotNamed,
				"step template %q is not listed in named_steps (line %d)", s.Name, top.at("named_steps").line)
		}
		t.Steps = append(t.Steps, s)
		srcs = append(srcs, src)
	}

	var ovs []override
	err = d.envs(top, engineEnvKeys, engineEnvHints, func(env string, em *mapping) error {
		items, err := em.list("step_templates")
		if err != nil {
			return err
		}
		for i, it := range items {
			om, err := d.item(it, index(child(em.path, "step_templates"), i), "", engineOverrideKeys, engineOverrideHint)
			if err != nil {
				return err
			}
			ov := override{env: env}
			if ov.step, err = om.str("name", true); err != nil {
				return err
			}
			ov.w = om.at("name")
			ov.w.step = ov.step
			ov.w.key = ""
			ov.w.path = om.path
			if ov.handlerConfig, err = om.object("handler_config"); err != nil {
				return err
			}
			ovs = append(ovs, ov)
		}
		return nil
	})
	if err != nil {
		return nil, nil, nil, err
	}
	return t, srcs, ovs, nil
}

// engineStep decodes one step template.
func (d *decoder) engineStep(n *yaml.Node, path string) (Step, stepSrc, error) {
	m, err := d.item(n, path, "", engineStepKeys, engineStepHints)
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	src := srcOf(m)
	s := Step{Retryable: true, RetryLimit: DefaultRetryLimit}
	for _, f := range []struct {
		key      string
		dst      *string
		required bool
	}{
		{"name", &s.Name, true},
		{"handler_class", &s.HandlerClass, true},
		{"description", &s.Description, false},
		{"dependent_system", &s.DependentSystem, false},
	} {
		if *f.dst, err = m.str(f.key, f.required); err != nil {
			return Step{}, stepSrc{}, err
		}
	}
	one, err := m.str("depends_on_step", false)
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	if one != "" {
		addDeps(&s, &src, []string{one}, []*yaml.Node{resolve(m.get("depends_on_step"))})
	}
	many, nodes, err := m.strList("depends_on_steps")
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	addDeps(&s, &src, many, nodes)
	if s.Retryable, err = m.boolean("default_retryable", true); err != nil {
		return Step{}, stepSrc{}, err
	}
	limit, err := retryLimit(m, "default_retry_limit")
	if err != nil {
		return Step{}, stepSrc{}, err
	}
	if limit != nil {
		s.RetryLimit = *limit
	}
	if s.Skippable, err = m.boolean("skippable", false); err != nil {
		return Step{}, stepSrc{}, err
	}
	if s.HandlerConfig, err = m.object("handler_config"); err != nil {
		return Step{}, stepSrc{}, err
	}
	if s.CustomEvents, err = d.events(m, "custom_events", engineEventKeys); err != nil {
		return Step{}, stepSrc{}, err
	}
	return s, src, nil
}
