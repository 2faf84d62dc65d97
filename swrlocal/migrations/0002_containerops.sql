-- ContainerOps: pipeline groups, templates, pipelines, webhooks, runs, jobs, logs, deployments.
-- JSON columns hold the normalized wire objects (see swrlocal/containerops/model.py).

CREATE TABLE pipeline_groups (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id    TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    description  TEXT NOT NULL DEFAULT '',
    created      TEXT NOT NULL,
    UNIQUE (domain_id, name)
);

-- Sample templates have no domain; `my_template` ones belong to an account.
CREATE TABLE pipeline_templates (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    domain_id    TEXT REFERENCES domains(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    category     TEXT NOT NULL CHECK (category IN ('sample_template', 'my_template')),
    spec         TEXT NOT NULL,
    created      TEXT NOT NULL,
    updated      TEXT NOT NULL
);

CREATE TABLE pipelines (
    id            TEXT PRIMARY KEY,
    group_id      INTEGER NOT NULL REFERENCES pipeline_groups(id),
    domain_id     TEXT NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    creator_id    TEXT NOT NULL,
    creator_name  TEXT NOT NULL,
    spec          TEXT NOT NULL,
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL,
    UNIQUE (group_id, name)
);

-- One row per trigger; `stage_id` is NULL for a pipeline-level trigger. The id is the secret
-- part of the URL (unguessable), `secret` the optional HMAC key.
CREATE TABLE webhooks (
    id             TEXT PRIMARY KEY,
    pipeline_id    TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    stage_id       TEXT,
    trigger_index  INTEGER NOT NULL,
    secret         TEXT,
    UNIQUE (pipeline_id, stage_id, trigger_index)
);

-- A run is one execution of a pipeline (or of one stage); retries and rollbacks add jobs to it.
CREATE TABLE runs (
    id            TEXT PRIMARY KEY,
    pipeline_id   TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    status        TEXT NOT NULL,
    stage_index   INTEGER NOT NULL DEFAULT 0,
    origin        TEXT NOT NULL,            -- manual, webhook, retry, rollback
    spec          TEXT NOT NULL,            -- the stages as they were when the run started
    params        TEXT NOT NULL,            -- resolved pipeline parameters {name: value}
    creator_id    TEXT NOT NULL,
    creator_name  TEXT NOT NULL,
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL,
    start_time    TEXT,
    end_time      TEXT
);

CREATE TABLE jobs (
    id            TEXT PRIMARY KEY,
    run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
    pipeline_id   TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    stage_id      TEXT NOT NULL,
    stage_index   INTEGER NOT NULL,
    mode          TEXT NOT NULL DEFAULT 'run' CHECK (mode IN ('run', 'retry', 'rollback')),
    state         TEXT NOT NULL,
    progress      INTEGER NOT NULL DEFAULT 0,
    log_num       INTEGER NOT NULL DEFAULT 0,
    review        TEXT NOT NULL DEFAULT '[]',   -- [{user_name, result}] for test_review
    output        TEXT NOT NULL DEFAULT '{}',   -- e.g. the pushed image digest
    creator_id    TEXT NOT NULL,
    creator_name  TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    started_at    TEXT,
    ended_at      TEXT
);

CREATE TABLE job_logs (
    job_id      TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    seq         INTEGER NOT NULL,
    content     TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (job_id, seq)
);

CREATE TABLE deployments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline_id  TEXT NOT NULL REFERENCES pipelines(id) ON DELETE CASCADE,
    stage_id     TEXT NOT NULL,
    job_id       TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    target       TEXT NOT NULL,
    image        TEXT NOT NULL,             -- namespace/repository@sha256:...
    mode         TEXT NOT NULL CHECK (mode IN ('deploy', 'rollback')),
    succeeded    INTEGER NOT NULL DEFAULT 0,
    created      TEXT NOT NULL
);

CREATE INDEX pipelines_by_domain ON pipelines (domain_id, created);
CREATE INDEX runs_by_pipeline ON runs (pipeline_id, created);
CREATE INDEX jobs_by_stage ON jobs (pipeline_id, stage_id, created_at);
CREATE INDEX jobs_by_state ON jobs (state);
CREATE INDEX deployments_by_stage ON deployments (pipeline_id, stage_id, id);
