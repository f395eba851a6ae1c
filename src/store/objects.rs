//! What kubelab created on a learner's behalf (so Reset deletes exactly that and nothing the
//! learner made), and one-shot notices shown on the page a form redirects to.

use serde::Serialize;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Backend, Store, StoreError, parse_time, time_text};

/// An object kubelab created (the API server answered 201 to its apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreatedObject {
    /// The lab whose Set up created it.
    pub lab: String,
    pub api_version: String,
    pub kind: String,
    /// Namespace (`None` for cluster-scoped kinds).
    pub namespace: Option<String>,
    pub name: String,
    /// The object's uid at creation: an object of the same name with another uid was made by
    /// someone else after kubelab's was deleted.
    pub uid: String,
    /// When it was created.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

const REMEMBER: &str = "INSERT INTO created_objects
       (learner, lab, api_version, kind, namespace, name, uid, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
     ON CONFLICT (learner, api_version, kind, namespace, name) DO UPDATE SET
       lab = excluded.lab, uid = excluded.uid, created_at = excluded.created_at";

const CREATED: &str = "SELECT lab, api_version, kind, namespace, name, uid, created_at
     FROM created_objects WHERE learner = $1";

const FORGET: &str = "DELETE FROM created_objects
     WHERE learner = $1 AND api_version = $2 AND kind = $3 AND namespace = $4 AND name = $5";

const PUT_FLASH: &str = "INSERT INTO flash (learner, lab, body, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (learner, lab) DO UPDATE SET body = excluded.body, created_at = excluded.created_at";

const TAKE_FLASH: &str =
    "DELETE FROM flash WHERE learner = $1 AND lab = $2 RETURNING body, created_at";

/// How long a notice waits for the page it was meant for.
const FLASH_LIFETIME: time::Duration = time::Duration::minutes(2);

impl Store {
    /// Remembers that kubelab created `object` for `learner` in `lab`.
    pub async fn remember_created(
        &self,
        learner: &str,
        object: &CreatedObject,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(REMEMBER)
                .bind(learner)
                .bind(&object.lab)
                .bind(&object.api_version)
                .bind(&object.kind)
                .bind(object.namespace.as_deref().unwrap_or(""))
                .bind(&object.name)
                .bind(&object.uid)
                .bind(time_text(object.created_at))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Everything kubelab created for `learner` that it has not deleted yet.
    pub async fn created(&self, learner: &str) -> Result<Vec<CreatedObject>, StoreError> {
        let objects = on_pool!(self, |pool| {
            let rows = sqlx::query(CREATED).bind(learner).fetch_all(pool).await?;
            rows.iter()
                .map(|r| {
                    let namespace: String = r.try_get("namespace")?;
                    let created_at: String = r.try_get("created_at")?;
                    Ok(CreatedObject {
                        lab: r.try_get("lab")?,
                        api_version: r.try_get("api_version")?,
                        kind: r.try_get("kind")?,
                        namespace: Some(namespace).filter(|ns| !ns.is_empty()),
                        name: r.try_get("name")?,
                        uid: r.try_get("uid")?,
                        created_at: parse_time(&created_at).unwrap_or(OffsetDateTime::UNIX_EPOCH),
                    })
                })
                .collect::<Result<Vec<CreatedObject>, sqlx::Error>>()?
        });
        Ok(objects)
    }

    /// Forgets a created object (deleted, or found replaced by someone else's).
    pub async fn forget_created(
        &self,
        learner: &str,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(FORGET)
                .bind(learner)
                .bind(api_version)
                .bind(kind)
                .bind(namespace.unwrap_or(""))
                .bind(name)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Leaves a notice (JSON) for the learner's next view of `lab`, replacing an older one.
    pub async fn put_flash(
        &self,
        learner: &str,
        lab: &str,
        body: &str,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(PUT_FLASH)
                .bind(learner)
                .bind(lab)
                .bind(body)
                .bind(time_text(now))
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Takes the notice left for `lab` (it is shown once), unless it is older than two minutes.
    pub async fn take_flash(
        &self,
        learner: &str,
        lab: &str,
        now: OffsetDateTime,
    ) -> Result<Option<String>, StoreError> {
        let row: Option<(String, String)> = on_pool!(self, |pool| {
            sqlx::query(TAKE_FLASH)
                .bind(learner)
                .bind(lab)
                .fetch_optional(pool)
                .await?
                .map(|r| Ok::<_, sqlx::Error>((r.try_get("body")?, r.try_get("created_at")?)))
                .transpose()?
        });
        Ok(row.and_then(|(body, at)| {
            parse_time(&at)
                .filter(|at| now - *at <= FLASH_LIFETIME)
                .map(|_| body)
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test]
    async fn created_objects_are_remembered_per_learner_and_forgotten() {
        let store = Store::open(":memory:").await.unwrap();
        let at = datetime!(2026-01-01 10:00:00 UTC);
        let namespace = CreatedObject {
            lab: "configmap".into(),
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "fly-k8s".into(),
            uid: "u1".into(),
            created_at: at,
        };
        let map = CreatedObject {
            kind: "ConfigMap".into(),
            namespace: Some("fly-k8s".into()),
            name: "base-map".into(),
            uid: "u2".into(),
            ..namespace.clone()
        };
        store.remember_created("local", &namespace).await.unwrap();
        store.remember_created("local", &map).await.unwrap();
        store.remember_created("other", &map).await.unwrap();
        let mut created = store.created("local").await.unwrap();
        created.sort_by(|a, b| a.kind.cmp(&b.kind));
        assert_eq!(created, vec![map.clone(), namespace.clone()]);
        store
            .forget_created("local", "v1", "ConfigMap", Some("fly-k8s"), "base-map")
            .await
            .unwrap();
        assert_eq!(store.created("local").await.unwrap(), vec![namespace]);
        assert_eq!(store.created("other").await.unwrap(), vec![map]);
    }

    #[tokio::test]
    async fn a_notice_is_shown_once_and_not_when_stale() {
        let store = Store::open(":memory:").await.unwrap();
        let at = datetime!(2026-01-01 10:00:00 UTC);
        store
            .put_flash("local", "lab", "{\"a\":1}", at)
            .await
            .unwrap();
        assert_eq!(
            store
                .take_flash("local", "lab", at)
                .await
                .unwrap()
                .as_deref(),
            Some("{\"a\":1}")
        );
        assert_eq!(store.take_flash("local", "lab", at).await.unwrap(), None);
        store.put_flash("local", "lab", "old", at).await.unwrap();
        let later = at + time::Duration::minutes(5);
        assert_eq!(store.take_flash("local", "lab", later).await.unwrap(), None);
    }
}
