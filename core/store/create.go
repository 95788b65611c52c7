package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-json"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"

	"github.com/taskercore/tasker-core/core/dag"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/telemetry"
)

// Defaults and limits of a task spec. The length limits are those of the engine's
// columns (REFERENCE §1).
const (
	DefaultNamespace       = "default"
	DefaultVersion         = "0.1.0"
	DefaultDependentSystem = "default"
	DefaultRetryLimit      = 3 // retry.default_retry_limit's default; a client sets its configured value
	maxNamespaceLen        = 64
	maxTaskNameLen         = 64
	maxVersionLen          = 16
	maxStepNameLen         = 128
	maxShortTextLen        = 128 // initiator, source_system, reason
)

// Identity strategies for a task's identity_hash.
const (
	// IdentityDefault gives every task a random identity: every request creates a task.
	IdentityDefault = "default"
	// IdentityHash derives the identity from the request (name, namespace, version,
	// initiator, source system, context, reason, bypass steps, requested_at to the
	// minute), so a repeated request returns the existing task.
	IdentityHash = "hash"
)

// TaskSpec describes a task to create: a named, versioned DAG of steps.
type TaskSpec struct {
	Name          string          `json:"name"`
	Namespace     string          `json:"namespace,omitempty"`
	Version       string          `json:"version,omitempty"`
	Description   string          `json:"description,omitempty"`
	Context       json.RawMessage `json:"context,omitempty"`
	Initiator     string          `json:"initiator,omitempty"`
	SourceSystem  string          `json:"source_system,omitempty"`
	Reason        string          `json:"reason,omitempty"`
	Tags          json.RawMessage `json:"tags,omitempty"`
	BypassSteps   []string        `json:"bypass_steps,omitempty"`
	RequestedAt   *time.Time      `json:"requested_at,omitempty"`
	Priority      int32           `json:"priority,omitempty"`
	CorrelationID string          `json:"correlation_id,omitempty"`
	Identity      string          `json:"identity_strategy,omitempty"`
	// TraceParent is the W3C traceparent of the request creating the task; the
	// creation span's (a child of it) is stored when tracing is on.
	TraceParent string     `json:"traceparent,omitempty"`
	Steps       []StepSpec `json:"steps"`
}

// StepSpec is one step of a TaskSpec.
type StepSpec struct {
	Name            string          `json:"name"`
	DependsOn       []string        `json:"depends_on,omitempty"`
	DependentSystem string          `json:"dependent_system,omitempty"`
	Retryable       *bool           `json:"retryable,omitempty"`
	RetryLimit      *int32          `json:"retry_limit,omitempty"`
	Skippable       bool            `json:"skippable,omitempty"`
	Inputs          json.RawMessage `json:"inputs,omitempty"`
}

// CreatedTask is the result of CreateTask.
type CreatedTask struct {
	TaskID        int64            `json:"task_id"`
	NamedTaskID   int32            `json:"named_task_id"`
	CorrelationID string           `json:"correlation_id"`
	IdentityHash  string           `json:"identity_hash"`
	Created       bool             `json:"created"` // false when an identical request already made this task
	StepIDs       map[string]int64 `json:"step_ids"`
}

