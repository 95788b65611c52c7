package api

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/errs"
	"github.com/taskercore/tasker-core/core/state"
	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// docs/troubleshooting.md stays true: every error kind of core/errs has a
// section (a heading naming it), and every ```sql block runs — read-only —
// against a workflow in the states the guide talks about.

func markdownHeadings(doc string) []string {
	var out []string
	for _, line := range strings.Split(doc, "\n") {
		if strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	return out
}

func TestTroubleshootingHasASectionPerErrorKind(t *testing.T) {
	headings := markdownHeadings(readRepoFile(t, "docs/troubleshooting.md"))
	kinds := errsKinds(t)
	require.NotEmpty(t, kinds)
	for _, k := range kinds {
		found := false
		for _, h := range headings {
			if strings.Contains(h, "`"+k+"`") {
				found = true
			}
		}
		assert.True(t, found, "docs/troubleshooting.md has no heading naming the error kind `%s`", k)
	}
}

// codeBlocks returns the bodies of the ```lang blocks of a Markdown text.
func codeBlocks(doc, lang string) []string {
	re := regexp.MustCompile("(?ms)^```" + lang + "\\s*\n(.*?)^```")
	var out []string
	for _, m := range re.FindAllStringSubmatch(doc, -1) {
		out = append(out, m[1])
	}
	return out
}

func TestTroubleshootingSQLRuns(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := openClient(t, "")
	schema := c.Config().String("database.schema")
	s := c.Store()

	// A task with a claimed step, a failed step, a waiting one and a ready one,
	// and a subscriber that has acknowledged some events.
	one := int32(1)
	task, err := s.CreateTask(ctx, store.TaskSpec{Name: "troubleshooting", Steps: []store.StepSpec{
		{Name: "claimed"}, {Name: "waiting", DependsOn: []string{"claimed"}},
		{Name: "failed", RetryLimit: &one}, {Name: "ready"},
	}})
	require.NoError(t, err)
	_, err = s.TransitionStep(ctx, store.StepTransition{StepID: task.StepIDs["claimed"], To: state.InProgress,
		WorkerID: "w1", LeaseSeconds: 30})
	require.NoError(t, err)
	for _, to := range []state.State{state.InProgress, state.Error} {
		_, err = s.TransitionStep(ctx, store.StepTransition{StepID: task.StepIDs["failed"], To: to})
		require.NoError(t, err)
	}
	var batch store.EventBatch
	callOK(t, c, "fetch_events", `{"subscriber": "audit", "limit": 2}`, &batch)
	callOK(t, c, "ack_events", fmt.Sprintf(`{"subscriber": "audit", "events": [], "horizon": %q, "drained": false}`, batch.Horizon), nil)

	blocks := codeBlocks(readRepoFile(t, "docs/troubleshooting.md"), "sql")
	require.GreaterOrEqual(t, len(blocks), 10, "the guide's SQL blocks were not found")
	vars := regexp.MustCompile(`(^|[^:]):(task_id|step_id)\b`)
	for i, block := range blocks {
		sql := vars.ReplaceAllStringFunc(block, func(m string) string {
			prefix, name := "", m
			if !strings.HasPrefix(m, ":") {
				prefix, name = m[:1], m[1:]
			}
			if name == ":task_id" {
				return prefix + fmt.Sprint(task.TaskID)
			}
			return prefix + fmt.Sprint(task.StepIDs["failed"])
		})
		t.Run(fmt.Sprintf("block %d", i+1), func(t *testing.T) {
			cfg, err := pgx.ParseConfig(testdb.URL(t))
			require.NoError(t, err)
			cfg.RuntimeParams["search_path"] = schema
			conn, err := pgx.ConnectConfig(ctx, cfg)
			require.NoError(t, err)
			defer conn.Close(ctx)
			_, err = conn.Exec(ctx, "BEGIN READ ONLY")
			require.NoError(t, err)
			results, err := conn.PgConn().Exec(ctx, sql).ReadAll()
			require.NoError(t, err, "docs/troubleshooting.md SQL block %d fails:\n%s", i+1, block)
			require.NotEmpty(t, results)
			last := results[len(results)-1]
			assert.NotEmpty(t, last.Rows, "block %d answers nothing on a workflow that has what it looks for:\n%s", i+1, block)
			_, _ = conn.Exec(ctx, "ROLLBACK")
		})
	}
}

// The guide says an exhausted pool is a timeout_error within api.call_timeout_ms.
func TestPoolExhaustionIsATimeout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	c := openClient(t, `, "max_connections": 1, "call_timeout_ms": 300`)
	task, err := c.Store().CreateTask(ctx, store.TaskSpec{Name: "pool", Steps: []store.StepSpec{{Name: "a"}}})
	require.NoError(t, err)
	held, err := c.Store().Pool().Acquire(ctx)
	require.NoError(t, err)
	payload := fmt.Sprintf(`{"task_id": %d}`, task.TaskID)
	e := callErr(t, c, "get_task_execution_context", payload)
	assert.Equal(t, errs.Timeout, e.Type, "%+v", e)
	held.Release()
	callOK(t, c, "get_task_execution_context", payload, nil)
}
