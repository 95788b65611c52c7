package sqlfuncs

import (
	"time"

	"github.com/jackc/pgx/v5"
)

// QueueTaskExecutionContextsBatch queues get_task_execution_contexts_batch in b
// (a writer's pipelined batch); out gets the contexts when b runs.
func QueueTaskExecutionContextsBatch(b *pgx.Batch, taskIDs []int64, asOf *time.Time, out *[]TaskExecutionContext) {
	b.Queue(`SELECT `+contextColumns+` FROM get_task_execution_contexts_batch($1, $2)`, taskIDs, asOf).Fn =
		func(br pgx.BatchResults) error {
			rows, err := br.Query()
			*out, err = collectContexts(rows, err, "task execution contexts batch")
			return err
		}
}
