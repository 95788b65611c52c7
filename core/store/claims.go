package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/attribute"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/telemetry"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/sqlfuncs"
)

// ClaimRequest asks for up to Limit ready steps, of one task (TaskID) or of any
// tasks by priority and age.
type ClaimRequest struct {
	WorkerID     string  `json:"worker_id"`
	TaskID       int64   `json:"task_id,omitempty"`
	Limit        int     `json:"limit"`
	LeaseSeconds float64 `json:"lease_seconds"`
	// TaskWindow is how many tasks (by priority, then age) a claim across tasks
	// takes steps from; 0 means Limit.
	TaskWindow int `json:"task_window,omitempty"`
	// Namespaces, when given, limits the claim to tasks of those namespaces (a
	// worker pool per queue).
	Namespaces []string `json:"namespaces,omitempty"`
	// Runnable, when given, limits a claim across tasks to the tasks the worker
	// has handlers for (a claim of one task, TaskID, ignores it).
	Runnable *RunnableFilter `json:"runnable,omitempty"`
}

// RunnableFilter names the tasks a worker can run: those of the listed
// templates and, with DatabaseHandlers, those whose template registered in the
// database (register_task_templates) names a handler class for a step.
type RunnableFilter struct {
	Tasks            []TaskKey `json:"tasks"`
	DatabaseHandlers bool      `json:"database_handlers"`
}

// TaskKey names a task template.
type TaskKey struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Version   string `json:"version"`
}

// claimFilter is the JSON the claim's named-task filter reads, or nil for none.
func (r ClaimRequest) claimFilter() any {
	f := map[string]any{}
	if len(r.Namespaces) > 0 {
		f["namespaces"] = r.Namespaces
	}
	if r.Runnable != nil && r.TaskID <= 0 {
		tasks := r.Runnable.Tasks
		if tasks == nil {
			tasks = []TaskKey{}
		}
		f["runnable"] = map[string]any{"tasks": tasks, "database_handlers": r.Runnable.DatabaseHandlers}
	}
	if len(f) == 0 {
		return nil
	}
	b, _ := json.Marshal(f) // strings and bools only: cannot fail
	return json.RawMessage(b)
}

// ClaimedStep is a step handed to a worker, with what its handler needs.
type ClaimedStep struct {
	StepID         int64           `json:"step_id"`
	TaskID         int64           `json:"task_id"`
	StepName       string          `json:"step_name"`
	TaskName       string          `json:"task_name"`
	Namespace      string          `json:"namespace"`
	Version        string          `json:"version"`
	Attempts       int32           `json:"attempts"`
	RetryLimit     int32           `json:"retry_limit"`
	Retryable      bool            `json:"retryable"`
	Inputs         json.RawMessage `json:"inputs"`
	TaskContext    json.RawMessage `json:"task_context"`
	Sequence       json.RawMessage `json:"sequence"`        // a JSON object: results of the task's completed steps, by name (passed on, not decoded)
	HandlerClass   string          `json:"handler_class"`   // from the task's registered template ("" without one)
	HandlerConfig  json.RawMessage `json:"handler_config"`  // from the template (null without one)
	TimeoutSeconds int32           `json:"timeout_seconds"` // from the template (0: none)
	CorrelationID  string          `json:"correlation_id"`
	LeaseExpiresAt time.Time       `json:"lease_expires_at"`
	// TraceParent is the W3C traceparent to run the handler under: the task's
	// stored one (its creation span), or with tracing on the step's execution span.
	TraceParent string `json:"traceparent,omitempty"`
	// ReadyAt is when the task's work became ready (its ready_at at the claim),
	// for the hand-off latency.
	ReadyAt time.Time `json:"-"`
}

// TaskStatus is a task's state after a claim, report or recovery.
type TaskStatus struct {
	TaskID          int64      `json:"task_id"`
	Status          string     `json:"status"`
	ExecutionStatus string     `json:"execution_status"`
	NextRetryAt     *time.Time `json:"next_retry_at"`
	ReadyAt         *time.Time `json:"ready_at"`
	// Finished is set when this finalize moved the task to complete or error.
	Finished bool `json:"-"`
}

func (r ClaimRequest) validate() error {
	switch {
	case r.WorkerID == "" || len(r.WorkerID) > 128:
		return errs.New(errs.Validation, map[string]any{"field": "worker_id"}, "worker_id is required (at most 128 characters)")
	case r.Limit < 1:
		return errs.New(errs.Validation, map[string]any{"field": "limit"}, "limit must be >= 1")
	case !(r.LeaseSeconds > 0):
		return errs.New(errs.Validation, map[string]any{"field": "lease_seconds"}, "lease_seconds must be > 0")
	}
	for i, ns := range r.Namespaces {
		if ns == "" {
			return errs.New(errs.Validation, map[string]any{"field": "namespaces", "index": i}, "namespaces[%d] is empty", i)
		}
	}
	if r.Runnable != nil {
		for i, k := range r.Runnable.Tasks {
			if k.Namespace == "" || k.Name == "" || k.Version == "" {
				return errs.New(errs.Validation, map[string]any{"field": "runnable.tasks", "index": i},
					"runnable.tasks[%d] needs namespace, name and version", i)
			}
		}
	}
	return nil
}

// ClaimSteps atomically takes up to req.Limit ready steps and moves them to
// in_progress under a lease held by req.WorkerID (a failed step whose backoff has
// passed goes error → pending → in_progress, each transition audited). Tasks are
// locked with SKIP LOCKED, so concurrent workers take different tasks and never the
// same step. The tasks' own state moves to in_progress on their first claim.
func (s *Store) ClaimSteps(ctx context.Context, req ClaimRequest) ([]ClaimedStep, error) {
	if err := req.validate(); err != nil {
		return nil, err
	}
	var out []ClaimedStep
	ctx, col := s.collect(ctx)
	err := s.retryTx(ctx, func(tx pgx.Tx) error {
		var err error
		out, err = s.claimTx(ctx, tx, req)
		return err
	})
	if err == nil {
		s.published(col)
	}
	return out, err
}

// ReportAndClaim records reports (as ReportResults) and then claims (as
// ClaimSteps) in one transaction: a worker's round in one call and one commit
// (three round trips for a task in progress, TestWorkerRoundTrips). Steps the
// reports made ready are claimable at once. Either both happen or neither does.
func (s *Store) ReportAndClaim(ctx context.Context, reports []StepReport, req ClaimRequest) (ReportResult, []ClaimedStep, error) {
	if err := req.validate(); err != nil {
		return ReportResult{}, nil, err
	}
	reqs, err := reportTransitions(reports)
	if err != nil {
		return ReportResult{}, nil, err
	}
	var res ReportResult
	var out []ClaimedStep
	ctx, col := s.collect(ctx)
	err = s.retryTx(ctx, func(tx pgx.Tx) error {
		var err error
		// The report's last statements go to the server with the claim's first;
		// its finalization's events are written with the claim's (carry).
		tail := &pgx.Batch{}
		var carry *roundEvents
		if s.eventsEnabled {
			carry = s.openRoundEvents(tail, 0, 0)
		}
		// The claim's pick goes with the report's writes (their last
		// statements), so a round takes three round trips: it finds the steps
		// the report made ready. A task the finalization then moves (complete,
		// error) has no ready step (its execution status says so), so the pick
		// took none of its steps either way.
		var pick *claimPick
		if len(reqs) > 0 {
			res, err = s.applyAndFinalize(ctx, tx, reqs, tail, func(b *pgx.Batch, taskIDs []int64) {
				pick = s.queueClaimPick(b, req, taskIDs)
				pick.schedule, pick.scheduled = taskIDs, map[int64]*time.Time{}
			})
		} else {
			res = ReportResult{Outcomes: []BatchOutcome{}, Tasks: []TaskStatus{}}
		}
		if carry != nil {
			s.closeRoundEvents(ctx, carry, false)
		}
		if err != nil {
			return err
		}
		if pick == nil {
			out, err = s.claimWith(ctx, tx, req, tail, carry)
			return err
		}
		// A task the finalization moved has ended (or is in error): a pick after
		// it would not have taken the task.
		moved := map[int64]bool{}
		for _, t := range res.Tasks {
			if t.Finished {
				moved[t.TaskID] = true
			}
		}
		pick.drop(moved)
		out, err = tracedClaim(ctx, req, func(ctx context.Context) ([]ClaimedStep, error) {
			return s.claimPicked(ctx, tx, req, pick, tail, carry)
		})
		for i := range res.Tasks {
			res.Tasks[i].ReadyAt = pick.scheduled[res.Tasks[i].TaskID]
		}
		return err
	})
	if err == nil {
		s.published(col)
	}
	return res, out, err
}

