//! Workshop storage: the workshops an instructor hosts (with their join codes), the learners who
//! joined them — admitted atomically up to the capacity — and the hashed instructor credential.

use rand::Rng;
use serde::Serialize;
use sqlx::{ColumnIndex, Decode, Row, Type};

use super::{Backend, Store, StoreError};

/// The characters of a join code: no `0`/`O`, `1`/`I`/`L`, so a code read aloud or from a
/// projector is typed right.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// How many characters a join code has (31⁶ ≈ 887 million codes).
pub const CODE_LENGTH: usize = 6;

/// How many fresh codes `create_workshop` tries before reporting the collision.
const CODE_ATTEMPTS: usize = 8;

/// The `settings` key of the hashed instructor credential.
const INSTRUCTOR_HASH_KEY: &str = "instructor_hash";
/// The `settings` key of the key that signs cookies (shared by replicas, kept across restarts).
const COOKIE_KEY_KEY: &str = "cookie_key";

/// A workshop as an instructor created it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Workshop {
    /// Random hex id (also usable as a Kubernetes label value).
    pub id: String,
    /// The name the instructor gave it.
    pub name: String,
    /// The join code learners type: [`CODE_LENGTH`] upper-case letters and digits.
    pub code: String,
    /// The ids of the labs it offers, in the instructor's order.
    pub labs: Vec<String>,
    /// How many learners may join.
    pub capacity: u32,
    /// When it was created (RFC 3339).
    pub created_at: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
    /// When the instructor ended it (RFC 3339), if they did.
    pub ended_at: Option<String>,
}

/// What an instructor gives to create a workshop; the store makes the id and the join code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewWorkshop {
    /// The workshop's name.
    pub name: String,
    /// The ids of the labs it offers.
    pub labs: Vec<String>,
    /// How many learners may join.
    pub capacity: u32,
    /// Now (RFC 3339).
    pub created_at: String,
    /// When it expires (RFC 3339).
    pub expires_at: String,
}

/// One learner who joined a workshop. Their progress, answers and step starts are stored under
/// `id` as the learner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LearnerRecord {
    /// Random hex id (also usable as a Kubernetes label value).
    pub id: String,
    /// The workshop they joined.
    pub workshop_id: String,
    /// The name they gave when joining.
    pub display_name: String,
    /// Their own namespace on the workshop's cluster.
    pub namespace: String,
    /// When they joined (RFC 3339).
    pub created_at: String,
    /// When their session was last used (RFC 3339).
    pub last_seen_at: String,
}

/// The outcome of [`Store::join_workshop`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The learner joined.
    Joined(LearnerRecord),
    /// The workshop already has `capacity` learners.
    Full,
    /// The workshop does not exist or has been ended.
    Closed,
}

// Timestamps are compared as text (`ORDER BY created_at`), which orders them correctly as long
// as they share one format — UTC RFC 3339 with the same precision, as `engine::now` writes them.

const INSERT_WORKSHOP: &str = "INSERT INTO workshops
       (id, name, code, labs, capacity, created_at, expires_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)";

// `capacity` is a 32-bit INTEGER in PostgreSQL and decodes as i64 only after the cast.
const WORKSHOPS: &str = "SELECT id, name, code, labs, CAST(capacity AS BIGINT) AS capacity,
       created_at, expires_at, ended_at
     FROM workshops ORDER BY created_at DESC, id";

const WORKSHOP: &str = "SELECT id, name, code, labs, CAST(capacity AS BIGINT) AS capacity,
       created_at, expires_at, ended_at
     FROM workshops WHERE id = $1";

const WORKSHOP_BY_CODE: &str = "SELECT id, name, code, labs, CAST(capacity AS BIGINT) AS capacity,
       created_at, expires_at, ended_at
     FROM workshops WHERE code = $1";

const EXTEND_WORKSHOP: &str =
    "UPDATE workshops SET expires_at = $2 WHERE id = $1 AND ended_at IS NULL";

const END_WORKSHOP: &str = "UPDATE workshops SET ended_at = $2 WHERE id = $1 AND ended_at IS NULL";

// The no-op update takes the workshop row's write lock (PostgreSQL) or the database's write
// lock (SQLite) before the learners are counted, so concurrent joins and `end_workshop` queue
// behind it. Under READ COMMITTED the INSERT that follows takes a fresh snapshot and so counts
// every learner committed by earlier holders of the lock; counting without the lock would let
// two joins both see room for one.
const LOCK_OPEN_WORKSHOP: &str =
    "UPDATE workshops SET capacity = capacity WHERE id = $1 AND ended_at IS NULL";

