-- Workshop mode: workshops an instructor hosts, the learners who joined them, and settings
-- (such as the hashed instructor credential).
CREATE TABLE workshops (
    id         TEXT    NOT NULL PRIMARY KEY,
    name       TEXT    NOT NULL,
    code       TEXT    NOT NULL UNIQUE,
    labs       TEXT    NOT NULL,
    capacity   INTEGER NOT NULL,
    created_at TEXT    NOT NULL,
    expires_at TEXT    NOT NULL,
    ended_at   TEXT
);

-- `seq` numbers a workshop's learners in join order (timestamps of concurrent joins can tie);
-- the unique index also serves lookups by workshop.
CREATE TABLE learners (
    id           TEXT    NOT NULL PRIMARY KEY,
    workshop_id  TEXT    NOT NULL REFERENCES workshops (id),
    seq          INTEGER NOT NULL,
    display_name TEXT    NOT NULL,
    namespace    TEXT    NOT NULL UNIQUE,
    session_hash TEXT    NOT NULL UNIQUE,
    created_at   TEXT    NOT NULL,
    last_seen_at TEXT    NOT NULL
);

CREATE UNIQUE INDEX learners_workshop ON learners (workshop_id, seq);

CREATE TABLE settings (
    key   TEXT NOT NULL PRIMARY KEY,
    value TEXT NOT NULL
);