// claimTx is ClaimSteps inside tx: one statement picks and locks the tasks and
// reads their ready steps from the schedule, and two more in the same round trip
// lock the steps it takes and read their facts; one round trip writes the
// transitions and (unless a task must start or a schedule be repaired first,
// which take round trips of their own) the events and the tasks' schedule, and
// reads what the handlers need.
func (s *Store) claimTx(ctx context.Context, tx pgx.Tx, req ClaimRequest) ([]ClaimedStep, error) {
	return s.claimWith(ctx, tx, req, &pgx.Batch{}, nil)
}

// claimWith is claimTx whose first statement goes to the server in one round
// trip after the statements already queued in head (a report's last ones);
// the events carry holds (that report's) are written first with the claim's
// own, or alone when the claim finds no task.
//
// The claim is its transaction's last work (ClaimSteps, ReportAndClaim): its
// last batch carries the COMMIT (commitWithNextBatch).
func (s *Store) claimWith(ctx context.Context, tx pgx.Tx, req ClaimRequest, head *pgx.Batch, carry *roundEvents) ([]ClaimedStep, error) {
	return tracedClaim(ctx, req, func(ctx context.Context) ([]ClaimedStep, error) {
		p := s.queueClaimPick(head, req, nil)
		if err := tx.SendBatch(ctx, head).Close(); err != nil {
			return nil, err
		}
		return s.claimPicked(ctx, tx, req, p, &pgx.Batch{}, carry)
	})
}

// tracedClaim runs claim in a tasker.claim span.
func tracedClaim(ctx context.Context, req ClaimRequest, claim func(context.Context) ([]ClaimedStep, error)) ([]ClaimedStep, error) {
	ctx, span := telemetry.StartSpan(ctx, "tasker.claim", attribute.String(telemetry.AttrWorkerID, req.WorkerID),
		attribute.Int64(telemetry.AttrTaskID, req.TaskID))
	out, err := claim(ctx)
	span.SetAttributes(attribute.Int(telemetry.AttrCount, len(out)))
	telemetry.EndSpan(span, err)
	return out, err
}

// claimPick is what a claim's pick found (queueClaimPick), once its batch ran.
type claimPick struct {
	taskIDs   []int64
	corrs     map[int64]string
	readyAt   map[int64]time.Time
	due       map[int64]bool // picked with ready_at <= now(): the schedule says it has a ready step
	withSteps map[int64]bool
	reqs      []StepTransition
	facts     map[int64]*stepFacts // of the steps the pick took, read after it
	found     int
	started   time.Time
	// schedule: more tasks whose ready_at the claim writes (a report's), read
	// into scheduled
	schedule  []int64
	scheduled map[int64]*time.Time
}

// drop forgets the picked tasks in tasks, and the steps the pick took of them.
func (p *claimPick) drop(tasks map[int64]bool) {
	if len(tasks) == 0 {
		return
	}
	p.taskIDs = slices.DeleteFunc(p.taskIDs, func(id int64) bool { return tasks[id] })
	p.reqs = slices.DeleteFunc(p.reqs, func(r StepTransition) bool {
		f := p.facts[r.StepID]
		return f != nil && tasks[f.taskID]
	})
	p.found = 0
	for _, r := range p.reqs {
		if r.To == state.InProgress {
			p.found++
		}
	}
}

