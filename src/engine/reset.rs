//! **Reset**: back to the true beginning of a lab. kubelab deletes only what it created (and
//! still finds unchanged in identity), never a namespace it did not create or one another lab's
//! progress uses; objects the learner made are listed and deleted only when they confirm. The
//! lab's progress, answers, step starts and reports are forgotten, and open pages are told.

use std::collections::BTreeSet;

use super::setup::uid;
use super::{Engine, EngineError, KeptObject, KeptReason, ObjectKey, ResetReport, StepState};
use crate::cluster::ClusterError;
use crate::labs::Lab;
use crate::store::CreatedObject;

impl Engine {
    /// **Reset**: see the module documentation. The learner's own objects are kept and
    /// listed (`kept`, reason `yours`).
    pub async fn reset(&self, lab_id: &str) -> Result<ResetReport, EngineError> {
        self.reset_with(lab_id, &[]).await
    }

    /// **Reset**, also deleting the learner's own objects in `also_delete` — objects this lab's
    /// manifests or checks name in its namespace, which the learner confirmed (anything else
    /// named there is ignored).
    pub async fn reset_with(
        &self,
        lab_id: &str,
        also_delete: &[ObjectKey],
    ) -> Result<ResetReport, EngineError> {
        let lab = self.lab(lab_id)?;
        let _turn = self.cluster_turn().await;
        let mut report = ResetReport {
            lab: lab.id.clone(),
            deleted: Vec::new(),
            kept: Vec::new(),
        };
        let created = self.inner.store.created(&self.learner.id).await?;
        let mut mine: Vec<&CreatedObject> = created.iter().filter(|c| c.lab == lab.id).collect();
        // Newest first (a Pod before the ConfigMap it reads), contents before their namespace.
        mine.sort_by_key(|c| (c.kind == "Namespace", std::cmp::Reverse(c.created_at)));
        for object in mine {
            if object.kind == "Namespace" && object.name == self.namespace_for(lab) {
                continue;
            }
            self.delete_created(object, &mut report).await?;
        }
        self.reset_namespace(lab, &created, &mut report).await?;
        let still_ours: BTreeSet<ObjectKey> = self
            .inner
            .store
            .created(&self.learner.id)
            .await?
            .iter()
            .map(key_of)
            .collect();
        for key in self.learner_objects(lab).await? {
            if still_ours.contains(&key) || report.deleted.contains(&key) {
                continue;
            }
            if self.inner.cluster.get(&key).await?.is_none() {
                continue;
            }
            if also_delete.contains(&key) {
                if self.inner.cluster.delete(&key).await? {
                    report.deleted.push(key);
                }
            } else {
                report.kept.push(KeptObject {
                    key,
                    why: KeptReason::Yours,
                    lab: None,
                });
            }
        }
        self.inner
            .store
            .clear_lab(&self.learner.id, &lab.id)
            .await?;
        self.forget_live(lab).await;
        Ok(report)
    }

    /// Deletes an object kubelab created, if it is still the one it created.
    async fn delete_created(
        &self,
        object: &CreatedObject,
        report: &mut ResetReport,
    ) -> Result<(), EngineError> {
        let key = key_of(object);
        let current = self.inner.cluster.get(&key).await?;
        if let Some(current) = &current
            && uid(current) == Some(object.uid.as_str())
            && self.inner.cluster.delete(&key).await?
        {
            report.deleted.push(key.clone());
        }
        // Gone, deleted, or replaced by someone else's object of the same name: not ours now.
        self.inner
            .store
            .forget_created(
                &self.learner.id,
                &key.api_version,
                &key.kind,
                key.namespace.as_deref(),
                &key.name,
            )
            .await?;
        Ok(())
    }

    /// The lab's namespace goes only when kubelab created it and no other lab's progress or
    /// objects use it; a workshop learner's namespace always stays.
    async fn reset_namespace(
        &self,
        lab: &Lab,
        created: &[CreatedObject],
        report: &mut ResetReport,
    ) -> Result<(), EngineError> {
        let key = ObjectKey {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: self.namespace_for(lab).to_owned(),
        };
        let has_namespace_manifest = lab
            .steps
            .iter()
            .flat_map(|s| &s.manifests)
            .any(|m| m.kind == "Namespace" && m.name == lab.namespace);
        if self.learner.namespace.is_some() {
            if has_namespace_manifest {
                report.kept.push(KeptObject {
                    key,
                    why: KeptReason::LearnerNamespace,
                    lab: None,
                });
            }
            return Ok(());
        }
        let record = created
            .iter()
            .find(|c| c.kind == "Namespace" && c.name == key.name);
        let Some(record) = record else {
            if has_namespace_manifest && self.inner.cluster.get(&key).await?.is_some() {
                report.kept.push(KeptObject {
                    key,
                    why: KeptReason::NotCreatedByKubelab,
                    lab: None,
                });
            }
            return Ok(());
        };
        if let Some(user) = self.other_lab_using(lab, created).await? {
            report.kept.push(KeptObject {
                key,
                why: KeptReason::UsedByLab,
                lab: Some(user),
            });
            return Ok(());
        }
        self.delete_created(record, report).await
    }

    /// Another lab in the same namespace that this learner has started or set up, if any.
    async fn other_lab_using(
        &self,
        lab: &Lab,
        created: &[CreatedObject],
    ) -> Result<Option<String>, EngineError> {
        let progress = self.all_progress().await?;
        Ok(self
            .catalog()
            .labs
            .iter()
            .filter(|other| other.id != lab.id && other.namespace == lab.namespace)
            .find(|other| {
                let started = progress
                    .get(&other.id)
                    .is_some_and(|p| p.steps.iter().any(|s| s.state != StepState::NotStarted));
                started
                    || created
                        .iter()
                        .any(|c| c.lab == other.id && c.kind != "Namespace")
            })
            .map(|other| other.id.clone()))
    }

    /// The namespaced objects this lab's manifests and checks name in its namespace: what a
    /// learner may have made for it (deleted by Reset only when they confirm).
    async fn learner_objects(&self, lab: &Lab) -> Result<Vec<ObjectKey>, EngineError> {
        let mut named: Vec<(String, String, Option<String>, String)> = Vec::new();
        for step in &lab.steps {
            for m in &step.manifests {
                named.push((
                    m.api_version.clone(),
                    m.kind.clone(),
                    m.namespace.clone(),
                    m.name.clone(),
                ));
            }
            for find in step.checks.iter().filter_map(|c| c.find.as_ref()) {
                if let Some(name) = &find.name {
                    named.push((
                        find.api_version.clone(),
                        find.kind.clone(),
                        find.namespace.clone(),
                        name.clone(),
                    ));
                }
            }
        }
        let mut keys = Vec::new();
        for (api_version, kind, namespace, name) in named {
            let namespaced = match self.inner.cluster.is_namespaced(&api_version, &kind).await {
                Ok(n) => n,
                Err(ClusterError::UnknownKind { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            let in_lab_namespace = namespace.as_deref().is_none_or(|ns| ns == lab.namespace);
            if !namespaced || !in_lab_namespace {
                continue;
            }
            let key = ObjectKey {
                api_version,
                kind,
                namespace: Some(self.namespace_for(lab).to_owned()),
                name,
            };
            if !keys.contains(&key) {
                keys.push(key);
            }
        }
        Ok(keys)
    }
}

fn key_of(object: &CreatedObject) -> ObjectKey {
    ObjectKey {
        api_version: object.api_version.clone(),
        kind: object.kind.clone(),
        namespace: object.namespace.clone(),
        name: object.name.clone(),
    }
}