const JOIN_WORKSHOP: &str = "INSERT INTO learners
       (id, workshop_id, seq, display_name, namespace, session_hash, created_at, last_seen_at)
     SELECT $1, $2,
       (SELECT COALESCE(MAX(seq), 0) + 1 FROM learners WHERE workshop_id = $2),
       $3, $4, $5, $6, $6
     WHERE (SELECT COUNT(*) FROM learners WHERE workshop_id = $2) < $7";

const LEARNER_BY_SESSION: &str =
    "SELECT id, workshop_id, display_name, namespace, created_at, last_seen_at
     FROM learners WHERE session_hash = $1";

// Only a stale `last_seen_at` is written: a learner's every request must not be a write.
const TOUCH_LEARNER: &str =
    "UPDATE learners SET last_seen_at = $2 WHERE id = $1 AND last_seen_at < $3";

const LEARNER: &str = "SELECT id, workshop_id, display_name, namespace, created_at, last_seen_at
     FROM learners WHERE id = $1";

const LEARNERS: &str = "SELECT id, workshop_id, display_name, namespace, created_at, last_seen_at
     FROM learners WHERE workshop_id = $1 ORDER BY seq";

const REMOVE_LEARNER: [&str; 7] = [
    "DELETE FROM progress WHERE learner = $1",
    "DELETE FROM answers WHERE learner = $1",
    "DELETE FROM step_starts WHERE learner = $1",
    "DELETE FROM step_reports WHERE learner = $1",
    "DELETE FROM created_objects WHERE learner = $1",
    "DELETE FROM flash WHERE learner = $1",
    "DELETE FROM learners WHERE id = $1",
];

const SETTING: &str = "SELECT value FROM settings WHERE key = $1";

const ADD_SETTING: &str =
    "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING";

const SET_SETTING: &str = "INSERT INTO settings (key, value) VALUES ($1, $2)
     ON CONFLICT (key) DO UPDATE SET value = excluded.value";

impl Store {
    /// Creates a workshop with a fresh id and a fresh join code (another is drawn if the code
    /// is taken).
    pub async fn create_workshop(&self, new: &NewWorkshop) -> Result<Workshop, StoreError> {
        self.create_workshop_with(new, new_code).await
    }