// queueClaimPick queues a claim's pick into b: one statement picks and locks
// the tasks and reads their ready steps from the schedule, two more lock the
// steps it takes and read their facts. It sees what b's earlier statements
// wrote (a report's, in report_and_claim). A claim across tasks also looks at
// the tasks own (a report's, already locked, whose ready_at is not written
// yet).
func (s *Store) queueClaimPick(b *pgx.Batch, req ClaimRequest, own []int64) *claimPick {
	// The named-task filter (claimFilter): NULL (every task) or the named
	// tasks of the requested namespaces and/or the runnable templates (a
	// handful of ids; the ready_at index still drives).
	const inNamespaces = `($2::jsonb IS NULL OR named_task_id IN (
			SELECT nt.named_task_id FROM tasker_named_tasks nt
			JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
			WHERE ($2->'namespaces' IS NULL OR tn.name IN (SELECT jsonb_array_elements_text($2->'namespaces')))
			  AND ($2->'runnable' IS NULL
			       OR EXISTS (SELECT 1 FROM jsonb_to_recordset($2->'runnable'->'tasks') k(namespace text, name text, version text)
			                  WHERE k.namespace = tn.name AND k.name = nt.name AND k.version = nt.version)
			       OR (($2->'runnable'->>'database_handlers')::boolean AND jsonb_typeof(nt.configuration->'steps') = 'array'
			           AND EXISTS (SELECT 1 FROM jsonb_array_elements(nt.configuration->'steps') st
			                       WHERE COALESCE(st->>'handler_class', '') <> '')))))`
	// Each picked task (locked) with its ready steps by the schedule
	// (runnable_at, through its index), in claim order; the steps the claim
	// takes (the first $3 in that order) are named in tasker.claim_step_ids
	// for the two statements that follow in the same round trip: the lock of
	// those steps, under their tasks' locks as every writer takes them, and
	// then the read of their facts, which sees everything committed before
	// the locks were granted (this statement's snapshot may be older, when it
	// waited for a task's lock). The claim's transitions check each step
	// against its facts.
	const withReadySteps = `
		, cand AS MATERIALIZED (
			SELECT p.task_id, p.corr, p.ready_at, p.due, p.priority, c.workflow_step_id, c.state,
			       count(c.workflow_step_id) OVER (ORDER BY p.priority DESC, p.ready_at, p.task_id, c.workflow_step_id
			                                       ROWS UNBOUNDED PRECEDING) AS k
			FROM picked p
			LEFT JOIN LATERAL (
				SELECT ws.workflow_step_id, COALESCE(ws.current_state, 'pending') AS state
				FROM tasker_workflow_steps ws
				WHERE ws.task_id = p.task_id AND ws.runnable_at <= now()
				ORDER BY ws.workflow_step_id LIMIT $3
			) c ON true
		), named AS MATERIALIZED (
			SELECT set_config('tasker.claim_step_ids', COALESCE(string_agg(workflow_step_id::text, ','), ''), true)
			FROM cand WHERE workflow_step_id IS NOT NULL AND k <= $3
		)
		SELECT cand.task_id, cand.corr, cand.ready_at, cand.due, cand.workflow_step_id, cand.state
		FROM named, cand
		ORDER BY cand.priority DESC, cand.ready_at, cand.task_id, cand.workflow_step_id`
	namespaces := req.claimFilter() // the filter of inNamespaces ($2)
	var pick string
	var pickArgs []any
	if req.TaskID > 0 {
		pick, pickArgs = `WITH picked AS MATERIALIZED (
			SELECT task_id, correlation_id::text AS corr, ready_at, COALESCE(ready_at <= now(), false) AS due, priority
			FROM tasker_tasks WHERE task_id = $1 AND NOT complete
			AND `+inNamespaces+` AND `+notTerminalTask+` FOR NO KEY UPDATE)`+withReadySteps,
			[]any{req.TaskID, namespaces, req.Limit}
	} else {
		window := req.TaskWindow
		if window <= 0 {
			window = req.Limit
		}
		// The tasks due by their ready_at, and the tasks of the round's report
		// ($4: locked by it already; their ready_at is written after the claim),
		// ready from their steps' schedule.
		if own == nil {
			own = []int64{}
		}
		pick, pickArgs = `WITH due AS MATERIALIZED (
			SELECT task_id, correlation_id::text AS corr, ready_at, true AS due, priority
			FROM tasker_tasks WHERE ready_at <= now()
			AND `+inNamespaces+` AND `+notTerminalTask+`
			ORDER BY priority DESC, ready_at, task_id LIMIT $1 FOR NO KEY UPDATE SKIP LOCKED
		), picked AS MATERIALIZED (
			SELECT * FROM due
			UNION ALL
			SELECT task_id, correlation_id::text,
			       (SELECT min(ws.runnable_at) FROM tasker_workflow_steps ws
			        WHERE ws.task_id = tasker_tasks.task_id AND ws.runnable_at IS NOT NULL),
			       false, priority
			FROM tasker_tasks WHERE task_id = ANY ($4::bigint[]) AND task_id NOT IN (SELECT task_id FROM due)
			AND NOT complete AND `+inNamespaces+` AND `+notTerminalTask+`)`+withReadySteps,
			[]any{window, namespaces, req.Limit, own}
	}
	p := &claimPick{corrs: map[int64]string{}, readyAt: map[int64]time.Time{}, due: map[int64]bool{},
		withSteps: map[int64]bool{}, facts: map[int64]*stepFacts{}, started: time.Now()}
	b.Queue(pick, pickArgs...).Fn = func(br pgx.BatchResults) error {
		picked, err := br.Query()
		if err != nil {
			return dbErr(err, "claim: pick tasks")
		}
		var id int64
		var corr string
		var ready *time.Time
		var isDue bool
		var stepID *int64
		var cur *string
		_, err = pgx.ForEachRow(picked, []any{&id, &corr, &ready, &isDue, &stepID, &cur}, func() error {
			if _, ok := p.corrs[id]; !ok {
				p.taskIDs = append(p.taskIDs, id)
				p.corrs[id], p.due[id] = corr, isDue
				if ready != nil {
					p.readyAt[id] = *ready
				}
			}
			if stepID == nil || p.found >= req.Limit {
				return nil
			}
			p.withSteps[id] = true
			p.found++
			if state.State(*cur) == state.Error {
				p.reqs = append(p.reqs, StepTransition{StepID: *stepID, To: state.Pending,
					Metadata: map[string]any{"reason": "retry after backoff", "worker_id": req.WorkerID}})
			}
			p.reqs = append(p.reqs, StepTransition{StepID: *stepID, To: state.InProgress, WorkerID: req.WorkerID, LeaseSeconds: req.LeaseSeconds})
			return nil
		})
		return dbErr(err, "claim: pick tasks")
	}
	queueStepFacts(b, claimLockStepsSQL, claimStepFactsSQL, p.facts, DefaultRetryLimit)
	return p
}

// claimPicked writes what the pick p took (its batch ran): the transitions, and
// the events, the tasks' ready_at and the handler data in the same round trip
// unless something must be written between; the statements pending holds go
// with the transitions, the events carry holds ahead of the claim's. The last
// batch carries the COMMIT.
func (s *Store) claimPicked(ctx context.Context, tx pgx.Tx, req ClaimRequest, p *claimPick, pending *pgx.Batch,
	carry *roundEvents) ([]ClaimedStep, error) {
	var out []ClaimedStep
	if len(p.taskIDs) == 0 {
		if carry != nil {
			carry.schedule = append(carry.schedule, p.schedule...)
			carry.readyAt = p.scheduled
			carry.batch = pending
			queueRoundEvents(ctx, carry)
			carry.tasks, carry.schedule = nil, nil
		} else if len(p.schedule) > 0 {
			queueScheduleTasksReturning(pending, p.schedule, p.scheduled)
		}
		if pending.Len() == 0 {
			return nil, nil
		}
		commitWithNextBatch(tx)
		return nil, tx.SendBatch(ctx, pending).Close()
	}
	findMS := float64(time.Since(p.started).Microseconds()) / 1000
	taskIDs, reqs, facts, found := p.taskIDs, p.reqs, p.facts, p.found
	// The repairs a claim needs: a picked task without a ready step in the
	// schedule, or a step the schedule called ready that its transition
	// refused, means a schedule written by something else (another program,
	// an edit by hand): those tasks' steps are scheduled again from their
	// audit trail.
	repairs := func(outs []BatchOutcome) []int64 {
		var repair []int64
		inRepair := map[int64]bool{}
		for _, o := range outs {
			if o.Status == OutcomeRejected && !inRepair[o.TaskID] {
				inRepair[o.TaskID] = true
				repair = append(repair, o.TaskID)
			}
		}
		if found < req.Limit {
			for _, t := range taskIDs {
				if p.due[t] && !p.withSteps[t] && !inRepair[t] {
					inRepair[t] = true
					repair = append(repair, t)
				}
			}
		}
		return repair
	}
	// The claim's last statements (its events, its tasks' ready_at and what
	// the handlers need) go with its transitions in one round trip, unless
	// something must be written between them: a repair, a task to start (a
	// task transition of its own), or live events to name.
	tailQueued := false
	var tail claimTail
	outs, err := s.applyWithFacts(ctx, tx, reqs, facts, func(outs []BatchOutcome, b *pgx.Batch) error {
		if ev := s.gathering(b); ev != nil {
			ev.absorb(carry)
		}
		b.QueuedQueries = append(b.QueuedQueries, pending.QueuedQueries...)
		pending.QueuedQueries = nil
		tail = newClaimTail(outs)
		if s.LiveOn() || tail.mustStart() || len(repairs(outs)) > 0 {
			return nil
		}
		if err := s.queueClaimTail(ctx, b, req, taskIDs, p, tail, nil, &out); err != nil {
			return err
		}
		tailQueued = true
		commitWithNextBatch(tx) // b, sent next, is the transaction's last batch
		return nil
	}, nil)
	if err != nil {
		return nil, err
	}
	if !tailQueued {
		if repair := repairs(outs); len(repair) > 0 {
			b := &pgx.Batch{}
			queueExec(b, "claim: repair schedule", scheduleTaskStepsSQL, repair)
			if err := tx.SendBatch(ctx, b).Close(); err != nil {
				return nil, err
			}
		}
		if s.LiveOn() {
			evs := claimTimings(taskIDs, p.corrs, outs, findMS, req.WorkerID)
			nameLiveEvents(ctx, tx, evs)
			collectLive(ctx, evs)
		}
		// Only tasks that got work start (or restart from error): a claim that
		// finds nothing changes no task's state.
		newlyStarted, err := s.startTasks(ctx, tx, tail.started, tail.taskState)
		if err != nil {
			return nil, err
		}
		b := &pgx.Batch{}
		if err := s.queueClaimTail(ctx, b, req, taskIDs, p, tail, newlyStarted, &out); err != nil {
			return nil, err
		}
		commitWithNextBatch(tx)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
	}
	for i := range out {
		out[i].ReadyAt = p.readyAt[out[i].TaskID]
	}
	return out, nil
}

