//! Workshop isolation against the fake API server: provisioning a learner namespace (exactly the
//! expected objects, idempotent, drift fixed, foreign namespaces refused), the learner kubeconfig
//! acting as the learner (RBAC inside and outside the namespace, Pod Security, LimitRange,
//! quota), and deleting and listing a workshop's namespaces.

use std::time::Duration;

use kube::config::Kubeconfig;
use kubelab::cluster::{
    ApplyAction, Cluster, ClusterError, ExecResult, LearnerSpace, MANAGED_BY_LABEL, WORKSHOP_LABEL,
    learner_rules,
};
use serde_json::{Value, json};

use super::{api_error, connected, key};
use crate::support::FakeApi;

const HOUR: Duration = Duration::from_secs(3600);
const WAIT: Duration = Duration::from_secs(10);

fn alice() -> LearnerSpace {
    LearnerSpace::new("learner-alice", "demo", "alice")
}

fn invalid_message(result: Result<impl std::fmt::Debug, ClusterError>) -> String {
    match result {
        Err(ClusterError::InvalidObject(message)) => message,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn pod(name: &str, spec: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": spec})
}

fn nginx() -> Value {
    json!({"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]})
}

/// Alice's space provisioned by the admin, and a cluster handle acting as Alice.
async fn as_alice(space: &LearnerSpace) -> (FakeApi, Cluster, Cluster, tempfile::TempDir) {
    let (fake, admin, dir) = connected().await;
    admin.provision_learner(space).await.expect("provision");
    let yaml = admin
        .learner_kubeconfig(&space.namespace, HOUR)
        .await
        .expect("kubeconfig");
    let learner = Cluster::from_kubeconfig_text(&yaml)
        .await
        .expect("learner cluster");
    (fake, admin, learner, dir)
}

#[tokio::test]
async fn provisioning_creates_exactly_the_isolation_objects() {
    let (fake, cluster, _dir) = connected().await;
    let done = cluster
        .provision_learner(&alice())
        .await
        .expect("provision");
    let created: Vec<String> = done.created().iter().map(|k| k.to_string()).collect();
    assert_eq!(
        created,
        [
            "Namespace learner-alice",
            "ServiceAccount learner-alice/learner",
            "Role learner-alice/learner-edit",
            "RoleBinding learner-alice/learner-edit",
            "ResourceQuota learner-alice/learner-quota",
            "LimitRange learner-alice/learner-limits",
            "NetworkPolicy learner-alice/learner-isolation",
        ]
    );
    assert_eq!(done.namespace, "learner-alice");

    let ns = fake
        .get("v1", "Namespace", None, "learner-alice")
        .expect("namespace");
    let labels = &ns["metadata"]["labels"];
    for (k, v) in [
        ("pod-security.kubernetes.io/enforce", "baseline"),
        ("pod-security.kubernetes.io/enforce-version", "latest"),
        ("pod-security.kubernetes.io/warn", "baseline"),
        ("pod-security.kubernetes.io/warn-version", "latest"),
        ("pod-security.kubernetes.io/audit", "restricted"),
        ("pod-security.kubernetes.io/audit-version", "latest"),
        ("app.kubernetes.io/managed-by", "kubelab"),
        ("kubelab.io/workshop", "demo"),
        ("kubelab.io/learner", "alice"),
    ] {
        assert_eq!(labels[k], v, "namespace label {k}: {labels}");
    }

    let rbac = "rbac.authorization.k8s.io/v1";
    let role = fake
        .get(rbac, "Role", Some("learner-alice"), "learner-edit")
        .expect("role");
    assert_eq!(role["rules"], learner_rules());
    let rules = role["rules"].to_string();
    for needed in [
        "pods/exec",
        "pods/log",
        "deployments/scale",
        "horizontalpodautoscalers",
        "cronjobs",
        "metrics.k8s.io",
        "events.k8s.io",
    ] {
        assert!(rules.contains(needed), "the Role lacks {needed}: {rules}");
    }
    for never in ["roles", "rolebindings", "\"*\""] {
        assert!(!rules.contains(never), "the Role grants {never}: {rules}");
    }
    let binding = fake
        .get(rbac, "RoleBinding", Some("learner-alice"), "learner-edit")
        .expect("binding");
    assert_eq!(
        binding["roleRef"],
        json!({"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "learner-edit"})
    );
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "learner", "namespace": "learner-alice"}])
    );
    let quota = fake
        .get(
            "v1",
            "ResourceQuota",
            Some("learner-alice"),
            "learner-quota",
        )
        .expect("quota");
    assert_eq!(
        quota["spec"]["hard"],
        json!({"pods": "11", "requests.cpu": "2100m", "requests.memory": "2176Mi", "limits.cpu": "4500m",
            "limits.memory": "4352Mi", "configmaps": "20", "secrets": "20", "services": "10",
            "persistentvolumeclaims": "5", "requests.storage": "5Gi", "services.nodeports": "0",
            "services.loadbalancers": "0", "count/deployments.apps": "10",
            "count/replicasets.apps": "40", "count/statefulsets.apps": "5",
            "count/daemonsets.apps": "2", "count/jobs.batch": "10", "count/cronjobs.batch": "5",
            "count/horizontalpodautoscalers.autoscaling": "5"})
    );
    let limits = fake
        .get("v1", "LimitRange", Some("learner-alice"), "learner-limits")
        .expect("limit range");
    assert_eq!(
        limits["spec"]["limits"],
        json!([{"type": "Container", "default": {"cpu": "200m", "memory": "128Mi"},
            "defaultRequest": {"cpu": "100m", "memory": "64Mi"},
            "max": {"cpu": "1", "memory": "512Mi"}}])
    );
    let sa = fake
        .get("v1", "ServiceAccount", Some("learner-alice"), "learner")
        .expect("service account");
    for object in [&ns, &sa, &role, &binding, &quota, &limits] {
        assert_eq!(
            object["metadata"]["labels"][MANAGED_BY_LABEL], "kubelab",
            "{object}"
        );
        assert_eq!(object["metadata"]["labels"][WORKSHOP_LABEL], "demo");
        assert_eq!(
            object["metadata"]["managedFields"][0]["manager"], "kubelab",
            "{object}"
        );
    }
}

#[tokio::test]
async fn provisioning_again_changes_nothing_and_puts_drift_back() {
    let (fake, cluster, _dir) = connected().await;
    cluster.provision_learner(&alice()).await.expect("first");
    let again = cluster.provision_learner(&alice()).await.expect("again");
    assert!(again.unchanged(), "{:?}", again.objects);
    assert!(again.created().is_empty());

    // Someone widens the Role and lifts the quota behind kubelab's back.
    let rbac = "rbac.authorization.k8s.io/v1";
    let mut role = fake
        .get(rbac, "Role", Some("learner-alice"), "learner-edit")
        .expect("role");
    role["rules"] = json!([{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]);
    fake.put(role).expect("widen the role");
    let mut quota = fake
        .get(
            "v1",
            "ResourceQuota",
            Some("learner-alice"),
            "learner-quota",
        )
        .expect("quota");
    quota["spec"]["hard"]["pods"] = json!("1000");
    fake.put(quota).expect("lift the quota");

    let fixed = cluster
        .provision_learner(&alice())
        .await
        .expect("re-attach");
    let configured: Vec<String> = fixed.configured().iter().map(|k| k.to_string()).collect();
    assert_eq!(
        configured,
        [
            "Role learner-alice/learner-edit",
            "ResourceQuota learner-alice/learner-quota"
        ]
    );
    let role = fake
        .get(rbac, "Role", Some("learner-alice"), "learner-edit")
        .expect("role");
    assert_eq!(role["rules"], learner_rules());
    let quota = fake
        .get(
            "v1",
            "ResourceQuota",
            Some("learner-alice"),
            "learner-quota",
        )
        .expect("quota");
    assert_eq!(quota["spec"]["hard"]["pods"], "11");
}

#[tokio::test]
async fn provisioning_refuses_bad_names_and_namespaces_it_does_not_own() {
    let (fake, cluster, _dir) = connected().await;
    for bad in ["Learner_Alice", "kube-system", "default", ""] {
        let mut space = alice();
        space.namespace = bad.into();
        let message = invalid_message(cluster.provision_learner(&space).await);
        assert!(message.contains(&format!("`{bad}`")), "{message}");
    }
    let mut space = alice();
    space.learner = "alice smith".into();
    let message = invalid_message(cluster.provision_learner(&space).await);
    assert!(message.contains("learner id"), "{message}");
    let mut space = alice();
    space.quota.requests_cpu = "lots".into();
    let message = invalid_message(cluster.provision_learner(&space).await);
    assert!(message.contains("lots"), "{message}");

    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}))
        .expect("someone's namespace");
    let taken = LearnerSpace::new("team-a", "demo", "alice");
    let message = invalid_message(cluster.provision_learner(&taken).await);
    assert!(message.contains("will not take it over"), "{message}");
    cluster.provision_learner(&alice()).await.expect("alice");
    let bob_in_alices = LearnerSpace::new("learner-alice", "demo", "bob");
    invalid_message(cluster.provision_learner(&bob_in_alices).await);
    assert!(
        fake.get("v1", "ServiceAccount", Some("team-a"), "learner")
            .is_none()
    );
}

