//! Access checks: whether a subject (a ServiceAccount, a user, groups) may do something, as a
//! SubjectAccessReview answers it (`kubectl auth can-i … --as=…`): the request kubelab sends,
//! the author's mistakes, what a workshop allows, and the verdict over the review's answer.

use serde::{Deserialize, Serialize};

use super::super::values::{cjk, code, text};
use super::super::verdict::{Diagnostic, Verdict};
use crate::i18n::Text;

/// "Can this subject do this?" as a lab author writes it (`access:` on a check, or
/// `answer: {access: …}` for a question).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessSpec {
    /// A ServiceAccount: `reader` (in the lab's namespace) or `namespace:reader`.
    #[serde(
        default,
        rename = "serviceAccount",
        skip_serializing_if = "Option::is_none"
    )]
    pub service_account: Option<String>,
    /// A user name (`jane`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Groups (with `user`, or alone).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// `get`, `list`, `create`, `delete`… (`*` for every verb).
    pub verb: String,
    /// As `kubectl auth can-i` takes it: `pods`, `pods/log`, `deployments.apps`,
    /// `deployments.apps/scale`.
    pub resource: String,
    /// One object by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace asked about; default the lab's (a workshop learner's own). Cluster-scoped
    /// resources (`nodes`, `namespaces`…) are asked about at the cluster scope.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// `false`: the check passes when the subject may **not** do it (default `true`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed: Option<bool>,
}

/// The attributes of a SubjectAccessReview, resolved for one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// `spec.user` (empty for groups alone).
    pub user: String,
    /// `spec.groups`.
    pub groups: Vec<String>,
    /// `resourceAttributes.verb`.
    pub verb: String,
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource (`""` for none).
    pub subresource: String,
    /// Object name (`""` for any).
    pub name: String,
    /// Namespace (`""` for the cluster scope).
    pub namespace: String,
}

/// What a SubjectAccessReview answered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AccessOutcome {
    /// `status.allowed`.
    pub allowed: bool,
    /// `status.denied` (an authorizer said no outright; RBAC never does).
    pub denied: bool,
    /// `status.reason` (`RBAC: allowed by RoleBinding "…"` when allowed).
    pub reason: String,
    /// `status.evaluationError`.
    pub evaluation_error: String,
}

const VERBS: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
    "impersonate",
    "bind",
    "escalate",
    "use",
    "approve",
    "sign",
    "*",
];

/// Plural resources of API groups other than core that authors write without their group
/// (`kubectl` finds the group through discovery; a review needs it spelled out).
const GROUPED: &[(&str, &str)] = &[
    ("deployments", "apps"),
    ("replicasets", "apps"),
    ("statefulsets", "apps"),
    ("daemonsets", "apps"),
    ("controllerrevisions", "apps"),
    ("jobs", "batch"),
    ("cronjobs", "batch"),
    ("horizontalpodautoscalers", "autoscaling"),
    ("roles", "rbac.authorization.k8s.io"),
    ("rolebindings", "rbac.authorization.k8s.io"),
    ("clusterroles", "rbac.authorization.k8s.io"),
    ("clusterrolebindings", "rbac.authorization.k8s.io"),
    ("ingresses", "networking.k8s.io"),
    ("networkpolicies", "networking.k8s.io"),
    ("ingressclasses", "networking.k8s.io"),
    ("poddisruptionbudgets", "policy"),
    ("storageclasses", "storage.k8s.io"),
    ("customresourcedefinitions", "apiextensions.k8s.io"),
    ("leases", "coordination.k8s.io"),
    ("endpointslices", "discovery.k8s.io"),
    ("priorityclasses", "scheduling.k8s.io"),
    (
        "validatingadmissionpolicies",
        "admissionregistration.k8s.io",
    ),
];

/// Built-in resources that live outside namespaces.
const CLUSTER_SCOPED: &[&str] = &[
    "nodes",
    "namespaces",
    "persistentvolumes",
    "componentstatuses",
    "clusterroles",
    "clusterrolebindings",
    "storageclasses",
    "customresourcedefinitions",
    "priorityclasses",
    "ingressclasses",
    "runtimeclasses",
    "csidrivers",
    "csinodes",
    "volumeattachments",
    "certificatesigningrequests",
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "apiservices",
];

/// The parts of `resource` as `kubectl auth can-i` reads it: (resource, group, subresource).
fn parts(resource: &str) -> (&str, &str, &str) {
    let (main, sub) = resource.split_once('/').unwrap_or((resource, ""));
    let (plural, group) = main.split_once('.').unwrap_or((main, ""));
    (plural, group, sub)
}

/// Whether the resource is one of the built-in cluster-scoped ones.
fn cluster_scoped(spec: &AccessSpec) -> bool {
    CLUSTER_SCOPED.contains(&parts(&spec.resource).0)
}

/// The ServiceAccount's namespace (None: the lab's) and name.
fn service_account(spec: &AccessSpec) -> Option<(Option<&str>, &str)> {
    let sa = spec.service_account.as_deref()?;
    Some(match sa.split_once(':') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, sa),
    })
}

