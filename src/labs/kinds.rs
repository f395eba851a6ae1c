//! The kinds a lab may name: Kubernetes' own (1.25 to 1.31, as `kubectl api-resources` lists
//! them), metrics-server's, and the lab's own CustomResourceDefinitions. A `find` or manifest
//! naming anything else (`kind: Endpoint`, `apiVersion: discovery/v1`) is an author's slip
//! caught when the labs load, not at run time in front of a learner.

use std::collections::BTreeSet;

use super::model::Manifest;
use crate::checks::matching::edit_distance;

/// Built-in API versions and their kinds.
const BUILT_IN: &[(&str, &[&str])] = &[
    (
        "v1",
        &[
            "Binding",
            "ComponentStatus",
            "ConfigMap",
            "Endpoints",
            "Event",
            "LimitRange",
            "Namespace",
            "Node",
            "PersistentVolume",
            "PersistentVolumeClaim",
            "Pod",
            "PodTemplate",
            "ReplicationController",
            "ResourceQuota",
            "Secret",
            "Service",
            "ServiceAccount",
        ],
    ),
    (
        "admissionregistration.k8s.io/v1",
        &[
            "MutatingWebhookConfiguration",
            "ValidatingWebhookConfiguration",
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ],
    ),
    (
        "admissionregistration.k8s.io/v1beta1",
        &[
            "ValidatingAdmissionPolicy",
            "ValidatingAdmissionPolicyBinding",
        ],
    ),
    ("apiextensions.k8s.io/v1", &["CustomResourceDefinition"]),
    ("apiregistration.k8s.io/v1", &["APIService"]),
    (
        "apps/v1",
        &[
            "ControllerRevision",
            "DaemonSet",
            "Deployment",
            "ReplicaSet",
            "StatefulSet",
        ],
    ),
    (
        "authentication.k8s.io/v1",
        &["SelfSubjectReview", "TokenReview"],
    ),
    (
        "authorization.k8s.io/v1",
        &[
            "LocalSubjectAccessReview",
            "SelfSubjectAccessReview",
            "SelfSubjectRulesReview",
            "SubjectAccessReview",
        ],
    ),
    ("autoscaling/v1", &["HorizontalPodAutoscaler"]),
    ("autoscaling/v2", &["HorizontalPodAutoscaler"]),
    ("batch/v1", &["CronJob", "Job"]),
    ("certificates.k8s.io/v1", &["CertificateSigningRequest"]),
    ("coordination.k8s.io/v1", &["Lease"]),
    ("discovery.k8s.io/v1", &["EndpointSlice"]),
    ("events.k8s.io/v1", &["Event"]),
    (
        "flowcontrol.apiserver.k8s.io/v1",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    (
        "flowcontrol.apiserver.k8s.io/v1beta3",
        &["FlowSchema", "PriorityLevelConfiguration"],
    ),
    (
        "networking.k8s.io/v1",
        &["Ingress", "IngressClass", "NetworkPolicy"],
    ),
    ("node.k8s.io/v1", &["RuntimeClass"]),
    ("policy/v1", &["PodDisruptionBudget"]),
    (
        "rbac.authorization.k8s.io/v1",
        &["ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"],
    ),
    ("scheduling.k8s.io/v1", &["PriorityClass"]),
    (
        "storage.k8s.io/v1",
        &[
            "CSIDriver",
            "CSINode",
            "CSIStorageCapacity",
            "StorageClass",
            "VolumeAttachment",
        ],
    ),
    ("metrics.k8s.io/v1beta1", &["NodeMetrics", "PodMetrics"]),
];

/// The kinds a lab may name: the built-in ones and its CustomResourceDefinitions'.
#[derive(Debug, Clone, Default)]
pub struct Kinds {
    known: BTreeSet<(String, String)>,
}

impl Kinds {
    /// The built-in kinds plus those the `manifests`' CustomResourceDefinitions define.
    pub fn of_lab<'m>(manifests: impl IntoIterator<Item = &'m Manifest>) -> Kinds {
        let mut known: BTreeSet<(String, String)> = BUILT_IN
            .iter()
            .flat_map(|(version, kinds)| {
                kinds
                    .iter()
                    .map(|k| ((*version).to_owned(), (*k).to_owned()))
            })
            .collect();
        for crd in manifests
            .into_iter()
            .filter(|m| m.kind == "CustomResourceDefinition")
        {
            let spec = &crd.object["spec"];
            let (Some(group), Some(kind)) = (
                spec["group"].as_str(),
                spec.pointer("/names/kind").and_then(|k| k.as_str()),
            ) else {
                continue;
            };
            for version in spec["versions"].as_array().into_iter().flatten() {
                if let Some(name) = version["name"].as_str() {
                    known.insert((format!("{group}/{name}"), kind.to_owned()));
                }
            }
        }
        Kinds { known }
    }

    /// Why `kind` in `api_version` is no kind the cluster serves, with what was probably meant;
    /// None when it is one.
    pub fn problem(&self, api_version: &str, kind: &str) -> Option<String> {
        if api_version.trim().is_empty() || kind.trim().is_empty() {
            return None;
        }
        if self
            .known
            .contains(&(api_version.to_owned(), kind.to_owned()))
        {
            return None;
        }
        let versions_of = |k: &str| -> Vec<&str> {
            self.known
                .iter()
                .filter(|(_, known)| known == k)
                .map(|(v, _)| v.as_str())
                .collect()
        };
        let version_known = self.known.iter().any(|(v, _)| v == api_version);
        if version_known {
            let in_version: Vec<&str> = self
                .known
                .iter()
                .filter(|(v, _)| v == api_version)
                .map(|(_, k)| k.as_str())
                .collect();
            let hint = closest(kind, in_version.iter().copied())
                .map(|k| format!("; did you mean `{k}`?"))
                .or_else(|| elsewhere(kind, &versions_of(kind)))
                .unwrap_or_default();
            return Some(format!("`{api_version}` has no kind `{kind}`{hint}"));
        }
        let hint = elsewhere(kind, &versions_of(kind)).unwrap_or_else(|| {
            "; a custom resource needs its CustomResourceDefinition among the lab's manifests"
                .to_owned()
        });
        Some(format!(
            "`{api_version}` is no API version Kubernetes serves{hint}"
        ))
    }

    /// Why `kind` (without a version, as `answer.apiGroupOf` names it) is no kind the cluster
    /// serves; None when it is one.
    pub fn kind_problem(&self, kind: &str) -> Option<String> {
        if kind.trim().is_empty() || self.known.iter().any(|(_, k)| k == kind) {
            return None;
        }
        let hint = closest(kind, self.known.iter().map(|(_, k)| k.as_str()))
            .map(|k| format!("; did you mean `{k}`?"))
            .unwrap_or_default();
        Some(format!("there is no kind `{kind}`{hint}"))
    }
}

