package store_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/taskercore/tasker-core/core/store"
	"github.com/taskercore/tasker-core/internal/pgerr"
	"github.com/taskercore/tasker-core/internal/testdb"
)

// Late reports, heartbeats, claims and lease recovery of the same steps, started
// together, never deadlock (issue 11: recovery locked steps before tasks while
// everyone else locked tasks first, and 36 of 150 such races deadlocked): no call
// fails and PostgreSQL aborted no transaction for a deadlock (the store counts the
// ones it retried, so a deadlock hidden by a retry counts too).
func TestReportClaimRecoveryRaceNeverDeadlocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := store.New(testdb.Schema(t, testdb.Options{MaxConns: 16}), testPolicy)
	require.NoError(t, s.SyncRetryPolicy(ctx))

	const rounds, tasks = 20, 3
	var errMu sync.Mutex
	var failures []error
	fail := func(what string, err error) {
		if err == nil {
			return
		}
		errMu.Lock()
		defer errMu.Unlock()
		failures = append(failures, fmt.Errorf("%s: %w (SQLSTATE %q)", what, err, pgerr.Code(err)))
	}
	for r := range rounds {
		for i := range tasks {
			create(t, s, fmt.Sprintf("race%d_%d", r, i), step("a"), step("b"), step("c"))
		}
		// A lease that is over at once: every step below is recoverable and still
		// reportable by its holder.
		held, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w1", Limit: 3 * tasks, LeaseSeconds: 0.001})
		require.NoError(t, err)
		require.Len(t, held, 3*tasks)
		time.Sleep(5 * time.Millisecond)
		byTask := map[int64][]store.ClaimedStep{}
		var ids []int64
		for _, c := range held {
			byTask[c.TaskID] = append(byTask[c.TaskID], c)
			ids = append(ids, c.StepID)
		}

		start := make(chan struct{})
		var wg sync.WaitGroup
		run := func(what string, fn func() error) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				fail(what, fn())
			}()
		}
		for _, cs := range byTask {
			// Reports in reverse step order, and one report for the whole task.
			reps := make([]store.StepReport, 0, len(cs))
			for i := len(cs) - 1; i >= 0; i-- {
				reps = append(reps, ok("w1", cs[i]))
			}
			run("report", func() error { _, err := s.ReportResults(ctx, reps); return err })
		}
		// One report across all tasks, in reverse order.
		all := make([]store.StepReport, 0, len(held))
		for i := len(held) - 1; i >= 0; i-- {
			all = append(all, ok("w1", held[i]))
		}
		run("report all", func() error { _, err := s.ReportResults(ctx, all); return err })
		for range 2 {
			run("recover", func() error { _, err := s.RecoverExpiredLeases(ctx, "reaper", 100); return err })
			run("claim", func() error {
				_, err := s.ClaimSteps(ctx, store.ClaimRequest{WorkerID: "w2", Limit: 10, LeaseSeconds: 30})
				return err
			})
		}
		rev := slices.Clone(ids)
		slices.Reverse(rev)
		run("heartbeat", func() error { _, err := s.Heartbeat(ctx, "w1", rev, 30); return err })
		run("report and claim", func() error {
			_, _, err := s.ReportAndClaim(ctx, all[:1], store.ClaimRequest{WorkerID: "w1", Limit: 5, LeaseSeconds: 30})
			return err
		})
		close(start)
		wg.Wait()
	}
	for _, err := range failures {
		t.Error(err)
	}
	assert.Zero(t, s.TxAborts().Deadlocks, "transactions aborted for a deadlock (and retried)")
}

// Creations of one template, concurrent with workers claiming and reporting its
// tasks, never deadlock: creation takes no exclusive lock on the rows every task
// of the template shares (namespace, named task, named steps), which the
// workers' foreign-key checks key-share (a Puma cluster's workers creating tasks
// while its async workers ran them deadlocked, 1 in 6 requests).
func TestCreateBesideWorkersNeverDeadlocks(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := store.New(testdb.Schema(t, testdb.Options{MaxConns: 16}), testPolicy)
	require.NoError(t, s.SyncRetryPolicy(ctx))

	const creators, perCreator, workers = 4, 12, 2
	var errMu sync.Mutex
	var failures []error
	fail := func(what string, err error) {
		if err != nil {
			errMu.Lock()
			defer errMu.Unlock()
			failures = append(failures, fmt.Errorf("%s: %w (SQLSTATE %q)", what, err, pgerr.Code(err)))
		}
	}
	var created sync.WaitGroup
	for c := range creators {
		created.Add(1)
		go func() {
			defer created.Done()
			for i := range perCreator {
				_, err := s.CreateTask(ctx, store.TaskSpec{Namespace: "shared", Name: "same_template", Version: "1.0.0",
					Context: []byte(fmt.Sprintf(`{"c": %d, "i": %d}`, c, i)), Steps: []store.StepSpec{step("a"), step("b", "a")}})
				fail("create", err)
			}
		}()
	}
	done := make(chan struct{})
	var working sync.WaitGroup
	for w := range workers {
		working.Add(1)
		go func() {
			defer working.Done()
			id := fmt.Sprintf("w%d", w)
			var held []store.ClaimedStep
			for {
				select {
				case <-done:
					return
				default:
				}
				reps := make([]store.StepReport, 0, len(held))
				for _, c := range held {
					reps = append(reps, ok(id, c))
				}
				_, next, err := s.ReportAndClaim(ctx, reps, store.ClaimRequest{WorkerID: id, Limit: 4, LeaseSeconds: 30})
				fail("report and claim", err)
				if err != nil {
					next = nil
				}
				held = next
			}
		}()
	}
	created.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var open int
		require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE NOT complete`).Scan(&open))
		if open == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	close(done)
	working.Wait()
	for _, err := range failures {
		t.Error(err)
	}
	var complete int
	require.NoError(t, s.Pool().QueryRow(ctx, `SELECT count(*) FROM tasker_tasks WHERE complete`).Scan(&complete))
	assert.Equal(t, creators*perCreator, complete, "every task ran to the end")
	assert.Zero(t, s.TxAborts().Deadlocks, "transactions aborted for a deadlock (and retried)")
}
