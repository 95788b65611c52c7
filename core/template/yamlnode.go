package template

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/taskercore/tasker-core/core/errs"
)

// maxValueNodes bounds the YAML nodes one template may expand to, so aliases
// ("billion laughs") cannot blow up memory.
const maxValueNodes = 1 << 20

// Problems, the "problem" detail of the errors.
const (
	probSyntax          = "yaml_syntax"
	probFormat          = "format"
	probUnknownKey      = "unknown_key"
	probDuplicateKey    = "duplicate_key"
	probMissingKey      = "missing_key"
	probWrongType       = "wrong_type"
	probInvalidValue    = "invalid_value"
	probDuplicateStep   = "duplicate_step"
	probUnknownDep      = "unknown_dependency"
	probSelfDep         = "self_dependency"
	probCycle           = "cycle"
	probInvalidSchema   = "invalid_schema"
	probUnknownOverride = "unknown_override_step"
	probNotNamed        = "step_not_in_named_steps"
	probNoSteps         = "no_steps"
	probConflict        = "conflicting_keys"
)

// decoder turns YAML nodes into a Template, keeping the file name for errors.
type decoder struct {
	file   string
	budget int      // nodes toValue may still visit
	top    *mapping // the template's top-level mapping, for lines of top-level keys
}

// topAt describes where a top-level key is (no line when decoding JSON).
func (d *decoder) topAt(key string) where {
	if d.top == nil {
		return where{path: key, key: key}
	}
	return d.top.at(key)
}

// where identifies a spot in the file for an error.
type where struct {
	line int
	step string
	path string // e.g. step_templates[1].handler_config
	key  string
}

// fail builds the package's error: "file:line: step "x": message".
func (d *decoder) fail(kind errs.Kind, w where, problem, format string, args ...any) *errs.Error {
	var b strings.Builder
	if d.file != "" {
		b.WriteString(d.file)
	} else {
		b.WriteString("template")
	}
	if w.line > 0 {
		b.WriteString(":" + strconv.Itoa(w.line))
	}
	b.WriteString(": ")
	if w.step != "" {
		fmt.Fprintf(&b, "step %q: ", w.step)
	}
	fmt.Fprintf(&b, format, args...)
	details := map[string]any{"file": d.file, "problem": problem}
	if w.line > 0 {
		details["line"] = w.line
	}
	if w.step != "" {
		details["step"] = w.step
	}
	if w.path != "" {
		details["path"] = w.path
	}
	if w.key != "" {
		details["key"] = w.key
	}
	return &errs.Error{Kind: kind, Message: b.String(), Details: details}
}

func (d *decoder) invalid(w where, problem, format string, args ...any) *errs.Error {
	return d.fail(errs.Validation, w, problem, format, args...)
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// document reads the single YAML document of data and returns its root node.
func (d *decoder) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			msg := err.Error()
			w := where{}
			if m := yamlLine.FindStringSubmatch(msg); m != nil {
				w.line, _ = strconv.Atoi(m[1])
				msg = msg[len(m[0]):]
			} else {
				msg = strings.TrimPrefix(msg, "yaml: ")
			}
			return nil, d.invalid(w, probSyntax, "invalid YAML: %s", msg)
		}
		docs = append(docs, &n)
	}
	switch {
	case len(docs) == 0:
		return nil, d.invalid(where{}, probFormat, "empty file: no template")
	case len(docs) > 1:
		return nil, d.invalid(where{line: docs[1].Line}, probFormat,
			"%d YAML documents; a file holds exactly one template", len(docs))
	}
	root := docs[0]
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	return root, nil
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// describe names a node's type for "must be X, got Y" messages.
func describe(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "nothing"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		switch n.ShortTag() {
		case "!!null":
			return "null"
		case "!!str":
			return "string " + strconv.Quote(v)
		case "!!int":
			return "integer " + v
		case "!!float":
			return "number " + v
		case "!!bool":
			return "boolean " + v
		}
		return n.ShortTag() + " " + strconv.Quote(v)
	}
	return "a YAML node"
}

