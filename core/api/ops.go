package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/jsonnul"
	"github.com/taskercore/tasker-core/core/logging"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/migrations"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

type operation func(ctx context.Context, c *Client, payload []byte) (any, error)

var operations = map[string]operation{
	"run_migrations":             runMigrations,
	"create_task":                createTask,
	"get_task_execution_context": taskExecutionContext,
	"discover_viable_steps":      discoverViableSteps,
	"get_step_readiness":         stepReadiness,
	"batch_update_step_states":   batchUpdateStepStates,
	"analyze_dependencies":       analyzeDependencies,
	"transition_task":            transitionTask,
	"get_step_transitions":       stepTransitions,
	"get_task_transitions":       taskTransitions,
	"get_system_health":          systemHealth,
	"get_analytics_metrics":      analyticsMetrics,
	"get_slowest_tasks":          slowestTasks,
	"get_slowest_steps":          slowestSteps,
	"claim_steps":                claimSteps,
	"report_step_results":        reportStepResults,
	"report_and_claim":           reportAndClaim,
	"announce_worker":            announceWorker,
	"heartbeat":                  heartbeat,
	"recover_expired_steps":      recoverExpiredSteps,
	"next_ready_tasks":           nextReadyTasks,
	"get_effective_config":       effectiveConfig,
	"register_task_templates":    registerTaskTemplates,
	"create_task_from_template":  createTaskFromTemplate,
	"get_task_template":          getTaskTemplate,
	"fetch_events":               fetchEvents,
	"ack_events":                 ackEvents,
	"prune_events":               pruneEvents,
	"publish_event":              publishEvent,
	"event_metrics":              eventMetrics,
	"event_catalog":              eventCatalog,
	"open_event_stream":          openEventStream,
	"read_event_stream":          readEventStream,
	"close_event_stream":         closeEventStream,
}