// claimTail is what a claim's transitions took, by task.
type claimTail struct {
	claimed, started []int64 // steps moved to in_progress; their tasks, in claim order
	taskState        map[int64]state.State
	byTask           map[int64][]int64
}

func newClaimTail(outs []BatchOutcome) claimTail {
	t := claimTail{taskState: map[int64]state.State{}, byTask: map[int64][]int64{}}
	for _, o := range outs {
		if o.Status == OutcomeApplied && o.To == state.InProgress {
			t.claimed = append(t.claimed, o.StepID)
			t.byTask[o.TaskID] = append(t.byTask[o.TaskID], o.StepID)
			if _, ok := t.taskState[o.TaskID]; !ok {
				t.started = append(t.started, o.TaskID)
				t.taskState[o.TaskID] = o.taskState
			}
		}
	}
	return t
}

// mustStart says a task that got work is pending or in error: startTasks moves
// it, with task transitions of its own, before the claim's events.
func (t claimTail) mustStart() bool {
	for _, id := range t.started {
		if st := t.taskState[id]; st == state.Pending || st == state.Error {
			return true
		}
	}
	return false
}

// queueClaimTail queues a claim's events (workflow.task_started for
// newlyStarted, viable_steps_discovered per task, no_viable_steps for a claim of
// one task that got nothing), its picked tasks' ready_at and the claimed steps'
// handler data, read into *out.
func (s *Store) queueClaimTail(ctx context.Context, b *pgx.Batch, req ClaimRequest, taskIDs []int64, p *claimPick,
	t claimTail, newlyStarted []int64, out *[]ClaimedStep) error {
	var evs []wfEvent
	for _, id := range newlyStarted {
		evs = append(evs, wfEvent{taskID: id, name: "workflow.task_started"})
	}
	for _, id := range t.started {
		evs = append(evs, wfEvent{taskID: id, name: "workflow.viable_steps_discovered",
			payload: map[string]any{"step_ids": t.byTask[id], "worker_id": req.WorkerID}})
	}
	if req.TaskID > 0 && len(t.started) == 0 {
		evs = append(evs, wfEvent{taskID: req.TaskID, name: "workflow.no_viable_steps",
			payload: map[string]any{"worker_id": req.WorkerID}})
	}
	if err := s.queueWorkflowEvents(ctx, b, evs); err != nil {
		return err
	}
	sched := taskIDs
	if len(p.schedule) > 0 {
		sched = append(slices.Clone(p.schedule), slices.DeleteFunc(slices.Clone(taskIDs), func(id int64) bool {
			return slices.Contains(p.schedule, id)
		})...)
	}
	s.scheduleTasksInto(b, sched, p.scheduled)
	if len(t.claimed) > 0 {
		b.Queue(loadClaimedSQL, t.claimed, DefaultRetryLimit).Fn = func(br pgx.BatchResults) error {
			rows, err := br.Query()
			if err == nil {
				*out, err = collectClaimed(rows)
			}
			return dbErr(err, "claim: load steps")
		}
	}
	return nil
}

// claimTimings are a claim's live events: observability.step.find_viable per
// task examined (how long the readiness query took, how many steps it found) and
// observability.step.skip for each ready step the claim could not take (another
// writer moved it first).
func claimTimings(taskIDs []int64, corrs map[int64]string, outs []BatchOutcome, findMS float64, workerID string) []Event {
	found := map[int64][]int64{}
	var evs []Event
	for _, o := range outs {
		if o.To != state.InProgress {
			continue
		}
		found[o.TaskID] = append(found[o.TaskID], o.StepID)
		if o.Status != OutcomeApplied {
			id := o.StepID
			reason := string(o.Status)
			if o.Err != nil {
				reason = o.Err.Error()
			}
			evs = append(evs, liveEvent(o.TaskID, &id, "observability.step.skip",
				map[string]any{"step_id": id, "reason": reason, "worker_id": workerID}))
		}
	}
	for _, t := range taskIDs {
		ids := found[t]
		if ids == nil {
			ids = []int64{}
		}
		evs = append(evs, liveEvent(t, nil, "observability.step.find_viable",
			map[string]any{"duration_ms": findMS, "step_ids": ids, "tasks": len(taskIDs), "worker_id": workerID}))
	}
	for i := range evs {
		evs[i].CorrelationID = corrs[evs[i].TaskID]
	}
	return evs
}

// startTasks moves tasks that are pending (or in error, after an operator
// unblocked them) to in_progress; states holds each task's state as the claim's
// transitions read it under the task's lock.
func (s *Store) startTasks(ctx context.Context, tx pgx.Tx, taskIDs []int64, states map[int64]state.State) ([]int64, error) {
	var startedNow []int64
	for _, id := range taskIDs {
		cur := states[id]
		if cur != state.Pending && cur != state.Error {
			continue
		}
		if cur == state.Error {
			if _, err := s.TransitionTaskTx(ctx, tx, TaskTransition{TaskID: id, To: state.Pending,
				Metadata: map[string]any{"reason": "steps ready again"}}); err != nil {
				return nil, err
			}
		}
		if _, err := s.TransitionTaskTx(ctx, tx, TaskTransition{TaskID: id, To: state.InProgress}); err != nil {
			return nil, err
		}
		startedNow = append(startedNow, id)
	}
	return startedNow, nil
}

// loadClaimedSQL reads what a claimed step's handler needs ($1 step ids, $2 the
// retry limit of a step that has none).
const loadClaimedSQL = `
		-- The sequence once per task (not per claimed step), driven by each task's
		-- own steps and their current state (on the step row, migration 0017).
		WITH claimed_tasks AS MATERIALIZED (
			SELECT DISTINCT task_id FROM tasker_workflow_steps WHERE workflow_step_id = ANY ($1)
		), seq AS MATERIALIZED (
			SELECT ct.task_id, x.results
			FROM claimed_tasks ct
			CROSS JOIN LATERAL (
				SELECT jsonb_object_agg(dns.name, COALESCE(d.results, 'null'::jsonb)) AS results
				FROM tasker_workflow_steps d
				JOIN tasker_named_steps dns ON dns.named_step_id = d.named_step_id
				WHERE d.task_id = ct.task_id
				  AND d.current_state IN ('complete', 'resolved_manually')
			) x
		)
		SELECT ws.workflow_step_id, ws.task_id, ns.name, nt.name, tn.name, nt.version,
		       COALESCE(ws.attempts, 0), COALESCE(ws.retry_limit, $2), ws.retryable,
		       COALESCE(ws.inputs, 'null'::jsonb), COALESCE(t.context, 'null'::jsonb),
		       COALESCE(seq.results, '{}'::jsonb),
		       t.correlation_id::text, ws.lease_expires_at,
		       COALESCE(tpl.s->>'handler_class', ''), COALESCE(tpl.s->'handler_config', 'null'::jsonb),
		       COALESCE((tpl.s->>'timeout_seconds')::int, 0), COALESCE(t.trace_parent, '')
		FROM tasker_workflow_steps ws
		JOIN tasker_named_steps ns ON ns.named_step_id = ws.named_step_id
		JOIN tasker_tasks t ON t.task_id = ws.task_id AND t.task_id = ANY (ARRAY(SELECT task_id FROM claimed_tasks))
		JOIN tasker_named_tasks nt ON nt.named_task_id = t.named_task_id
		JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
		LEFT JOIN seq ON seq.task_id = ws.task_id
		LEFT JOIN LATERAL (
			SELECT e AS s FROM jsonb_array_elements(CASE WHEN jsonb_typeof(nt.configuration->'steps') = 'array'
			                                            THEN nt.configuration->'steps' ELSE '[]'::jsonb END) e
			WHERE e->>'name' = ns.name LIMIT 1
		) tpl ON true
		WHERE ws.workflow_step_id = ANY ($1)
		ORDER BY ws.task_id, ws.workflow_step_id`

