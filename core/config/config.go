package config

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/internal/pgurl"
	"github.com/taskercore/tasker-core/internal/safefile"
)

// Sources of a value, in rising precedence.
const (
	SourceDefault  = "default"
	SourceFile     = "file"
	SourceEnv      = "env"
	SourceExplicit = "explicit"
)

// DefaultFile is the configuration file looked for when none is named.
const DefaultFile = "config/tasker.yml"

// Value is one effective setting and where it came from.
type Value struct {
	Key    string `json:"key"`
	Value  any    `json:"value"`
	Source string `json:"source"`           // default, file, env or explicit
	Origin string `json:"origin,omitempty"` // the file path or variable name
}

// Options say where to load from.
type Options struct {
	// File is the YAML file; "" tries DefaultFile and skips it when absent. A
	// named file that does not exist is an error.
	File string
	// Environment picks the file's section; "" reads TASKER_ENV, RAILS_ENV,
	// RACK_ENV, then "development".
	Environment string
	// Content, when not nil, is the file's text as the caller read it (the Ruby
	// gem evaluates ERB in config/tasker.yml first, as Rails does with its YAML);
	// File then only names it in messages and in Effective's origins.
	Content []byte
	// Defaults replace built-in defaults, below the file, the environment and
	// explicit values: what a host application knows (the Rails integration
	// gives its ActiveRecord database here, used only when nothing else names
	// one). Nested or dotted keys, like Explicit.
	Defaults map[string]any
	// DefaultsOrigin names where Defaults came from ("ActiveRecord"), shown as
	// their origin in Effective.
	DefaultsOrigin string
	// Explicit values (nested JSON objects or dotted keys, or client shorthand
	// keys) win over everything.
	Explicit map[string]any
	// LookupEnv reads the environment (os.LookupEnv when nil).
	LookupEnv func(string) (string, bool)
}

// Config is a loaded, validated configuration.
type Config struct {
	Environment  string
	values       map[string]Value
	deprecations []Deprecation
}

// Renamed maps deprecated key paths to the keys that replaced them. A value
// given under an old name (in the file or explicitly) still applies, to the new
// key, and is listed by Deprecations. Empty until a key is first renamed; an
// entry stays for at least one minor release.
var Renamed = map[string]string{}

// Deprecation is one value given under a deprecated name.
type Deprecation struct {
	Key         string `json:"key"`
	Replacement string `json:"replacement"`
	Source      string `json:"source"` // the file, variable or "explicit"
}

// Deprecations lists the values given under deprecated names.
func (c *Config) Deprecations() []Deprecation { return append([]Deprecation(nil), c.deprecations...) }

var byPath = func() map[string]Key {
	m := make(map[string]Key, len(Keys))
	for _, k := range Keys {
		m[k.Path] = k
	}
	return m
}()

