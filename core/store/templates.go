package store

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/taskercore/tasker-core/core/errs"
)

// NamedTask is a registered, versioned task definition: the template a task is
// created from, kept as JSON in tasker_named_tasks.configuration.
type NamedTask struct {
	NamedTaskID   int32  `json:"named_task_id"`
	Namespace     string `json:"namespace"`
	Name          string `json:"name"`
	Version       string `json:"version"`
	Description   string `json:"description"`
	Configuration []byte `json:"-"`
}

// RegisterNamedTask creates or updates the named task (namespace, name, version)
// with its template as configuration, and its named steps, in one transaction.
// steps maps step name to dependent system.
func (s *Store) RegisterNamedTask(ctx context.Context, nt NamedTask, steps map[string]string) (int32, error) {
	var id int32
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		nsID, err := ensureNamespace(ctx, tx, nt.Namespace)
		if err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, `
			INSERT INTO tasker_named_tasks (task_namespace_id, name, version, description, configuration)
			VALUES ($1, $2, $3, NULLIF($4, ''), $5::jsonb)
			ON CONFLICT (task_namespace_id, name, version) DO UPDATE
				SET description = EXCLUDED.description, configuration = EXCLUDED.configuration, updated_at = now()
			RETURNING named_task_id`, nsID, nt.Name, nt.Version, nt.Description, string(nt.Configuration)).Scan(&id); err != nil {
			return dbErr(err, "named task")
		}
		names := make([]string, 0, len(steps))
		systems := make([]string, 0, len(steps))
		for name, sys := range steps {
			if sys == "" {
				sys = DefaultDependentSystem
			}
			names, systems = append(names, name), append(systems, sys)
		}
		if err := ensureNamedSteps(ctx, tx, names, systems); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `
			INSERT INTO tasker_named_tasks_named_steps (named_task_id, named_step_id)
			SELECT $3, n.named_step_id
			FROM unnest($1::text[], $2::text[]) AS s(name, system)
			JOIN tasker_dependent_systems ds ON ds.name = s.system
			JOIN tasker_named_steps n ON n.dependent_system_id = ds.dependent_system_id AND n.name = s.name
			ON CONFLICT (named_task_id, named_step_id) DO NOTHING`, names, systems, id)
		return dbErr(err, "named steps")
	})
	return id, dbErr(err, "register named task")
}

// NamedTaskByKey returns a registered named task with its configuration.
func (s *Store) NamedTaskByKey(ctx context.Context, namespace, name, version string) (NamedTask, error) {
	nt := NamedTask{Namespace: namespace, Name: name, Version: version}
	var desc *string
	err := s.pool.QueryRow(ctx, `
		SELECT nt.named_task_id, nt.description, COALESCE(nt.configuration, '{}'::jsonb)::text
		FROM tasker_named_tasks nt JOIN tasker_task_namespaces ns ON ns.task_namespace_id = nt.task_namespace_id
		WHERE ns.name = $1 AND nt.name = $2 AND nt.version = $3`, namespace, name, version).Scan(&nt.NamedTaskID, &desc, &nt.Configuration)
	if err == pgx.ErrNoRows {
		return nt, errs.New(errs.NotFound, map[string]any{"namespace": namespace, "name": name, "version": version},
			"no task template %s/%s@%s is registered", namespace, name, version)
	}
	if desc != nil {
		nt.Description = *desc
	}
	return nt, dbErr(err, "named task")
}