func child(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func index(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// field is one key/value pair of a mapping.
type field struct {
	key, val *yaml.Node
}

// mapping is a YAML mapping with merge keys applied, in document order.
type mapping struct {
	d      *decoder
	node   *yaml.Node
	path   string
	step   string
	keys   []string
	fields map[string]field
}

// mapping decodes n (which must be a mapping) without checking its keys.
func (d *decoder) mapping(n *yaml.Node, w where) (*mapping, error) {
	n = resolve(n)
	if n == nil || n.Kind != yaml.MappingNode {
		line := w.line
		if n != nil {
			line = n.Line
		}
		return nil, d.invalid(where{line: line, step: w.step, path: w.path, key: w.key}, probWrongType,
			"%s must be a mapping, got %s", display(w.path), describe(n))
	}
	m := &mapping{d: d, node: n, path: w.path, step: w.step, fields: map[string]field{}}
	if err := m.add(n, 0, true); err != nil {
		return nil, err
	}
	return m, nil
}

// add adds n's pairs; explicit keys beat merged ones (<<), earlier merge sources
// beat later ones, as YAML's merge key specifies.
func (m *mapping) add(n *yaml.Node, depth int, explicit bool) error {
	if depth > 20 {
		return m.d.invalid(where{line: n.Line, step: m.step, path: m.path}, probInvalidValue, "merge keys nested too deeply")
	}
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		rk := resolve(k)
		if rk.Kind == yaml.ScalarNode && rk.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		if rk.Kind != yaml.ScalarNode {
			return m.d.invalid(where{line: k.Line, step: m.step, path: m.path}, probWrongType,
				"%s: keys must be scalars, got %s", display(m.path), describe(rk))
		}
		name := rk.Value
		if prev, dup := m.fields[name]; dup {
			if !explicit {
				continue
			}
			return m.d.invalid(where{line: k.Line, step: m.step, path: child(m.path, name), key: name}, probDuplicateKey,
				"duplicate key %q (first on line %d)", name, prev.key.Line)
		}
		m.keys = append(m.keys, name)
		m.fields[name] = field{key: k, val: v}
	}
	for _, src := range merges {
		src = resolve(src)
		var srcs []*yaml.Node
		switch src.Kind {
		case yaml.MappingNode:
			srcs = []*yaml.Node{src}
		case yaml.SequenceNode:
			srcs = src.Content
		}
		if len(srcs) == 0 && src.Kind != yaml.SequenceNode {
			return m.d.invalid(where{line: src.Line, step: m.step, path: m.path}, probWrongType,
				"%s: a merge key (<<) needs a mapping or a list of mappings, got %s", display(m.path), describe(src))
		}
		for _, s := range srcs {
			s = resolve(s)
			if s.Kind != yaml.MappingNode {
				return m.d.invalid(where{line: s.Line, step: m.step, path: m.path}, probWrongType,
					"%s: a merge key (<<) needs mappings, got %s", display(m.path), describe(s))
			}
			if err := m.add(s, depth+1, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// display shows a path in a message.
func display(path string) string {
	if path == "" {
		return "the template"
	}
	return path
}

// check rejects keys not in known, suggesting the nearest known key (or a hint
// for a key of the other format).
func (m *mapping) check(known []string, hints map[string]string) error {
	for _, k := range m.keys {
		if containsString(known, k) {
			continue
		}
		f := m.fields[k]
		w := where{line: f.key.Line, step: m.step, path: child(m.path, k), key: k}
		if s := suggest(k, known, hints); s != "" {
			err := m.d.invalid(w, probUnknownKey, "unknown key %q at %s; did you mean %s?", k, w.path, s)
			err.Details["suggestion"] = s
			return err
		}
		return m.d.invalid(w, probUnknownKey, "unknown key %q at %s (known keys: %s)", k, w.path, strings.Join(known, ", "))
	}
	return nil
}

func containsString(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// get returns the value of key, or nil when the key is absent or null.
func (m *mapping) get(key string) *yaml.Node {
	f, ok := m.fields[key]
	if !ok || isNull(f.val) {
		return nil
	}
	return f.val
}

func (m *mapping) has(key string) bool { return m.get(key) != nil }

// at describes where the value of key is (or the mapping, when it is absent).
func (m *mapping) at(key string) where {
	w := where{line: m.node.Line, step: m.step, path: child(m.path, key), key: key}
	if f, ok := m.fields[key]; ok {
		w.line = resolve(f.val).Line
		if w.line == 0 {
			w.line = f.key.Line
		}
	}
	return w
}

func (m *mapping) missing(key string) error {
	return m.d.invalid(m.at(key), probMissingKey, "missing required key %q at %s", key, display(m.path))
}

func (m *mapping) wrongType(key, want string) error {
	return m.d.invalid(m.at(key), probWrongType, "%s must be %s, got %s", key, want, describe(m.get(key)))
}

// str returns a string value. Integers and numbers are taken as written
// (version: 1.0 is "1.0"); booleans, lists and mappings are wrong types.
func (m *mapping) str(key string, required bool) (string, error) {
	n := resolve(m.get(key))
	if n == nil {
		if required {
			return "", m.missing(key)
		}
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", m.wrongType(key, "a string")
	}
	switch n.ShortTag() {
	case "!!str", "!!int", "!!float", "!!timestamp":
	default:
		return "", m.wrongType(key, "a string")
	}
	if required && strings.TrimSpace(n.Value) == "" {
		return "", m.d.invalid(m.at(key), probInvalidValue, "%s must not be empty", key)
	}
	return n.Value, nil
}

// boolean returns a boolean value, def when absent.
func (m *mapping) boolean(key string, def bool) (bool, error) {
	n := resolve(m.get(key))
	if n == nil {
		return def, nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
		return false, m.wrongType(key, "a boolean (true or false)")
	}
	var b bool
	if err := n.Decode(&b); err != nil {
		return false, m.wrongType(key, "a boolean (true or false)")
	}
	return b, nil
}

// integer returns an integer value in [lo, hi] and whether the key was given.
func (m *mapping) integer(key string, lo, hi int64) (int64, bool, error) {
	n := resolve(m.get(key))
	if n == nil {
		return 0, false, nil
	}
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
		return 0, false, m.wrongType(key, "an integer")
	}
	var v int64
	if err := n.Decode(&v); err != nil {
		return 0, false, m.d.invalid(m.at(key), probInvalidValue, "%s: %s is out of range", key, n.Value)
	}
	if v < lo {
		return 0, false, m.d.invalid(m.at(key), probInvalidValue, "%s must be >= %d, got %d", key, lo, v)
	}
	if v > hi {
		return 0, false, m.d.invalid(m.at(key), probInvalidValue, "%s must be <= %d, got %d", key, hi, v)
	}
	return v, true, nil
}

// list returns the items of a list value (nil when absent or null).
func (m *mapping) list(key string) ([]*yaml.Node, error) {
	n := resolve(m.get(key))
	if n == nil {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, m.wrongType(key, "a list")
	}
	return n.Content, nil
}

// strList returns a list of non-empty strings and their nodes.
func (m *mapping) strList(key string) ([]string, []*yaml.Node, error) {
	items, err := m.list(key)
	if err != nil || items == nil {
		return nil, nil, err
	}
	out := make([]string, 0, len(items))
	nodes := make([]*yaml.Node, 0, len(items))
	for i, it := range items {
		r := resolve(it)
		if r.Kind != yaml.ScalarNode || isNull(r) || r.ShortTag() == "!!bool" || strings.TrimSpace(r.Value) == "" {
			return nil, nil, m.d.invalid(where{line: r.Line, step: m.step, path: index(child(m.path, key), i), key: key},
				probWrongType, "%s[%d] must be a non-empty string, got %s", key, i, describe(r))
		}
		out = append(out, r.Value)
		nodes = append(nodes, r)
	}
	return out, nodes, nil
}

// sub decodes the mapping under key and checks its keys (nil when absent).
func (m *mapping) sub(key string, known []string, hints map[string]string) (*mapping, error) {
	n := m.get(key)
	if n == nil {
		return nil, nil
	}
	s, err := m.d.mapping(n, m.at(key))
	if err != nil {
		return nil, err
	}
	if known != nil {
		if err := s.check(known, hints); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// object converts the mapping under key into a map (nil when absent).
func (m *mapping) object(key string) (map[string]any, error) {
	n := m.get(key)
	if n == nil {
		return nil, nil
	}
	if resolve(n).Kind != yaml.MappingNode {
		return nil, m.wrongType(key, "a mapping")
	}
	v, err := m.d.toValue(n, m.at(key))
	if err != nil {
		return nil, err
	}
	return v.(map[string]any), nil
}

// toValue converts a node into plain Go values: map[string]any, []any, string,
// bool, nil, int64 for whole numbers that fit, float64 for other numbers.
func (d *decoder) toValue(n *yaml.Node, w where) (any, error) {
	n = resolve(n)
	if d.budget--; d.budget < 0 {
		return nil, d.invalid(w, probInvalidValue, "%s expands to too many YAML nodes (aliases?)", display(w.path))
	}
	switch n.Kind {
	case yaml.MappingNode:
		m, err := d.mapping(n, w)
		if err != nil {
			return nil, err
		}
		out := make(map[string]any, len(m.keys))
		for _, k := range m.keys {
			f := m.fields[k]
			v, err := d.toValue(f.val, where{line: f.key.Line, step: w.step, path: child(w.path, k), key: w.key})
			if err != nil {
				return nil, err
			}
			out[k] = v
		}
		return out, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, c := range n.Content {
			v, err := d.toValue(c, where{line: c.Line, step: w.step, path: index(w.path, i), key: w.key})
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		w.line = n.Line
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!str", "!!timestamp", "!!binary":
			return n.Value, nil
		case "!!bool":
			var b bool
			if err := n.Decode(&b); err != nil {
				return nil, d.invalid(w, probInvalidValue, "%s: %v", display(w.path), err)
			}
			return b, nil
		case "!!int", "!!float":
			var v any
			if err := n.Decode(&v); err != nil {
				return nil, d.invalid(w, probInvalidValue, "%s: %v", display(w.path), err)
			}
			var f float64
			switch x := v.(type) {
			case int:
				return int64(x), nil
			case int64:
				return x, nil
			case uint64:
				if x <= math.MaxInt64 {
					return int64(x), nil
				}
				f = float64(x)
			case float64:
				f = x
			default:
				return nil, d.invalid(w, probInvalidValue, "%s: unsupported number %s", display(w.path), n.Value)
			}
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return nil, d.invalid(w, probInvalidValue, "%s: %s cannot be represented in JSON", display(w.path), n.Value)
			}
			return canonicalFloat(f), nil
		default:
			return nil, d.invalid(w, probInvalidValue, "%s: unsupported YAML tag %s", display(w.path), n.ShortTag())
		}
	}
	return nil, d.invalid(w, probInvalidValue, "%s: unsupported YAML node", display(w.path))
}

// canonicalFloat returns f as an int64 when it is a whole number that fits.
func canonicalFloat(f float64) any {
	if f == math.Trunc(f) && f >= -(1<<63) && f < (1<<63) {
		return int64(f)
	}
	return f
}

// suggest returns the known key nearest to key (Levenshtein distance <= 3,
// smaller than the key's length; ties go to the earlier known key), else the
// hint for key, else "".
func suggest(key string, known []string, hints map[string]string) string {
	best, bestDist := "", 4
	for _, k := range known {
		if dist := levenshtein(key, k); dist < bestDist && dist < len([]rune(key)) {
			best, bestDist = k, dist
		}
	}
	if best == "" {
		best = hints[key]
	}
	return best
}

// levenshtein is the edit distance between a and b (insertions, deletions and
// substitutions of runes).
func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