#[tokio::test]
async fn the_learner_kubeconfig_carries_a_scoped_token_and_no_admin_credentials() {
    let (fake, cluster, _dir) = connected().await;
    cluster
        .provision_learner(&alice())
        .await
        .expect("provision");
    let yaml = cluster
        .learner_kubeconfig("learner-alice", HOUR)
        .await
        .expect("kubeconfig");
    assert!(!yaml.contains(fake.token()), "admin token leaked:\n{yaml}");
    let parsed = Kubeconfig::from_yaml(&yaml).expect("kubeconfig parses");
    let current = parsed.current_context.clone().expect("current context");
    let context = parsed
        .contexts
        .iter()
        .find(|c| c.name == current)
        .and_then(|c| c.context.clone())
        .expect("current context exists");
    assert_eq!(context.namespace.as_deref(), Some("learner-alice"));
    let server = parsed.clusters[0]
        .cluster
        .as_ref()
        .and_then(|c| c.server.clone());
    assert_eq!(server.as_deref(), Some(fake.url().as_str()));
    assert_eq!(parsed.auth_infos.len(), 1);

    let token_request = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/serviceaccounts/learner/token"))
        .expect("a TokenRequest was sent");
    assert_eq!(token_request.method, "POST");
    let body: Value = serde_json::from_str(&token_request.body).expect("json body");
    assert_eq!(body["spec"]["expirationSeconds"], 3600);
    assert!(body["spec"]["audiences"].is_null());

    let learner = Cluster::from_kubeconfig_text(&yaml).await.expect("learner");
    learner
        .probe()
        .await
        .expect("the learner reaches the server");

    let short = cluster
        .learner_kubeconfig("learner-alice", Duration::from_secs(60))
        .await;
    assert!(invalid_message(short).contains("10 minutes"));
    let missing = cluster.learner_kubeconfig("learner-nobody", HOUR).await;
    assert_eq!(api_error(missing).0, 404);
}

