-- Answers learners gave to questions, and when each learner started each step.
CREATE TABLE answers (
    learner  TEXT NOT NULL,
    lab      TEXT NOT NULL,
    step     TEXT NOT NULL,
    check_id TEXT NOT NULL,
    answer   TEXT NOT NULL,
    PRIMARY KEY (learner, lab, step, check_id)
);

CREATE TABLE step_starts (
    learner    TEXT NOT NULL,
    lab        TEXT NOT NULL,
    step       TEXT NOT NULL,
    started_at TEXT NOT NULL,
    PRIMARY KEY (learner, lab, step)
);
