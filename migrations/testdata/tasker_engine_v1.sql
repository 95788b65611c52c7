-- A tasker-engine (Rails) database as it stands before Tasker Core adopts it: the
-- engine's tables with Rails' "timestamp without time zone" columns, its older SQL
-- functions of the same names with other signatures, and some data, including a
-- step that has no transition rows at all (the engine treats that as pending).
CREATE TABLE tasker_task_namespaces (task_namespace_id serial PRIMARY KEY, name varchar(64) NOT NULL UNIQUE,
    description varchar(255), created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE TABLE tasker_named_tasks (named_task_id serial PRIMARY KEY, task_namespace_id bigint NOT NULL DEFAULT 1,
    name varchar(64) NOT NULL, version varchar(16) NOT NULL DEFAULT '0.1.0', description varchar(255),
    configuration jsonb DEFAULT '{}', created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_named_tasks_on_namespace_name_version ON tasker_named_tasks (task_namespace_id, name, version);
CREATE TABLE tasker_dependent_systems (dependent_system_id serial PRIMARY KEY, name varchar(64) NOT NULL UNIQUE,
    description varchar(255), created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE TABLE tasker_named_steps (named_step_id serial PRIMARY KEY, dependent_system_id integer NOT NULL,
    name varchar(128) NOT NULL, description varchar(255), created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX named_step_by_system_uniq ON tasker_named_steps (dependent_system_id, name);
CREATE TABLE tasker_named_tasks_named_steps (id serial PRIMARY KEY, named_task_id integer NOT NULL,
    named_step_id integer NOT NULL, skippable boolean DEFAULT false NOT NULL, default_retryable boolean DEFAULT true NOT NULL,
    default_retry_limit integer DEFAULT 3 NOT NULL, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX named_tasks_steps_ids_unique ON tasker_named_tasks_named_steps (named_task_id, named_step_id);
CREATE TABLE tasker_tasks (task_id bigserial PRIMARY KEY, named_task_id integer NOT NULL, complete boolean DEFAULT false NOT NULL,
    requested_at timestamp NOT NULL, initiator varchar(128), source_system varchar(128), reason varchar(128),
    bypass_steps json, tags jsonb, context jsonb, identity_hash varchar(128) NOT NULL,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_tasks_on_identity_hash ON tasker_tasks (identity_hash);
CREATE TABLE tasker_workflow_steps (workflow_step_id bigserial PRIMARY KEY, task_id bigint NOT NULL, named_step_id integer NOT NULL,
    retryable boolean DEFAULT true NOT NULL, retry_limit integer DEFAULT 3, in_process boolean DEFAULT false NOT NULL,
    processed boolean DEFAULT false NOT NULL, processed_at timestamp, attempts integer, last_attempted_at timestamp,
    backoff_request_seconds integer, inputs jsonb, results jsonb, skippable boolean DEFAULT false NOT NULL,
    created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE TABLE tasker_workflow_step_edges (id bigserial PRIMARY KEY, from_step_id bigint NOT NULL, to_step_id bigint NOT NULL,
    name varchar NOT NULL, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE TABLE tasker_task_transitions (id bigserial PRIMARY KEY, to_state varchar NOT NULL, from_state varchar,
    metadata jsonb DEFAULT '{}', sort_key integer NOT NULL, most_recent boolean DEFAULT true NOT NULL,
    task_id bigint NOT NULL, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_task_transitions_parent_most_recent ON tasker_task_transitions (task_id, most_recent) WHERE most_recent;
CREATE TABLE tasker_workflow_step_transitions (id bigserial PRIMARY KEY, to_state varchar NOT NULL, from_state varchar,
    metadata jsonb DEFAULT '{}', sort_key integer NOT NULL, most_recent boolean DEFAULT true NOT NULL,
    workflow_step_id bigint NOT NULL, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE UNIQUE INDEX index_step_transitions_parent_most_recent ON tasker_workflow_step_transitions (workflow_step_id, most_recent) WHERE most_recent;
CREATE TABLE tasker_annotation_types (annotation_type_id serial PRIMARY KEY, name varchar(64) NOT NULL UNIQUE,
    description varchar(255), created_at timestamp NOT NULL, updated_at timestamp NOT NULL);
CREATE TABLE tasker_task_annotations (task_annotation_id bigserial PRIMARY KEY, task_id bigint NOT NULL,
    annotation_type_id integer NOT NULL, annotation jsonb, created_at timestamp NOT NULL, updated_at timestamp NOT NULL);

-- The engine's functions: same names, other signatures and return types.
CREATE FUNCTION get_step_readiness_status(input_task_id bigint, step_ids bigint[] DEFAULT NULL)
RETURNS TABLE (workflow_step_id bigint, ready_for_execution boolean) LANGUAGE sql STABLE AS $$ SELECT 1::bigint, false $$;
CREATE FUNCTION get_task_execution_context(input_task_id bigint)
RETURNS TABLE (task_id bigint, execution_status text) LANGUAGE sql STABLE AS $$ SELECT 1::bigint, 'x'::text $$;
CREATE FUNCTION calculate_dependency_levels(input_task_id bigint)
RETURNS TABLE (workflow_step_id bigint, dependency_level integer) LANGUAGE sql STABLE AS $$ SELECT 1::bigint, 0 $$;

-- Data: an order task with a linear chain validate -> charge -> ship, validate
-- complete, charge failed once (Rails wrote UTC into timestamp columns), ship
-- never touched (no transition rows).
INSERT INTO tasker_task_namespaces (name, created_at, updated_at) VALUES ('default', '2025-01-01 10:00:00', '2025-01-01 10:00:00');
INSERT INTO tasker_named_tasks (task_namespace_id, name, created_at, updated_at) VALUES (1, 'order_fulfillment', '2025-01-01 10:00:00', '2025-01-01 10:00:00');
INSERT INTO tasker_dependent_systems (name, created_at, updated_at) VALUES ('default', '2025-01-01 10:00:00', '2025-01-01 10:00:00');
INSERT INTO tasker_named_steps (dependent_system_id, name, created_at, updated_at) VALUES
    (1, 'validate', '2025-01-01 10:00:00', '2025-01-01 10:00:00'),
    (1, 'charge', '2025-01-01 10:00:00', '2025-01-01 10:00:00'),
    (1, 'ship', '2025-01-01 10:00:00', '2025-01-01 10:00:00');
INSERT INTO tasker_tasks (named_task_id, requested_at, initiator, context, identity_hash, created_at, updated_at)
VALUES (1, '2025-01-01 10:00:00', 'rails', '{"order_id": 17}', 'engine-hash-1', '2025-01-01 10:00:00', '2025-01-01 10:00:00');
INSERT INTO tasker_workflow_steps (task_id, named_step_id, attempts, last_attempted_at, processed, processed_at, created_at, updated_at) VALUES
    (1, 1, 1, '2025-01-01 10:00:01', true, '2025-01-01 10:00:02', '2025-01-01 10:00:00', '2025-01-01 10:00:00'),
    (1, 2, 1, '2025-01-01 10:00:03', false, NULL, '2025-01-01 10:00:00', '2025-01-01 10:00:00'),
    (1, 3, NULL, NULL, false, NULL, '2025-01-01 10:00:00', '2025-01-01 10:00:00');
INSERT INTO tasker_workflow_step_edges (from_step_id, to_step_id, name, created_at, updated_at) VALUES
    (1, 2, 'provides', '2025-01-01 10:00:00', '2025-01-01 10:00:00'),
    (2, 3, 'provides', '2025-01-01 10:00:00', '2025-01-01 10:00:00');
INSERT INTO tasker_task_transitions (task_id, from_state, to_state, sort_key, most_recent, created_at, updated_at) VALUES
    (1, 'pending', 'in_progress', 1, true, '2025-01-01 10:00:01', '2025-01-01 10:00:01');
INSERT INTO tasker_workflow_step_transitions (workflow_step_id, from_state, to_state, sort_key, most_recent, created_at, updated_at) VALUES
    (1, 'pending', 'in_progress', 1, false, '2025-01-01 10:00:01', '2025-01-01 10:00:01'),
    (1, 'in_progress', 'complete', 2, true, '2025-01-01 10:00:02', '2025-01-01 10:00:02'),
    (2, 'pending', 'in_progress', 1, false, '2025-01-01 10:00:03', '2025-01-01 10:00:03'),
    (2, 'in_progress', 'error', 2, true, '2025-01-01 10:00:04', '2025-01-01 10:00:04');
