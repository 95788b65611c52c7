package dashboards

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/taskercore/tasker-core/core/api"
	"github.com/taskercore/tasker-core/internal/testdb"
)

func openClient(t *testing.T, extra string) *api.Client {
	t.Helper()
	_, schema := testdb.SchemaWithName(t, testdb.Options{SkipMigrate: true})
	c, err := api.Open(context.Background(), []byte(fmt.Sprintf(`{"database_url": %q, "schema": %q, "migrate": true%s}`,
		testdb.URL(t), schema, extra)))
	require.NoError(t, err)
	t.Cleanup(c.Close)
	return c
}

// dashboardExprs are the PromQL queries of the Grafana dashboard (panels'
// targets and the query variables).
func dashboardExprs(t *testing.T) []string {
	raw, err := os.ReadFile("tasker-core.json")
	require.NoError(t, err)
	var d struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	require.NoError(t, json.Unmarshal(raw, &d))
	var out []string
	for _, p := range d.Panels {
		require.NotEmpty(t, p.Targets, "panel %q has no query", p.Title)
		for _, tg := range p.Targets {
			out = append(out, tg.Expr)
		}
	}
	for _, v := range d.Templating.List {
		if v.Definition != "" {
			out = append(out, v.Definition)
		}
	}
	return out
}

func alertExprs(t *testing.T) []string {
	raw, err := os.ReadFile("alerts.yml")
	require.NoError(t, err)
	var f struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	require.NoError(t, yaml.Unmarshal(raw, &f))
	var out []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			out = append(out, r.Expr)
		}
	}
	return out
}

// metricToken finds metric names in PromQL: Tasker Core's all start with tasker_.
var metricToken = regexp.MustCompile(`\btasker_[a-z0-9_]+\b`)

// Every query of the dashboard and the alert rules names only metrics the
// library's registry exports (each a real series name: histograms' _bucket,
// _sum, _count), and names at least one.
func TestDashboardAndAlertsNameExportedMetrics(t *testing.T) {
	t.Parallel()
	c := openClient(t, "")
	exported := map[string]bool{}
	for _, n := range c.Telemetry().MetricNames() {
		exported[n] = true
	}
	require.True(t, exported["tasker_steps_completed_total"], "the registry lists its metrics: %v", exported)
	exprs := append(dashboardExprs(t), alertExprs(t)...)
	require.Greater(t, len(exprs), 20)
	used := map[string]bool{}
	for _, e := range exprs {
		names := metricToken.FindAllString(e, -1)
		assert.NotEmpty(t, names, "query names no Tasker Core metric: %s", e)
		for _, n := range names {
			used[n] = true
			assert.True(t, exported[n], "%s is not exported by the library (query: %s)", n, e)
		}
	}
	// The panels: throughput, latency, backlog and age, failures and
	// retries, recoveries, event drops, pool saturation.
	for _, n := range []string{"tasker_steps_completed_total", "tasker_api_call_duration_seconds_bucket",
		"tasker_ready_tasks", "tasker_oldest_ready_seconds", "tasker_steps_failed_total", "tasker_steps_retried_total",
		"tasker_steps_recovered_total", "tasker_events_dropped_total", "tasker_db_pool_acquired_connections",
		"tasker_worker_last_claim_timestamp_seconds"} {
		assert.True(t, used[n], "no query uses %s", n)
	}
}

func promtool(t *testing.T) string {
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool not installed (scripts/ensure-deps.sh observability installs Debian's prometheus)")
	}
	return p
}

func TestAlertRulesPassPromtool(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		assert.NoError(t, err, "promtool %s:\n%s", strings.Join(args, " "), out)
		assert.Contains(t, string(out), "SUCCESS")
	}
}

func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