// Load builds the configuration from its sources and validates all of it.
func Load(o Options) (*Config, error) {
	lookup := o.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	env := o.Environment
	for _, v := range []string{"TASKER_ENV", "RAILS_ENV", "RACK_ENV"} {
		if env != "" {
			break
		}
		env, _ = lookup(v)
	}
	if env == "" {
		env = "development"
	}
	c := &Config{Environment: env, values: make(map[string]Value, len(Keys))}
	for _, k := range Keys {
		v, err := convert(k, k.Default)
		if err != nil {
			panic(fmt.Sprintf("config: default of %s: %v", k.Path, err)) // a bug in Keys; TestDefaultsOnly catches it
		}
		c.values[k.Path] = Value{Key: k.Path, Value: v, Source: SourceDefault}
	}

	if len(o.Defaults) > 0 {
		flat := map[string]any{}
		flatten("", o.Defaults, flat)
		if err := c.apply(resolveAliases(flat), SourceDefault, o.DefaultsOrigin); err != nil {
			return nil, err
		}
	}

	// Environment variables and explicit values are read before the file, though
	// they are applied after it: the file's own size limit (files.max_bytes) must
	// be known before the file is read, so it comes from them, not from the file.
	envValues := make([]Value, 0, 4)
	for _, k := range Keys {
		name := k.envName()
		if raw, ok := lookup(name); ok && raw != "" {
			v, err := convertString(k, raw)
			if err != nil {
				return nil, keyError(k.Path, raw, "environment variable "+name, err.Error())
			}
			envValues = append(envValues, Value{Key: k.Path, Value: v, Source: SourceEnv, Origin: name})
		}
	}
	explicit := map[string]any{}
	if len(o.Explicit) > 0 {
		flatten("", o.Explicit, explicit)
		explicit = resolveAliases(explicit)
	}
	maxBytes := fileLimit(envValues, explicit)

	file, required := o.File, o.File != ""
	if file == "" {
		file = DefaultFile
	}
	// Content is the file's text as the caller read it (the gem renders ERB
	// first); it is held to the same size limit as a file read here.
	data, err := o.Content, error(nil)
	if data == nil {
		data, err = safefile.Read(file, maxBytes)
	} else {
		err = safefile.CheckSize(file, len(data), maxBytes)
	}
	switch {
	case err == nil:
		flat, err := parseFile(data, file, env, lookup)
		if err != nil {
			return nil, err
		}
		if err := c.apply(flat, SourceFile, file); err != nil {
			return nil, err
		}
	case required || !errors.Is(err, fs.ErrNotExist):
		// The default file may be absent; present, it must be readable.
		details := map[string]any{"file": file}
		for k, v := range errs.DetailsOf(err) {
			details[k] = v
		}
		return nil, &errs.Error{Kind: errs.Configuration, Message: "configuration file " + err.Error(), Details: details, Err: err}
	}

	for _, v := range envValues {
		c.values[v.Key] = v
	}
	if len(explicit) > 0 {
		if err := c.apply(explicit, SourceExplicit, ""); err != nil {
			return nil, err
		}
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// fileLimit is files.max_bytes as the environment or the caller set it (the
// default otherwise); an invalid value is reported by validate, after the file.
func fileLimit(envValues []Value, explicit map[string]any) int64 {
	k := byPath["files.max_bytes"]
	limit := int64(k.Default.(int))
	for _, v := range envValues {
		if v.Key == k.Path {
			limit = v.Value.(int64)
		}
	}
	if raw, ok := explicit[k.Path]; ok {
		if v, err := convert(k, raw); err == nil {
			limit = v.(int64)
		}
	}
	if limit < 1 || limit > int64(*k.Max) {
		limit = int64(k.Default.(int))
	}
	return limit
}

// resolveAliases maps client shorthand keys to dotted paths.
func resolveAliases(flat map[string]any) map[string]any {
	out := make(map[string]any, len(flat))
	for k, v := range flat {
		if p, ok := Aliases[k]; ok {
			k = p
		}
		out[k] = v
	}
	return out
}

// apply converts and stores a flat map of values from one source.
func (c *Config) apply(flat map[string]any, source, origin string) error {
	keys := make([]string, 0, len(flat))
	for k := range flat {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	where := source
	if origin != "" {
		where = origin
	}
	for _, given := range keys {
		path := given
		if nw, ok := Renamed[given]; ok && byPath[nw].Path != "" {
			// Still obeyed under its old name, and reported (Deprecations, and the
			// client's library.warning.config_deprecated event).
			path = nw
			c.deprecations = append(c.deprecations, Deprecation{Key: given, Replacement: nw, Source: where})
		}
		k, ok := byPath[path]
		if !ok {
			msg := fmt.Sprintf("unknown key %q", path)
			if near := Nearest(path); near != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", near)
			}
			return errs.New(errs.Configuration, map[string]any{"key": path, "source": where, "suggestion": Nearest(path)},
				"configuration %s: %s", where, msg)
		}
		v, err := convert(k, flat[given])
		if err != nil {
			return keyError(path, flat[given], where, err.Error())
		}
		c.values[path] = Value{Key: path, Value: v, Source: source, Origin: origin}
	}
	return nil
}

func keyError(path string, value any, where, expected string) error {
	if byPath[path].Secret {
		value = pgurl.Mask(fmt.Sprint(value))
	}
	return errs.New(errs.Configuration, map[string]any{"key": path, "value": fmt.Sprint(value), "source": where, "expected": expected},
		"configuration %s: %s = %v: expected %s", where, path, value, expected)
}

// validate checks ranges, enums and the rules that span keys.
func (c *Config) validate() error {
	for _, k := range Keys {
		v := c.values[k.Path]
		where := v.Source
		if v.Origin != "" {
			where = v.Origin
		}
		if k.Min != nil || k.Max != nil {
			n := toFloat(v.Value)
			if (k.Min != nil && n < *k.Min) || (k.Max != nil && n > *k.Max) {
				return keyError(k.Path, v.Value, where, rangeText(k))
			}
		}
		if len(k.Enum) > 0 && !contains(k.Enum, v.Value.(string)) {
			return keyError(k.Path, v.Value, where, "one of "+strings.Join(k.Enum, ", "))
		}
	}
	if c.Int("database.pool.min_connections") > c.Int("database.pool.max_connections") {
		return keyError("database.pool.min_connections", c.Int("database.pool.min_connections"), c.origin("database.pool.min_connections"),
			"at most database.pool.max_connections ("+strconv.FormatInt(c.Int("database.pool.max_connections"), 10)+")")
	}
	if c.Float("execution.heartbeat_interval_seconds") >= c.Float("execution.lease_seconds") {
		return keyError("execution.heartbeat_interval_seconds", c.Float("execution.heartbeat_interval_seconds"),
			c.origin("execution.heartbeat_interval_seconds"), "less than execution.lease_seconds ("+
				strconv.FormatFloat(c.Float("execution.lease_seconds"), 'g', -1, 64)+")")
	}
	if c.String("database.pooler") == "transaction" && c.String("database.statement_mode") == "cache_statement" {
		return keyError("database.statement_mode", c.String("database.statement_mode"), c.origin("database.statement_mode"),
			"not cache_statement with database.pooler transaction (named prepared statements belong to a server session "+
				"a transaction pooler does not keep): auto, cache_describe or exec")
	}
	if _, err := c.ForbiddenTransitions(); err != nil {
		return err
	}
	return nil
}

func (c *Config) origin(path string) string {
	v := c.values[path]
	if v.Origin != "" {
		return v.Origin
	}
	return v.Source
}

func rangeText(k Key) string {
	switch {
	case k.Min != nil && k.Max != nil:
		return fmt.Sprintf("a %s between %v and %v", k.Type, *k.Min, *k.Max)
	case k.Min != nil:
		return fmt.Sprintf("a %s >= %v", k.Type, *k.Min)
	default:
		return fmt.Sprintf("a %s <= %v", k.Type, *k.Max)
	}
}

// Get returns a value (nil for an unknown key).
func (c *Config) Get(path string) any { return c.values[path].Value }

// String, Int, Float, Bool, Strings and IntMap read typed values; they panic on
// an unknown key or a wrong type, which is a programming error caught by tests.
func (c *Config) String(path string) string           { return c.must(path).(string) }
func (c *Config) Int(path string) int64               { return c.must(path).(int64) }
func (c *Config) Float(path string) float64           { return c.must(path).(float64) }
func (c *Config) Bool(path string) bool               { return c.must(path).(bool) }
func (c *Config) Strings(path string) []string        { return c.must(path).([]string) }
func (c *Config) IntMap(path string) map[string]int64 { return c.must(path).(map[string]int64) }

func (c *Config) must(path string) any {
	v, ok := c.values[path]
	if !ok {
		panic("config: unknown key " + path)
	}
	return v.Value
}

// Effective lists every setting with its value and source, secrets masked, sorted
// by key.
func (c *Config) Effective() []Value {
	out := make([]Value, 0, len(c.values))
	for _, k := range Keys {
		v := c.values[k.Path]
		if k.Secret {
			if s, _ := v.Value.(string); s != "" {
				v.Value = pgurl.Mask(s)
			}
		}
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// parseFile reads the YAML file: either sections per environment (development,
// test, production…, optionally sharing anchors) or plain settings. ${VAR} and
// ${VAR:-default} in string values are replaced from the environment.
func parseFile(data []byte, file, env string, lookup func(string) (string, bool)) (map[string]any, error) {
	var root map[string]any
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, errs.New(errs.Configuration, map[string]any{"file": file}, "configuration file %s: %v", file, err)
	}
	groups := map[string]bool{}
	for _, k := range Keys {
		groups[strings.SplitN(k.Path, ".", 2)[0]] = true
	}
	sectioned := false
	for k := range root {
		if !groups[k] {
			sectioned = true
		}
	}
	section := root
	if sectioned {
		s, ok := root[env]
		if !ok {
			return map[string]any{}, nil // no section for this environment: nothing from the file
		}
		section, ok = s.(map[string]any)
		if !ok {
			return nil, errs.New(errs.Configuration, map[string]any{"file": file, "key": env},
				"configuration file %s: section %q must be a mapping", file, env)
		}
	}
	flat := map[string]any{}
	flatten("", section, flat)
	for k, v := range flat {
		if s, ok := v.(string); ok {
			out, err := interpolate(s, lookup)
			if err != nil {
				// The error quotes the value as written, which may hold a password.
				return nil, errs.New(errs.Configuration, map[string]any{"file": file, "key": k},
					"configuration file %s: %s: %s", file, k, pgurl.Redact(err.Error(), pgurl.Secrets(s)...))
			}
			flat[k] = out
		}
	}
	return flat, nil
}

// flatten turns nested maps into dotted keys; maps under a key typed IntMap stay
// whole.
func flatten(prefix string, m map[string]any, out map[string]any) {
	for k, v := range m {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		if k, ok := byPath[path]; ok && k.Type == IntMap {
			out[path] = v
			continue
		}
		if sub, ok := v.(map[string]any); ok && !strings.Contains(path, "retry_policy.") && len(sub) > 0 {
			flatten(path, sub, out)
			continue
		}
		out[path] = v
	}
}

// interpolate replaces ${VAR} and ${VAR:-default}; an unset variable without a
// default is an error (a silently empty password is worse).
func interpolate(s string, lookup func(string) (string, bool)) (string, error) {
	var b strings.Builder
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), nil
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return "", fmt.Errorf("unclosed ${ in %q", s)
		}
		b.WriteString(s[:i])
		expr := s[i+2 : i+j]
		name, def, hasDef := strings.Cut(expr, ":-")
		if v, ok := lookup(name); ok && v != "" {
			b.WriteString(v)
		} else if hasDef {
			b.WriteString(def)
		} else {
			return "", fmt.Errorf("environment variable %s is not set (write ${%s:-default} for a fallback)", name, name)
		}
		s = s[i+j+1:]
	}
}