    /// [`Store::create_workshop`] drawing join codes from `next_code`.
    async fn create_workshop_with(
        &self,
        new: &NewWorkshop,
        mut next_code: impl FnMut() -> String,
    ) -> Result<Workshop, StoreError> {
        let labs = serde_json::to_string(&new.labs)
            .map_err(|e| StoreError::Query(sqlx::Error::Encode(Box::new(e))))?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let workshop = Workshop {
                id: new_id(),
                name: new.name.clone(),
                code: next_code(),
                labs: new.labs.clone(),
                capacity: new.capacity,
                created_at: new.created_at.clone(),
                expires_at: new.expires_at.clone(),
                ended_at: None,
            };
            let inserted = on_pool!(self, |pool| {
                sqlx::query(INSERT_WORKSHOP)
                    .bind(&workshop.id)
                    .bind(&workshop.name)
                    .bind(&workshop.code)
                    .bind(&labs)
                    .bind(i64::from(workshop.capacity))
                    .bind(&workshop.created_at)
                    .bind(&workshop.expires_at)
                    .execute(pool)
                    .await
                    .map(|_| ())
            });
            match inserted {
                Ok(()) => return Ok(workshop),
                Err(sqlx::Error::Database(e))
                    if e.is_unique_violation() && attempt < CODE_ATTEMPTS =>
                {
                    continue;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Every workshop, newest first.
    pub async fn workshops(&self) -> Result<Vec<Workshop>, StoreError> {
        let workshops = on_pool!(self, |pool| {
            let rows = sqlx::query(WORKSHOPS).fetch_all(pool).await?;
            rows.iter()
                .map(workshop)
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(workshops)
    }

    /// The workshop with this id.
    pub async fn workshop(&self, id: &str) -> Result<Option<Workshop>, StoreError> {
        let found = on_pool!(self, |pool| {
            sqlx::query(WORKSHOP)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(workshop)
                .transpose()?
        });
        Ok(found)
    }

    /// The workshop with this join code, typed in any case and with or without spaces or dashes.
    pub async fn workshop_by_code(&self, code: &str) -> Result<Option<Workshop>, StoreError> {
        let code = normalize_code(code);
        if code.is_empty() {
            return Ok(None);
        }
        let found = on_pool!(self, |pool| {
            sqlx::query(WORKSHOP_BY_CODE)
                .bind(&code)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(workshop)
                .transpose()?
        });
        Ok(found)
    }

    /// Moves a workshop's expiry to `new_expires_at`; false if it does not exist or has ended.
    pub async fn extend_workshop(
        &self,
        id: &str,
        new_expires_at: &str,
    ) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            sqlx::query(EXTEND_WORKSHOP)
                .bind(id)
                .bind(new_expires_at)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed > 0)
    }

    /// Ends a workshop at `now`: no one joins it afterwards. False if it does not exist or had
    /// already ended (the first end time is kept).
    pub async fn end_workshop(&self, id: &str, now: &str) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            sqlx::query(END_WORKSHOP)
                .bind(id)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(changed > 0)
    }

    /// Adds a learner to a workshop unless it already has `capacity` learners (normally the
    /// workshop's own) or has ended. Atomic: however many join at once, on however many
    /// replicas, no more than `capacity` get in. `namespace` and `session_hash` must be unique
    /// (a duplicate is a [`StoreError::Query`]). Expiry is the caller's to check, as it compares
    /// times.
    pub async fn join_workshop(
        &self,
        workshop_id: &str,
        display_name: &str,
        namespace: &str,
        session_hash: &str,
        now: &str,
        capacity: u32,
    ) -> Result<JoinOutcome, StoreError> {
        let learner = LearnerRecord {
            id: new_id(),
            workshop_id: workshop_id.to_owned(),
            display_name: display_name.to_owned(),
            namespace: namespace.to_owned(),
            created_at: now.to_owned(),
            last_seen_at: now.to_owned(),
        };
        let outcome = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let open = sqlx::query(LOCK_OPEN_WORKSHOP)
                .bind(workshop_id)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                > 0;
            let outcome = if !open {
                JoinOutcome::Closed
            } else {
                let inserted = sqlx::query(JOIN_WORKSHOP)
                    .bind(&learner.id)
                    .bind(workshop_id)
                    .bind(display_name)
                    .bind(namespace)
                    .bind(session_hash)
                    .bind(now)
                    .bind(i64::from(capacity))
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if inserted > 0 {
                    JoinOutcome::Joined(learner)
                } else {
                    JoinOutcome::Full
                }
            };
            tx.commit().await?;
            outcome
        });
        Ok(outcome)
    }

    /// The learner whose session token hashes to `session_hash`, marked as seen at `now` when
    /// they were last seen more than a minute earlier.
    pub async fn learner_by_session(
        &self,
        session_hash: &str,
        now: &str,
    ) -> Result<Option<LearnerRecord>, StoreError> {
        let found = on_pool!(self, |pool| {
            sqlx::query(LEARNER_BY_SESSION)
                .bind(session_hash)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(learner)
                .transpose()?
        });
        let Some(mut found) = found else {
            return Ok(None);
        };
        let stale_before = minute_before(now);
        if found.last_seen_at.as_str() < stale_before.as_str() {
            on_pool!(self, |pool| {
                sqlx::query(TOUCH_LEARNER)
                    .bind(&found.id)
                    .bind(now)
                    .bind(&stale_before)
                    .execute(pool)
                    .await?;
            });
            found.last_seen_at = now.to_owned();
        }
        Ok(Some(found))
    }

    /// The learner with this id.
    pub async fn learner(&self, id: &str) -> Result<Option<LearnerRecord>, StoreError> {
        let found = on_pool!(self, |pool| {
            sqlx::query(LEARNER)
                .bind(id)
                .fetch_optional(pool)
                .await?
                .as_ref()
                .map(learner)
                .transpose()?
        });
        Ok(found)
    }

    /// A workshop's learners in the order they joined.
    pub async fn learners(&self, workshop_id: &str) -> Result<Vec<LearnerRecord>, StoreError> {
        let learners = on_pool!(self, |pool| {
            let rows = sqlx::query(LEARNERS)
                .bind(workshop_id)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(learner)
                .collect::<Result<Vec<_>, sqlx::Error>>()?
        });
        Ok(learners)
    }

