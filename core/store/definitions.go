package store

import (
	"context"

	"github.com/jackc/pgx/v5"
)

// The definition rows every task of a template shares (namespace, named task,
// named steps, dependent systems) are inserted with ON CONFLICT DO NOTHING and
// then read, never upserted with DO UPDATE: an upsert's update locks the shared
// row exclusively until commit, and with the key-share locks that foreign-key
// checks of concurrent claims and reports take on the same rows, two creations of
// one template deadlocked. An insert that meets a concurrent, uncommitted insert
// of the same row waits for it; the read that follows, a statement of its own,
// sees the row.

// ensureNamespace returns the id of the namespace, inserting it when missing.
func ensureNamespace(ctx context.Context, tx pgx.Tx, name string) (int32, error) {
	if _, err := tx.Exec(ctx, `INSERT INTO tasker_task_namespaces (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, name); err != nil {
		return 0, dbErr(err, "namespace")
	}
	var id int32
	err := tx.QueryRow(ctx, `SELECT task_namespace_id FROM tasker_task_namespaces WHERE name = $1`, name).Scan(&id)
	return id, dbErr(err, "namespace")
}

// ensureNamedTask returns the id of the named task (namespace, name, version),
// inserting it (with description) and its namespace when missing, in one round
// trip.
func ensureNamedTask(ctx context.Context, tx pgx.Tx, namespace, name, version, description string) (int32, error) {
	b := &pgx.Batch{}
	queueExec(b, "namespace", `INSERT INTO tasker_task_namespaces (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, namespace)
	queueExec(b, "named task", `INSERT INTO tasker_named_tasks (task_namespace_id, name, version, description)
		SELECT task_namespace_id, $2, $3, NULLIF($4, '') FROM tasker_task_namespaces WHERE name = $1
		ON CONFLICT (task_namespace_id, name, version) DO NOTHING`, namespace, name, version, description)
	var id int32
	b.Queue(`SELECT nt.named_task_id FROM tasker_named_tasks nt
		JOIN tasker_task_namespaces tn ON tn.task_namespace_id = nt.task_namespace_id
		WHERE tn.name = $1 AND nt.name = $2 AND nt.version = $3`, namespace, name, version).QueryRow(func(r pgx.Row) error {
		return dbErr(r.Scan(&id), "named task")
	})
	err := tx.SendBatch(ctx, b).Close()
	return id, err
}

// ensureNamedSteps inserts the dependent systems and named steps (names[i] of
// systems[i]) that are missing, in one round trip; the caller reads them by
// (dependent system, name) in a later statement.
func ensureNamedSteps(ctx context.Context, tx pgx.Tx, names, systems []string) error {
	b := &pgx.Batch{}
	queueExec(b, "dependent systems", `INSERT INTO tasker_dependent_systems (name) SELECT DISTINCT unnest($1::text[])
		ON CONFLICT (name) DO NOTHING`, systems)
	queueExec(b, "named steps", `INSERT INTO tasker_named_steps (dependent_system_id, name)
		SELECT DISTINCT ds.dependent_system_id, s.name
		FROM unnest($1::text[], $2::text[]) AS s(name, system)
		JOIN tasker_dependent_systems ds ON ds.name = s.system
		ON CONFLICT (dependent_system_id, name) DO NOTHING`, names, systems)
	return tx.SendBatch(ctx, b).Close()
}