// A real Prometheus (Debian's, started here on a local port with a scrape
// config written here) scrapes a worker's listener; its HTTP API then answers
// with the step counters of the workflow the worker ran.
func TestPrometheusScrapesAWorker(t *testing.T) {
	t.Parallel()
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Skip("prometheus not installed (scripts/ensure-deps.sh observability installs Debian's prometheus)")
	}
	c := openClient(t, `, "metrics": {"listen": "127.0.0.1:0"}`)
	spec := `{"name": "scraped", "namespace": "prom_ns", "steps": [{"name": "a"}, {"name": "b", "depends_on": ["a"]},
		{"name": "c", "depends_on": ["a"]}]}`
	raw, err := c.Call(context.Background(), "create_task", []byte(spec))
	require.NoError(t, err)
	b, _ := json.Marshal(raw)
	var ct struct {
		TaskID int64 `json:"task_id"`
	}
	require.NoError(t, json.Unmarshal(b, &ct))
	runWorkflow(t, c, ct.TaskID)

	dir := t.TempDir()
	promAddr := freePort(t)
	cfg := fmt.Sprintf(`global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: tasker
    static_configs:
      - targets: [%q]
`, c.Telemetry().ListenAddr())
	require.NoError(t, os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(cfg), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+promAddr, "--log.level=warn")
	var logs strings.Builder
	cmd.Stdout, cmd.Stderr = &logs, &logs
	require.NoError(t, cmd.Start())
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}()

	query := func(q string) (float64, bool) {
		resp, err := http.Get("http://" + promAddr + "/api/v1/query?query=" + url.QueryEscape(q))
		if err != nil {
			return 0, false
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var r struct {
			Status string `json:"status"`
			Data   struct {
				Result []struct {
					Value [2]any `json:"value"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal(body, &r) != nil || r.Status != "success" || len(r.Data.Result) != 1 {
			return 0, false
		}
		s, _ := r.Data.Result[0].Value[1].(string)
		var v float64
		_, err = fmt.Sscan(s, &v)
		return v, err == nil
	}
	deadline := time.Now().Add(60 * time.Second)
	var completed, claimed float64
	var ok bool
	for time.Now().Before(deadline) {
		if completed, ok = query(`tasker_steps_completed_total{job="tasker", namespace="prom_ns"}`); ok && completed == 3 {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	require.True(t, ok, "prometheus never had the counter; its log:\n%s", logs.String())
	assert.Equal(t, 3.0, completed)
	claimed, ok = query(`tasker_steps_claimed_total{job="tasker", namespace="prom_ns"}`)
	assert.True(t, ok)
	assert.Equal(t, 3.0, claimed)
	created, ok := query(`tasker_tasks_created_total{job="tasker", namespace="prom_ns"}`)
	assert.True(t, ok)
	assert.Equal(t, 1.0, created)
	up, ok := query(`up{job="tasker"}`)
	assert.True(t, ok)
	assert.Equal(t, 1.0, up)
}

// runWorkflow claims and reports the task's steps until none is left.
func runWorkflow(t *testing.T, c *api.Client, taskID int64) {
	t.Helper()
	for i := 0; i < 50; i++ {
		data, err := c.Call(context.Background(), "claim_steps", []byte(fmt.Sprintf(`{"worker_id": "prom", "task_id": %d}`, taskID)))
		require.NoError(t, err)
		b, _ := json.Marshal(data)
		var claimed struct {
			Steps []struct {
				StepID   int64 `json:"step_id"`
				Attempts int32 `json:"attempts"`
			} `json:"steps"`
		}
		require.NoError(t, json.Unmarshal(b, &claimed))
		if len(claimed.Steps) == 0 {
			return
		}
		var reps []string
		for _, s := range claimed.Steps {
			reps = append(reps, fmt.Sprintf(`{"step_id": %d, "worker_id": "prom", "attempt": %d, "success": true}`, s.StepID, s.Attempts))
		}
		_, err = c.Call(context.Background(), "report_step_results", []byte(`{"reports": [`+strings.Join(reps, ",")+`]}`))
		require.NoError(t, err)
	}
	t.Fatal("the workflow did not end")
}
