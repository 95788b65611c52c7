// Package template parses, merges, validates and converts task templates: the YAML
// files in which users define workflows (REFERENCE §8).
//
// Two formats are accepted, told apart by their keys:
//
//   - the engine format (a top-level step_templates list: task_handler_class,
//     handler_class, depends_on_step / depends_on_steps, default_retry_limit,
//     handler_config, schema, environments.<env>.step_templates), and
//   - the successor format (a top-level steps list: handler.callable,
//     handler.initialization, dependencies, retry{...}, timeout_seconds,
//     input_schema, environments.<env>.steps).
//
// A file holding both step_templates and steps, or neither, is rejected.
//
// Parsing is strict: an unknown key anywhere is an error that names the key, its
// path, the file and the line, and suggests the nearest known key ("did you mean
// depends_on_steps?"). Every problem is an *errs.Error of kind errs.Validation
// (errs.Cycle for a dependency cycle) whose message starts with "file:line:" and
// names the step, and whose details carry "file", "line", "step", "key", "path"
// and "problem" where they are known.
//
// Besides the keys REFERENCE §8 lists, a few keys that files of the predecessors
// carry are accepted so those files load unchanged:
//
//   - engine: top-level concurrent (a boolean, checked and otherwise ignored) and
//     custom_events (template-level events);
//   - successor: metadata (anything, ignored), task_handler{callable,
//     initialization} (callable is the TaskHandlerClass; initialization is
//     ignored), task_handler_class and module_namespace, system_dependencies
//     {primary, secondary} (primary is the DefaultDependentSystem),
//     domain_events (template-level events), and per step system_dependency
//     (the step's DependentSystem) and publishes_events (the step's
//     CustomEvents; their condition, schema, delivery_mode and publisher keys
//     are accepted and ignored);
//     environments.<env>.task_handler is accepted and ignored.
//
// Environment overrides of every environment in the file are checked (so a typo
// in the production block fails in development too), but only those of the
// environment given to Parse are merged. handler_config / handler.initialization
// overrides are deep-merged into the step's map (maps merge key by key, any other
// value replaces); successor retry and timeout_seconds overrides replace only the
// fields they give.
//
// Numbers in HandlerConfig are canonical: a whole number that fits an int64 is an
// int64 (a YAML 2.0 included), any other number a float64. That makes the JSON
// form exact: FromJSON(JSON(t)) deep-equals t.
//
// The package does no I/O besides reading the files given to Load and LoadDir: a
// JSON Schema's $ref can only point inside the schema itself or to the standard
// meta-schemas.
//
// # Start here
//
// Parse (bytes), Load (a file) and LoadDir (every .yml/.yaml below a directory)
// return a *Template; Template.ValidateContext checks a task context against the
// template's JSON Schema, and Template.Spec turns it into the core/store.TaskSpec
// of a new task. The JSON API registers templates as versioned named tasks
// (register_task_templates) and creates tasks from them
// (create_task_from_template).
package template