// SequenceResults decodes Sequence: the results of the task's completed steps,
// by step name.
func (c ClaimedStep) SequenceResults() (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	if len(c.Sequence) == 0 {
		return out, nil
	}
	err := json.Unmarshal(c.Sequence, &out)
	return out, err
}

func collectClaimed(rows pgx.Rows) ([]ClaimedStep, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ClaimedStep, error) {
		var c ClaimedStep
		err := r.Scan(&c.StepID, &c.TaskID, &c.StepName, &c.TaskName, &c.Namespace, &c.Version, &c.Attempts,
			&c.RetryLimit, &c.Retryable, &c.Inputs, &c.TaskContext, &c.Sequence, &c.CorrelationID, &c.LeaseExpiresAt,
			&c.HandlerClass, &c.HandlerConfig, &c.TimeoutSeconds, &c.TraceParent)
		c.LeaseExpiresAt = c.LeaseExpiresAt.UTC()
		return c, err
	})
}

// StepReport is a worker's report of one step it ran.
type StepReport struct {
	StepID   int64           `json:"step_id"`
	WorkerID string          `json:"worker_id"`
	Attempt  int32           `json:"attempt,omitempty"` // the claimed step's attempts; a stale attempt's report is refused
	Success  bool            `json:"success"`
	Results  json.RawMessage `json:"results,omitempty"`
	Error    *StepError      `json:"error,omitempty"`
	Metadata map[string]any  `json:"metadata,omitempty"`
}

// StepError describes a failed attempt. Retryable (default true) false makes the
// failure permanent; RetryAfterSeconds asks for exactly that backoff.
type StepError struct {
	Message           string         `json:"message"`
	Type              string         `json:"type,omitempty"`
	Code              string         `json:"code,omitempty"`
	Retryable         *bool          `json:"retryable,omitempty"`
	RetryAfterSeconds *int32         `json:"retry_after_seconds,omitempty"`
	Context           map[string]any `json:"context,omitempty"`
}

// ReportResult is what ReportResults returns.
type ReportResult struct {
	Outcomes []BatchOutcome `json:"outcomes"`
	Tasks    []TaskStatus   `json:"tasks"`
}

// ReportResults records the outcome of steps a worker ran, in one transaction:
// success → complete with results; failure → error with the error as results, the
// policy's backoff (or the handler's retry_after), not retryable when permanent.
// Only the lease holder can report. Then every affected task is finalized.
func (s *Store) ReportResults(ctx context.Context, reports []StepReport) (ReportResult, error) {
	reqs, err := reportTransitions(reports)
	if err != nil {
		return ReportResult{}, err
	}
	var res ReportResult
	ctx, col := s.collect(ctx)
	err = s.retryTx(ctx, func(tx pgx.Tx) error {
		tail := &pgx.Batch{}
		// The reports' events and their finalization's in one statement, at
		// the tail's end.
		var gathered *roundEvents
		if s.eventsEnabled {
			gathered = s.openRoundEvents(tail, 0, 0)
		}
		var err error
		res, err = s.applyAndFinalize(ctx, tx, reqs, tail, nil)
		if gathered != nil {
			s.closeRoundEvents(ctx, gathered, err == nil)
		}
		if err != nil || tail.Len() == 0 {
			return err
		}
		commitWithNextBatch(tx)
		return tx.SendBatch(ctx, tail).Close()
	})
	if err == nil {
		s.published(col)
	}
	return res, err
}

// reportTransitions turns reports into the step transitions they ask for.
func reportTransitions(reports []StepReport) ([]StepTransition, error) {
	reqs := make([]StepTransition, len(reports))
	for i, r := range reports {
		req := StepTransition{StepID: r.StepID, From: state.InProgress, WorkerID: r.WorkerID, Attempt: r.Attempt, Metadata: r.Metadata}
		if r.WorkerID == "" {
			return nil, errs.New(errs.Validation, map[string]any{"field": "worker_id", "index": i}, "report %d: worker_id is required", i)
		}
		if r.Success {
			req.To, req.Results = state.Complete, r.Results
		} else {
			e := r.Error
			if e == nil {
				e = &StepError{Message: "step failed"}
			}
			b, err := json.Marshal(map[string]any{"error": e})
			if err != nil {
				return nil, errs.Wrap(errs.Validation, err, "report %d: error", i)
			}
			req.To, req.Results, req.BackoffRequestSeconds = state.Error, b, e.RetryAfterSeconds
			req.Permanent = e.Retryable != nil && !*e.Retryable
			if req.Metadata == nil {
				req.Metadata = map[string]any{}
			}
			req.Metadata["error"] = e.Message
		}
		reqs[i] = req
	}
	return reqs, nil
}

// applyAndFinalize writes step transitions and finalizes the tasks they touched:
// the facts read, then one round trip for the transitions, step rows, schedule,
// step and outcome events and the tasks' contexts, then the finalization's
// events and the tasks' schedule, which are queued in tail for the caller to
// send (with its own next statement); the statuses get ready_at when it runs.
// When the caller gathers tail's events (ReportResults, ReportAndClaim), the
// step and outcome events are gathered there too, ahead of the finalization's,
// and written by the caller's one statement, unless a task transition (which
// numbers its own event) makes them go first.
//
// With then, its statements (given the tasks) end the writes' round trip, and
// the tasks' ready_at is the caller's to write and read (a task the
// finalization moved has none: scheduleTasksSQL).
func (s *Store) applyAndFinalize(ctx context.Context, tx pgx.Tx, reqs []StepTransition, tail *pgx.Batch,
	then func(b *pgx.Batch, taskIDs []int64)) (ReportResult, error) {
	var ecs []sqlfuncs.TaskExecutionContext
	var ids []int64
	started := time.Now()
	outs, err := s.applyStepTransitionsAnd(ctx, tx, reqs, func(outs []BatchOutcome, b *pgx.Batch) error {
		if ids = appliedTasks(outs); len(ids) > 0 {
			if err := s.queueStepOutcomeEvents(ctx, b, outs); err != nil {
				return err
			}
			// loadStepFacts locked the steps' tasks; their progress after the writes
			// (the batch updated their steps' schedule first).
			queueTaskProgress(b, ids, &ecs)
		}
		if then != nil {
			then(b, ids)
		}
		return nil
	}, s.gathering(tail))
	if err != nil {
		return ReportResult{}, err
	}
	if len(ids) == 0 {
		return ReportResult{Outcomes: outs, Tasks: []TaskStatus{}}, nil
	}
	tasks, err := s.finalizeContexts(ctx, tx, ecs, started, tail, then != nil)
	return ReportResult{Outcomes: outs, Tasks: tasks}, err
}

// queueScheduleTasksReturning queues the write of the tasks' ready_at from
// their steps' schedule (scheduleTasksSQL), read into readyAt.
func queueScheduleTasksReturning(b *pgx.Batch, taskIDs []int64, readyAt map[int64]*time.Time) {
	b.Queue(scheduleTasksSQL+` RETURNING t.task_id, t.ready_at`, taskIDs).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return dbErr(err, "schedule tasks")
		}
		return dbErr(collectReadyAt(rows, readyAt), "schedule tasks")
	}
}