#[tokio::test]
async fn the_learner_works_in_their_namespace_and_nowhere_else() {
    let (fake, admin, learner, _dir) = as_alice(&alice()).await;
    admin
        .provision_learner(&LearnerSpace::new("learner-bob", "demo", "bob"))
        .await
        .expect("bob");
    admin
        .apply(
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bobs-secret"},
                "stringData": {"password": "hunter2"}}),
            "learner-bob",
        )
        .await
        .expect("bob's secret");

    assert!(
        learner
            .list("v1", "Pod", Some("learner-alice"), None)
            .await
            .expect("own pods")
            .is_empty()
    );
    let applied = learner
        .apply(
            &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "notes"},
                "data": {"a": "b"}}),
            "learner-alice",
        )
        .await
        .expect("own configmap");
    assert_eq!(applied.action, ApplyAction::Created);

    let user = "User \"system:serviceaccount:learner-alice:learner\"";
    let (code, reason, message) =
        api_error(learner.list("v1", "Pod", Some("learner-bob"), None).await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        format!(
            "pods is forbidden: {user} cannot list resource \"pods\" in API group \"\" in the namespace \"learner-bob\""
        )
    );
    let (code, _, message) = api_error(learner.list("v1", "Pod", None, None).await);
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "pods is forbidden: {user} cannot list resource \"pods\" in API group \"\" at the cluster scope"
        )
    );
    let (code, _, message) = api_error(learner.list("v1", "Namespace", None, None).await);
    assert_eq!(code, 403, "{message}");
    // `kubectl get namespace <theirs>`, as the labs' text says, and no other.
    let own = learner
        .get(&key("v1", "Namespace", None, "learner-alice"))
        .await
        .expect("their own Namespace")
        .expect("it exists");
    assert_eq!(own["metadata"]["name"], "learner-alice");
    let (code, _, message) = api_error(
        learner
            .get(&key("v1", "Namespace", None, "learner-bob"))
            .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "namespaces \"learner-bob\" is forbidden: {user} cannot get resource \"namespaces\" in API group \"\" in the namespace \"learner-bob\""
        )
    );
    let (code, _, message) = api_error(
        learner
            .get(&key("v1", "Secret", Some("learner-bob"), "bobs-secret"))
            .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        format!(
            "secrets \"bobs-secret\" is forbidden: {user} cannot get resource \"secrets\" in API group \"\" in the namespace \"learner-bob\""
        )
    );
    // No RBAC writes, no quota changes, even in the learner's own namespace.
    let role = json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "mine"}, "rules": [{"apiGroups": ["*"], "resources": ["*"], "verbs": ["*"]}]});
    let (code, _, message) = api_error(learner.apply(&role, "learner-alice").await);
    assert_eq!(code, 403);
    assert!(
        message.contains("in API group \"rbac.authorization.k8s.io\""),
        "{message}"
    );
    let quota = key(
        "v1",
        "ResourceQuota",
        Some("learner-alice"),
        "learner-quota",
    );
    assert_eq!(api_error(learner.delete(&quota).await).0, 403);
    assert!(
        learner
            .get(&quota)
            .await
            .expect("quota is readable")
            .is_some()
    );

    assert!(
        learner
            .can_i(Some("learner-alice"), "create", "", "pods/exec")
            .await
            .expect("ssar")
    );
    assert!(
        learner
            .can_i(Some("learner-alice"), "patch", "apps", "deployments")
            .await
            .expect("ssar")
    );
    assert!(
        !learner
            .can_i(Some("learner-bob"), "list", "", "pods")
            .await
            .expect("ssar")
    );
    assert!(
        !learner
            .can_i(Some("learner-alice"), "delete", "", "resourcequotas")
            .await
            .expect("ssar")
    );
    assert!(
        admin
            .can_i(Some("learner-bob"), "list", "", "pods")
            .await
            .expect("ssar")
    );

    // Exec into the learner's own running Pod is allowed by RBAC.
    fake.simulate_workloads(true);
    learner
        .apply(&pod("shell", nginx()), "learner-alice")
        .await
        .expect("own pod");
    let running = fake
        .wait_for(WAIT, |f| {
            f.get("v1", "Pod", Some("learner-alice"), "shell")
                .is_some_and(|p| p["status"]["phase"] == "Running")
        })
        .await;
    assert!(running, "the simulator should run the learner's Pod");
    let out = learner
        .exec(
            "learner-alice",
            "shell",
            "",
            &["echo".to_owned(), "hi".to_owned()],
            WAIT,
        )
        .await
        .expect("exec as the learner");
    assert!(
        matches!(&out, ExecResult::Finished { stdout, exit_code: 0, .. } if stdout == "hi\n"),
        "{out:?}"
    );
}

