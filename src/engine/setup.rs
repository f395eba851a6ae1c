//! **Set up**: a step's manifests applied with server-side apply. What is missing is created
//! (and remembered, so Reset deletes exactly that); kubelab's own objects are brought back to the
//! lab's version; what the learner made is never labelled, adopted or changed — when it differs
//! from the lab's version it is reported as in the way, and **Replace** (which the learner
//! confirms) deletes it and creates the lab's.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::{
    AppliedObject, Engine, EngineError, FailureCause, LEARNER_LABEL, ObjectKey, Obstacle,
    ObstacleKind, SetupAction, SetupFailure, SetupReport, labelled, now,
};
use crate::cluster::ClusterError;
use crate::labs::{Lab, Manifest, workshop};
use crate::store::CreatedObject;

/// How long Set up waits for a namespace that is still being deleted (after a Reset).
const TERMINATING_WAIT: Duration = Duration::from_secs(30);
/// How long Replace waits for the learner's object to be gone before creating the lab's.
const REPLACE_WAIT: Duration = Duration::from_secs(45);
/// The grace period Replace gives the learner's Pods (they confirmed the deletion).
const REPLACE_GRACE_SECONDS: u32 = 1;
/// At most this many differing fields are named per object.
const MAX_FIELDS: usize = 6;

/// What Set up did, or could not do, with one manifest.
enum Outcome {
    Done(AppliedObject),
    InTheWay(Obstacle),
    Refused(FailureCause, String),
}

impl Engine {
    /// **Set up**: applies the step's manifests (see the module documentation). Pressing it
    /// starts the step and counts as the learner's work on it once everything is in place.
    pub async fn setup(&self, lab_id: &str, step_id: &str) -> Result<SetupReport, EngineError> {
        self.setup_replacing(lab_id, step_id, &[]).await
    }

