package store

import (
	"context"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-json"
	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
)

// Task list sort orders: by creation time (then task id), newest or oldest first.
const (
	SortCreatedDesc = "created_desc"
	SortCreatedAsc  = "created_asc"
)

// TaskListQuery selects a page of tasks. Every filter is optional; the page is
// ordered by (created_at, task_id) so that a cursor resumes exactly after the
// last task of the previous page, also while tasks are being created.
type TaskListQuery struct {
	States      []state.State `json:"states,omitempty"`
	Namespace   string        `json:"namespace,omitempty"`
	Name        string        `json:"name,omitempty"`
	Version     string        `json:"version,omitempty"`
	CreatedFrom *time.Time    `json:"created_from,omitempty"` // inclusive
	CreatedTo   *time.Time    `json:"created_to,omitempty"`   // exclusive
	Sort        string        `json:"sort,omitempty"`         // SortCreatedDesc (default) or SortCreatedAsc
	Cursor      string        `json:"cursor,omitempty"`       // a TaskPage's NextCursor
	Limit       int           `json:"limit,omitempty"`
}

// TaskSummary is one task as a list shows it.
type TaskSummary struct {
	TaskID        int64           `json:"task_id"`
	NamedTaskID   int32           `json:"named_task_id"`
	Namespace     string          `json:"namespace"`
	Name          string          `json:"name"`
	Version       string          `json:"version"`
	State         state.State     `json:"state"`
	Complete      bool            `json:"complete"`
	Priority      int32           `json:"priority"`
	CorrelationID string          `json:"correlation_id"`
	Initiator     *string         `json:"initiator"`
	SourceSystem  *string         `json:"source_system"`
	Reason        *string         `json:"reason"`
	Tags          json.RawMessage `json:"tags"`
	RequestedAt   time.Time       `json:"requested_at"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	CompletedAt   *time.Time      `json:"completed_at"`
}

// TaskPage is one page of ListTasks; NextCursor is empty on the last page.
type TaskPage struct {
	Tasks      []TaskSummary `json:"tasks"`
	NextCursor string        `json:"next_cursor,omitempty"`
	Limit      int           `json:"limit"`
	Sort       string        `json:"sort"`
}

// StepDetail is one step of a task with everything an operator looks at: its
// state, attempts, inputs and results (a failed attempt's results hold
// {"error": {...}}), its lease and its parents.
type StepDetail struct {
	WorkflowStepID        int64           `json:"workflow_step_id"`
	NamedStepID           int32           `json:"named_step_id"`
	Name                  string          `json:"name"`
	CurrentState          state.State     `json:"current_state"`
	DependsOn             []int64         `json:"depends_on"`
	Attempts              int32           `json:"attempts"`
	RetryLimit            int32           `json:"retry_limit"`
	Retryable             bool            `json:"retryable"`
	Skippable             bool            `json:"skippable"`
	InProcess             bool            `json:"in_process"`
	Processed             bool            `json:"processed"`
	ProcessedAt           *time.Time      `json:"processed_at"`
	LastAttemptedAt       *time.Time      `json:"last_attempted_at"`
	BackoffRequestSeconds *int32          `json:"backoff_request_seconds"`
	Inputs                json.RawMessage `json:"inputs"`
	Results               json.RawMessage `json:"results"`
	ClaimedBy             *string         `json:"claimed_by"`
	LeaseExpiresAt        *time.Time      `json:"lease_expires_at"`
	CreatedAt             time.Time       `json:"created_at"`
	UpdatedAt             time.Time       `json:"updated_at"`
}

// TaskDetail is one task with its context and its steps (in creation order).
type TaskDetail struct {
	TaskSummary
	Context     json.RawMessage `json:"context"`
	BypassSteps json.RawMessage `json:"bypass_steps"`
	Steps       []StepDetail    `json:"steps"`
}

// NamedTaskSummary is one registered named task (template) version.
type NamedTaskSummary struct {
	NamedTaskID int32     `json:"named_task_id"`
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	Version     string    `json:"version"`
	Description *string   `json:"description"`
	StepCount   int       `json:"step_count"`
	CreatedAt   time.Time `json:"created_at"`
}

const taskSummaryColumns = `t.task_id, t.named_task_id, ns.name, nt.name, nt.version,
	COALESCE(cur.to_state, 'pending'), t.complete, t.priority, t.correlation_id::text,
	t.initiator, t.source_system, t.reason, t.tags, t.requested_at, t.created_at, t.updated_at, t.completed_at`

const taskSummaryFrom = `FROM tasker_tasks t
	JOIN tasker_named_tasks nt ON nt.named_task_id = t.named_task_id
	JOIN tasker_task_namespaces ns ON ns.task_namespace_id = nt.task_namespace_id
	LEFT JOIN tasker_task_transitions cur ON cur.task_id = t.task_id AND cur.most_recent`

func (ts *TaskSummary) scanTargets() []any {
	return []any{&ts.TaskID, &ts.NamedTaskID, &ts.Namespace, &ts.Name, &ts.Version, &ts.State, &ts.Complete,
		&ts.Priority, &ts.CorrelationID, &ts.Initiator, &ts.SourceSystem, &ts.Reason, &ts.Tags, &ts.RequestedAt,
		&ts.CreatedAt, &ts.UpdatedAt, &ts.CompletedAt}
}

// taskCursor is the position after which a page starts.
type taskCursor struct {
	createdAt time.Time
	taskID    int64
}

// encodeTaskCursor makes an opaque cursor; the sort order is part of it so that
// a cursor is not silently reused with the other order.
func encodeTaskCursor(sort string, c taskCursor) string {
	raw := fmt.Sprintf("%s|%d|%d", sort, c.createdAt.UnixMicro(), c.taskID)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func decodeTaskCursor(sort, s string) (taskCursor, error) {
	bad := errs.New(errs.Validation, map[string]any{"field": "cursor"}, "cursor is not one this list returned")
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return taskCursor{}, bad
	}
	parts := strings.Split(string(raw), "|")
	if len(parts) != 3 {
		return taskCursor{}, bad
	}
	if parts[0] != sort {
		return taskCursor{}, errs.New(errs.Validation, map[string]any{"field": "cursor", "cursor_sort": parts[0], "sort": sort},
			"cursor belongs to sort %q, not %q", parts[0], sort)
	}
	micros, err1 := strconv.ParseInt(parts[1], 10, 64)
	id, err2 := strconv.ParseInt(parts[2], 10, 64)
	if err1 != nil || err2 != nil || id <= 0 {
		return taskCursor{}, bad
	}
	return taskCursor{createdAt: time.UnixMicro(micros).UTC(), taskID: id}, nil
}

// validate checks a query and fills the default sort; maxLimit bounds Limit.
func (q *TaskListQuery) validate(maxLimit int) error {
	if q.Limit < 1 || q.Limit > maxLimit {
		return errs.New(errs.Validation, map[string]any{"field": "limit", "max": maxLimit},
			"limit must be between 1 and %d", maxLimit)
	}
	switch q.Sort {
	case "":
		q.Sort = SortCreatedDesc
	case SortCreatedDesc, SortCreatedAsc:
	default:
		return errs.New(errs.Validation, map[string]any{"field": "sort"},
			"sort must be %q or %q", SortCreatedDesc, SortCreatedAsc)
	}
	for i, st := range q.States {
		if !st.Valid() {
			return errs.New(errs.Validation, map[string]any{"field": "states", "index": i, "state": string(st)},
				"unknown task state %q (want one of %v)", st, state.All)
		}
	}
	for _, f := range []struct {
		field, value string
		max          int
	}{{"namespace", q.Namespace, maxNamespaceLen}, {"name", q.Name, maxTaskNameLen}, {"version", q.Version, maxVersionLen}} {
		if err := checkText(f.field, f.value, f.max, false); err != nil {
			return err
		}
	}
	if q.CreatedFrom != nil && q.CreatedTo != nil && !q.CreatedFrom.Before(*q.CreatedTo) {
		return errs.New(errs.Validation, map[string]any{"field": "created_to"}, "created_to must be after created_from")
	}
	return nil
}

// ListTasks returns a page of tasks matching q, at most q.Limit (1..maxLimit).
// The query is built from the filters present only, so that each shape walks
// an index in (created_at, task_id) order — tasker_tasks_created_idx, or
// tasker_tasks_named_task_created_idx when a name is given — and stops after
// Limit+1 matching rows.
func (s *Store) ListTasks(ctx context.Context, q TaskListQuery, maxLimit int) (TaskPage, error) {
	if err := q.validate(maxLimit); err != nil {
		return TaskPage{}, err
	}
	var where []string
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Namespace != "" || q.Name != "" || q.Version != "" {
		var cond []string
		if q.Namespace != "" {
			cond = append(cond, "ns2.name = "+arg(q.Namespace))
		}
		if q.Name != "" {
			cond = append(cond, "nt2.name = "+arg(q.Name))
		}
		if q.Version != "" {
			cond = append(cond, "nt2.version = "+arg(q.Version))
		}
		where = append(where, `t.named_task_id IN (SELECT nt2.named_task_id FROM tasker_named_tasks nt2
			JOIN tasker_task_namespaces ns2 ON ns2.task_namespace_id = nt2.task_namespace_id WHERE `+strings.Join(cond, " AND ")+")")
	}
	if len(q.States) > 0 {
		names := make([]string, len(q.States))
		for i, st := range q.States {
			names[i] = string(st)
		}
		where = append(where, "COALESCE(cur.to_state, 'pending') = ANY("+arg(names)+"::text[])")
	}
	if q.CreatedFrom != nil {
		where = append(where, "t.created_at >= "+arg(*q.CreatedFrom))
	}
	if q.CreatedTo != nil {
		where = append(where, "t.created_at < "+arg(*q.CreatedTo))
	}
	cmp, dir := "<", "DESC"
	if q.Sort == SortCreatedAsc {
		cmp, dir = ">", "ASC"
	}
	if q.Cursor != "" {
		c, err := decodeTaskCursor(q.Sort, q.Cursor)
		if err != nil {
			return TaskPage{}, err
		}
		where = append(where, fmt.Sprintf("(t.created_at, t.task_id) %s (%s, %s)", cmp, arg(c.createdAt), arg(c.taskID)))
	}
	sql := "SELECT " + taskSummaryColumns + " " + taskSummaryFrom
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	sql += fmt.Sprintf(" ORDER BY t.created_at %s, t.task_id %s LIMIT %s", dir, dir, arg(q.Limit+1))

	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return TaskPage{}, dbErr(err, "list tasks")
	}
	page := TaskPage{Tasks: make([]TaskSummary, 0, q.Limit), Limit: q.Limit, Sort: q.Sort}
	var ts TaskSummary
	if _, err := pgx.ForEachRow(rows, ts.scanTargets(), func() error {
		page.Tasks = append(page.Tasks, ts)
		ts = TaskSummary{}
		return nil
	}); err != nil {
		return TaskPage{}, dbErr(err, "list tasks")
	}
	if len(page.Tasks) > q.Limit {
		page.Tasks = page.Tasks[:q.Limit]
		last := page.Tasks[q.Limit-1]
		page.NextCursor = encodeTaskCursor(q.Sort, taskCursor{createdAt: last.CreatedAt, taskID: last.TaskID})
	}
	return page, nil
}

// GetTask returns one task with its context and every step (NotFound when it
// does not exist), read in one snapshot.
func (s *Store) GetTask(ctx context.Context, taskID int64) (TaskDetail, error) {
	var d TaskDetail
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		targets := append(d.scanTargets(), &d.Context, &d.BypassSteps)
		err := tx.QueryRow(ctx, "SELECT "+taskSummaryColumns+", t.context, t.bypass_steps::jsonb "+taskSummaryFrom+
			" WHERE t.task_id = $1", taskID).Scan(targets...)
		if err == pgx.ErrNoRows {
			return errs.New(errs.NotFound, map[string]any{"task_id": taskID}, "task %d not found", taskID)
		}
		if err != nil {
			return dbErr(err, "read task")
		}
		rows, err := tx.Query(ctx, `
			SELECT ws.workflow_step_id, ws.named_step_id, nst.name, COALESCE(cur.to_state, 'pending'),
			       ARRAY(SELECT e.from_step_id FROM tasker_workflow_step_edges e WHERE e.to_step_id = ws.workflow_step_id ORDER BY 1),
			       COALESCE(ws.attempts, 0), COALESCE(ws.retry_limit, 0), ws.retryable, ws.skippable, ws.in_process,
			       ws.processed, ws.processed_at, ws.last_attempted_at, ws.backoff_request_seconds, ws.inputs, ws.results,
			       ws.claimed_by, ws.lease_expires_at, ws.created_at, ws.updated_at
			FROM tasker_workflow_steps ws
			JOIN tasker_named_steps nst ON nst.named_step_id = ws.named_step_id
			LEFT JOIN tasker_workflow_step_transitions cur ON cur.workflow_step_id = ws.workflow_step_id AND cur.most_recent
			WHERE ws.task_id = $1 ORDER BY ws.workflow_step_id`, taskID)
		if err != nil {
			return dbErr(err, "read steps")
		}
		var st StepDetail
		d.Steps = []StepDetail{}
		_, err = pgx.ForEachRow(rows, []any{&st.WorkflowStepID, &st.NamedStepID, &st.Name, &st.CurrentState, &st.DependsOn,
			&st.Attempts, &st.RetryLimit, &st.Retryable, &st.Skippable, &st.InProcess, &st.Processed, &st.ProcessedAt,
			&st.LastAttemptedAt, &st.BackoffRequestSeconds, &st.Inputs, &st.Results, &st.ClaimedBy, &st.LeaseExpiresAt,
			&st.CreatedAt, &st.UpdatedAt}, func() error {
			if st.DependsOn == nil {
				st.DependsOn = []int64{}
			}
			d.Steps = append(d.Steps, st)
			st = StepDetail{}
			return nil
		})
		return dbErr(err, "read steps")
	})
	return d, dbErr(err, "read task") // a typed error passes through; a failed begin becomes one
}

// ListNamedTasks returns registered named tasks (templates), of one namespace
// when given, ordered by namespace, name and version; at most limit (1..maxLimit).
func (s *Store) ListNamedTasks(ctx context.Context, namespace string, limit, maxLimit int) ([]NamedTaskSummary, error) {
	if limit < 1 || limit > maxLimit {
		return nil, errs.New(errs.Validation, map[string]any{"field": "limit", "max": maxLimit},
			"limit must be between 1 and %d", maxLimit)
	}
	if err := checkText("namespace", namespace, maxNamespaceLen, false); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `
		SELECT nt.named_task_id, ns.name, nt.name, nt.version, nt.description,
		       (SELECT count(*) FROM tasker_named_tasks_named_steps x WHERE x.named_task_id = nt.named_task_id), nt.created_at
		FROM tasker_named_tasks nt JOIN tasker_task_namespaces ns ON ns.task_namespace_id = nt.task_namespace_id
		WHERE $1 = '' OR ns.name = $1
		ORDER BY ns.name, nt.name, nt.version LIMIT $2`, namespace, limit)
	if err != nil {
		return nil, dbErr(err, "list named tasks")
	}
	out := []NamedTaskSummary{}
	var n NamedTaskSummary
	_, err = pgx.ForEachRow(rows, []any{&n.NamedTaskID, &n.Namespace, &n.Name, &n.Version, &n.Description, &n.StepCount, &n.CreatedAt},
		func() error {
			out = append(out, n)
			n = NamedTaskSummary{}
			return nil
		})
	return out, dbErr(err, "list named tasks")
}