#[tokio::test]
async fn learner_pods_get_defaults_and_meet_pod_security_and_the_quota() {
    let mut space = alice();
    space.quota.pods = 2;
    let (fake, _admin, learner, _dir) = as_alice(&space).await;

    let web1 = learner
        .apply(&pod("web-1", nginx()), "learner-alice")
        .await
        .expect("web-1");
    let resources = &web1.object["spec"]["containers"][0]["resources"];
    assert_eq!(
        *resources,
        json!({"limits": {"cpu": "200m", "memory": "128Mi"}, "requests": {"cpu": "100m", "memory": "64Mi"}})
    );
    assert_eq!(
        web1.object["metadata"]["annotations"]["kubernetes.io/limit-ranger"],
        "LimitRanger plugin set: cpu, memory request for container nginx; cpu, memory limit for container nginx"
    );

    let privileged = pod(
        "privileged-pod",
        json!({"hostNetwork": true, "containers": [{"name": "c", "image": "busybox:1.36",
            "command": ["sleep", "3600"], "securityContext": {"privileged": true}}]}),
    );
    let (code, reason, message) = api_error(learner.apply(&privileged, "learner-alice").await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        "pods \"privileged-pod\" is forbidden: violates PodSecurity \"baseline:latest\": host namespaces (hostNetwork=true), privileged (container \"c\" must not set securityContext.privileged=true)"
    );
    let host_path = pod(
        "host-path",
        json!({"containers": [{"name": "c", "image": "busybox:1.36"}],
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}]}),
    );
    let (code, _, message) = api_error(learner.apply(&host_path, "learner-alice").await);
    assert_eq!(code, 403);
    assert!(
        message.contains("hostPath volumes (volume \"root\")"),
        "{message}"
    );

    let too_big = pod(
        "too-big",
        json!({"containers": [{"name": "c", "image": "busybox:1.36",
            "resources": {"limits": {"cpu": "2"}}}]}),
    );
    let (code, _, message) = api_error(learner.apply(&too_big, "learner-alice").await);
    assert_eq!(code, 403);
    assert!(
        message.contains("maximum cpu usage per Container is 1, but limit is 2"),
        "{message}"
    );

    learner
        .apply(&pod("web-2", nginx()), "learner-alice")
        .await
        .expect("web-2");
    let (code, reason, message) =
        api_error(learner.apply(&pod("web-3", nginx()), "learner-alice").await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        "pods \"web-3\" is forbidden: exceeded quota: learner-quota, requested: pods=1, used: pods=2, limited: pods=2"
    );
    let used = fake
        .get(
            "v1",
            "ResourceQuota",
            Some("learner-alice"),
            "learner-quota",
        )
        .expect("quota")["status"]["used"]
        .clone();
    assert_eq!(used["pods"], "2");
    assert_eq!(used["requests.cpu"], "200m");
    assert_eq!(used["limits.memory"], "256Mi");
    assert!(
        fake.get("v1", "Pod", Some("learner-alice"), "web-3")
            .is_none()
    );
}