// convert checks and normalizes a value from YAML or JSON to the key's type.
func convert(k Key, v any) (any, error) {
	bad := fmt.Errorf("%s", "a "+string(k.Type))
	switch k.Type {
	case String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case Int:
		n, ok := number(v)
		if ok && n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int64(n), nil
		}
	case Float:
		// NaN passes every range check and ±Inf every open one; neither is a
		// setting (nor encodes as JSON in the effective configuration).
		if n, ok := number(v); ok && !math.IsNaN(n) && !math.IsInf(n, 0) {
			return n, nil
		}
	case StringList:
		if list, ok := v.([]any); ok {
			out := make([]string, 0, len(list))
			for _, e := range list {
				s, ok := e.(string)
				if !ok {
					return nil, bad
				}
				out = append(out, s)
			}
			return out, nil
		}
		if list, ok := v.([]string); ok {
			return list, nil
		}
	case IntMap:
		if m, ok := v.(map[string]int64); ok {
			out := make(map[string]int64, len(m))
			for name, n := range m {
				out[name] = n
			}
			return out, nil
		}
		if m, ok := v.(map[string]any); ok {
			out := make(map[string]int64, len(m))
			for name, e := range m {
				n, ok := number(e)
				if !ok || n != math.Trunc(n) {
					return nil, bad
				}
				out[name] = int64(n)
			}
			return out, nil
		}
	}
	return nil, bad
}