// collectReadyAt reads rows of (task_id, ready_at) into readyAt, in UTC.
func collectReadyAt(rows pgx.Rows, readyAt map[int64]*time.Time) error {
	var id int64
	var ra *time.Time
	_, err := pgx.ForEachRow(rows, []any{&id, &ra}, func() error {
		if ra != nil {
			u := ra.UTC()
			ra = &u
		}
		readyAt[id] = ra
		ra = nil
		return nil
	})
	return err
}

// appliedTasks returns the tasks of the applied outcomes, in id order.
func appliedTasks(outs []BatchOutcome) []int64 {
	var ids []int64
	seen := map[int64]bool{}
	for _, o := range outs {
		if o.Status == OutcomeApplied && !seen[o.TaskID] {
			seen[o.TaskID] = true
			ids = append(ids, o.TaskID)
		}
	}
	slices.Sort(ids)
	return ids
}

// finalizeStepsTasks writes the outcome events of applied step transitions and
// finalizes their tasks (whose rows the caller locked).
func (s *Store) finalizeStepsTasks(ctx context.Context, tx pgx.Tx, outs []BatchOutcome) ([]TaskStatus, error) {
	ids := appliedTasks(outs)
	if len(ids) == 0 {
		return []TaskStatus{}, nil
	}
	b := &pgx.Batch{}
	if err := s.queueStepOutcomeEvents(ctx, b, outs); err != nil {
		return nil, err
	}
	if b.Len() > 0 {
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return nil, err
		}
	}
	return s.finalizeTasksTx(ctx, tx, ids, true)
}

// queueStepOutcomeEvents queues workflow.step_completed / step_failed for the
// applied reports, and for failures whether the step will be retried
// (observability.step.backoff) or has no attempts left
// (observability.step.max_retries_reached; known from the facts the plan read).
func (s *Store) queueStepOutcomeEvents(ctx context.Context, b *pgx.Batch, outs []BatchOutcome) error {
	var evs []wfEvent
	for _, o := range outs {
		if o.Status != OutcomeApplied {
			continue
		}
		p := map[string]any{"step_ids": []int64{o.StepID}}
		switch o.To {
		case state.Complete:
			evs = append(evs, wfEvent{o.TaskID, "workflow.step_completed", p})
		case state.Error:
			evs = append(evs, wfEvent{o.TaskID, "workflow.step_failed", p})
			if o.exhausted {
				evs = append(evs, wfEvent{o.TaskID, "observability.step.max_retries_reached", p})
			} else {
				evs = append(evs, wfEvent{o.TaskID, "observability.step.backoff", p})
			}
		}
	}
	return s.queueWorkflowEvents(ctx, b, evs)
}

// FinalizeTasksTx applies the execution-context decision table to each task:
// all_complete → complete; blocked_by_failures → error; otherwise the task stays
// and its ready_at says when it next has work. Task rows are locked first, so two
// reports finishing the last two steps of a task cannot both miss the completion.
func (s *Store) FinalizeTasksTx(ctx context.Context, tx pgx.Tx, taskIDs []int64) ([]TaskStatus, error) {
	// A caller outside the store (an operator) may have changed step columns
	// directly: the tasks' steps are scheduled again first.
	if err := rescheduleTasks(ctx, tx, taskIDs); err != nil {
		return nil, err
	}
	return s.finalizeTasksTx(ctx, tx, taskIDs, false)
}

// locked says the caller holds the tasks' rows already.
func (s *Store) finalizeTasksTx(ctx context.Context, tx pgx.Tx, taskIDs []int64, locked bool) ([]TaskStatus, error) {
	if !locked {
		if _, err := tx.Exec(ctx, `SELECT 1 FROM tasker_tasks WHERE task_id = ANY ($1) ORDER BY task_id FOR NO KEY UPDATE`, taskIDs); err != nil {
			return nil, dbErr(err, "finalize: lock tasks")
		}
	}
	started := time.Now()
	var ecs []sqlfuncs.TaskExecutionContext
	b := &pgx.Batch{}
	queueTaskProgress(b, taskIDs, &ecs)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	tail := &pgx.Batch{}
	statuses, err := s.finalizeContexts(ctx, tx, ecs, started, tail, false)
	if err != nil {
		return nil, err
	}
	return statuses, tx.SendBatch(ctx, tail).Close()
}

// finalizeContexts applies the decision table to tasks whose contexts ecs the
// caller read (under the tasks' locks, after its writes): each task's events and
// transitions, with the last events and the tasks' schedule queued in tail (the
// statuses get ready_at when it runs).
func (s *Store) finalizeContexts(ctx context.Context, tx pgx.Tx, ecs []sqlfuncs.TaskExecutionContext, started time.Time,
	tail *pgx.Batch, deferReadyAt bool) (out []TaskStatus, err error) {
	ctx, span := telemetry.StartSpan(ctx, "tasker.finalize", attribute.Int(telemetry.AttrCount, len(ecs)))
	defer func() {
		if len(ecs) == 1 {
			span.SetAttributes(attribute.Int64(telemetry.AttrTaskID, ecs[0].TaskID))
		}
		telemetry.EndSpan(span, err)
	}()
	// Three set-based steps for all the tasks (each task's events stay in order:
	// finalization_started, its transitions' events, then the outcome events).
	statuses := make([]TaskStatus, 0, len(ecs))
	paths := make([][]state.State, len(ecs))
	before := make([]wfEvent, 0, len(ecs))
	for i, ec := range ecs {
		before = append(before, wfEvent{ec.TaskID, "workflow.task_finalization_started", map[string]any{"execution_status": ec.ExecutionStatus}})
		cur := state.State(ec.Status)
		switch ec.ExecutionStatus {
		case sqlfuncs.StatusAllComplete:
			switch cur {
			case state.Pending:
				paths[i] = []state.State{state.InProgress, state.Complete}
			case state.InProgress:
				paths[i] = []state.State{state.Complete}
			}
		case sqlfuncs.StatusBlockedByFailures:
			if cur == state.Pending || cur == state.InProgress {
				paths[i] = []state.State{state.Error}
			}
		}
	}
	moves := false
	for _, p := range paths {
		moves = moves || len(p) > 0
	}
	if moves { // the tasks' transitions' events come between
		if ev := s.gathering(tail); ev != nil && len(ev.tasks) > 0 {
			// The events gathered for tail so far (the reports' own, deferred
			// by applyAndFinalize) go first, with these.
			if err := ev.addWorkflow(before); err != nil {
				return nil, err
			}
			if err := ev.writeNow(ctx, tx); err != nil {
				return nil, err
			}
		} else if err := s.writeWorkflowEvents(ctx, tx, before); err != nil {
			return nil, err
		}
	}
	var after []wfEvent
	if !moves {
		after = before
	}
	for i, ec := range ecs {
		cur, path := state.State(ec.Status), paths[i]
		for _, to := range path {
			if _, err := s.TransitionTaskTx(ctx, tx, TaskTransition{TaskID: ec.TaskID, To: to,
				Metadata: map[string]any{"execution_status": ec.ExecutionStatus}}); err != nil {
				return nil, err
			}
			switch to {
			case state.Complete:
				after = append(after, wfEvent{ec.TaskID, "workflow.task_completed", nil})
			case state.Error:
				after = append(after, wfEvent{ec.TaskID, "workflow.task_failed", nil})
			}
		}
		after = append(after, wfEvent{ec.TaskID, "workflow.task_finalization_completed",
			map[string]any{"execution_status": ec.ExecutionStatus}})
		// A task that stays open goes back to the schedule: now when it has ready
		// steps, at its next retry time when all it waits for is a backoff.
		if len(path) == 0 && (cur == state.Pending || cur == state.InProgress) {
			switch {
			case ec.ExecutionStatus == sqlfuncs.StatusHasReadySteps:
				after = append(after, wfEvent{ec.TaskID, "workflow.task_reenqueue_requested",
					map[string]any{"ready_steps": ec.ReadySteps}})
			case ec.NextRetryAt != nil && ec.InProgressSteps == 0:
				after = append(after, wfEvent{ec.TaskID, "workflow.task_reenqueue_delayed",
					map[string]any{"ready_at": ec.NextRetryAt.UTC().Format(time.RFC3339Nano)}})
			}
		}
		final := cur
		if len(path) > 0 {
			final = path[len(path)-1]
		}
		statuses = append(statuses, TaskStatus{TaskID: ec.TaskID, Status: string(final),
			ExecutionStatus: ec.ExecutionStatus, NextRetryAt: ec.NextRetryAt, Finished: len(path) > 0})
	}
	if s.LiveOn() {
		ms := float64(time.Since(started).Microseconds()) / 1000
		evs := make([]Event, 0, len(ecs))
		for _, ec := range ecs {
			e := liveEvent(ec.TaskID, nil, "observability.task.finalize",
				map[string]any{"duration_ms": ms, "tasks": len(ecs), "execution_status": ec.ExecutionStatus})
			e.CorrelationID = ec.CorrelationID
			evs = append(evs, e)
		}
		nameLiveEvents(ctx, tx, evs)
		collectLive(ctx, evs)
	}
	// The events and the schedule in one round trip: a task that moved went to
	// complete or error (no ready_at), the others' from their steps' schedule.
	if err := s.queueWorkflowEvents(ctx, tail, after); err != nil {
		return nil, err
	}
	if !deferReadyAt {
		queueSetReadyAt(tail, statuses)
	}
	return statuses, nil
}

