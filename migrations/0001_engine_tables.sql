-- Tables of tasker-engine (REFERENCE §1), created only where absent so that an
-- existing tasker-engine database is adopted in place. Column names and defaults
-- match the engine; Tasker Core's additions come in later migrations.

CREATE TABLE IF NOT EXISTS tasker_task_namespaces (
    task_namespace_id serial PRIMARY KEY,
    name varchar(64) NOT NULL,
    description varchar(255),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_task_namespaces_name_unique ON tasker_task_namespaces (name);

CREATE TABLE IF NOT EXISTS tasker_named_tasks (
    named_task_id serial PRIMARY KEY,
    task_namespace_id integer NOT NULL DEFAULT 1 REFERENCES tasker_task_namespaces (task_namespace_id),
    name varchar(64) NOT NULL,
    version varchar(16) NOT NULL DEFAULT '0.1.0',
    description varchar(255),
    configuration jsonb DEFAULT '{}'::jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_named_tasks_namespace_name_version_unique
    ON tasker_named_tasks (task_namespace_id, name, version);

CREATE TABLE IF NOT EXISTS tasker_dependent_systems (
    dependent_system_id serial PRIMARY KEY,
    name varchar(64) NOT NULL,
    description varchar(255),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_dependent_systems_name_unique ON tasker_dependent_systems (name);

CREATE TABLE IF NOT EXISTS tasker_named_steps (
    named_step_id serial PRIMARY KEY,
    dependent_system_id integer NOT NULL REFERENCES tasker_dependent_systems (dependent_system_id),
    name varchar(128) NOT NULL,
    description varchar(255),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_named_steps_system_name_unique ON tasker_named_steps (dependent_system_id, name);

CREATE TABLE IF NOT EXISTS tasker_named_tasks_named_steps (
    id serial PRIMARY KEY,
    named_task_id integer NOT NULL REFERENCES tasker_named_tasks (named_task_id),
    named_step_id integer NOT NULL REFERENCES tasker_named_steps (named_step_id),
    skippable boolean NOT NULL DEFAULT false,
    default_retryable boolean NOT NULL DEFAULT true,
    default_retry_limit integer NOT NULL DEFAULT 3,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_named_tasks_named_steps_unique
    ON tasker_named_tasks_named_steps (named_task_id, named_step_id);

CREATE TABLE IF NOT EXISTS tasker_tasks (
    task_id bigserial PRIMARY KEY,
    named_task_id integer NOT NULL REFERENCES tasker_named_tasks (named_task_id),
    complete boolean NOT NULL DEFAULT false,
    requested_at timestamptz NOT NULL,
    initiator varchar(128),
    source_system varchar(128),
    reason varchar(128),
    bypass_steps json,
    tags jsonb,
    context jsonb,
    identity_hash varchar(128) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_tasks_identity_hash_unique ON tasker_tasks (identity_hash);

CREATE TABLE IF NOT EXISTS tasker_workflow_steps (
    workflow_step_id bigserial PRIMARY KEY,
    task_id bigint NOT NULL REFERENCES tasker_tasks (task_id),
    named_step_id integer NOT NULL REFERENCES tasker_named_steps (named_step_id),
    retryable boolean NOT NULL DEFAULT true,
    retry_limit integer DEFAULT 3,
    in_process boolean NOT NULL DEFAULT false,
    processed boolean NOT NULL DEFAULT false,
    processed_at timestamptz,
    attempts integer,
    last_attempted_at timestamptz,
    backoff_request_seconds integer,
    inputs jsonb,
    results jsonb,
    skippable boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tasker_workflow_step_edges (
    id bigserial PRIMARY KEY,
    from_step_id bigint NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id),
    to_step_id bigint NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id),
    name varchar NOT NULL DEFAULT 'provides',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tasker_task_transitions (
    id bigserial PRIMARY KEY,
    to_state varchar NOT NULL,
    from_state varchar,
    metadata jsonb DEFAULT '{}'::jsonb,
    sort_key integer NOT NULL,
    most_recent boolean NOT NULL DEFAULT true,
    task_id bigint NOT NULL REFERENCES tasker_tasks (task_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tasker_workflow_step_transitions (
    id bigserial PRIMARY KEY,
    to_state varchar NOT NULL,
    from_state varchar,
    metadata jsonb DEFAULT '{}'::jsonb,
    sort_key integer NOT NULL,
    most_recent boolean NOT NULL DEFAULT true,
    workflow_step_id bigint NOT NULL REFERENCES tasker_workflow_steps (workflow_step_id),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS tasker_annotation_types (
    annotation_type_id serial PRIMARY KEY,
    name varchar(64) NOT NULL,
    description varchar(255),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS tasker_annotation_types_name_unique ON tasker_annotation_types (name);

CREATE TABLE IF NOT EXISTS tasker_task_annotations (
    task_annotation_id bigserial PRIMARY KEY,
    task_id bigint NOT NULL REFERENCES tasker_tasks (task_id),
    annotation_type_id integer NOT NULL REFERENCES tasker_annotation_types (annotation_type_id),
    annotation jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