// normalize fills defaults and validates the spec without touching the database.
// Every problem is an errs.Validation (or errs.Cycle) error naming the steps.
func (spec *TaskSpec) normalize() error {
	// The caller's slice is not ours to edit (it may be shared between goroutines).
	spec.Steps = slices.Clone(spec.Steps)
	spec.Name = strings.TrimSpace(spec.Name)
	if spec.Namespace == "" {
		spec.Namespace = DefaultNamespace
	}
	if spec.Version == "" {
		spec.Version = DefaultVersion
	}
	if spec.Identity == "" {
		spec.Identity = IdentityDefault
	}
	for _, f := range []struct {
		field, value string
		max          int
		required     bool
	}{
		{"name", spec.Name, maxTaskNameLen, true},
		{"namespace", spec.Namespace, maxNamespaceLen, true},
		{"version", spec.Version, maxVersionLen, true},
		{"initiator", spec.Initiator, maxShortTextLen, false},
		{"source_system", spec.SourceSystem, maxShortTextLen, false},
		{"reason", spec.Reason, maxShortTextLen, false},
	} {
		if err := checkText(f.field, f.value, f.max, f.required); err != nil {
			return err
		}
	}
	if spec.Identity != IdentityDefault && spec.Identity != IdentityHash {
		return errs.New(errs.Validation, map[string]any{"field": "identity_strategy", "value": spec.Identity},
			"identity_strategy %q: want %q or %q", spec.Identity, IdentityDefault, IdentityHash)
	}
	if spec.TraceParent != "" && !telemetry.ValidTraceparent(spec.TraceParent) {
		return errs.New(errs.Validation, map[string]any{"field": "traceparent"},
			"traceparent %.60q is not a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)", spec.TraceParent)
	}
	if spec.CorrelationID != "" {
		if _, err := uuid.Parse(spec.CorrelationID); err != nil {
			return errs.New(errs.Validation, map[string]any{"field": "correlation_id", "value": spec.CorrelationID},
				"correlation_id %q is not a UUID", spec.CorrelationID)
		}
	}
	for _, raw := range []struct {
		field string
		v     json.RawMessage
	}{{"context", spec.Context}, {"tags", spec.Tags}} {
		if len(raw.v) > 0 && !json.Valid(raw.v) {
			return errs.New(errs.Validation, map[string]any{"field": raw.field}, "%s is not valid JSON", raw.field)
		}
	}
	if len(spec.Steps) == 0 {
		return errs.New(errs.Validation, map[string]any{"field": "steps"}, "task %q has no steps", spec.Name)
	}

	g := dag.New()
	index := make(map[string]int64, len(spec.Steps))
	for i := range spec.Steps {
		st := &spec.Steps[i]
		st.Name = strings.TrimSpace(st.Name)
		if err := checkText("steps["+strconv.Itoa(i)+"].name", st.Name, maxStepNameLen, true); err != nil {
			return err
		}
		if st.DependentSystem == "" {
			st.DependentSystem = DefaultDependentSystem
		}
		if st.RetryLimit != nil && *st.RetryLimit < 0 {
			return errs.New(errs.Validation, map[string]any{"step": st.Name, "field": "retry_limit"},
				"step %q: retry_limit %d must be >= 0", st.Name, *st.RetryLimit)
		}
		if len(st.Inputs) > 0 && !json.Valid(st.Inputs) {
			return errs.New(errs.Validation, map[string]any{"step": st.Name, "field": "inputs"}, "step %q: inputs is not valid JSON", st.Name)
		}
		if _, dup := index[st.Name]; dup {
			return errs.New(errs.Validation, map[string]any{"step": st.Name, "problem": "duplicate_step"},
				"duplicate step name %q", st.Name)
		}
		index[st.Name] = int64(i)
		if err := g.AddNode(int64(i), st.Name); err != nil {
			return mustNotHappen("add node %q: %v", st.Name, err)
		}
	}
	for _, st := range spec.Steps {
		for _, dep := range st.DependsOn {
			if dep == st.Name {
				return errs.New(errs.Validation, map[string]any{"step": st.Name, "problem": "self_dependency"},
					"step %q depends on itself", st.Name)
			}
			from, ok := index[dep]
			if !ok {
				return errs.New(errs.Validation, map[string]any{"step": st.Name, "dependency": dep, "problem": "unknown_dependency"},
					"step %q depends on unknown step %q", st.Name, dep)
			}
			if err := g.AddEdge(from, index[st.Name]); err != nil {
				return mustNotHappen("add edge %q->%q: %v", dep, st.Name, err)
			}
		}
	}
	if cyc := g.FindCycle(); cyc != nil {
		return &errs.Error{Kind: errs.Cycle, Message: cyc.Error(),
			Details: map[string]any{"cycle": cyc.Names, "problem": "cycle"}, Err: cyc}
	}
	for _, b := range spec.BypassSteps {
		if _, ok := index[b]; !ok {
			return errs.New(errs.Validation, map[string]any{"field": "bypass_steps", "step": b},
				"bypass_steps names unknown step %q", b)
		}
	}
	return nil
}

func checkText(field, v string, max int, required bool) error {
	switch {
	case required && v == "":
		return errs.New(errs.Validation, map[string]any{"field": field}, "%s is required", field)
	case !utf8.ValidString(v) || strings.ContainsRune(v, 0):
		return errs.New(errs.Validation, map[string]any{"field": field}, "%s must be valid UTF-8 without NUL bytes", field)
	case utf8.RuneCountInString(v) > max:
		return errs.New(errs.Validation, map[string]any{"field": field, "max_length": max},
			"%s is longer than %d characters", field, max)
	}
	return nil
}