// queueSetReadyAt queues the write of each task's ready_at from a status its
// caller computed: NULL for a task that has ended or is in error, else the least
// runnable_at of its steps (the schedule); the statuses get it when b runs.
func queueSetReadyAt(b *pgx.Batch, statuses []TaskStatus) {
	var ids []int64
	var done []bool
	for _, st := range statuses {
		ids = append(ids, st.TaskID)
		switch state.State(st.Status) {
		case state.Complete, state.Cancelled, state.ResolvedManually, state.Error:
			done = append(done, true)
		default:
			done = append(done, false)
		}
	}
	if len(ids) == 0 {
		return
	}
	b.Queue(`
		UPDATE tasker_tasks t SET ready_at = CASE WHEN u.done THEN NULL ELSE (
				SELECT min(ws.runnable_at) FROM tasker_workflow_steps ws
				WHERE ws.task_id = t.task_id AND ws.runnable_at IS NOT NULL) END
		FROM unnest($1::bigint[], $2::bool[]) AS u(id, done)
		WHERE t.task_id = u.id AND t.task_id = ANY ($1)
		RETURNING t.task_id, t.ready_at`, ids, done).Fn = func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return dbErr(err, "set ready_at")
		}
		readyAt := make(map[int64]*time.Time, len(ids))
		if err := collectReadyAt(rows, readyAt); err != nil {
			return dbErr(err, "set ready_at")
		}
		for i := range statuses {
			statuses[i].ReadyAt = readyAt[statuses[i].TaskID]
		}
		return nil
	}
}