// "; `EndpointSlice` is in `discovery.k8s.io/v1`".
fn elsewhere(kind: &str, versions: &[&str]) -> Option<String> {
    let list = versions
        .iter()
        .map(|v| format!("`{v}`"))
        .collect::<Vec<_>>();
    (!list.is_empty()).then(|| format!("; `{kind}` is in {}", list.join(" and ")))
}

fn closest<'k>(wanted: &str, candidates: impl Iterator<Item = &'k str>) -> Option<&'k str> {
    let wanted = wanted.to_lowercase();
    candidates
        .map(|c| (edit_distance(&wanted, &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn built_in_kinds_pass_and_slips_are_named() {
        let kinds = Kinds::of_lab([]);
        assert_eq!(kinds.problem("discovery.k8s.io/v1", "EndpointSlice"), None);
        assert_eq!(kinds.problem("metrics.k8s.io/v1beta1", "PodMetrics"), None);
        assert_eq!(
            kinds.problem("v1", "Endpoint").as_deref(),
            Some("`v1` has no kind `Endpoint`; did you mean `Endpoints`?")
        );
        assert_eq!(
            kinds.problem("discovery/v1", "EndpointSlice").as_deref(),
            Some(
                "`discovery/v1` is no API version Kubernetes serves; `EndpointSlice` is in `discovery.k8s.io/v1`"
            )
        );
        assert_eq!(
            kinds.problem("v1", "Deployment").as_deref(),
            Some("`v1` has no kind `Deployment`; `Deployment` is in `apps/v1`")
        );
        assert!(
            kinds
                .problem("example.com/v1", "Widget")
                .is_some_and(|p| p.contains("CustomResourceDefinition"))
        );
        assert_eq!(kinds.kind_problem("HorizontalPodAutoscaler"), None);
        assert_eq!(
            kinds.kind_problem("HorizontalPodAutoscalar").as_deref(),
            Some(
                "there is no kind `HorizontalPodAutoscalar`; did you mean `HorizontalPodAutoscaler`?"
            )
        );
    }

    #[test]
    fn a_labs_own_custom_resources_are_known() {
        let crd = Manifest {
            file: "manifests/crd.yaml".into(),
            api_version: "apiextensions.k8s.io/v1".into(),
            kind: "CustomResourceDefinition".into(),
            name: "widgets.example.com".into(),
            namespace: None,
            object: json!({"spec": {"group": "example.com", "names": {"kind": "Widget"},
                "versions": [{"name": "v1"}, {"name": "v1beta1"}]}}),
            lines: Default::default(),
            source: crate::labs::node::Node {
                line: 1,
                value: crate::labs::node::Value::Null,
            },
        };
        let kinds = Kinds::of_lab([&crd]);
        assert_eq!(kinds.problem("example.com/v1", "Widget"), None);
        assert_eq!(kinds.problem("example.com/v1beta1", "Widget"), None);
        assert!(kinds.problem("example.com/v2", "Widget").is_some());
    }
}