#[tokio::test]
async fn admitted_learner_pods_carry_no_pod_security_warning() {
    let (fake, admin, _dir) = connected().await;
    admin.provision_learner(&alice()).await.expect("provision");
    let yaml = admin
        .learner_kubeconfig("learner-alice", HOUR)
        .await
        .expect("kubeconfig");
    let token = yaml
        .lines()
        .find_map(|l| l.trim().strip_prefix("token: "))
        .and_then(|t| serde_json::from_str::<String>(t).ok())
        .expect("token in the kubeconfig");
    let client = reqwest::Client::new();
    let url = format!("{}/api/v1/namespaces/learner-alice/pods", fake.url());
    let mut body = pod("web-1", nginx());
    body["metadata"]["namespace"] = json!("learner-alice");
    let response = client
        .post(&url)
        .bearer_auth(&token)
        .json(&body)
        .send()
        .await
        .expect("post");
    assert_eq!(response.status().as_u16(), 201);
    // Root, no seccomp profile, capabilities kept: what the labs' Pods do. Only `restricted`
    // objects to that, and it is audited, not warned about.
    assert_eq!(response.headers().get("warning"), None);
    let other = format!("{}/api/v1/namespaces/learner-bob/pods", fake.url());
    let denied = client
        .get(&other)
        .bearer_auth(&token)
        .send()
        .await
        .expect("get");
    assert_eq!(denied.status().as_u16(), 403);
    let status: Value = denied.json().await.expect("status body");
    assert_eq!(status["details"], json!({"kind": "pods"}));
    let forged = client
        .get(&url)
        .bearer_auth(format!("{token}x"))
        .send()
        .await
        .expect("get");
    assert_eq!(forged.status().as_u16(), 401);
}

