//! Scenarios on access and limits: RBAC with SubjectAccessReview and SelfSubjectAccessReview,
//! TokenRequest audiences and TokenReview, ResourceQuota on NodePort/LoadBalancer Services,
//! NetworkPolicy.

use std::time::Duration;

use serde_json::{Value, json};

use super::record::Record;
use super::side::Side;

/// A ServiceAccount `reader` that may get and list Pods in the namespace.
async fn reader(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let objects = [
        (
            format!("/api/v1/namespaces/{ns}/serviceaccounts"),
            json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}),
        ),
        (
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": {"name": "pod-reader"},
                "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list"]}]}),
        ),
        (
            format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "reader-pod-reader"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": ns}]}),
        ),
    ];
    for (path, body) in objects {
        let kind = body["kind"].as_str().unwrap_or("").to_lowercase();
        r.answer(
            &format!("rbac/create-{kind}"),
            &side.post(&path, &body).await,
        );
    }
}

fn attributes(ns: &str, verb: &str, resource: &str) -> Value {
    json!({"namespace": ns, "verb": verb, "resource": resource})
}

/// SubjectAccessReview and SelfSubjectAccessReview (recordings 126-133).
pub async fn access_reviews(side: &Side, r: &mut Record) {
    reader(side, r).await;
    let ns = &side.ns;
    let user = format!("system:serviceaccount:{ns}:reader");
    let groups = json!([
        "system:serviceaccounts",
        format!("system:serviceaccounts:{ns}"),
        "system:authenticated"
    ]);
    let sar = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    for (step, attrs) in [
        ("sar/list-pods-allowed", attributes(ns, "list", "pods")),
        ("sar/delete-pods-denied", attributes(ns, "delete", "pods")),
        (
            "sar/secrets-default-denied",
            attributes("default", "list", "secrets"),
        ),
    ] {
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
            "spec": {"resourceAttributes": attrs, "user": user, "groups": groups}});
        r.answer(step, &side.post(sar, &body).await);
    }
    let anonymous = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"resourceAttributes": attributes(ns, "list", "pods")}});
    r.answer("sar/no-user-422", &side.post(sar, &anonymous).await);
    let token = side
        .post(
            &format!("/api/v1/namespaces/{ns}/serviceaccounts/reader/token"),
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600}}),
        )
        .await;
    r.answer("token/default-audience", &token);
    let as_reader = side
        .with_token(token.body["status"]["token"].as_str().unwrap_or(""))
        .await;
    let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    for (step, attrs) in [
        ("ssar/list-pods-allowed", attributes(ns, "list", "pods")),
        ("ssar/delete-pods-denied", attributes(ns, "delete", "pods")),
        (
            "ssar/secrets-default-denied",
            attributes("default", "list", "secrets"),
        ),
    ] {
        let body = json!({"apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attrs}});
        r.answer(step, &as_reader.post(ssar, &body).await);
    }
    r.answer(
        "rbac/reader-delete-pod-403",
        &as_reader
            .delete(&format!("/api/v1/namespaces/{ns}/pods/nothing-here"))
            .await,
    );
    r.answer(
        "rbac/reader-list-pods",
        &as_reader
            .get(&format!(
                "/api/v1/namespaces/{ns}/pods?labelSelector=app%3Dnone"
            ))
            .await,
    );
}

/// TokenRequest with an audience, TokenReview of good, foreign-audience and garbage tokens,
/// and the API's answer to a token minted for another audience (recordings 134-139).
pub async fn tokens(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let request = |spec: Value| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec});
    let path = format!("/api/v1/namespaces/{ns}/serviceaccounts/reader/token");
    let minted = side
        .post(
            &path,
            &request(json!({"audiences": ["diff-demo"], "expirationSeconds": 600})),
        )
        .await;
    r.answer("token/audience", &minted);
    let token = minted.body["status"]["token"]
        .as_str()
        .unwrap_or("")
        .to_string();
    r.answer(
        "token/599-seconds",
        &side
            .post(&path, &request(json!({"expirationSeconds": 599})))
            .await,
    );
    let review = |spec: Value| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec});
    let reviews = "/apis/authentication.k8s.io/v1/tokenreviews";
    for (step, spec) in [
        (
            "tokenreview/authenticated",
            json!({"token": token, "audiences": ["diff-demo"]}),
        ),
        ("tokenreview/wrong-audience", json!({"token": token})),
        (
            "tokenreview/garbage",
            json!({"token": "garbage-not-a-token"}),
        ),
    ] {
        r.answer(step, &side.post(reviews, &review(spec)).await);
    }
    let foreign = side.with_token(&token).await;
    r.answer(
        "token/foreign-audience-401",
        &foreign.get(&format!("/api/v1/namespaces/{ns}/pods")).await,
    );
    r.answer(
        "tokenreview/one-of-two-audiences",
        &side
            .post(
                reviews,
                &review(json!({"token": token, "audiences": ["other", "diff-demo"]})),
            )
            .await,
    );
    orphaned_token(side, r).await;
}