func publishEvent(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		TaskID  int64           `json:"task_id"`
		Name    string          `json:"name"`
		Payload json.RawMessage `json:"payload"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := required("task_id", r.TaskID); err != nil {
		return nil, err
	}
	if err := CheckText("name", r.Name, WidthEventName, true); err != nil {
		return nil, err
	}
	seq, err := c.store.PublishCustomEvent(ctx, r.TaskID, r.Name, r.Payload)
	return map[string]int64{"task_seq": seq}, err
}

func pruneEvents(ctx context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	n, err := c.store.PruneEvents(ctx, time.Duration(c.cfg.Int("events.retention_hours"))*time.Hour)
	return map[string]int64{"deleted": n}, err
}

// maxEventWait bounds fetch_events' wait_ms: a blocking call holds a connection.
const maxEventWait = 60 * time.Second

// eventWait checks a wait_ms: a blocking call holds a connection (fetch_events)
// or the client's read lock (read_event_stream), so it is bounded.
func (c *Client) eventWait(ms int) (time.Duration, error) {
	wait := time.Duration(ms) * time.Millisecond
	if ms < 0 || int64(ms) > maxEventWait.Milliseconds() || wait >= c.callTimeout { // ms first: ms·10⁶ may overflow
		return 0, errs.New(errs.Validation, map[string]any{"field": "wait_ms"},
			"wait_ms must be between 0 and %d and below api.call_timeout_ms", maxEventWait.Milliseconds())
	}
	return wait, nil
}

func fetchEvents(ctx context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		Subscriber string `json:"subscriber"`
		Limit      int    `json:"limit"`
		WaitMS     int    `json:"wait_ms"`
		From       string `json:"from"`
	}{Limit: c.eventBatchSize}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := CheckText("subscriber", r.Subscriber, WidthSubscriber, true); err != nil {
		return nil, err
	}
	if err := CheckAsSetting("limit", float64(r.Limit), "events.batch_size"); err != nil {
		return nil, err
	}
	wait, err := c.eventWait(r.WaitMS)
	if err != nil {
		return nil, err
	}
	// from: where a subscriber name not seen yet starts; an existing cursor wins.
	switch r.From {
	case "", "beginning":
	case "now":
		if _, err := c.store.StartSubscriber(ctx, r.Subscriber, nil); err != nil {
			return nil, err
		}
	default:
		since, perr := time.Parse(time.RFC3339Nano, r.From)
		if perr != nil {
			return nil, errs.New(errs.Validation, map[string]any{"field": "from", "value": r.From},
				"from must be \"beginning\", \"now\" or an RFC 3339 time, got %q", r.From)
		}
		if _, err := c.store.StartSubscriber(ctx, r.Subscriber, &since); err != nil {
			return nil, err
		}
	}
	return c.store.FetchEvents(ctx, r.Subscriber, r.Limit, wait)
}

func ackEvents(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		Subscriber string `json:"subscriber"`
		store.EventBatch
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := CheckText("subscriber", r.Subscriber, WidthSubscriber, true); err != nil {
		return nil, err
	}
	if _, err := strconv.ParseUint(r.Horizon, 10, 64); err != nil && r.Horizon != "" {
		return nil, errs.New(errs.Validation, map[string]any{"field": "horizon"},
			"horizon must be the decimal transaction id fetch_events returned, got %.40q", r.Horizon)
	}
	return map[string]bool{"acknowledged": true}, c.store.AckEvents(ctx, r.Subscriber, r.EventBatch)
}

func effectiveConfig(_ context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	return map[string]any{"environment": c.cfg.Environment, "values": c.cfg.Effective()}, nil
}

// decode decodes a payload strictly; an empty payload decodes as {}.
func decode(payload []byte, v any) error {
	if len(bytes.TrimSpace(payload)) == 0 {
		payload = []byte("{}")
	}
	return strictDecode(payload, v)
}

func required(field string, id int64) error {
	if id <= 0 {
		return errs.New(errs.Validation, map[string]any{"field": field}, "%s is required (a positive integer)", field)
	}
	return nil
}

type taskRef struct {
	TaskID int64      `json:"task_id"`
	AsOf   *time.Time `json:"as_of"`
}

func (r *taskRef) parse(payload []byte) error {
	if id, ok := bareTaskID(payload); ok {
		*r = taskRef{TaskID: id}
		return required("task_id", r.TaskID)
	}
	if err := decode(payload, r); err != nil {
		return err
	}
	return required("task_id", r.TaskID)
}

// bareTaskID reads the payload the read calls send most, {"task_id":N} with
// nothing else (no spaces, N at most 18 digits, so no overflow), without the
// strict decoder; any other payload, valid or not, is left to decode.
func bareTaskID(p []byte) (int64, bool) {
	const prefix = `{"task_id":`
	if len(p) < len(prefix)+2 || len(p) > len(prefix)+19 || string(p[:len(prefix)]) != prefix || p[len(p)-1] != '}' {
		return 0, false
	}
	digits := p[len(prefix) : len(p)-1]
	if digits[0] == '0' && len(digits) > 1 {
		return 0, false // a leading zero is not JSON: decode says so
	}
	var id int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
		id = id*10 + int64(c-'0')
	}
	return id, true
}

// checkIDs refuses an id list longer than api.max_batch_size.
func (c *Client) checkIDs(field string, ids []int64) error {
	return CheckCount(field, len(ids), c.maxBatchSize)
}

type stepRef struct {
	StepID int64 `json:"step_id"`
}

// runMigrations migrates, or with {"dry_run": true} reports what migrating would
// do (migrations.Status) and changes nothing.
func runMigrations(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		DryRun bool `json:"dry_run"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if r.DryRun {
		return migrations.ReadStatus(ctx, c.store.Pool())
	}
	// A client opened without migrate: true may name a schema that does not
	// exist yet (a Rails app's first `db:migrate`).
	if err := createSchema(ctx, c.store.Pool(), c.cfg.String("database.schema")); err != nil {
		return nil, err
	}
	res, err := migrations.Migrate(ctx, c.store.Pool())
	if err != nil {
		return nil, err
	}
	if res.Applied == nil {
		res.Applied = []string{}
	}
	return res, c.store.SyncRetryPolicy(ctx)
}

func createTask(ctx context.Context, c *Client, payload []byte) (any, error) {
	var spec store.TaskSpec
	if err := decode(payload, &spec); err != nil {
		return nil, err
	}
	if spec.Priority == 0 {
		ns := spec.Namespace
		if ns == "" {
			ns = store.DefaultNamespace
		}
		spec.Priority = int32(c.cfg.PriorityFor(ns))
	}
	return c.createTask(ctx, spec)
}

// createTask creates a task and logs it with its correlation id.
func (c *Client) createTask(ctx context.Context, spec store.TaskSpec) (store.CreatedTask, error) {
	if err := CheckText("description", spec.Description, WidthDescription, false); err != nil {
		return store.CreatedTask{}, err
	}
	for i, st := range spec.Steps {
		if err := CheckText(fmt.Sprintf("steps[%d].dependent_system", i), st.DependentSystem, WidthDependentSystem, false); err != nil {
			return store.CreatedTask{}, err
		}
	}
	ct, err := c.store.CreateTask(ctx, spec)
	if err == nil {
		c.log.Info().Str(logging.CorrelationID, ct.CorrelationID).Int64(logging.TaskID, ct.TaskID).
			Str(logging.Namespace, spec.Namespace).Str("task_name", spec.Name).Bool("created", ct.Created).Msg("task created")
	}
	return ct, err
}

// logOutcomes logs each applied report or recovery with its task's correlation id.
func (c *Client) logOutcomes(msg string, res store.ReportResult) {
	lvl := zerolog.InfoLevel
	if msg != "step reported" {
		lvl = zerolog.WarnLevel
	}
	if c.log.GetLevel() > lvl {
		return
	}
	for _, o := range res.Outcomes {
		ev := c.log.WithLevel(lvl).Str(logging.CorrelationID, o.CorrelationID).Int64(logging.TaskID, o.TaskID).
			Int64(logging.StepID, o.StepID).Str("to_state", string(o.To)).Str("status", o.Status)
		logging.Err(ev, o.Err).Msg(msg)
	}
}

func taskExecutionContext(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r taskRef
	if err := r.parse(payload); err != nil {
		return nil, err
	}
	return c.store.ExecutionContext(ctx, r.TaskID, r.AsOf)
}

// ViableStep is a step that can run now (REFERENCE §6).
type ViableStep = sqlfuncs.ViableStep

type stepList[T any] struct {
	TaskID int64 `json:"task_id"`
	Steps  []T   `json:"steps"`
}

func discoverViableSteps(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r taskRef
	if err := r.parse(payload); err != nil {
		return nil, err
	}
	ready, err := c.store.ReadySteps(ctx, r.TaskID, r.AsOf)
	if err != nil {
		return nil, err
	}
	out := stepList[ViableStep]{TaskID: r.TaskID, Steps: ready}
	if out.Steps == nil {
		out.Steps = []ViableStep{}
	}
	return out, nil
}

func stepReadiness(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		TaskID  int64      `json:"task_id"`
		StepIDs []int64    `json:"step_ids"`
		AsOf    *time.Time `json:"as_of"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := required("task_id", r.TaskID); err != nil {
		return nil, err
	}
	if err := c.checkIDs("step_ids", r.StepIDs); err != nil {
		return nil, err
	}
	rows, err := c.store.StepReadiness(ctx, r.TaskID, r.StepIDs, r.AsOf)
	if err != nil {
		return nil, err
	}
	if rows == nil {
		rows = []sqlfuncs.StepReadiness{}
	}
	return stepList[sqlfuncs.StepReadiness]{TaskID: r.TaskID, Steps: rows}, nil
}

// batchItem is one update: {"step_id", "state", …} or [step_id, "state", results].
type batchItem struct {
	StepID                int64           `json:"step_id"`
	State                 state.State     `json:"state"`
	FromState             state.State     `json:"from_state"`
	Results               json.RawMessage `json:"results"`
	Metadata              map[string]any  `json:"metadata"`
	BackoffRequestSeconds *int32          `json:"backoff_request_seconds"`
	Permanent             bool            `json:"permanent"`
	nulPath               string          // where U+0000 is in the item ("results.note"), if anywhere
}

func (b *batchItem) UnmarshalJSON(raw []byte) error {
	raw = bytes.TrimSpace(raw)
	path, hasNUL := jsonnul.Find(raw)
	if len(raw) > 0 && raw[0] == '[' {
		if hasNUL { // [step_id, state, results]: name the element
			for i, name := range []string{"step_id", "state", "results"} {
				if el := fmt.Sprintf("[%d]", i); strings.HasPrefix(path, el) {
					path = name + path[len(el):]
				}
			}
			b.nulPath = path
		}
		var parts []json.RawMessage
		if err := json.Unmarshal(raw, &parts); err != nil {
			return err
		}
		if len(parts) < 2 || len(parts) > 3 {
			return errs.New(errs.Validation, nil, "an update array is [step_id, state] or [step_id, state, results]")
		}
		if err := json.Unmarshal(parts[0], &b.StepID); err != nil {
			return errs.New(errs.Validation, map[string]any{"field": "step_id"}, "update [0] (step_id) must be an integer")
		}
		if err := json.Unmarshal(parts[1], &b.State); err != nil {
			return errs.New(errs.Validation, map[string]any{"field": "state"}, "update [1] (state) must be a string")
		}
		if len(parts) == 3 && string(parts[2]) != "null" {
			b.Results = parts[2]
		}
		return nil
	}
	type plain batchItem // no UnmarshalJSON: decoded strictly as an object
	var p plain
	if err := strictDecode(raw, &p); err != nil {
		return err
	}
	*b = batchItem(p)
	if hasNUL {
		b.nulPath = path
	}
	return nil
}

type batchOutcome struct {
	Index        int         `json:"index"`
	StepID       int64       `json:"step_id"`
	Status       string      `json:"status"`
	FromState    state.State `json:"from_state,omitempty"`
	ToState      state.State `json:"to_state"`
	TransitionID int64       `json:"transition_id,omitempty"`
	Error        *ErrorBody  `json:"error,omitempty"`
}

// BatchResult is what batch_update_step_states returns.
type BatchResult struct {
	Applied    int            `json:"applied"`
	Rejected   int            `json:"rejected"`
	Duplicates int            `json:"duplicates"`
	Outcomes   []batchOutcome `json:"outcomes"`
}

func batchUpdateStepStates(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		Updates []batchItem `json:"updates"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if r.Updates == nil {
		return nil, errs.New(errs.Validation, map[string]any{"field": "updates"}, "updates is required (an array)")
	}
	if len(r.Updates) > c.maxBatchSize {
		return nil, errs.New(errs.Validation, map[string]any{"field": "updates", "max": c.maxBatchSize},
			"%d updates exceed api.max_batch_size (%d)", len(r.Updates), c.maxBatchSize)
	}
	reqs := make([]store.StepTransition, 0, len(r.Updates))
	original := make([]int, 0, len(r.Updates)) // reqs[j] is update original[j]
	refused := map[int]*errs.Error{}
	for i, u := range r.Updates {
		req := store.StepTransition{StepID: u.StepID, To: u.State, From: u.FromState, Results: u.Results,
			Metadata: u.Metadata, BackoffRequestSeconds: u.BackoffRequestSeconds, Permanent: u.Permanent}
		if u.nulPath != "" {
			var ok bool
			if req, refused[i], ok = refusedUpdate(i, u); !ok {
				continue
			}
		}
		reqs, original = append(reqs, req), append(original, i)
	}
	outs, err := c.store.BatchTransitionSteps(ctx, reqs)
	if err != nil {
		return nil, err
	}
	res := BatchResult{Outcomes: make([]batchOutcome, len(r.Updates))}
	for i, e := range refused {
		res.Outcomes[i] = batchOutcome{Index: i, StepID: r.Updates[i].StepID, Status: store.OutcomeRejected,
			ToState: r.Updates[i].State, Error: ErrorOf(e)}
	}
	for _, o := range outs {
		i := original[o.Index]
		bo := batchOutcome{Index: i, StepID: o.StepID, Status: o.Status, FromState: o.From, ToState: o.To,
			TransitionID: o.TransitionID}
		switch o.Status {
		case store.OutcomeApplied:
			res.Applied++
		case store.OutcomeDuplicate:
			res.Duplicates++
		default:
			bo.Error = ErrorOf(o.Err)
		}
		if e := refused[i]; e != nil {
			bo.Error = ErrorOf(e) // stored as a failure saying why
		}
		res.Outcomes[i] = bo
	}
	for _, o := range res.Outcomes {
		if o.Status == store.OutcomeRejected {
			res.Rejected++
		}
	}
	return res, nil
}

func analyzeDependencies(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r taskRef
	if err := r.parse(payload); err != nil {
		return nil, err
	}
	return c.store.AnalyzeDependencies(ctx, r.TaskID)
}

func transitionTask(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		TaskID    int64          `json:"task_id"`
		State     state.State    `json:"state"`
		FromState state.State    `json:"from_state"`
		Metadata  map[string]any `json:"metadata"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := required("task_id", r.TaskID); err != nil {
		return nil, err
	}
	return c.store.TransitionTask(ctx, store.TaskTransition{TaskID: r.TaskID, To: r.State, From: r.FromState, Metadata: r.Metadata})
}

type transitionList struct {
	Transitions []store.Transition `json:"transitions"`
}

func stepTransitions(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r stepRef
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := required("step_id", r.StepID); err != nil {
		return nil, err
	}
	trail, err := c.store.StepTransitions(ctx, r.StepID)
	if err == nil && len(trail) == 0 {
		err = errs.New(errs.NotFound, map[string]any{"step_id": r.StepID}, "workflow step %d not found", r.StepID)
	}
	return transitionList{trail}, err
}

func taskTransitions(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r taskRef
	if err := r.parse(payload); err != nil {
		return nil, err
	}
	trail, err := c.store.TaskTransitions(ctx, r.TaskID)
	if err == nil && len(trail) == 0 {
		err = errs.New(errs.NotFound, map[string]any{"task_id": r.TaskID}, "task %d not found", r.TaskID)
	}
	return transitionList{trail}, err
}

func systemHealth(ctx context.Context, c *Client, payload []byte) (any, error) {
	var none struct{}
	if err := decode(payload, &none); err != nil {
		return nil, err
	}
	return sqlfuncs.SystemHealthCounts(ctx, c.store.Pool())
}

func analyticsMetrics(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r struct {
		Since *time.Time `json:"since"`
	}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	return sqlfuncs.AnalyticsMetrics(ctx, c.store.Pool(), r.Since)
}

type slowestReq struct {
	Since     *time.Time `json:"since"`
	Limit     int        `json:"limit"`
	Namespace string     `json:"namespace"`
	TaskName  string     `json:"task_name"`
	Version   string     `json:"version"`
}

// check refuses filters no row can match because their columns are narrower.
func (r slowestReq) check() error {
	for _, f := range []struct {
		field, v string
		width    int
	}{{"namespace", r.Namespace, WidthNamespace}, {"task_name", r.TaskName, WidthTaskName}, {"version", r.Version, WidthVersion}} {
		if err := CheckText(f.field, f.v, f.width, false); err != nil {
			return err
		}
	}
	return nil
}

func (r slowestReq) filter() sqlfuncs.SlowestFilter {
	return sqlfuncs.SlowestFilter{Since: r.Since, Limit: r.Limit, Namespace: r.Namespace, TaskName: r.TaskName, Version: r.Version}
}

func slowestTasks(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r slowestReq
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	rows, err := sqlfuncs.SlowestTasks(ctx, c.store.Pool(), r.filter())
	if rows == nil {
		rows = []sqlfuncs.SlowTask{}
	}
	return map[string]any{"tasks": rows}, err
}

func slowestSteps(ctx context.Context, c *Client, payload []byte) (any, error) {
	var r slowestReq
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	rows, err := sqlfuncs.SlowestSteps(ctx, c.store.Pool(), r.filter())
	if rows == nil {
		rows = []sqlfuncs.SlowStep{}
	}
	return map[string]any{"steps": rows}, err
}

// parseClaim decodes a claim (claim_steps' payload, report_and_claim's claim)
// with the client's defaults and checks its bounds.
func (c *Client) parseClaim(payload []byte) (store.ClaimRequest, error) {
	r := store.ClaimRequest{Limit: c.claimBatchSize, LeaseSeconds: c.leaseSeconds, TaskWindow: c.taskWindow}
	if err := decode(payload, &r); err != nil {
		return r, err
	}
	if err := CheckText("worker_id", r.WorkerID, WidthWorkerID, true); err != nil {
		return r, err
	}
	if r.TaskID < 0 {
		return r, errs.New(errs.Validation, map[string]any{"field": "task_id"}, "task_id must be a positive integer (or absent)")
	}
	if err := CheckAsSetting("limit", float64(r.Limit), "execution.claim_batch_size"); err != nil {
		return r, err
	}
	if err := CheckAsSetting("lease_seconds", r.LeaseSeconds, "execution.lease_seconds"); err != nil {
		return r, err
	}
	if r.TaskWindow != 0 {
		if err := CheckAsSetting("task_window", float64(r.TaskWindow), "execution.max_concurrent_tasks"); err != nil {
			return r, err
		}
	}
	if err := CheckCount("namespaces", len(r.Namespaces), c.maxBatchSize); err != nil {
		return r, err
	}
	for i, ns := range r.Namespaces {
		if err := CheckText(fmt.Sprintf("namespaces[%d]", i), ns, WidthNamespace, true); err != nil {
			return r, err
		}
	}
	return r, nil
}

func claimSteps(ctx context.Context, c *Client, payload []byte) (any, error) {
	r, err := c.parseClaim(payload)
	if err != nil {
		return nil, err
	}
	steps, err := c.store.ClaimSteps(ctx, r)
	if steps == nil {
		steps = []store.ClaimedStep{}
	}
	c.logClaimed(steps, r.WorkerID)
	return map[string]any{"steps": steps}, err
}

// reportAndClaim is report_step_results then claim_steps in one transaction
// (one round trip, one commit): steps the reports made ready can be claimed at once.
func reportAndClaim(ctx context.Context, c *Client, payload []byte) (any, error) {
	items, rawClaim, err := parseReports(payload, true)
	if err != nil {
		return nil, err
	}
	if len(rawClaim) == 0 {
		return nil, errs.New(errs.Validation, map[string]any{"field": "claim"}, "claim is required (claim_steps' payload)")
	}
	claim, err := c.parseClaim(rawClaim)
	if err != nil {
		return nil, prefixField(err, "claim")
	}
	if items.all > c.maxBatchSize {
		return nil, errs.New(errs.Validation, map[string]any{"field": "reports", "max": c.maxBatchSize},
			"%d reports exceed api.max_batch_size (%d)", items.all, c.maxBatchSize)
	}
	res, steps, err := c.store.ReportAndClaim(ctx, items.reports, claim)
	if err != nil {
		return nil, err
	}
	c.warnStale(items.reports, res)
	c.logOutcomes("step reported", res)
	if steps == nil {
		steps = []store.ClaimedStep{}
	}
	c.logClaimed(steps, claim.WorkerID)
	rep := items.merge(encodeReport(res))
	return map[string]any{"outcomes": rep.Outcomes, "tasks": rep.Tasks, "steps": steps}, nil
}

// logClaimed writes a debug line per claimed step.
func (c *Client) logClaimed(steps []store.ClaimedStep, workerID string) {
	for _, st := range steps {
		c.log.Debug().Str(logging.CorrelationID, st.CorrelationID).Int64(logging.TaskID, st.TaskID).
			Int64(logging.StepID, st.StepID).Str(logging.StepName, st.StepName).Str(logging.Namespace, st.Namespace).
			Int32(logging.Attempt, st.Attempts).Str("worker_id", workerID).Msg("step claimed")
	}
}

type reportResult struct {
	Outcomes []batchOutcome     `json:"outcomes"`
	Tasks    []store.TaskStatus `json:"tasks"`
}

func encodeReport(res store.ReportResult) reportResult {
	out := reportResult{Outcomes: make([]batchOutcome, len(res.Outcomes)), Tasks: res.Tasks}
	for i, o := range res.Outcomes {
		out.Outcomes[i] = batchOutcome{Index: o.Index, StepID: o.StepID, Status: o.Status, FromState: o.From,
			ToState: o.To, TransitionID: o.TransitionID}
		if o.Status == store.OutcomeRejected {
			out.Outcomes[i].Error = ErrorOf(o.Err)
		}
	}
	if out.Tasks == nil {
		out.Tasks = []store.TaskStatus{}
	}
	return out
}

func reportStepResults(ctx context.Context, c *Client, payload []byte) (any, error) {
	items, _, err := parseReports(payload, false)
	if err != nil {
		return nil, err
	}
	if items.all > c.maxBatchSize {
		return nil, errs.New(errs.Validation, map[string]any{"field": "reports", "max": c.maxBatchSize},
			"%d reports exceed api.max_batch_size (%d)", items.all, c.maxBatchSize)
	}
	res, err := c.store.ReportResults(ctx, items.reports)
	if err != nil {
		return nil, err
	}
	c.warnStale(items.reports, res)
	c.logOutcomes("step reported", res)
	return items.merge(encodeReport(res)), nil
}

func heartbeat(ctx context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		WorkerID     string  `json:"worker_id"`
		StepIDs      []int64 `json:"step_ids"`
		LeaseSeconds float64 `json:"lease_seconds"`
	}{LeaseSeconds: c.leaseSeconds}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := CheckText("worker_id", r.WorkerID, WidthWorkerID, true); err != nil {
		return nil, err
	}
	if err := CheckAsSetting("lease_seconds", r.LeaseSeconds, "execution.lease_seconds"); err != nil {
		return nil, err
	}
	if err := c.checkIDs("step_ids", r.StepIDs); err != nil {
		return nil, err
	}
	ids, err := c.store.Heartbeat(ctx, r.WorkerID, r.StepIDs, r.LeaseSeconds)
	if ids == nil {
		ids = []int64{}
	}
	return map[string]any{"extended": ids}, err
}

func recoverExpiredSteps(ctx context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		WorkerID string `json:"worker_id"`
		Limit    int    `json:"limit"`
	}{Limit: c.recoveryBatchSize}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := CheckText("worker_id", r.WorkerID, WidthWorkerID, true); err != nil {
		return nil, err
	}
	if err := CheckAsSetting("limit", float64(r.Limit), "execution.recovery_batch_size"); err != nil {
		return nil, err
	}
	res, err := c.store.RecoverExpiredLeases(ctx, r.WorkerID, r.Limit)
	if err != nil {
		return nil, err
	}
	c.logOutcomes("expired lease recovered", res)
	c.warnRecovered(r.WorkerID, res)
	return encodeReport(res), nil
}

func nextReadyTasks(ctx context.Context, c *Client, payload []byte) (any, error) {
	r := struct {
		Limit int `json:"limit"`
	}{Limit: c.claimBatchSize}
	if err := decode(payload, &r); err != nil {
		return nil, err
	}
	if err := CheckAsSetting("limit", float64(r.Limit), "execution.claim_batch_size"); err != nil {
		return nil, err
	}
	tasks, err := c.store.NextReadyTasks(ctx, r.Limit)
	if tasks == nil {
		tasks = []store.ReadyTask{}
	}
	return map[string]any{"tasks": tasks}, err
}
