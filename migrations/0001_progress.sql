-- Progress of each learner through each lab's steps.
CREATE TABLE progress (
    learner    TEXT    NOT NULL,
    lab        TEXT    NOT NULL,
    step       TEXT    NOT NULL,
    status     TEXT    NOT NULL,
    passed_at  TEXT,
    checked_at TEXT    NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (learner, lab, step)
);