    /// **Set up**, first deleting the objects in `replace` — objects of this step's manifests
    /// that were reported in the way — and creating the lab's in their place (the learner
    /// confirmed; other objects named there are ignored).
    pub async fn setup_replacing(
        &self,
        lab_id: &str,
        step_id: &str,
        replace: &[ObjectKey],
    ) -> Result<SetupReport, EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        if step.manifests.is_empty() {
            return Err(EngineError::NothingToSetUp {
                lab: lab.id.clone(),
                step: step.id.clone(),
            });
        }
        let _turn = self.cluster_turn().await;
        let store = &self.inner.store;
        store
            .start_step(&self.learner.id, &lab.id, &step.id, now())
            .await?;
        let created: BTreeMap<ObjectKey, CreatedObject> = store
            .created(&self.learner.id)
            .await?
            .into_iter()
            .map(|c| (created_key(&c), c))
            .collect();
        let mut report = SetupReport {
            lab: lab.id.clone(),
            step: step.id.clone(),
            applied: Vec::new(),
            in_the_way: Vec::new(),
            error: None,
        };
        for manifest in &step.manifests {
            let outcome = match self.set_up_one(lab, manifest, &created, replace).await {
                Ok(outcome) => outcome,
                Err(ClusterError::Unavailable { message }) => {
                    self.set_health(super::Health::Unreachable {
                        message: message.clone(),
                    });
                    return Err(EngineError::ClusterUnavailable(message));
                }
                Err(e) => Outcome::Refused(FailureCause::ApiServer, e.to_string()),
            };
            match outcome {
                Outcome::Done(applied) => report.applied.push(applied),
                Outcome::InTheWay(obstacle) => {
                    report.in_the_way.push(obstacle);
                    break;
                }
                Outcome::Refused(cause, message) => {
                    tracing::info!(lab = %lab.id, step = %step.id, ?cause, %message, "set-up refused");
                    report.error = Some(SetupFailure {
                        object: manifest_label(manifest),
                        file: manifest.file.clone(),
                        cause,
                        message,
                    });
                    break;
                }
            }
        }
        self.set_reachable_if_unknown();
        if report.is_complete() {
            store
                .note_evidence(&self.learner.id, &lab.id, &step.id, now())
                .await?;
        }
        self.step_started(&lab.id, &step.id);
        Ok(report)
    }

    /// Sets up one of the step's objects: creates it, replaces it (when the learner chose to),
    /// applies it over kubelab's own copy, or says what of the learner's is in the way.
    async fn set_up_one(
        &self,
        lab: &Lab,
        manifest: &Manifest,
        created: &BTreeMap<ObjectKey, CreatedObject>,
        replace: &[ObjectKey],
    ) -> Result<Outcome, ClusterError> {
        let mut plain = manifest.object.clone();
        let key = match self.target_key(lab, manifest, &mut plain).await? {
            Target::Key(key) => key,
            Target::LearnerNamespace(key) => {
                return Ok(Outcome::Done(AppliedObject {
                    key,
                    action: SetupAction::Yours,
                }));
            }
            Target::Refused(why) => return Ok(Outcome::Refused(FailureCause::Kubelab, why)),
        };
        let cluster = &self.inner.cluster;
        let mut existing = cluster.get(&key).await?;
        if existing.as_ref().is_some_and(terminating) {
            existing = self.wait_gone(&key).await?;
            if existing.is_some() {
                return Ok(Outcome::Refused(
                    FailureCause::Busy,
                    format!(
                        "{key} is still being deleted; wait a few seconds and press Set up again"
                    ),
                ));
            }
        }
        let Some(existing) = existing else {
            return self.create(lab, &key, &plain, SetupAction::Created).await;
        };
        let ours = created
            .get(&key)
            .is_some_and(|c| Some(c.uid.as_str()) == uid(&existing));
        if replace.contains(&key) {
            return self.replace(lab, &key, &plain).await;
        }
        if ours {
            let object = self.labelled_for_learner(&plain, lab);
            let applied = cluster.apply(&object, self.namespace_for(lab)).await?;
            let foreign = foreign_items(&plain, &applied.object);
            if !foreign.is_empty() {
                return Ok(Outcome::InTheWay(Obstacle {
                    key,
                    why: ObstacleKind::Merged,
                    fields: foreign,
                    message: None,
                }));
            }
            return Ok(Outcome::Done(AppliedObject {
                key,
                action: applied.action.into(),
            }));
        }
        if key.kind == "Namespace" {
            // The learner's own namespace serves as it is, without kubelab's labels.
            return Ok(Outcome::Done(AppliedObject {
                key,
                action: SetupAction::Yours,
            }));
        }
        self.check_learners_object(lab, key, &existing, &plain)
            .await
    }

    /// Deletes the object for a fresh copy (the learner chose to replace it) and creates the
    /// lab's.
    async fn replace(
        &self,
        lab: &Lab,
        key: &ObjectKey,
        plain: &Value,
    ) -> Result<Outcome, ClusterError> {
        if !self
            .inner
            .cluster
            .delete_and_wait(key, REPLACE_GRACE_SECONDS, REPLACE_WAIT)
            .await?
        {
            return Ok(Outcome::Refused(
                FailureCause::Busy,
                format!("{key} is still being deleted; wait a few seconds and press Set up again"),
            ));
        }
        self.inner
            .store
            .forget_created(
                &self.learner.id,
                &key.api_version,
                &key.kind,
                key.namespace.as_deref(),
                &key.name,
            )
            .await
            .map_err(store_failed)?;
        self.create(lab, key, plain, SetupAction::Replaced).await
    }

    /// The learner's own `existing` object where the lab has one: kept as it is when applying
    /// the lab's would change nothing (a server-side dry run), otherwise in the way.
    async fn check_learners_object(
        &self,
        lab: &Lab,
        key: ObjectKey,
        existing: &Value,
        plain: &Value,
    ) -> Result<Outcome, ClusterError> {
        match self
            .inner
            .cluster
            .apply_dry_run(plain, self.namespace_for(lab))
            .await
        {
            Ok(would) => {
                let fields = differences(existing, &would.object);
                if fields.is_empty() {
                    Ok(Outcome::Done(AppliedObject {
                        key,
                        action: SetupAction::Yours,
                    }))
                } else {
                    Ok(Outcome::InTheWay(Obstacle {
                        key,
                        why: ObstacleKind::Yours,
                        fields,
                        message: None,
                    }))
                }
            }
            Err(e) if e.code() == Some(422) => Ok(Outcome::InTheWay(Obstacle {
                key,
                why: ObstacleKind::Immutable,
                fields: Vec::new(),
                message: Some(e.to_string()),
            })),
            Err(e) => Err(e),
        }
    }

    /// Creates the lab's object (labelled as the lab's) and remembers that kubelab made it.
    async fn create(
        &self,
        lab: &Lab,
        key: &ObjectKey,
        plain: &Value,
        action: SetupAction,
    ) -> Result<Outcome, ClusterError> {
        let object = self.labelled_for_learner(plain, lab);
        let applied = self
            .inner
            .cluster
            .apply(&object, self.namespace_for(lab))
            .await?;
        if applied.action == crate::cluster::ApplyAction::Created
            && let Some(uid) = uid(&applied.object)
        {
            let record = CreatedObject {
                lab: lab.id.clone(),
                api_version: key.api_version.clone(),
                kind: key.kind.clone(),
                namespace: key.namespace.clone(),
                name: key.name.clone(),
                uid: uid.to_owned(),
                created_at: now(),
            };
            self.inner
                .store
                .remember_created(&self.learner.id, &record)
                .await
                .map_err(store_failed)?;
            return Ok(Outcome::Done(AppliedObject {
                key: key.clone(),
                action,
            }));
        }
        // Someone made it between kubelab's look and its apply: report it as theirs.
        Ok(Outcome::Done(AppliedObject {
            key: key.clone(),
            action: applied.action.into(),
        }))
    }

    /// The lab's and managed-by labels, plus in a workshop the learner's.
    fn labelled_for_learner(&self, plain: &Value, lab: &Lab) -> Value {
        let mut object = labelled(plain, &lab.id);
        if self.learner.namespace.is_some()
            && let Some(labels) = object
                .pointer_mut("/metadata/labels")
                .and_then(Value::as_object_mut)
        {
            labels.insert(LEARNER_LABEL.into(), Value::String(self.learner.id.clone()));
        }
        object
    }

    /// Waits (bounded) for an object being deleted to be gone; returns it if it is still there.
    async fn wait_gone(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let deadline = tokio::time::Instant::now() + TERMINATING_WAIT;
        loop {
            let current = self.inner.cluster.get(key).await?;
            if current.is_none() || tokio::time::Instant::now() >= deadline {
                return Ok(current);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Where a manifest's object goes for this learner: its key (namespace filled in), and in a
    /// workshop the rewrite into the learner's namespace — or why it cannot go there.
    async fn target_key(
        &self,
        lab: &Lab,
        manifest: &Manifest,
        object: &mut Value,
    ) -> Result<Target, ClusterError> {
        let namespaced = self
            .inner
            .cluster
            .is_namespaced(&manifest.api_version, &manifest.kind)
            .await?;
        let mut key = ObjectKey {
            api_version: manifest.api_version.clone(),
            kind: manifest.kind.clone(),
            namespace: None,
            name: manifest.name.clone(),
        };
        let Some(learner_namespace) = &self.learner.namespace else {
            key.namespace = namespaced.then(|| {
                manifest
                    .namespace
                    .clone()
                    .unwrap_or_else(|| lab.namespace.clone())
            });
            return Ok(Target::Key(key));
        };
        let refused = |why: &str| {
            Target::Refused(format!(
                "kubelab refused to set up {} {} because {why}",
                manifest.kind, manifest.name
            ))
        };
        if let Some(hazard) = workshop::hazards(&manifest.object, &lab.namespace).first() {
            return Ok(refused(&hazard.why));
        }
        if !namespaced {
            if manifest.kind == "Namespace" && manifest.name == lab.namespace {
                key.name.clone_from(learner_namespace);
                return Ok(Target::LearnerNamespace(key));
            }
            return Ok(refused(&format!(
                "it is a cluster-wide kind: in a workshop you can only create objects in your \
                 namespace {learner_namespace}"
            )));
        }
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(learner_namespace.clone()));
        }
        key.namespace = Some(learner_namespace.clone());
        Ok(Target::Key(key))
    }
}

