-- The step life cycle and Reset ownership: when the learner's work on a started step first
-- showed, the last report of each step (shown before anything is re-checked), what kubelab
-- created for each learner (Reset deletes only that), and one-shot notices for redirects.
ALTER TABLE step_starts ADD COLUMN evidence_at TEXT;

CREATE TABLE step_reports (
    learner    TEXT NOT NULL,
    lab        TEXT NOT NULL,
    step       TEXT NOT NULL,
    report     TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (learner, lab, step)
);

-- `namespace` is '' for cluster-scoped objects (a NULL would defeat the primary key).
CREATE TABLE created_objects (
    learner     TEXT NOT NULL,
    lab         TEXT NOT NULL,
    api_version TEXT NOT NULL,
    kind        TEXT NOT NULL,
    namespace   TEXT NOT NULL,
    name        TEXT NOT NULL,
    uid         TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    PRIMARY KEY (learner, api_version, kind, namespace, name)
);

CREATE TABLE flash (
    learner    TEXT NOT NULL,
    lab        TEXT NOT NULL,
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (learner, lab)
);
