package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/sqlfuncs"
)

// TaskProgressTx runs finalization's read of the schedule (taskProgressSQL) in
// tx, for the external tests.
func TaskProgressTx(ctx context.Context, tx pgx.Tx, taskIDs []int64) ([]sqlfuncs.TaskExecutionContext, error) {
	var out []sqlfuncs.TaskExecutionContext
	b := &pgx.Batch{}
	queueTaskProgress(b, taskIDs, &out)
	return out, tx.SendBatch(ctx, b).Close()
}

// InLazyTx runs fn as the store runs its claims and reports (inLazyTx), for
// the external tests.
func (s *Store) InLazyTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.inLazyTx(ctx, fn)
}

// CommitWithNextBatch is commitWithNextBatch, for the external tests.
var CommitWithNextBatch = commitWithNextBatch
