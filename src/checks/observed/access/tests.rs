//! Access checks as an author writes them and a learner reads them: the review kubelab sends,
//! validation messages, workshop confinement, and the verdicts over the cluster's answer.

use super::super::super::tests::english;
use super::super::super::{CheckSpec, Diagnostic, Verdict, validate};
use super::super::{Observed, evaluate_observed, needs, outside_namespace};
use super::*;
use crate::i18n::Text;

fn spec(body: &str) -> CheckSpec {
    let yaml = format!("id: can-list\ntitle: {{en: t, zh: t}}\nreason: {{en: r, zh: r}}\n{body}");
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn access(spec: &CheckSpec) -> &AccessSpec {
    spec.access.as_ref().expect("an access check")
}

fn judge(spec: &CheckSpec, outcome: &AccessOutcome) -> Verdict {
    english(evaluate_observed(
        spec,
        &Observed {
            access: Some(outcome),
            home: Some("fly-k8s"),
            ..Observed::default()
        },
    ))
}

fn allowed(reason: &str) -> AccessOutcome {
    AccessOutcome {
        allowed: true,
        reason: reason.to_owned(),
        ..AccessOutcome::default()
    }
}

fn failed(path: &str, expected: &str, actual: &str) -> Verdict {
    Verdict::Failed {
        diagnostics: vec![Diagnostic::new(
            path,
            Text::same(expected),
            Text::same(actual),
        )],
        closest: None,
    }
}

const READER_LISTS_PODS: &str = "access: {serviceAccount: reader, verb: list, resource: pods}";

#[test]
fn a_service_account_is_asked_about_with_its_groups_in_the_readers_namespace() {
    let check = spec(READER_LISTS_PODS);
    assert_eq!(
        request(access(&check), "kl-abc-1"),
        AccessRequest {
            user: "system:serviceaccount:kl-abc-1:reader".to_owned(),
            groups: vec![
                "system:serviceaccounts".to_owned(),
                "system:serviceaccounts:kl-abc-1".to_owned(),
                "system:authenticated".to_owned(),
            ],
            verb: "list".to_owned(),
            group: String::new(),
            resource: "pods".to_owned(),
            subresource: String::new(),
            name: String::new(),
            namespace: "kl-abc-1".to_owned(),
        }
    );
    assert!(needs(&check).access.is_some() && !needs(&check).objects);
}

#[test]
fn resources_are_written_as_kubectl_auth_can_i_takes_them() {
    let scale = spec(
        "access: {user: jane, groups: [devs], verb: update, resource: deployments.apps/scale, name: web, namespace: shop}",
    );
    let req = request(access(&scale), "fly-k8s");
    assert_eq!(
        (
            req.user.as_str(),
            req.groups.clone(),
            req.group.as_str(),
            req.resource.as_str(),
            req.subresource.as_str(),
            req.name.as_str(),
            req.namespace.as_str()
        ),
        (
            "jane",
            vec!["devs".to_owned(), "system:authenticated".to_owned()],
            "apps",
            "deployments",
            "scale",
            "web",
            "shop"
        )
    );
    let nodes = spec("access: {serviceAccount: other:watcher, verb: list, resource: nodes}");
    let req = request(access(&nodes), "fly-k8s");
    assert_eq!(
        req.namespace, "",
        "nodes are asked about at the cluster scope"
    );
    assert_eq!(req.user, "system:serviceaccount:other:watcher");
    assert!(validate(&scale).is_empty(), "{:?}", validate(&scale));
    assert!(validate(&nodes).is_empty(), "{:?}", validate(&nodes));
}

#[test]
fn allowed_passes_and_the_learner_reads_why_not_otherwise() {
    let check = spec(READER_LISTS_PODS);
    assert_eq!(
        judge(
            &check,
            &allowed("RBAC: allowed by RoleBinding \"r/fly-k8s\"")
        ),
        Verdict::Passed
    );
    assert_eq!(
        judge(&check, &AccessOutcome::default()),
        failed(
            "access",
            "ServiceAccount `reader` can `list` `pods` in namespace `fly-k8s`",
            "not allowed: no RoleBinding or ClusterRoleBinding grants it"
        )
    );
    let webhook = AccessOutcome {
        denied: true,
        reason: "no pods for readers".to_owned(),
        ..AccessOutcome::default()
    };
    assert_eq!(
        judge(&check, &webhook),
        failed(
            "access",
            "ServiceAccount `reader` can `list` `pods` in namespace `fly-k8s`",
            "denied outright by the cluster's authorizer (`no pods for readers`)"
        )
    );
}

#[test]
fn allowed_false_passes_when_denied_and_names_the_binding_that_allows_it() {
    let check =
        spec("access: {serviceAccount: reader, verb: delete, resource: pods, allowed: false}");
    assert_eq!(judge(&check, &AccessOutcome::default()), Verdict::Passed);
    let reason = "RBAC: allowed by RoleBinding \"too-much/fly-k8s\" of ClusterRole \"edit\" to ServiceAccount \"reader/fly-k8s\"";
    assert_eq!(
        judge(&check, &allowed(reason)),
        failed(
            "access",
            "ServiceAccount `reader` cannot `delete` `pods` in namespace `fly-k8s`",
            &format!("allowed: `{reason}`")
        )
    );
}

#[test]
fn the_authors_describe_replaces_the_expected_words() {
    let check = spec(&format!(
        "{READER_LISTS_PODS}\ndescribe: {{en: \"reader may list Pods\", zh: \"reader 可以列出 Pod\"}}"
    ));
    assert!(validate(&check).is_empty(), "{:?}", validate(&check));
    assert_eq!(
        judge(&check, &AccessOutcome::default()),
        failed(
            "access",
            "reader may list Pods",
            "not allowed: no RoleBinding or ClusterRoleBinding grants it"
        )
    );
}

#[test]
fn chinese_wording_keeps_code_apart_from_the_text() {
    let check = spec(READER_LISTS_PODS);
    let Verdict::Failed { diagnostics, .. } =
        super::evaluate(access(&check), "fly-k8s", &AccessOutcome::default(), None)
    else {
        panic!("failed");
    };
    assert_eq!(
        diagnostics[0].expected.zh,
        "ServiceAccount `reader` 可以在命名空间 `fly-k8s` 中 `list` `pods`"
    );
}

#[test]
fn an_access_question_is_answered_yes_or_no() {
    let check = spec(
        "question: {en: \"Can reader delete Pods?\", zh: \"reader 能删除 Pod 吗？\"}\nanswer: {access: {serviceAccount: reader, verb: delete, resource: pods}}",
    );
    assert!(validate(&check).is_empty(), "{:?}", validate(&check));
    let ask = |answer: &str, outcome: &AccessOutcome| {
        english(evaluate_observed(
            &check,
            &Observed {
                access: Some(outcome),
                answer: Some(answer),
                home: Some("fly-k8s"),
                ..Observed::default()
            },
        ))
    };
    let denied = AccessOutcome::default();
    assert_eq!(ask("no", &denied), Verdict::Passed);
    assert_eq!(ask(" No ", &denied), Verdict::Passed);
    assert_eq!(ask("否", &denied), Verdict::Passed);
    assert!(matches!(ask("yes", &denied), Verdict::Failed { .. }));
    assert_eq!(ask("yes", &allowed("")), Verdict::Passed);
}

fn problems_of(body: &str) -> Vec<String> {
    validate(&spec(body))
}

#[test]
fn validation_says_what_to_write_instead() {
    assert_eq!(
        problems_of("access: {serviceAccount: reader, verb: list, resource: deployments}"),
        vec![
            "`access.resource` `deployments` is in API group `apps`; write `deployments.apps` (a review in the core group would never be allowed)."
        ]
    );
    assert_eq!(
        problems_of("access: {serviceAccount: reader, verb: list, resource: pod}"),
        vec![
            "`access.resource` `pod` looks singular; access is asked about the plural resource (`pods`, not `pod`)."
        ]
    );
    assert_eq!(
        problems_of("access: {verb: list, resource: pods}"),
        vec![
            "`access` names no subject: give `serviceAccount` (`reader`, or `namespace:reader`), `user` or `groups`."
        ]
    );
    assert_eq!(
        problems_of("access: {user: jane, verb: read, resource: pods}")[0],
        "`access.verb` \"read\" is not a Kubernetes verb; use one of `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`, `impersonate`, `bind`, `escalate`, `use`, `approve`, `sign`, `*`."
    );
    assert_eq!(
        problems_of("access: {serviceAccount: reader, groups: [x], verb: get, resource: pods}"),
        vec![
            "`access.groups` cannot be combined with `serviceAccount`: a ServiceAccount's groups (`system:serviceaccounts`, `system:serviceaccounts:<namespace>`) are added by kubelab."
        ]
    );
    assert_eq!(
        problems_of("access: {serviceAccount: reader, verb: get, resource: nodes, namespace: x}"),
        vec![
            "`access.namespace` does not apply: `nodes` are cluster-scoped and asked about at the cluster scope."
        ]
    );
    assert_eq!(
        problems_of("access: {serviceAccount: \"ns:\", verb: get, resource: Pods}").len(),
        2,
        "an empty ServiceAccount name and a resource that is no plural"
    );
}

#[test]
fn an_access_check_combines_with_nothing_about_objects() {
    assert_eq!(
        problems_of(&format!("{READER_LISTS_PODS}\nabsent: true")),
        vec![
            "`absent` cannot be combined with `access`: it asks the cluster whether a subject may do something, and looks at no objects (to check that the subject may not do it, write `allowed: false` in `access`)."
        ]
    );
    assert_eq!(
        problems_of(&format!(
            "{READER_LISTS_PODS}\nfind: {{apiVersion: v1, kind: Pod}}"
        )),
        vec![
            "The check has more than one target: use only one of `find`, `served`, `serverVersion` and `access`."
        ]
    );
    assert_eq!(
        problems_of(
            "question: {en: q, zh: q}\nanswer: {access: {serviceAccount: reader, verb: get, resource: pods, allowed: true}}"
        ),
        vec![
            "`answer.access.allowed` does not apply: the right answer is `yes` or `no`, whichever the cluster says."
        ]
    );
}

#[test]
fn a_workshop_keeps_access_questions_in_the_learners_namespace() {
    let inside = spec(
        "access: {serviceAccount: \"fly-k8s:reader\", verb: list, resource: pods, namespace: fly-k8s}",
    );
    assert!(outside_namespace(&inside, "fly-k8s").is_empty());
    let elsewhere = spec(
        "access: {serviceAccount: reader, verb: list, resource: pods, namespace: kube-system}",
    );
    assert_eq!(
        outside_namespace(&elsewhere, "fly-k8s"),
        vec![
            "it asks about namespace `kube-system`, but a workshop learner works only in their own namespace"
        ]
    );
    let nodes = spec("access: {serviceAccount: \"other:x\", verb: list, resource: nodes}");
    assert_eq!(
        outside_namespace(&nodes, "fly-k8s"),
        vec![
            "it asks about a ServiceAccount of namespace `other`, but a workshop learner has only their own namespace's",
            "it asks about `nodes` at the cluster scope, which a workshop learner cannot change",
        ]
    );
}