/// Where a manifest goes (see [`Engine::target_key`]).
enum Target {
    Key(ObjectKey),
    /// The lab's Namespace, which in a workshop is the learner's own (already there).
    LearnerNamespace(ObjectKey),
    Refused(String),
}

fn created_key(c: &CreatedObject) -> ObjectKey {
    ObjectKey {
        api_version: c.api_version.clone(),
        kind: c.kind.clone(),
        namespace: c.namespace.clone(),
        name: c.name.clone(),
    }
}

fn manifest_label(manifest: &Manifest) -> String {
    match &manifest.namespace {
        Some(ns) => format!("{} {ns}/{}", manifest.kind, manifest.name),
        None => format!("{} {}", manifest.kind, manifest.name),
    }
}

fn store_failed(e: crate::store::StoreError) -> ClusterError {
    ClusterError::InvalidObject(format!("kubelab could not remember the object: {e}"))
}

pub(super) fn uid(object: &Value) -> Option<&str> {
    object.pointer("/metadata/uid").and_then(Value::as_str)
}

pub(super) fn terminating(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// Lists whose items server-side apply merges by key, with the key: items someone else added
/// there stay after kubelab's apply.
const MERGED_LISTS: &[(&str, &str)] = &[
    ("containers", "name"),
    ("initContainers", "name"),
    ("volumes", "name"),
    ("env", "name"),
    ("volumeMounts", "mountPath"),
    ("imagePullSecrets", "name"),
];

/// Items in merged lists of `applied` that the lab's `manifest` does not have — someone else's
/// additions that server-side apply keeps (`spec.template.spec.containers[name=busybox]`).
/// The API server's own additions (the `kube-api-access-…` token volume) do not count.
pub(super) fn foreign_items(manifest: &Value, applied: &Value) -> Vec<String> {
    let mut found = Vec::new();
    walk_foreign(manifest, applied, "", &mut found);
    found.truncate(MAX_FIELDS);
    found
}

fn walk_foreign(manifest: &Value, applied: &Value, path: &str, found: &mut Vec<String>) {
    let (Some(ours), Some(theirs)) = (manifest.as_object(), applied.as_object()) else {
        return;
    };
    for (field, value) in ours {
        let here = if path.is_empty() {
            field.clone()
        } else {
            format!("{path}.{field}")
        };
        let Some(other) = theirs.get(field) else {
            continue;
        };
        if let Some((_, key)) = MERGED_LISTS.iter().find(|(list, _)| list == field)
            && let (Some(mine), Some(all)) = (value.as_array(), other.as_array())
        {
            let names: Vec<&Value> = mine.iter().filter_map(|i| i.get(*key)).collect();
            for item in all {
                let Some(name) = item.get(*key) else { continue };
                let text = name.as_str().unwrap_or_default();
                let injected =
                    text.starts_with("kube-api-access-") || text.starts_with("/var/run/secrets/");
                if !names.contains(&name) && !injected {
                    found.push(format!("{here}[{key}={text}]"));
                }
            }
            for item in mine {
                if let Some(twin) = item
                    .get(*key)
                    .and_then(|n| all.iter().find(|i| i.get(*key) == Some(n)))
                {
                    let at = format!("{here}[{key}={}]", item[*key].as_str().unwrap_or_default());
                    walk_foreign(item, twin, &at, found);
                }
            }
            continue;
        }
        walk_foreign(value, other, &here, found);
    }
}

/// Where applying the lab's version would change the learner's object (`existing` against the
/// server's dry run `would`), ignoring what the server keeps for itself.
pub(super) fn differences(existing: &Value, would: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for field in [
        "metadata",
        "spec",
        "data",
        "stringData",
        "binaryData",
        "type",
    ] {
        let (a, b) = (existing.get(field), would.get(field));
        if field == "metadata" {
            for meta in ["labels", "annotations"] {
                let (a, b) = (a.and_then(|m| m.get(meta)), b.and_then(|m| m.get(meta)));
                diff(a, b, &format!("metadata.{meta}"), &mut found);
            }
        } else {
            diff(a, b, field, &mut found);
        }
    }
    found.truncate(MAX_FIELDS);
    found
}

fn diff(a: Option<&Value>, b: Option<&Value>, path: &str, found: &mut Vec<String>) {
    match (a, b) {
        (Some(Value::Object(x)), Some(Value::Object(y))) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                diff(x.get(k), y.get(k), &format!("{path}.{k}"), found);
            }
        }
        (Some(Value::Array(x)), Some(Value::Array(y))) if x.len() == y.len() => {
            for (i, (p, q)) in x.iter().zip(y).enumerate() {
                let at = match p.get("name").and_then(Value::as_str) {
                    Some(name) => format!("{path}[name={name}]"),
                    None => format!("{path}[{i}]"),
                };
                diff(Some(p), Some(q), &at, found);
            }
        }
        (a, b) if a != b => found.push(path.to_owned()),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn someone_elses_containers_are_found_after_a_merge() {
        let manifest = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "cpu-burner", "image": "busybox:1.36", "env": [{"name": "A", "value": "1"}]}
        ]}}}});
        let applied = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "busybox", "image": "busybox:1.36"},
            {"name": "cpu-burner", "image": "busybox:1.36", "env": [{"name": "A", "value": "1"}, {"name": "B"}],
             "volumeMounts": [{"mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]}
        ], "volumes": [{"name": "kube-api-access-x7k2p"}]}}}});
        assert_eq!(
            foreign_items(&manifest, &applied),
            vec![
                "spec.template.spec.containers[name=busybox]",
                "spec.template.spec.containers[name=cpu-burner].env[name=B]",
            ]
        );
        assert!(foreign_items(&manifest, &manifest).is_empty());
    }

    #[test]
    fn differences_name_the_fields_a_set_up_would_change() {
        let existing = json!({"metadata": {"name": "m", "resourceVersion": "1", "labels": {"a": "1"}},
            "data": {"fly-name": "me"}, "status": {"x": 1}});
        let would = json!({"metadata": {"name": "m", "resourceVersion": "2", "labels": {"a": "1"}},
            "data": {"fly-name": "kubelab", "lives": "5"}, "status": {"x": 2}});
        assert_eq!(
            differences(&existing, &would),
            vec!["data.fly-name", "data.lives"]
        );
        assert!(differences(&existing, &existing).is_empty());
        let two = json!({"spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let one = json!({"spec": {"containers": [{"name": "a"}]}});
        assert_eq!(differences(&one, &two), vec!["spec.containers"]);
    }
}