/// A token whose ServiceAccount was deleted, as kubelab's token questions meet it when a learner
/// re-creates the ServiceAccount; the review's error names what is missing.
async fn orphaned_token(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let accounts = format!("/api/v1/namespaces/{ns}/serviceaccounts");
    let sa =
        json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "short-lived"}});
    r.answer("token/orphan-sa-create", &side.post(&accounts, &sa).await);
    let minted = side
        .post(
            &format!("{accounts}/short-lived/token"),
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"expirationSeconds": 600}}),
        )
        .await;
    let token = minted.body["status"]["token"]
        .as_str()
        .unwrap_or("")
        .to_string();
    r.answer(
        "token/orphan-sa-delete",
        &side.delete(&format!("{accounts}/short-lived")).await,
    );
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
        "spec": {"token": token}});
    let reviews = "/apis/authentication.k8s.io/v1/tokenreviews";
    // The real server's ServiceAccount lister may lag the delete by a moment, and a token it
    // accepted is accepted again from its authentication cache for 10 s: asked after the lister
    // caught up, the first review is refused (refusals are not cached).
    tokio::time::sleep(Duration::from_secs(2)).await;
    let gone = side
        .post_until(reviews, &review, Duration::from_secs(12), |a| {
            a.body["status"]["authenticated"].is_null()
        })
        .await;
    r.answer("tokenreview/serviceaccount-deleted", &gone);
    r.answer("token/orphan-sa-recreate", &side.post(&accounts, &sa).await);
    let recreated = side
        .post_until(reviews, &review, Duration::from_secs(12), |a| {
            !a.body["status"]["error"]
                .as_str()
                .unwrap_or("")
                .contains("not found")
        })
        .await;
    r.answer("tokenreview/serviceaccount-recreated", &recreated);
}

/// SubjectAccessReviews as kubelab's access checks send them: a user with groups, a subresource,
/// one object by name, and the cluster scope.
pub async fn access_checks(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "log-reader"},
        "rules": [{"apiGroups": [""], "resources": ["pods/log"], "verbs": ["get"]},
                  {"apiGroups": ["apps"], "resources": ["deployments"], "resourceNames": ["web"], "verbs": ["get"]}]});
    let binding = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "devs-log-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "log-reader"},
        "subjects": [{"kind": "Group", "apiGroup": "rbac.authorization.k8s.io", "name": "devs"}]});
    let rbac = format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}");
    r.answer(
        "rbac/create-log-reader",
        &side.post(&format!("{rbac}/roles"), &role).await,
    );
    r.answer(
        "rbac/create-devs-binding",
        &side.post(&format!("{rbac}/rolebindings"), &binding).await,
    );
    let sar = "/apis/authorization.k8s.io/v1/subjectaccessreviews";
    let jane = |attrs: Value| {
        json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "spec": {"user": "jane", "groups": ["devs", "system:authenticated"], "resourceAttributes": attrs}})
    };
    for (step, attrs) in [
        (
            "sar/group-pods-log-allowed",
            json!({"namespace": ns, "verb": "get", "resource": "pods", "subresource": "log"}),
        ),
        (
            "sar/group-pods-denied",
            json!({"namespace": ns, "verb": "get", "resource": "pods"}),
        ),
        (
            "sar/by-name-allowed",
            json!({"namespace": ns, "verb": "get", "group": "apps", "resource": "deployments", "name": "web"}),
        ),
        (
            "sar/other-name-denied",
            json!({"namespace": ns, "verb": "get", "group": "apps", "resource": "deployments", "name": "db"}),
        ),
        (
            "sar/cluster-scope-denied",
            json!({"verb": "list", "resource": "nodes"}),
        ),
    ] {
        // The real authorizer reads RBAC from an informer cache: a binding made a moment ago can
        // be missing from it for some milliseconds. Allowed cases are asked until the binding is
        // seen (at most 5 s), as a learner's page asks again; denied ones need no wait.
        let answer = if step.ends_with("-allowed") {
            side.post_until(sar, &jane(attrs), Duration::from_secs(5), |a| {
                a.body["status"]["allowed"] == true
            })
            .await
        } else {
            side.post(sar, &jane(attrs)).await
        };
        r.answer(step, &answer);
    }
}

fn service(name: &str, kind: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": {"type": kind, "selector": {"app": "web"},
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}})
}

/// A ResourceQuota without NodePorts and LoadBalancers, Services against it, a NetworkPolicy
/// (recordings 140-145).
pub async fn quota_and_policy(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let quotas = format!("/api/v1/namespaces/{ns}/resourcequotas");
    let created = side
        .post(
            &quotas,
            &json!({"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "no-external-services"},
                "spec": {"hard": {"services.nodeports": "0", "services.loadbalancers": "0"}}}),
        )
        .await;
    r.answer("quota/create", &created);
    let filled = side
        .wait_until(
            &format!("{quotas}/no-external-services"),
            Duration::from_secs(10),
            |a| !a.body["status"]["used"].is_null(),
        )
        .await;
    r.answer("quota/status", &filled);
    let services = format!("/api/v1/namespaces/{ns}/services");
    for (step, name, kind) in [
        ("quota/nodeport-403", "web-nodeport", "NodePort"),
        ("quota/loadbalancer-403", "web-lb", "LoadBalancer"),
        ("quota/clusterip-201", "web", "ClusterIP"),
    ] {
        r.answer(step, &side.post(&services, &service(name, kind)).await);
    }
    let policy = side
        .post(
            &format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies"),
            &json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "deny-ingress-except-same-namespace"},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress"],
                    "ingress": [{"from": [{"podSelector": {}}]}]}}),
        )
        .await;
    r.answer("networkpolicy/create", &policy);
    let applied = side
        .apply(
            &format!("/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/default-deny"),
            "fieldManager=kubelab&force=true",
            &json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
                "metadata": {"name": "default-deny", "namespace": ns},
                "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}}),
        )
        .await;
    r.answer("networkpolicy/apply", &applied);
}
