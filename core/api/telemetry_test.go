package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/migrations"
)

// runWorkflow claims and reports every step of task as worker until the task
// finishes; fail names steps whose first attempt fails (retryable, no backoff).
func runWorkflow(t *testing.T, c *Client, taskID int64, worker string, fail ...string) {
	t.Helper()
	failed := map[string]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var claimed struct {
			Steps []struct {
				StepID   int64  `json:"step_id"`
				StepName string `json:"step_name"`
				Attempts int32  `json:"attempts"`
			} `json:"steps"`
		}
		callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": %q, "task_id": %d}`, worker, taskID), &claimed)
		var reps []string
		for _, st := range claimed.Steps {
			ok := true
			for _, f := range fail {
				if f == st.StepName && !failed[f] {
					failed[f], ok = true, false
				}
			}
			if ok {
				reps = append(reps, fmt.Sprintf(`{"step_id": %d, "worker_id": %q, "attempt": %d, "success": true, "results": {"ok": true}}`,
					st.StepID, worker, st.Attempts))
			} else {
				reps = append(reps, fmt.Sprintf(`{"step_id": %d, "worker_id": %q, "attempt": %d, "success": false,
					"error": {"message": "boom", "retryable": true, "retry_after_seconds": 0}}`, st.StepID, worker, st.Attempts))
			}
		}
		if len(reps) > 0 {
			var res reportResult
			callOK(t, c, "report_step_results", `{"reports": [`+strings.Join(reps, ",")+`]}`, &res)
			for _, ts := range res.Tasks {
				if ts.TaskID == taskID && (ts.Status == "complete" || ts.Status == "error") {
					return
				}
			}
			continue
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("task %d did not finish", taskID)
}

// scrape parses metrics_text into metric families.
func scrape(t *testing.T, c *Client) map[string]*dto.MetricFamily {
	t.Helper()
	var out struct {
		ContentType string `json:"content_type"`
		Text        string `json:"text"`
	}
	callOK(t, c, "metrics_text", `{}`, &out)
	assert.Contains(t, out.ContentType, "text/plain; version=0.0.4")
	return parseText(t, out.Text)
}

func parseText(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(text))
	require.NoError(t, err, "the exposition must parse")
	return mfs
}