/// The review kubelab sends, with `home` as the lab's namespace (a workshop learner's own).
/// A ServiceAccount gets its groups, and a user `system:authenticated`, as `kubectl auth can-i
/// --as` gives them.
pub fn request(spec: &AccessSpec, home: &str) -> AccessRequest {
    let (plural, group, subresource) = parts(&spec.resource);
    let (user, groups) = match service_account(spec) {
        Some((ns, name)) => {
            let ns = ns.unwrap_or(home);
            (
                format!("system:serviceaccount:{ns}:{name}"),
                vec![
                    "system:serviceaccounts".to_owned(),
                    format!("system:serviceaccounts:{ns}"),
                    "system:authenticated".to_owned(),
                ],
            )
        }
        None => {
            let mut groups = spec.groups.clone();
            if spec.user.is_some() && !groups.iter().any(|g| g == "system:authenticated") {
                groups.push("system:authenticated".to_owned());
            }
            (spec.user.clone().unwrap_or_default(), groups)
        }
    };
    let namespace = if cluster_scoped(spec) {
        String::new()
    } else {
        spec.namespace.clone().unwrap_or_else(|| home.to_owned())
    };
    AccessRequest {
        user,
        groups,
        verb: spec.verb.clone(),
        group: group.to_owned(),
        resource: plural.to_owned(),
        subresource: subresource.to_owned(),
        name: spec.name.clone().unwrap_or_default(),
        namespace,
    }
}