// taskStatuses sets the tasks' ready_at from their steps' schedule and returns
// their statuses (state, execution status, next retry, ready_at).
func taskStatuses(ctx context.Context, tx pgx.Tx, taskIDs []int64) ([]TaskStatus, error) {
	if err := scheduleTasks(ctx, tx, taskIDs); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
		SELECT c.task_id, c.status, c.execution_status, c.next_retry_at, t.ready_at
		FROM get_task_execution_contexts_batch($1) c JOIN tasker_tasks t ON t.task_id = c.task_id`, taskIDs)
	if err != nil {
		return nil, dbErr(err, "task statuses")
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (TaskStatus, error) {
		var s TaskStatus
		err := r.Scan(&s.TaskID, &s.Status, &s.ExecutionStatus, &s.NextRetryAt, &s.ReadyAt)
		for _, t := range []**time.Time{&s.NextRetryAt, &s.ReadyAt} {
			if *t != nil {
				u := (*t).UTC()
				*t = &u
			}
		}
		return s, err
	})
	return out, dbErr(err, "task statuses")
}

// Heartbeat extends the leases of steps workerID holds; it returns the steps whose
// lease was extended (a step missing from the answer is no longer this worker's,
// also when its task was cancelled or otherwise ended). The steps are locked in id
// order, the one order of every writer (a heartbeat takes no task lock).
func (s *Store) Heartbeat(ctx context.Context, workerID string, stepIDs []int64, leaseSeconds float64) ([]int64, error) {
	if workerID == "" || !(leaseSeconds > 0) {
		return nil, errs.New(errs.Validation, nil, "heartbeat needs worker_id and lease_seconds > 0")
	}
	ids, err := collectIDs(s.pool.Query(ctx, `
		WITH mine AS MATERIALIZED (
			SELECT ws.workflow_step_id FROM tasker_workflow_steps ws
			WHERE ws.workflow_step_id = ANY ($1) AND ws.claimed_by = $2 AND ws.in_process
			  AND `+notTerminalStepTask+`
			ORDER BY ws.workflow_step_id FOR NO KEY UPDATE
		)
		UPDATE tasker_workflow_steps ws SET lease_expires_at = now() + make_interval(secs => $3), lease_seconds = $3
		FROM mine WHERE ws.workflow_step_id = mine.workflow_step_id
		RETURNING ws.workflow_step_id`, stepIDs, workerID, leaseSeconds))
	s.observe(err)
	return ids, dbErr(err, "heartbeat")
}

// RecoverExpiredLeases fails up to limit steps whose lease expired (their worker
// died or hung): each counts as a failed attempt, audited with the holder's id, and
// is retried under the usual rules. Their tasks are finalized. The expired step of
// a task that has ended meanwhile (cancelled, resolved, complete) is cancelled
// instead: nothing of that task runs again.
//
// A lease counts as expired only once its holder has had one full lease period
// (its own lease_seconds) of a reachable database: after the server's last start,
// and after the end of the last outage this process saw (or its own start). So
// after an outage longer than a lease, a holder that was alive renews or reports
// first, and its finished work is not failed and run again; a dead holder's
// lease is recovered one lease period later.
//
// Locks are taken in the one order of every writer — the steps' tasks in id
// order, then the steps in id order — so a late report or a claim racing the
// recovery of the same step waits or is skipped, never deadlocks. Candidates are
// found without locks, their tasks locked with SKIP LOCKED (a task another writer
// holds is left for the next sweep), and each step's expiry is checked again under
// its lock (a heartbeat or report may have come first).
func (s *Store) RecoverExpiredLeases(ctx context.Context, recoveredBy string, limit int) (res ReportResult, err error) {
	ctx, span := telemetry.StartSpan(ctx, "tasker.recover", attribute.String(telemetry.AttrWorkerID, recoveredBy))
	defer func() {
		span.SetAttributes(attribute.Int(telemetry.AttrCount, len(res.Outcomes)))
		telemetry.EndSpan(span, err)
	}()
	return s.recoverExpiredLeases(ctx, recoveredBy, limit)
}

func (s *Store) recoverExpiredLeases(ctx context.Context, recoveredBy string, limit int) (ReportResult, error) {
	var res ReportResult
	ctx, col := s.collect(ctx)
	defer func() { s.published(col) }() // emptied unless the transaction committed
	err := s.retryTx(ctx, func(tx pgx.Tx) error {
		reachable := s.reachableFor().Seconds()
		res = ReportResult{Outcomes: []BatchOutcome{}, Tasks: []TaskStatus{}}
		taskIDs, err := collectIDs(tx.Query(ctx, `
			WITH expired AS (
				SELECT ws.task_id FROM tasker_workflow_steps ws
				WHERE ws.in_process AND ws.lease_expires_at < now() AND `+leaseOver("$2")+`
				ORDER BY ws.lease_expires_at LIMIT $1
			)
			SELECT task_id FROM tasker_tasks WHERE task_id IN (SELECT task_id FROM expired)
			ORDER BY task_id FOR NO KEY UPDATE SKIP LOCKED`, limit, reachable))
		if err != nil {
			return dbErr(err, "recover: lock tasks")
		}
		if len(taskIDs) == 0 {
			return nil
		}
		rows, err := tx.Query(ctx, `
			SELECT ws.workflow_step_id, COALESCE(ws.claimed_by, ''),
			       COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
			                 WHERE tt.task_id = ws.task_id AND tt.most_recent), 'pending')
			FROM tasker_workflow_steps ws
			WHERE ws.task_id = ANY ($1) AND ws.in_process AND ws.lease_expires_at < now() AND `+leaseOver("$3")+`
			ORDER BY ws.workflow_step_id LIMIT $2 FOR NO KEY UPDATE OF ws`, taskIDs, limit, reachable)
		if err != nil {
			return dbErr(err, "recover: expired leases")
		}
		var reqs []StepTransition
		var id int64
		var holder, taskState string
		holders := map[int64]string{}
		if _, err := pgx.ForEachRow(rows, []any{&id, &holder, &taskState}, func() error {
			holders[id] = holder
			meta := map[string]any{"reason": "lease_expired", "claimed_by": holder, "recovered_by": recoveredBy}
			if state.State(taskState).Terminal() {
				meta["reason"], meta["task_state"] = "task_terminal", taskState
				reqs = append(reqs, StepTransition{StepID: id, From: state.InProgress, To: state.Cancelled, Metadata: meta})
				return nil
			}
			b, _ := json.Marshal(map[string]any{"error": StepError{Type: "lease_expired",
				Message: "the worker holding this step stopped renewing its lease"}})
			reqs = append(reqs, StepTransition{StepID: id, From: state.InProgress, To: state.Error, Results: b, Metadata: meta})
			return nil
		}); err != nil {
			return dbErr(err, "recover: expired leases")
		}
		if len(reqs) == 0 {
			return nil
		}
		outs, err := s.applyStepTransitions(ctx, tx, reqs)
		if err != nil {
			return err
		}
		// Only failed attempts finalize their tasks; a cancelled leftover step
		// changes nothing about its ended task.
		var failed []BatchOutcome
		for _, o := range outs {
			if o.To == state.Error {
				failed = append(failed, o)
			}
		}
		tasks, err := s.finalizeStepsTasks(ctx, tx, failed)
		res = ReportResult{Outcomes: outs, Tasks: tasks}
		if err != nil {
			return err
		}
		return s.writeSystemEvents(ctx, tx, presumedDead(outs, holders, recoveredBy))
	})
	return res, err
}

// ReadyTask is a task with work to do now.
type ReadyTask struct {
	TaskID   int64     `json:"task_id"`
	Priority int32     `json:"priority"`
	ReadyAt  time.Time `json:"ready_at"`
}

// NextReadyTasks lists up to limit tasks with ready work, by priority then age,
// from the ready_at index (no scan of every task).
func (s *Store) NextReadyTasks(ctx context.Context, limit int) ([]ReadyTask, error) {
	rows, err := s.pool.Query(ctx, `SELECT task_id, priority, ready_at FROM tasker_tasks WHERE ready_at <= now()
		AND `+notTerminalTask+`
		ORDER BY priority DESC, ready_at, task_id LIMIT $1`, limit)
	if err != nil {
		return nil, dbErr(err, "next ready tasks")
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[ReadyTask])
	return out, dbErr(err, "next ready tasks")
}

func collectIDs(rows pgx.Rows, err error) ([]int64, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int64])
}

// maxTxAttempts bounds retries of a transaction that PostgreSQL aborted for a
// deadlock or a serialization failure (both safe to retry from the start).
const maxTxAttempts = 3

func (s *Store) retryTx(ctx context.Context, fn func(pgx.Tx) error) error {
	var err error
	c := collectorFrom(ctx)
	for attempt := 0; attempt < maxTxAttempts; attempt++ {
		c.rollback(0) // events of an aborted attempt were never committed
		err = s.inLazyTx(ctx, fn)
		code := pgerr.Code(err)
		switch code {
		case pgerr.DeadlockDetected:
			s.deadlocks.Add(1)
		case pgerr.SerializationRetry:
			s.serializationFailures.Add(1)
		}
		if code != pgerr.DeadlockDetected && code != pgerr.SerializationRetry {
			break
		}
		if s.hooks.TxAborted != nil {
			s.hooks.TxAborted(code, attempt+1, attempt+1 < maxTxAttempts)
		}
	}
	s.observe(err)
	if err != nil {
		c.rollback(0)
	}
	return dbErr(err, "transaction")
}

// TxAborts counts the claim, report and recovery transactions PostgreSQL aborted
// (and the store retried) since the store was made.
type TxAborts struct {
	Deadlocks             int64 `json:"deadlocks"`
	SerializationFailures int64 `json:"serialization_failures"`
}

// TxAborts returns the counts of aborted transactions. With one lock order
// everywhere, Deadlocks stays 0.
func (s *Store) TxAborts() TxAborts {
	return TxAborts{Deadlocks: s.deadlocks.Load(), SerializationFailures: s.serializationFailures.Load()}
}

// leaseOver holds for a step ws whose holder has had a full lease period of a
// reachable database since it last could renew: now is past both its expiry and
// one lease length after the database became reachable again, the later of the
// server's start and this process's last reconnection (param: the placeholder of
// the seconds this process has been reaching the database).
func leaseOver(param string) string {
	return `GREATEST(ws.lease_expires_at,
		GREATEST(pg_postmaster_start_time(), now() - make_interval(secs => ` + param + `::float8))
		+ make_interval(secs => COALESCE(ws.lease_seconds, 0))) < now()`
}

// notTerminalTask holds for a tasker_tasks row whose task has not ended
// (complete, cancelled, resolved_manually); notTerminalStepTask for the task of a
// tasker_workflow_steps row ws. A scalar subquery, one look-up of the task's
// most recent transition (its unique index) per row examined: as NOT EXISTS the
// kept plan was an anti-join that read every ended task's transition on each
// claim, a cost growing with the tasks ever finished
// (TestClaimCostDoesNotGrowWithFinishedTasks).
const (
	notTerminalTask = `COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
		WHERE tt.task_id = tasker_tasks.task_id AND tt.most_recent), 'pending') NOT IN ('complete', 'cancelled', 'resolved_manually')`
	notTerminalStepTask = `COALESCE((SELECT tt.to_state FROM tasker_task_transitions tt
		WHERE tt.task_id = ws.task_id AND tt.most_recent), 'pending') NOT IN ('complete', 'cancelled', 'resolved_manually')`
)