#[tokio::test]
async fn deleting_refuses_unmanaged_namespaces_and_removes_learner_ones() {
    let (fake, cluster, _dir) = connected().await;
    fake.set_namespace_deletion_delay(Duration::from_millis(50));
    fake.put(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a",
        "labels": {"app.kubernetes.io/managed-by": "kubelab"}}}),
    )
    .expect("managed but not a workshop's");
    for name in ["default", "kube-system", "team-a"] {
        let message = invalid_message(cluster.delete_learner(name).await);
        assert!(message.contains("refuses to delete"), "{message}");
        assert!(fake.get("v1", "Namespace", None, name).is_some());
    }
    assert!(
        !cluster
            .delete_learner("learner-nobody")
            .await
            .expect("absent")
    );

    cluster.provision_learner(&alice()).await.expect("alice");
    cluster
        .provision_learner(&LearnerSpace::new("learner-bob", "demo", "bob"))
        .await
        .expect("bob");
    cluster
        .provision_learner(&LearnerSpace::new("other-carol", "other", "carol"))
        .await
        .expect("carol");
    assert_eq!(
        cluster.learner_namespaces("demo").await.expect("list"),
        ["learner-alice", "learner-bob"]
    );
    assert_eq!(
        cluster.learner_namespaces("other").await.expect("list"),
        ["other-carol"]
    );
    assert!(cluster.learner_namespaces("a,b").await.is_err());

    let yaml = cluster
        .learner_kubeconfig("learner-alice", HOUR)
        .await
        .expect("kubeconfig");
    let learner = Cluster::from_kubeconfig_text(&yaml).await.expect("learner");
    assert!(
        cluster
            .delete_learner("learner-alice")
            .await
            .expect("delete")
    );
    let gone = fake
        .wait_for(WAIT, |f| {
            f.get("v1", "Namespace", None, "learner-alice").is_none()
        })
        .await;
    assert!(gone, "the learner namespace should be removed");
    assert!(
        fake.get("v1", "ServiceAccount", Some("learner-alice"), "learner")
            .is_none()
    );
    assert_eq!(
        cluster.learner_namespaces("demo").await.expect("list"),
        ["learner-bob"]
    );
    // The ServiceAccount is gone, so its token no longer authenticates.
    let refused = learner.list("v1", "Pod", Some("learner-alice"), None).await;
    assert_eq!(api_error(refused).0, 401);
    assert!(
        !cluster
            .delete_learner("learner-alice")
            .await
            .expect("again")
    );
}