// identityHash computes the task's identity: random for IdentityDefault, a SHA-256
// over the request for IdentityHash (the engine's hash strategy, plus namespace and
// version so two versions of a task never collide).
func (spec *TaskSpec) identityHash(requestedAt time.Time) (string, error) {
	if spec.Identity == IdentityDefault {
		return uuid.NewString(), nil
	}
	canon := func(raw json.RawMessage) (any, error) {
		if len(raw) == 0 {
			return nil, nil
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		return v, dec.Decode(&v)
	}
	ctxv, err := canon(spec.Context)
	if err != nil {
		return "", errs.Wrap(errs.Validation, err, "context")
	}
	b, err := json.Marshal(map[string]any{ // map keys marshal sorted: a canonical form
		"name": spec.Name, "namespace": spec.Namespace, "version": spec.Version,
		"initiator": spec.Initiator, "source_system": spec.SourceSystem, "reason": spec.Reason,
		"context": ctxv, "bypass_steps": spec.BypassSteps,
		"requested_at": requestedAt.UTC().Truncate(time.Minute).Format(time.RFC3339),
	})
	if err != nil {
		return "", errs.Wrap(errs.Validation, err, "identity")
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// CreateTask validates spec and writes the task, its steps, edges and initial
// pending transitions in one transaction. An invalid spec writes nothing. With
// Identity "hash", repeating a request returns the task it created (Created false).
func (s *Store) CreateTask(ctx context.Context, spec TaskSpec) (out CreatedTask, err error) {
	ctx, span := telemetry.StartSpan(ctx, "tasker.task.create", attribute.String(telemetry.AttrNamespace, spec.Namespace),
		attribute.String(telemetry.AttrTaskName, spec.Name))
	defer func() {
		if span.IsRecording() {
			span.SetAttributes(attribute.Int64(telemetry.AttrTaskID, out.TaskID),
				attribute.String(telemetry.AttrCorrelationID, out.CorrelationID), attribute.Bool("tasker.created", out.Created))
		}
		telemetry.EndSpan(span, err)
	}()
	out, err = s.createTask(ctx, spec)
	if err == nil && out.Created {
		ns := spec.Namespace
		if ns == "" {
			ns = DefaultNamespace
		}
		telemetry.From(ctx).TaskCreated(ns)
	}
	return out, err
}

func (s *Store) createTask(ctx context.Context, spec TaskSpec) (CreatedTask, error) {
	if err := spec.normalize(); err != nil {
		return CreatedTask{}, err
	}
	requestedAt := time.Now().UTC()
	if spec.RequestedAt != nil {
		requestedAt = spec.RequestedAt.UTC()
	}
	hash, err := spec.identityHash(requestedAt)
	if err != nil {
		return CreatedTask{}, err
	}
	corr := spec.CorrelationID
	if corr == "" {
		u, err := uuid.NewV7()
		if err != nil {
			return CreatedTask{}, errs.Wrap(errs.Internal, err, "correlation id")
		}
		corr = u.String()
	}
	out := CreatedTask{IdentityHash: hash, StepIDs: make(map[string]int64, len(spec.Steps))}
	traceParent := spec.TraceParent
	if tp := telemetry.Traceparent(ctx); tp != "" {
		traceParent = tp // the creation span's (CreateTask's), a child of the caller's
	}
	ctx, col := s.collect(ctx)
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if out.NamedTaskID, err = ensureNamedTask(ctx, tx, spec.Namespace, spec.Name, spec.Version, spec.Description); err != nil {
			return err
		}

		var taskContext, tags, bypass any
		if len(spec.Context) > 0 {
			taskContext = string(spec.Context)
		}
		if len(spec.Tags) > 0 {
			tags = string(spec.Tags)
		}
		if len(spec.BypassSteps) > 0 {
			b, _ := json.Marshal(spec.BypassSteps)
			bypass = string(b)
		}
		err = tx.QueryRow(ctx, `
			INSERT INTO tasker_tasks (named_task_id, requested_at, initiator, source_system, reason, bypass_steps,
				tags, context, identity_hash, correlation_id, priority, ready_at, trace_parent)
			VALUES ($1, $2, NULLIF($3, ''), NULLIF($4, ''), NULLIF($5, ''), $6::json, $7::jsonb, $8::jsonb, $9, $10, $11, now(),
				NULLIF($12, ''))
			ON CONFLICT (identity_hash) DO NOTHING
			RETURNING task_id, correlation_id::text`,
			out.NamedTaskID, requestedAt, spec.Initiator, spec.SourceSystem, spec.Reason, bypass, tags, taskContext,
			hash, corr, spec.Priority, traceParent).Scan(&out.TaskID, &out.CorrelationID)
		if err == pgx.ErrNoRows {
			return errExisting
		}
		if err != nil {
			return dbErr(err, "insert task")
		}
		out.Created = true

		names := make([]string, len(spec.Steps))
		systems := make([]string, len(spec.Steps))
		retryable := make([]bool, len(spec.Steps))
		limits := make([]int32, len(spec.Steps))
		skippable := make([]bool, len(spec.Steps))
		inputs := make([]*string, len(spec.Steps))
		for i, st := range spec.Steps {
			names[i], systems[i], skippable[i] = st.Name, st.DependentSystem, st.Skippable
			retryable[i], limits[i] = true, s.defaultRetryLimit
			if st.Retryable != nil {
				retryable[i] = *st.Retryable
			}
			if st.RetryLimit != nil {
				limits[i] = *st.RetryLimit
			}
			if len(st.Inputs) > 0 {
				v := string(st.Inputs)
				inputs[i] = &v
			}
		}
		// Dependent systems and named steps (inserted when missing, see
		// definitions.go), then their link to the named task and the steps.
		if err := ensureNamedSteps(ctx, tx, names, systems); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `
			WITH spec AS (
				SELECT s.ord, s.name, ds.dependent_system_id, s.retryable, s.retry_limit, s.skippable, s.inputs
				FROM unnest($1::text[], $2::text[], $3::bool[], $4::int[], $5::bool[], $6::jsonb[])
				     WITH ORDINALITY AS s(name, system, retryable, retry_limit, skippable, inputs, ord)
				JOIN tasker_dependent_systems ds ON ds.name = s.system
			), named AS (
				SELECT n.named_step_id, n.dependent_system_id, n.name
				FROM tasker_named_steps n JOIN spec s ON s.dependent_system_id = n.dependent_system_id AND s.name = n.name
			), link AS (
				INSERT INTO tasker_named_tasks_named_steps (named_task_id, named_step_id, skippable, default_retryable, default_retry_limit)
				SELECT $7, n.named_step_id, s.skippable, s.retryable, s.retry_limit
				FROM named n JOIN spec s USING (dependent_system_id, name)
				ON CONFLICT (named_task_id, named_step_id) DO NOTHING
			), steps AS (
				INSERT INTO tasker_workflow_steps (task_id, named_step_id, retryable, retry_limit, skippable, inputs, current_state)
				SELECT $8, n.named_step_id, s.retryable, s.retry_limit, s.skippable, s.inputs, 'pending'
				FROM spec s JOIN named n USING (dependent_system_id, name)
				ORDER BY s.ord
				RETURNING workflow_step_id, named_step_id
			)
			SELECT steps.workflow_step_id, named.name FROM steps JOIN named USING (named_step_id)`,
			names, systems, retryable, limits, skippable, inputs, out.NamedTaskID, out.TaskID)
		if err != nil {
			return dbErr(err, "insert steps")
		}
		var stepID int64
		var name string
		if _, err := pgx.ForEachRow(rows, []any{&stepID, &name}, func() error {
			out.StepIDs[name] = stepID
			return nil
		}); err != nil {
			return dbErr(err, "insert steps")
		}
		if len(out.StepIDs) != len(spec.Steps) {
			return mustNotHappen("created %d steps for %d in the spec", len(out.StepIDs), len(spec.Steps))
		}

		var froms, tos []int64
		for _, st := range spec.Steps {
			for _, dep := range st.DependsOn {
				froms = append(froms, out.StepIDs[dep])
				tos = append(tos, out.StepIDs[st.Name])
			}
		}
		stepIDs := make([]int64, 0, len(out.StepIDs))
		for _, id := range out.StepIDs {
			stepIDs = append(stepIDs, id)
		}
		meta := `{"event":"` + state.TaskInitializeRequested + `"}`
		stepMeta := `{"event":"` + state.StepInitializeRequested + `"}`
		batch := &pgx.Batch{}
		if len(froms) > 0 {
			batch.Queue(`INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name)
				SELECT f, t, 'provides' FROM unnest($1::bigint[], $2::bigint[]) AS e(f, t)`, froms, tos)
		}
		batch.Queue(`INSERT INTO tasker_task_transitions (task_id, from_state, to_state, metadata, sort_key, most_recent)
			VALUES ($1, NULL, 'pending', $2::jsonb, 1, true)`, out.TaskID, meta)
		batch.Queue(stepStateWrittenSQL) // the steps were inserted as 'pending'
		batch.Queue(`INSERT INTO tasker_workflow_step_transitions (workflow_step_id, from_state, to_state, metadata, sort_key, most_recent)
			SELECT id, NULL, 'pending', $2::jsonb, 1, true FROM unnest($1::bigint[]) AS id`, stepIDs, stepMeta)
		// The schedule: root steps are ready now, the others wait for their parents.
		batch.Queue(scheduleTaskStepsSQL, []int64{out.TaskID})
		batch.Queue(scheduleTasksSQL, []int64{out.TaskID})
		// The initial events: the task's first, then each step's, numbered 1… in the
		// task's event sequence.
		if s.eventsEnabled {
			queueInitialEvents(batch, collectorFrom(ctx), out.TaskID, stepIDs)
		}
		if err := tx.SendBatch(ctx, batch).Close(); err != nil {
			return dbErr(err, "edges, initial transitions and events")
		}
		return nil
	})
	if err == errExisting {
		return s.existingTask(ctx, hash)
	}
	if err != nil {
		return CreatedTask{}, dbErr(err, "create task")
	}
	s.published(col)
	if s.LiveOn() {
		e := liveEvent(out.TaskID, nil, "observability.task.enqueue",
			map[string]any{"priority": spec.Priority, "step_count": len(out.StepIDs)})
		e.CorrelationID, e.Namespace, e.TaskName = out.CorrelationID, spec.Namespace, spec.Name
		s.publishLive(e)
	}
	return out, nil
}

