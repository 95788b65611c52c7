package template

import (
	"encoding/json"
	"maps"
	"math"

	"go.yaml.in/yaml/v3"
)

// stepSrc is where a step came from, for errors found after decoding.
type stepSrc struct {
	line int            // the step's name (or its mapping)
	path string         // step_templates[2] / steps[2]
	deps map[string]int // dependency -> line
}

// retrySpec is a successor retry block (a step's or an override's): the fields given.
type retrySpec struct {
	retryable *bool
	limit     *int32
	strategy  *string
	baseMS    *int64
	maxMS     *int64
}

func (r retrySpec) apply(s *Step) {
	if r.retryable != nil {
		s.Retryable = *r.retryable
	}
	if r.limit != nil {
		s.RetryLimit = *r.limit
	}
	if r.strategy == nil && r.baseMS == nil && r.maxMS == nil {
		return
	}
	var b Backoff
	if s.Backoff != nil {
		b = *s.Backoff
	}
	if r.strategy != nil {
		b.Strategy = *r.strategy
	}
	if r.baseMS != nil {
		b.BaseMS = *r.baseMS
	}
	if r.maxMS != nil {
		b.MaxMS = *r.maxMS
	}
	s.Backoff = &b
}

// override is one entry of environments.<env>.step_templates / .steps.
type override struct {
	env           string
	step          string
	w             where
	handlerConfig map[string]any // deep-merged into the step's HandlerConfig
	retry         retrySpec
	timeout       *int
}

// template decodes the root node, checks the result and merges environment's
// overrides.
func (d *decoder) template(root *yaml.Node, environment string) (*Template, error) {
	top, err := d.mapping(root, where{line: root.Line})
	if err != nil {
		return nil, err
	}
	d.top = top
	engineKey, isEngine := top.fields["step_templates"]
	succKey, isSucc := top.fields["steps"]
	var (
		t    *Template
		srcs []stepSrc
		ovs  []override
	)
	switch {
	case isEngine && isSucc:
		first, second := engineKey, succKey
		if succKey.key.Line < engineKey.key.Line {
			first, second = succKey, engineKey
		}
		return nil, d.invalid(where{line: second.key.Line, key: second.key.Value}, probFormat,
			"both step_templates (engine format) and steps (successor format) are given (lines %d and %d); a template uses one format",
			first.key.Line, second.key.Line)
	case isEngine:
		t, srcs, ovs, err = d.engine(top)
	case isSucc:
		t, srcs, ovs, err = d.successor(top)
	default:
		for _, k := range top.keys {
			if s := suggest(k, []string{"step_templates", "steps"}, nil); s != "" {
				err := d.invalid(where{line: top.fields[k].key.Line, key: k, path: k}, probUnknownKey,
					"unknown key %q at %s; did you mean %s?", k, k, s)
				err.Details["suggestion"] = s
				return nil, err
			}
		}
		return nil, d.invalid(where{line: top.node.Line}, probFormat,
			"neither step_templates (engine format) nor steps (successor format) is given")
	}
	if err != nil {
		return nil, err
	}
	if t.Namespace == "" {
		t.Namespace = DefaultNamespace
	}
	if t.Version == "" {
		t.Version = DefaultVersion
	}
	if err := d.check(t, srcs); err != nil {
		return nil, err
	}

	// Overrides: every environment's are checked, the chosen one's merged.
	names := make([]string, len(t.Steps))
	for i := range t.Steps {
		names[i] = t.Steps[i].Name
	}
	for _, ov := range ovs {
		s := t.Step(ov.step)
		if s == nil {
			err := d.invalid(ov.w, probUnknownOverride, "environment %q overrides unknown step %q", ov.env, ov.step)
			if sug := suggest(ov.step, names, nil); sug != "" {
				err.Message += "; did you mean " + sug + "?"
				err.Details["suggestion"] = sug
			}
			err.Details["environment"] = ov.env
			return nil, err
		}
		if environment == "" || ov.env != environment {
			continue
		}
		if ov.handlerConfig != nil {
			s.HandlerConfig = deepMerge(s.HandlerConfig, ov.handlerConfig)
		}
		ov.retry.apply(s)
		if ov.timeout != nil {
			s.TimeoutSeconds = *ov.timeout
		}
	}

	// CustomEvents: the template's, then every step's; the first of a name wins.
	seen := map[string]bool{}
	var events []Event
	for _, e := range t.CustomEvents {
		if !seen[e.Name] {
			seen[e.Name] = true
			events = append(events, e)
		}
	}
	for _, s := range t.Steps {
		for _, e := range s.CustomEvents {
			if !seen[e.Name] {
				seen[e.Name] = true
				events = append(events, e)
			}
		}
	}
	t.CustomEvents = events
	return t, nil
}