// value is the counter, gauge or histogram count of the series of family name
// whose labels include want; -1 when there is none.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	for _, m := range mf.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range want {
			if labels[k] != v {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

func TestMetricsCountAWorkflowWithARetry(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	runWorkflow(t, c, ct.TaskID, "metrics-worker", "b")

	mfs := scrape(t, c)
	ns := map[string]string{"namespace": "api"}
	assert.Equal(t, 1.0, value(mfs, "tasker_tasks_created_total", ns))
	assert.Equal(t, 1.0, value(mfs, "tasker_tasks_finished_total", map[string]string{"state": "complete"}))
	assert.Equal(t, 5.0, value(mfs, "tasker_steps_claimed_total", ns), "4 steps, b twice")
	assert.Equal(t, 1.0, value(mfs, "tasker_steps_retried_total", ns))
	assert.Equal(t, 4.0, value(mfs, "tasker_steps_completed_total", ns))
	assert.Equal(t, 1.0, value(mfs, "tasker_steps_failed_total", ns))
	assert.Equal(t, 4.0, value(mfs, "tasker_step_duration_seconds", map[string]string{"namespace": "api", "outcome": "complete"}))
	assert.Equal(t, 1.0, value(mfs, "tasker_step_duration_seconds", map[string]string{"namespace": "api", "outcome": "error"}))
	assert.Equal(t, 5.0, value(mfs, "tasker_handoff_latency_seconds", ns))
	assert.Equal(t, 5.0, value(mfs, "tasker_step_reports_total", map[string]string{"status": "applied"}))
	assert.GreaterOrEqual(t, value(mfs, "tasker_api_call_duration_seconds", map[string]string{"method": "claim_steps"}), 4.0)
	assert.Equal(t, 1.0, value(mfs, "tasker_api_calls_total", map[string]string{"method": "create_task", "outcome": "ok"}))
	assert.Greater(t, value(mfs, "tasker_worker_last_claim_timestamp_seconds", nil), float64(time.Now().Add(-time.Minute).Unix()))
	// Scrape-time: the queue is empty again, the pool has its size, the publisher counted.
	assert.Equal(t, 0.0, value(mfs, "tasker_ready_tasks", ns))
	assert.Equal(t, 0.0, value(mfs, "tasker_workers_active", nil))
	assert.Equal(t, 10.0, value(mfs, "tasker_db_pool_max_connections", nil))
	assert.Greater(t, value(mfs, "tasker_db_pool_acquires_total", nil), 0.0)
	assert.Equal(t, 0.0, value(mfs, "tasker_events_dropped_total", nil), "the publisher's counters are exported")
	assert.Equal(t, 1.0, value(mfs, "tasker_build_info", map[string]string{"library_version": LibraryVersion}))
	assert.Equal(t, 0, c.Telemetry().Tracked(), "every claimed step was reported")

	// An error is counted by its type; the metrics are this client's only.
	callErr(t, c, "get_task_execution_context", `{"task_id": -1}`)
	mfs = scrape(t, c)
	assert.Equal(t, 1.0, value(mfs, "tasker_errors_total", map[string]string{"type": "validation_error"}))
}

// The queue depth is computed on scrape: a ready task shows in its namespace
// with its age, and a worker holding a lease is active.
func TestMetricsBacklogOnScrape(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	callOK(t, c, "create_task", strings.Replace(diamondSpec, `"api"`, `"other_ns"`, 1), nil)
	callOK(t, c, "create_task", `{"name": "wide", "namespace": "wide_ns", "steps": [{"name": "x"}, {"name": "y"}, {"name": "z", "depends_on": ["x"]}]}`, nil)
	time.Sleep(50 * time.Millisecond)
	mfs := scrape(t, c)
	assert.Equal(t, 1.0, value(mfs, "tasker_ready_tasks", map[string]string{"namespace": "api"}))
	assert.Equal(t, 1.0, value(mfs, "tasker_ready_tasks", map[string]string{"namespace": "other_ns"}))
	assert.Equal(t, 1.0, value(mfs, "tasker_ready_steps", map[string]string{"namespace": "api"}), "the diamond's root")
	assert.Equal(t, 1.0, value(mfs, "tasker_ready_tasks", map[string]string{"namespace": "wide_ns"}))
	assert.Equal(t, 2.0, value(mfs, "tasker_ready_steps", map[string]string{"namespace": "wide_ns"}), "x and y, not z")
	assert.Greater(t, value(mfs, "tasker_oldest_ready_seconds", map[string]string{"namespace": "api"}), 0.0)

	callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": "holder", "task_id": %d}`, ct.TaskID), nil)
	mfs = scrape(t, c)
	assert.Equal(t, 1.0, value(mfs, "tasker_workers_active", nil))
	assert.Equal(t, 1.0, value(mfs, "tasker_steps_in_progress", nil))
	assert.Equal(t, 0.0, value(mfs, "tasker_ready_tasks", map[string]string{"namespace": "api"}), "a is running, nothing else is ready")
	assert.Equal(t, 0.0, value(mfs, "tasker_ready_steps", map[string]string{"namespace": "api"}))
}

// Labels are bounded: no id of a task, step or worker is a label.
func TestMetricsLabelsAreBounded(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	runWorkflow(t, c, ct.TaskID, "label-worker")
	allowed := map[string]bool{"method": true, "outcome": true, "type": true, "namespace": true, "state": true,
		"status": true, "library_version": true, "schema_version": true, "version": true} // version: go_info's
	for name, mf := range scrape(t, c) {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				assert.True(t, allowed[l.GetName()], "%s has label %s", name, l.GetName())
				assert.NotContains(t, l.GetValue(), "label-worker", "%s", name)
				assert.NotEqual(t, fmt.Sprint(ct.TaskID), l.GetValue(), "%s carries a task id", name)
			}
		}
	}
}