    /// Removes a learner with their progress, answers, step starts, reports, notices and the
    /// record of what kubelab created for them (their place in the workshop becomes free);
    /// false if there was no such learner.
    pub async fn remove_learner(&self, id: &str) -> Result<bool, StoreError> {
        let removed = on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            let mut removed = 0;
            for statement in REMOVE_LEARNER {
                removed = sqlx::query(statement)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
            }
            tx.commit().await?;
            removed
        });
        Ok(removed > 0)
    }

    /// The hashed instructor credential, if one was set.
    pub async fn instructor_hash(&self) -> Result<Option<String>, StoreError> {
        let hash = on_pool!(self, |pool| {
            sqlx::query_scalar(SETTING)
                .bind(INSTRUCTOR_HASH_KEY)
                .fetch_optional(pool)
                .await?
        });
        Ok(hash)
    }

    /// The key that signs cookies: `proposed` (hex) the first time, the stored one afterwards —
    /// so signed cookies survive restarts and are valid on every replica.
    pub async fn cookie_key(&self, proposed: &str) -> Result<String, StoreError> {
        let key = on_pool!(self, |pool| {
            sqlx::query(ADD_SETTING)
                .bind(COOKIE_KEY_KEY)
                .bind(proposed)
                .execute(pool)
                .await?;
            sqlx::query_scalar::<_, String>(SETTING)
                .bind(COOKIE_KEY_KEY)
                .fetch_one(pool)
                .await?
        });
        Ok(key)
    }

    /// Sets (or replaces) the hashed instructor credential.
    pub async fn set_instructor_hash(&self, hash: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(SET_SETTING)
                .bind(INSTRUCTOR_HASH_KEY)
                .bind(hash)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}

/// A fresh random id: 16 hex digits.
fn new_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// A fresh random join code.
fn new_code() -> String {
    let mut rng = rand::rng();
    (0..CODE_LENGTH)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// A code as typed by a learner, in the stored form: upper case, without spaces or dashes.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// Reads a workshop row (either driver's) into a [`Workshop`].
fn workshop<R>(row: &R) -> Result<Workshop, sqlx::Error>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    let labs: String = row.try_get("labs")?;
    let capacity: i64 = row.try_get("capacity")?;
    Ok(Workshop {
        id: row.try_get("id")?,
        name: row.try_get("name")?,
        code: row.try_get("code")?,
        labs: serde_json::from_str(&labs).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        capacity: u32::try_from(capacity).map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        created_at: row.try_get("created_at")?,
        expires_at: row.try_get("expires_at")?,
        ended_at: row.try_get("ended_at")?,
    })
}

/// Reads a learner row (either driver's) into a [`LearnerRecord`].
fn learner<R>(row: &R) -> Result<LearnerRecord, sqlx::Error>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(LearnerRecord {
        id: row.try_get("id")?,
        workshop_id: row.try_get("workshop_id")?,
        display_name: row.try_get("display_name")?,
        namespace: row.try_get("namespace")?,
        created_at: row.try_get("created_at")?,
        last_seen_at: row.try_get("last_seen_at")?,
    })
}

/// `now` (RFC 3339) minus one minute, in the same format; `now` itself if it does not parse.
fn minute_before(now: &str) -> String {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    OffsetDateTime::parse(now, &Rfc3339)
        .ok()
        .and_then(|t| (t - time::Duration::minutes(1)).format(&Rfc3339).ok())
        .unwrap_or_else(|| now.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_workshop() -> NewWorkshop {
        NewWorkshop {
            name: "Friday".to_owned(),
            labs: vec!["pod".to_owned()],
            capacity: 2,
            created_at: "2024-05-01T09:00:00Z".to_owned(),
            expires_at: "2024-05-01T17:00:00Z".to_owned(),
        }
    }

    #[test]
    fn codes_use_only_unambiguous_characters() {
        for _ in 0..200 {
            let code = new_code();
            assert_eq!(code.len(), CODE_LENGTH);
            assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)), "{code}");
        }
        assert_eq!(normalize_code(" abc-d2f "), "ABCD2F");
    }

    #[tokio::test]
    async fn a_taken_code_is_drawn_again() {
        let store = Store::open(":memory:").await.unwrap();
        let first = store
            .create_workshop_with(&new_workshop(), || "AAAAAA".to_owned())
            .await
            .unwrap();
        let mut codes = ["AAAAAA", "AAAAAA", "BBBBBB"].into_iter();
        let second = store
            .create_workshop_with(&new_workshop(), || codes.next().unwrap().to_owned())
            .await
            .unwrap();
        assert_eq!(first.code, "AAAAAA");
        assert_eq!(second.code, "BBBBBB", "retried past the taken code");
        assert_eq!(store.workshops().await.unwrap().len(), 2);

        let err = store
            .create_workshop_with(&new_workshop(), || "BBBBBB".to_owned())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Query(_)), "{err}");
    }
}