func queueInitialEvents(batch *pgx.Batch, c *collector, taskID int64, stepIDs []int64) {
	q := batch.Queue(`
			WITH task AS (
				UPDATE tasker_tasks SET event_seq = 2 + cardinality($2::bigint[]) WHERE task_id = $1
				RETURNING task_id, correlation_id, named_task_id, context
			), initial AS (
				SELECT t.task_id, 1::bigint AS seq, NULL::bigint AS step_id, $3::text AS name, t.correlation_id,
				       jsonb_build_object('task_id', t.task_id, 'task_name', nt.name, 'task_context', t.context,
				                          'from_state', NULL, 'to_state', 'pending',
				                          'transitioned_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')) AS payload
				FROM task t JOIN tasker_named_tasks nt ON nt.named_task_id = t.named_task_id
				UNION ALL
				SELECT t.task_id, 1 + row_number() OVER (ORDER BY ws.workflow_step_id), ws.workflow_step_id, $4::text,
				       t.correlation_id,
				       jsonb_build_object('task_id', t.task_id, 'step_id', ws.workflow_step_id, 'step_name', ns.name,
				                          'from_state', NULL, 'to_state', 'pending',
				                          'transitioned_at', to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'))
				FROM task t
				JOIN tasker_workflow_steps ws ON ws.workflow_step_id = ANY ($2::bigint[])
				JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
				UNION ALL
				SELECT t.task_id, 2 + cardinality($2::bigint[]), NULL, $5::text, t.correlation_id,
				       jsonb_build_object('task_id', t.task_id, 'step_ids', (SELECT jsonb_agg(x ORDER BY x) FROM unnest($2::bigint[]) x))
				FROM task t
			), written AS (
				INSERT INTO tasker_events (task_id, task_seq, step_id, name, correlation_id, payload)
				SELECT task_id, seq, step_id, name, correlation_id, payload FROM initial ORDER BY seq
				`+eventColumns+`
			)
			`+eventTail(c != nil), taskID, stepIDs, state.TaskInitializeRequested, state.StepInitializeRequested,
		"workflow.orchestration_requested")
	if c != nil {
		q.Query(func(rows pgx.Rows) error { return scanLive(rows, c) })
	}
}

var errExisting = errs.New(errs.Internal, nil, "task exists") // sentinel inside CreateTask only

func (s *Store) existingTask(ctx context.Context, hash string) (CreatedTask, error) {
	out := CreatedTask{IdentityHash: hash, StepIDs: map[string]int64{}}
	if err := s.pool.QueryRow(ctx, `SELECT task_id, named_task_id, correlation_id::text FROM tasker_tasks WHERE identity_hash = $1`,
		hash).Scan(&out.TaskID, &out.NamedTaskID, &out.CorrelationID); err != nil {
		return CreatedTask{}, dbErr(err, "existing task")
	}
	rows, err := s.pool.Query(ctx, `SELECT ws.workflow_step_id, ns.name FROM tasker_workflow_steps ws
		JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id WHERE ws.task_id = $1`, out.TaskID)
	if err != nil {
		return CreatedTask{}, dbErr(err, "existing task steps")
	}
	var id int64
	var name string
	if _, err := pgx.ForEachRow(rows, []any{&id, &name}, func() error { out.StepIDs[name] = id; return nil }); err != nil {
		return CreatedTask{}, dbErr(err, "existing task steps")
	}
	return out, nil
}