/// Mistakes in an access question as written, each a sentence for `kubelab validate`.
/// `field` names where it stands (`access`, `answer.access`).
pub fn problems(spec: &AccessSpec, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    let subjects = [spec.service_account.is_some(), spec.user.is_some()]
        .iter()
        .filter(|s| **s)
        .count();
    if subjects == 0 && spec.groups.is_empty() {
        out.push(format!(
            "`{field}` names no subject: give `serviceAccount` (`reader`, or `namespace:reader`), `user` or `groups`."
        ));
    }
    if subjects > 1 {
        out.push(format!(
            "`{field}` has both `serviceAccount` and `user`; ask about one subject per check."
        ));
    }
    if spec.service_account.is_some() && !spec.groups.is_empty() {
        out.push(format!(
            "`{field}.groups` cannot be combined with `serviceAccount`: a ServiceAccount's groups (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`) are added by kubelab."
        ));
    }
    if let Some((ns, name)) = service_account(spec)
        && (name.trim().is_empty() || ns.is_some_and(|ns| ns.trim().is_empty()))
    {
        out.push(format!(
            "`{field}.serviceAccount` {:?} is not a ServiceAccount; write `reader` (in the lab's namespace) or `namespace:reader`.",
            spec.service_account.as_deref().unwrap_or_default()
        ));
    }
    for (set, key) in [
        (spec.user.as_deref(), "user"),
        (spec.name.as_deref(), "name"),
        (spec.namespace.as_deref(), "namespace"),
    ] {
        if set.is_some_and(|v| v.trim().is_empty()) {
            out.push(format!(
                "`{field}.{key}` is empty; leave it out or fill it in."
            ));
        }
    }
    if !VERBS.contains(&spec.verb.as_str()) {
        out.push(format!(
            "`{field}.verb` {:?} is not a Kubernetes verb; use one of {}.",
            spec.verb,
            VERBS
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out.extend(resource_problems(spec, field));
    out
}

fn resource_problems(spec: &AccessSpec, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (plural, group, sub) = parts(&spec.resource);
    let plain = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '*')
    };
    if !plain(plural)
        || (spec.resource.contains('/') && !plain(sub))
        || (spec.resource.contains('.') && group.is_empty())
    {
        out.push(format!(
            "`{field}.resource` {:?} is not a resource as `kubectl auth can-i` takes it: a lowercase plural (`pods`), with its API group (`deployments.apps`) and a subresource (`pods/log`) where needed.",
            spec.resource
        ));
        return out;
    }
    if group.is_empty()
        && let Some((_, right)) = GROUPED.iter().find(|(p, _)| *p == plural)
    {
        out.push(format!(
            "`{field}.resource` `{plural}` is in API group `{right}`; write `{plural}.{right}` (a review in the core group would never be allowed)."
        ));
    }
    if !plural.ends_with('s') && plural != "*" {
        out.push(format!(
            "`{field}.resource` `{plural}` looks singular; access is asked about the plural resource (`pods`, not `pod`)."
        ));
    }
    if cluster_scoped(spec) && spec.namespace.is_some() {
        out.push(format!(
            "`{field}.namespace` does not apply: `{plural}` are cluster-scoped and asked about at the cluster scope."
        ));
    }
    out
}

/// What a workshop does not allow a learner's access question to reach: another namespace,
/// another namespace's ServiceAccount, or the cluster scope. `lab_namespace` is the lab's own
/// (a workshop maps it to the learner's). Empty when the question stays in the namespace.
pub fn outside_namespace(spec: &AccessSpec, lab_namespace: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(ns) = spec.namespace.as_deref().filter(|ns| *ns != lab_namespace) {
        out.push(format!(
            "it asks about namespace `{ns}`, but a workshop learner works only in their own namespace"
        ));
    }
    if let Some((Some(ns), _)) = service_account(spec)
        && ns != lab_namespace
    {
        out.push(format!(
            "it asks about a ServiceAccount of namespace `{ns}`, but a workshop learner has only their own namespace's"
        ));
    }
    if cluster_scoped(spec) {
        out.push(format!(
            "it asks about `{}` at the cluster scope, which a workshop learner cannot change",
            parts(&spec.resource).0
        ));
    }
    out
}

/// Who is asked about, as the learner reads it: ServiceAccount `reader`, user `jane`, group
/// `devs`.
fn subject(spec: &AccessSpec) -> Text {
    if let Some((ns, name)) = service_account(spec) {
        let name = match ns {
            Some(ns) => code(&format!("{ns}:{name}")),
            None => code(name),
        };
        return text(
            format!("ServiceAccount {name}"),
            cjk(&["ServiceAccount ", &name]),
        );
    }
    if let Some(user) = &spec.user {
        return text(format!("user {}", code(user)), cjk(&["用户 ", &code(user)]));
    }
    let groups: Vec<String> = spec.groups.iter().map(|g| code(g)).collect();
    text(
        format!("group {}", groups.join(", ")),
        cjk(&["组 ", &groups.join("、")]),
    )
}

/// What is asked: `list` `pods` in namespace `ns` / at the cluster scope.
fn action(req: &AccessRequest) -> (String, String) {
    let mut what = req.resource.clone();
    if !req.group.is_empty() {
        what = format!("{what}.{}", req.group);
    }
    if !req.subresource.is_empty() {
        what = format!("{what}/{}", req.subresource);
    }
    let object = if req.name.is_empty() {
        code(&what)
    } else {
        format!("{} {}", code(&what), code(&req.name))
    };
    let verb = code(&req.verb);
    if req.namespace.is_empty() {
        (
            format!("{verb} {object} at the cluster scope"),
            cjk(&["在整个集群范围内 ", &verb, " ", &object]),
        )
    } else {
        let ns = code(&req.namespace);
        (
            format!("{verb} {object} in namespace {ns}"),
            cjk(&["在命名空间 ", &ns, " 中 ", &verb, " ", &object]),
        )
    }
}

/// The verdict of an access check over what the review answered.
pub fn evaluate(
    spec: &AccessSpec,
    home: &str,
    outcome: &AccessOutcome,
    describe: Option<&Text>,
) -> Verdict {
    let want = spec.allowed.unwrap_or(true);
    if outcome.allowed == want {
        return Verdict::Passed;
    }
    let req = request(spec, home);
    let who = subject(spec);
    let (en_do, zh_do) = action(&req);
    let expected = if want {
        text(
            format!("{} can {en_do}", who.en),
            cjk(&[&who.zh, "可以", &zh_do]),
        )
    } else {
        text(
            format!("{} cannot {en_do}", who.en),
            cjk(&[&who.zh, "不能", &zh_do]),
        )
    };
    let why = |en: &str, zh: &str| {
        let mut detail = Vec::new();
        detail.extend(Some(outcome.reason.trim()).filter(|r| !r.is_empty()));
        detail.extend(Some(outcome.evaluation_error.trim()).filter(|r| !r.is_empty()));
        if detail.is_empty() {
            text(en, zh)
        } else {
            let said = code(&detail.join("; "));
            text(format!("{en} ({said})"), cjk(&[zh, "（", &said, "）"]))
        }
    };
    let actual = if outcome.allowed {
        let said = code(outcome.reason.trim());
        if outcome.reason.trim().is_empty() {
            text("allowed", "允许")
        } else {
            text(format!("allowed: {said}"), cjk(&["允许：", &said]))
        }
    } else if outcome.denied {
        why(
            "denied outright by the cluster's authorizer",
            "被集群的鉴权模块明确拒绝",
        )
    } else {
        why(
            "not allowed: no RoleBinding or ClusterRoleBinding grants it",
            "不允许：没有任何 RoleBinding 或 ClusterRoleBinding 授予这个权限",
        )
    };
    Verdict::Failed {
        diagnostics: vec![Diagnostic::new(
            "access",
            describe.cloned().unwrap_or(expected),
            actual,
        )],
        closest: None,
    }
}

/// The answers that are right for an access question: `yes` when allowed (as `kubectl auth
/// can-i` prints it), `no` otherwise, with the usual synonyms.
pub fn right_answers(outcome: &AccessOutcome) -> Vec<String> {
    let words: &[&str] = if outcome.allowed {
        &["yes", "y", "true", "allowed", "是", "可以"]
    } else {
        &["no", "n", "false", "denied", "否", "不可以", "不能"]
    };
    words.iter().map(|w| (*w).to_owned()).collect()
}

#[cfg(test)]
mod tests;
