//! Which lab manifests a workshop cannot take. In a workshop kubelab applies a lab's manifests
//! into each learner's namespace with its own rights, so a manifest must not reach beyond that
//! namespace (cluster-wide kinds, other namespaces), hand the learner rights the workshop denies
//! (RBAC to powerful ClusterRoles, roles over RBAC, quota, limits or network policy, subjects
//! outside the namespace), or open what isolation closes (`externalIPs`, NodePorts,
//! LoadBalancers, never-expiring token Secrets). Checked when labs load (with file and line)
//! and again by Set up.

use serde_json::Value;

use super::node::{Node, Value as NodeValue};

/// ClusterRoles a lab's RoleBinding may name: read-only in the namespace it is bound in.
pub const ALLOWED_CLUSTER_ROLES: &[&str] = &["view"];

/// Kinds that live outside any namespace (those every Kubernetes serves; discovery decides for
/// the rest when Set up runs).
const CLUSTER_SCOPED: &[&str] = &[
    "APIService",
    "CSIDriver",
    "CSINode",
    "CertificateSigningRequest",
    "ClusterRole",
    "ClusterRoleBinding",
    "ComponentStatus",
    "CustomResourceDefinition",
    "FlowSchema",
    "IngressClass",
    "MutatingWebhookConfiguration",
    "Namespace",
    "Node",
    "PersistentVolume",
    "PriorityClass",
    "PriorityLevelConfiguration",
    "RuntimeClass",
    "StorageClass",
    "ValidatingAdmissionPolicy",
    "ValidatingAdmissionPolicyBinding",
    "ValidatingWebhookConfiguration",
    "VolumeAttachment",
];

/// Resources a learner must not change: they hold the workshop's isolation.
const GUARDED_RESOURCES: &[&str] = &["resourcequotas", "limitranges", "networkpolicies"];

/// Verbs that let a Role grant more than it holds, or act as someone else.
const ESCALATING_VERBS: &[&str] = &["escalate", "bind", "impersonate"];

const READ_VERBS: &[&str] = &["get", "list", "watch"];

/// One step of a path into an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum At {
    /// A mapping key.
    Key(&'static str),
    /// A list position.
    Index(usize),
}

/// Why a manifest cannot go in a workshop, and where in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hazard {
    /// The field at fault.
    pub at: Vec<At>,
    /// Why, as the end of a sentence "… because <why>".
    pub why: String,
}

fn hazard(at: Vec<At>, why: impl Into<String>) -> Hazard {
    Hazard {
        at,
        why: why.into(),
    }
}

/// Everything that keeps `object` (from a lab whose namespace is `lab_namespace`) out of a
/// workshop; empty when it may be applied into a learner's namespace.
pub fn hazards(object: &Value, lab_namespace: &str) -> Vec<Hazard> {
    let kind = object["kind"].as_str().unwrap_or_default();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let mut found = Vec::new();
    if kind == "Namespace" {
        if name != lab_namespace {
            found.push(hazard(
                vec![At::Key("metadata"), At::Key("name")],
                format!(
                    "it makes a namespace other than the lab's ({lab_namespace}); a learner works \
                     only in their own"
                ),
            ));
        }
    } else if CLUSTER_SCOPED.contains(&kind) {
        found.push(hazard(
            vec![At::Key("kind")],
            format!("{kind} is a cluster-wide kind: a learner may only touch their own namespace"),
        ));
    }
    if let Some(other) = object["metadata"]["namespace"]
        .as_str()
        .filter(|ns| *ns != lab_namespace)
    {
        found.push(hazard(
            vec![At::Key("metadata"), At::Key("namespace")],
            format!(
                "it names the namespace {other}, not the lab's ({lab_namespace}): in a workshop \
                 everything goes in the learner's own namespace"
            ),
        ));
    }
    match kind {
        "RoleBinding" | "ClusterRoleBinding" => binding_hazards(object, lab_namespace, &mut found),
        "Role" | "ClusterRole" => role_hazards(object, &mut found),
        "Secret" if object["type"] == "kubernetes.io/service-account-token" => {
            found.push(hazard(
                vec![At::Key("type")],
                "a kubernetes.io/service-account-token Secret holds a token that never expires",
            ));
        }
        "Service" => service_hazards(object, &mut found),
        _ => {}
    }
    found
}