// convertString parses an environment variable's text as the key's type.
func convertString(k Key, raw string) (any, error) {
	switch k.Type {
	case String:
		return raw, nil
	case Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return nil, fmt.Errorf("a boolean (true/false)")
		}
		return b, nil
	case Int:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("an integer")
		}
		return n, nil
	case Float:
		n, err := strconv.ParseFloat(raw, 64)
		if err != nil || math.IsNaN(n) || math.IsInf(n, 0) {
			return nil, fmt.Errorf("a number")
		}
		return n, nil
	case StringList:
		parts := strings.Split(raw, ",")
		out := make([]string, 0, len(parts))
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	case IntMap:
		out := map[string]int64{}
		for _, pair := range strings.Split(raw, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
			n, err := strconv.ParseInt(val, 10, 64)
			if !ok || err != nil {
				return nil, fmt.Errorf("name=integer pairs separated by commas")
			}
			out[name] = n
		}
		return out, nil
	}
	return nil, fmt.Errorf("a %s", k.Type)
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float64:
		return n, true
	case interface{ Float64() (float64, error) }: // json.Number
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func toFloat(v any) float64 {
	n, _ := number(v)
	return n
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// Nearest returns the known key closest to path (edit distance at most 3 on the
// whole path or on its last segment), or "".
func Nearest(path string) string {
	best, bestD := "", 4
	last := path[strings.LastIndex(path, ".")+1:]
	for _, k := range Keys {
		d := levenshtein(path, k.Path)
		if dl := levenshtein(last, k.Path[strings.LastIndex(k.Path, ".")+1:]); dl < d && strings.HasPrefix(k.Path, path[:len(path)-len(last)]) {
			d = dl
		}
		if d < bestD {
			best, bestD = k.Path, d
		}
	}
	for alias := range Aliases {
		if d := levenshtein(path, alias); d < bestD {
			best, bestD = alias, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