func TestMetricsOffIsAConfigurationError(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "metrics": {"enabled": false}`)
	e := callErr(t, c, "metrics_text", `{}`)
	assert.Equal(t, errs.Configuration, e.Type)
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	runWorkflow(t, c, ct.TaskID, "quiet") // nothing counted, nothing breaks
	assert.Nil(t, c.Telemetry().Registry())
}

func TestTraceparentIsValidated(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	spec := strings.Replace(diamondSpec, `"context"`, `"traceparent": "00-zz-bad", "context"`, 1)
	e := callErr(t, c, "create_task", spec)
	assert.Equal(t, errs.Validation, e.Type)
	assert.Equal(t, "traceparent", e.Details["field"])

	// Without tracing the request's traceparent is stored as given and handed to the step.
	tp := "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	var ct created
	callOK(t, c, "create_task", strings.Replace(diamondSpec, `"context"`, `"traceparent": "`+tp+`", "context"`, 1), &ct)
	var claimed struct {
		Steps []struct {
			Traceparent string `json:"traceparent"`
		} `json:"steps"`
	}
	callOK(t, c, "claim_steps", fmt.Sprintf(`{"worker_id": "w", "task_id": %d}`, ct.TaskID), &claimed)
	require.Len(t, claimed.Steps, 1)
	assert.Equal(t, tp, claimed.Steps[0].Traceparent)
}

type healthBody struct {
	Status     string                     `json:"status"`
	HTTPStatus int                        `json:"http_status"`
	Checks     map[string]json.RawMessage `json:"checks"`
}

func TestHealthChecks(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "metrics": {"listen": "127.0.0.1:0"}`)
	var h healthBody
	for _, check := range []string{"live", "ready", "status"} {
		callOK(t, c, "health_check", `{"check": "`+check+`"}`, &h)
		assert.Equal(t, "ok", h.Status, check)
		assert.Equal(t, 200, h.HTTPStatus, check)
	}
	var ct created
	callOK(t, c, "create_task", diamondSpec, &ct)
	callOK(t, c, "health_check", `{"check": "status"}`, &h)
	var backlog struct {
		ReadyTasks int64 `json:"ready_tasks"`
	}
	require.NoError(t, json.Unmarshal(h.Checks["backlog"], &backlog))
	assert.Equal(t, int64(1), backlog.ReadyTasks)
	assert.Contains(t, string(h.Checks["counts"]), `"total_tasks":1`)
	assert.Equal(t, errs.Validation, callErr(t, c, "health_check", `{"check": "nope"}`).Type)

	// The same over the listener, with the status codes.
	base := "http://" + c.Telemetry().ListenAddr()
	get := func(path string) (int, string) {
		resp, err := http.Get(base + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := get("/health/ready")
	assert.Equal(t, 200, code, body)
	code, body = get("/metrics")
	assert.Equal(t, 200, code)
	assert.Contains(t, body, "tasker_tasks_created_total{namespace=\"api\"} 1")

	// A schema behind this library's version is not ready.
	_, err := c.Store().Pool().Exec(context.Background(), `DELETE FROM tasker_core_schema_migrations WHERE version = $1`,
		migrations.LatestVersion())
	require.NoError(t, err)
	code, body = get("/health/ready")
	assert.Equal(t, 503, code, body)
	assert.Contains(t, body, `"schema"`)
	code, _ = get("/health/live")
	assert.Equal(t, 200, code, "live does not ask the database")
}

// A listener port that is taken fails Open with a configuration error.
func TestMetricsListenPortTaken(t *testing.T) {
	t.Parallel()
	c := openClient(t, `, "metrics": {"listen": "127.0.0.1:0"}`)
	addr := c.Telemetry().ListenAddr()
	_, err := Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "metrics": {"listen": %q}}`,
		c.Config().String("database.url"), addr)))
	require.Error(t, err)
	assert.Equal(t, errs.Configuration, errs.KindOf(err))
}