// deepMerge returns base with over merged in: maps merge key by key, any other
// value of over replaces base's. Neither argument is modified.
func deepMerge(base, over map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(over))
	maps.Copy(out, base)
	for k, v := range over {
		if bm, ok := out[k].(map[string]any); ok {
			if om, ok := v.(map[string]any); ok {
				out[k] = deepMerge(bm, om)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// peekName returns the scalar under "name" so errors in a mapping can name its step.
func peekName(m *mapping) string {
	f, ok := m.fields["name"]
	if !ok {
		return ""
	}
	if r := resolve(f.val); r.Kind == yaml.ScalarNode && !isNull(r) {
		return r.Value
	}
	return ""
}

// item decodes the mapping of a list item and checks its keys. Errors name step,
// or when step is "" the item's own name (the item is a step or an override).
func (d *decoder) item(n *yaml.Node, path, step string, known []string, hints map[string]string) (*mapping, error) {
	m, err := d.mapping(n, where{line: resolve(n).Line, step: step, path: path})
	if err != nil {
		return nil, err
	}
	if step == "" {
		m.step = peekName(m)
	}
	if err := m.check(known, hints); err != nil {
		return nil, err
	}
	return m, nil
}

// srcOf starts the stepSrc of a step mapping.
func srcOf(m *mapping) stepSrc {
	src := stepSrc{line: m.node.Line, path: m.path, deps: map[string]int{}}
	if f, ok := m.fields["name"]; ok {
		src.line = f.key.Line
	}
	return src
}

// deps records dependencies (deduplicated, in order) and their lines.
func addDeps(s *Step, src *stepSrc, names []string, nodes []*yaml.Node) {
	for i, n := range names {
		if _, dup := src.deps[n]; dup {
			continue
		}
		src.deps[n] = nodes[i].Line
		s.DependsOn = append(s.DependsOn, n)
	}
}

// schema converts the JSON Schema under key to canonical JSON (nil when absent).
func (d *decoder) schema(m *mapping, key string) (json.RawMessage, error) {
	n := m.get(key)
	if n == nil {
		return nil, nil
	}
	if k := resolve(n).Kind; k != yaml.MappingNode && !(k == yaml.ScalarNode && resolve(n).ShortTag() == "!!bool") {
		return nil, m.wrongType(key, "a mapping (a JSON Schema)")
	}
	v, err := d.toValue(n, m.at(key))
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, d.invalid(m.at(key), probInvalidSchema, "%s: %v", key, err)
	}
	return b, nil
}

// events decodes a list of {name, description, ...} events.
func (d *decoder) events(m *mapping, key string, known []string) ([]Event, error) {
	items, err := m.list(key)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	out := make([]Event, 0, len(items))
	for i, it := range items {
		em, err := d.mapping(it, where{line: resolve(it).Line, step: m.step, path: index(child(m.path, key), i)})
		if err != nil {
			return nil, err
		}
		err = em.check(known, nil)
		if err != nil {
			return nil, err
		}
		var e Event
		if e.Name, err = em.str("name", true); err != nil {
			return nil, err
		}
		if e.Description, err = em.str("description", false); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// retryLimit reads an int32 retry limit.
func retryLimit(m *mapping, key string) (*int32, error) {
	v, ok, err := m.integer(key, 0, math.MaxInt32)
	if err != nil || !ok {
		return nil, err
	}
	l := int32(v)
	return &l, nil
}

// envs walks environments.<env>, calling fn with each environment's mapping
// (null environments are skipped).
func (d *decoder) envs(top *mapping, known []string, hints map[string]string, fn func(env string, m *mapping) error) error {
	envs, err := top.sub("environments", nil, nil)
	if err != nil || envs == nil {
		return err
	}
	for _, env := range envs.keys {
		em, err := envs.sub(env, known, hints)
		if err != nil {
			return err
		}
		if em == nil {
			continue
		}
		if err := fn(env, em); err != nil {
			return err
		}
	}
	return nil
}