fn binding_hazards(object: &Value, lab_namespace: &str, found: &mut Vec<Hazard>) {
    let role_ref = &object["roleRef"];
    let role = role_ref["name"].as_str().unwrap_or_default();
    if role_ref["kind"] == "ClusterRole" && !ALLOWED_CLUSTER_ROLES.contains(&role) {
        let what = match role {
            "cluster-admin" | "admin" | "edit" => format!(
                "it binds the ClusterRole {role}, which would give the learner's namespace \
                 rights over its own RBAC, quota or network policy"
            ),
            _ => format!(
                "it binds the ClusterRole {role}; a workshop lab may bind only {}",
                ALLOWED_CLUSTER_ROLES.join(", ")
            ),
        };
        found.push(hazard(vec![At::Key("roleRef"), At::Key("name")], what));
    }
    for (i, subject) in object["subjects"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
    {
        let kind = subject["kind"].as_str().unwrap_or_default();
        if kind != "ServiceAccount" {
            found.push(hazard(
                vec![At::Key("subjects"), At::Index(i), At::Key("kind")],
                format!(
                    "it grants rights to a {kind} ({}), who may be anyone on the cluster; bind \
                     only ServiceAccounts of the lab's namespace",
                    subject["name"].as_str().unwrap_or_default()
                ),
            ));
        } else if let Some(ns) = subject["namespace"]
            .as_str()
            .filter(|ns| *ns != lab_namespace)
        {
            found.push(hazard(
                vec![At::Key("subjects"), At::Index(i), At::Key("namespace")],
                format!("it grants rights to a ServiceAccount of the namespace {ns}"),
            ));
        }
    }
}

fn role_hazards(object: &Value, found: &mut Vec<Hazard>) {
    for (i, rule) in object["rules"].as_array().into_iter().flatten().enumerate() {
        let list = |key: &str| -> Vec<&str> {
            rule[key]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect()
        };
        let (groups, resources, verbs) = (list("apiGroups"), list("resources"), list("verbs"));
        let at = |key: &'static str| vec![At::Key("rules"), At::Index(i), At::Key(key)];
        if let Some(key) = [
            ("apiGroups", &groups),
            ("resources", &resources),
            ("verbs", &verbs),
        ]
        .into_iter()
        .find_map(|(key, values)| values.contains(&"*").then_some(key))
        {
            found.push(hazard(
                at(key),
                format!("a rule grants `*` in {key}: name what the lab needs"),
            ));
            continue;
        }
        if let Some(verb) = verbs.iter().find(|v| ESCALATING_VERBS.contains(v)) {
            found.push(hazard(
                at("verbs"),
                format!("a rule grants `{verb}`, which lets its holder gain rights"),
            ));
            continue;
        }
        let writes = verbs.iter().any(|v| !READ_VERBS.contains(v));
        if !writes {
            continue;
        }
        if groups.contains(&"rbac.authorization.k8s.io") {
            found.push(hazard(
                at("apiGroups"),
                "a rule lets its holder change RBAC (rbac.authorization.k8s.io)",
            ));
        } else if let Some(resource) = resources.iter().find(|r| GUARDED_RESOURCES.contains(r)) {
            found.push(hazard(
                at("resources"),
                format!("a rule lets its holder change {resource}, which keep learners apart"),
            ));
        }
    }
}

fn service_hazards(object: &Value, found: &mut Vec<Hazard>) {
    let spec = &object["spec"];
    if spec["externalIPs"]
        .as_array()
        .is_some_and(|ips| !ips.is_empty())
    {
        found.push(hazard(
            vec![At::Key("spec"), At::Key("externalIPs")],
            "spec.externalIPs would capture traffic meant for those addresses across the \
             cluster (CVE-2020-8554)",
        ));
    }
    if let Some(kind @ ("NodePort" | "LoadBalancer")) = spec["type"].as_str() {
        found.push(hazard(
            vec![At::Key("spec"), At::Key("type")],
            format!(
                "a {kind} Service opens a port on every node; learners' quota allows none (use \
                 ClusterIP)"
            ),
        ));
    }
}

/// The line of the field `at` in a manifest document (the deepest part of it that exists).
pub fn line_at(document: &Node, at: &[At]) -> usize {
    let mut node = document;
    for step in at {
        let next = match (step, &node.value) {
            (At::Key(key), NodeValue::Map(_)) => node.get(key),
            (At::Index(i), NodeValue::Seq(items)) => items.get(*i),
            _ => None,
        };
        match next {
            Some(n) => node = n,
            None => break,
        }
    }
    node.line
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn whys(object: Value) -> Vec<String> {
        hazards(&object, "fly-k8s")
            .into_iter()
            .map(|h| h.why)
            .collect()
    }

    #[test]
    fn the_shipped_kinds_of_objects_pass() {
        for object in [
            json!({"kind": "Namespace", "metadata": {"name": "fly-k8s"}}),
            json!({"kind": "ConfigMap", "metadata": {"name": "a", "namespace": "fly-k8s"}}),
            json!({"kind": "Service", "metadata": {"name": "a"}, "spec": {"ports": []}}),
            json!({"kind": "Secret", "metadata": {"name": "a"}, "type": "kubernetes.io/dockerconfigjson"}),
            json!({"kind": "RoleBinding", "metadata": {"name": "a"},
                "roleRef": {"kind": "ClusterRole", "name": "view"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader"}]}),
            json!({"kind": "Role", "metadata": {"name": "a"}, "rules": [
                {"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "delete"]},
                {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["get"]}]}),
        ] {
            assert_eq!(whys(object.clone()), Vec::<String>::new(), "{object}");
        }
    }

    #[test]
    fn reaching_out_of_the_namespace_is_refused() {
        assert!(
            whys(json!({"kind": "Namespace", "metadata": {"name": "other"}}))[0]
                .contains("other than the lab's")
        );
        assert!(
            whys(json!({"kind": "ClusterRole", "metadata": {"name": "x"}}))[0]
                .contains("cluster-wide")
        );
        assert!(
            whys(json!({"kind": "Pod", "metadata": {"name": "x", "namespace": "kube-system"}}))[0]
                .contains("kube-system")
        );
    }

    #[test]
    fn powerful_bindings_and_roles_are_refused() {
        let binding = |role: &str, subject: Value| {
            json!({"kind": "RoleBinding", "metadata": {"name": "b"},
                "roleRef": {"kind": "ClusterRole", "name": role}, "subjects": [subject]})
        };
        let sa = json!({"kind": "ServiceAccount", "name": "learner"});
        assert!(whys(binding("cluster-admin", sa.clone()))[0].contains("cluster-admin"));
        assert!(whys(binding("admin", sa.clone()))[0].contains("admin"));
        assert!(whys(binding("system:node", sa))[0].contains("only view"));
        assert!(
            whys(binding(
                "view",
                json!({"kind": "Group", "name": "system:authenticated"})
            ))[0]
                .contains("Group")
        );
        let role =
            |rule: Value| json!({"kind": "Role", "metadata": {"name": "r"}, "rules": [rule]});
        for (rule, expected) in [
            (
                json!({"apiGroups": ["*"], "resources": ["pods"], "verbs": ["get"]}),
                "`*`",
            ),
            (
                json!({"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}),
                "`*`",
            ),
            (
                json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["bind"]}),
                "`bind`",
            ),
            (
                json!({"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["rolebindings"], "verbs": ["create"]}),
                "RBAC",
            ),
            (
                json!({"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": ["delete"]}),
                "networkpolicies",
            ),
        ] {
            assert!(whys(role(rule.clone()))[0].contains(expected), "{rule}");
        }
    }

    #[test]
    fn isolation_breaking_services_and_token_secrets_are_refused() {
        let service =
            |spec: Value| json!({"kind": "Service", "metadata": {"name": "s"}, "spec": spec});
        assert!(whys(service(json!({"externalIPs": ["1.2.3.4"]})))[0].contains("CVE-2020-8554"));
        assert!(whys(service(json!({"type": "NodePort"})))[0].contains("NodePort"));
        assert!(whys(service(json!({"type": "LoadBalancer"})))[0].contains("LoadBalancer"));
        let secret = json!({"kind": "Secret", "metadata": {"name": "t"},
            "type": "kubernetes.io/service-account-token"});
        assert!(whys(secret)[0].contains("never expires"));
    }

    #[test]
    fn lines_point_at_the_field() {
        let src = "kind: RoleBinding\nmetadata:\n  name: b\nroleRef:\n  kind: ClusterRole\n  name: cluster-admin\nsubjects:\n  - kind: User\n    name: x\n";
        let doc = super::super::node::parse(src).expect("yaml");
        assert_eq!(line_at(&doc, &[At::Key("roleRef"), At::Key("name")]), 6);
        assert_eq!(
            line_at(&doc, &[At::Key("subjects"), At::Index(0), At::Key("kind")]),
            8
        );
        assert_eq!(line_at(&doc, &[At::Key("missing"), At::Key("x")]), 1);
    }
}
