//! Workshop isolation beyond RBAC against the fake API server: the learner quota's NodePort,
//! LoadBalancer and object-count limits, the default NetworkPolicy, and the admission policies
//! against `externalIPs` and token Secrets — refused by the API server where it serves
//! ValidatingAdmissionPolicy (v1 or v1beta1), swept by kubelab where it does not (1.28).

use std::time::Duration;

use kubelab::cluster::{AdmissionGuard, Cluster, LearnerSpace, NO_EXTERNAL_IPS_POLICY};
use serde_json::{Value, json};

use super::{api_error, connected, key};
use crate::support::FakeApi;

const HOUR: Duration = Duration::from_secs(3600);
const NS: &str = "learner-alice";

fn alice() -> LearnerSpace {
    LearnerSpace::new(NS, "demo", "alice")
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

fn service(name: &str, spec: Value) -> Value {
    let mut spec = spec;
    spec["selector"] = json!({"app": "web"});
    spec["ports"] = json!([{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]);
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec})
}

fn token_secret(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name,
        "annotations": {"kubernetes.io/service-account.name": "learner"}},
        "type": "kubernetes.io/service-account-token"})
}

fn deployment(name: &str) -> Value {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}}}})
}

#[tokio::test]
async fn learners_get_no_node_ports_no_load_balancers_and_bounded_object_counts() {
    let mut space = alice();
    space
        .quota
        .set("count/deployments.apps", "1")
        .expect("a count entry");
    let (_fake, _admin, learner, _dir) = as_alice(&space).await;
    let (code, reason, message) = api_error(
        learner
            .apply(&service("web-nodeport", json!({"type": "NodePort"})), NS)
            .await,
    );
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert_eq!(
        message,
        "services \"web-nodeport\" is forbidden: exceeded quota: learner-quota, requested: services.nodeports=1, used: services.nodeports=0, limited: services.nodeports=0"
    );
    let (code, _, message) = api_error(
        learner
            .apply(&service("web-lb", json!({"type": "LoadBalancer"})), NS)
            .await,
    );
    assert_eq!(code, 403);
    assert_eq!(
        message,
        "services \"web-lb\" is forbidden: exceeded quota: learner-quota, requested: services.loadbalancers=1,services.nodeports=1, used: services.loadbalancers=0,services.nodeports=0, limited: services.loadbalancers=0,services.nodeports=0"
    );
    learner
        .apply(&service("web", json!({"type": "ClusterIP"})), NS)
        .await
        .expect("a ClusterIP Service is fine");

    learner
        .apply(&deployment("one"), NS)
        .await
        .expect("the first Deployment");
    let (code, _, message) = api_error(learner.apply(&deployment("two"), NS).await);
    assert_eq!(code, 403);
    assert!(
        message.ends_with(
            "exceeded quota: learner-quota, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1"
        ),
        "{message}"
    );
}

#[test]
fn quota_entries_are_checked_when_configured() {
    let mut quota = kubelab::cluster::QuotaSpec::default();
    quota.set("pods", "20").expect("pods");
    quota.set("requests.storage", "10Gi").expect("storage");
    quota.set("count/jobs.batch", "3").expect("jobs");
    let hard = quota.hard();
    assert_eq!(hard["pods"], "20");
    assert_eq!(hard["requests.storage"], "10Gi");
    assert_eq!(hard["count/jobs.batch"], "3");
    assert_eq!(hard["services.nodeports"], "0");
    assert!(quota.set("pods", "many").unwrap_err().contains("count"));
    assert!(
        quota
            .set("requests.cpu", "fast")
            .unwrap_err()
            .contains("not a Kubernetes quantity")
    );
    assert!(quota.set("gpus", "1").unwrap_err().contains("no entry"));
}

#[tokio::test]
async fn the_default_network_policy_allows_the_namespace_dns_and_the_api_server() {
    let (fake, admin, _dir) = connected().await;
    fake.put(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "spec": {"clusterIP": "10.43.0.1", "ports": [{"name": "https", "port": 443, "protocol": "TCP",
            "targetPort": 6443}]}}))
    .expect("kubernetes Service");
    fake.put(json!({"apiVersion": "v1", "kind": "Endpoints",
        "metadata": {"name": "kubernetes", "namespace": "default"},
        "subsets": [{"addresses": [{"ip": "192.168.5.15"}],
            "ports": [{"name": "https", "port": 6443, "protocol": "TCP"}]}]}))
        .expect("kubernetes Endpoints");
    admin.provision_learner(&alice()).await.expect("provision");
    let policy = fake
        .get(
            "networking.k8s.io/v1",
            "NetworkPolicy",
            Some(NS),
            "learner-isolation",
        )
        .expect("the NetworkPolicy");
    assert_eq!(policy["metadata"]["labels"]["kubelab.io/learner"], "alice");
    let spec = &policy["spec"];
    assert_eq!(spec["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(spec["ingress"], json!([{"from": [{"podSelector": {}}]}]));
    assert_eq!(
        spec["egress"],
        json!([
            {"to": [{"podSelector": {}}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                     "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
             "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]},
            {"to": [{"ipBlock": {"cidr": "10.43.0.1/32"}}], "ports": [{"protocol": "TCP", "port": 443}]},
            {"to": [{"ipBlock": {"cidr": "192.168.5.15/32"}}], "ports": [{"protocol": "TCP", "port": 6443}]},
        ])
    );
    let again = admin.provision_learner(&alice()).await.expect("again");
    assert!(again.unchanged(), "{:?}", again.objects);

    // The learner may read it, not change or delete it.
    let yaml = admin
        .learner_kubeconfig(NS, HOUR)
        .await
        .expect("kubeconfig");
    let learner = Cluster::from_kubeconfig_text(&yaml).await.expect("learner");
    let netpol = key(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        Some(NS),
        "learner-isolation",
    );
    assert!(learner.get(&netpol).await.expect("read").is_some());
    let (code, _, _) = api_error(learner.delete(&netpol).await);
    assert_eq!(code, 403);
}

#[tokio::test]
async fn where_policies_are_served_the_api_server_refuses_external_ips_and_token_secrets() {
    let (fake, admin, learner, _dir) = as_alice(&alice()).await;
    fake.serve_admission_policies(Some("v1"));
    let guard = admin.ensure_admission_policies().await.expect("installed");
    assert_eq!(
        guard,
        AdmissionGuard::Policies {
            api_version: "admissionregistration.k8s.io/v1".into()
        }
    );
    let again = admin.ensure_admission_policies().await.expect("again");
    assert_eq!(again, guard);

    let hijack = service("hijack", json!({"externalIPs": ["10.0.0.53"]}));
    let (code, reason, message) = api_error(learner.apply(&hijack, NS).await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        format!(
            "services \"hijack\" is forbidden: ValidatingAdmissionPolicy '{NO_EXTERNAL_IPS_POLICY}' with binding '{NO_EXTERNAL_IPS_POLICY}' denied request: a workshop learner's Service may not set spec.externalIPs: they would capture traffic meant for those addresses across the cluster (CVE-2020-8554)"
        )
    );
    let (code, _, message) = api_error(learner.apply(&token_secret("forever"), NS).await);
    assert_eq!(code, 422);
    assert!(
        message.starts_with("secrets \"forever\" is forbidden: ValidatingAdmissionPolicy 'kubelab-learner-no-token-secrets' with binding 'kubelab-learner-no-token-secrets' denied request: "),
        "{message}"
    );
    // An update is refused too.
    learner
        .apply(&service("web", json!({})), NS)
        .await
        .expect("a plain Service");
    let (code, _, _) = api_error(
        learner
            .apply(&service("web", json!({"externalIPs": ["10.0.0.53"]})), NS)
            .await,
    );
    assert_eq!(code, 422);
    learner
        .apply(
            &json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "db-login"},
                "stringData": {"password": "x"}}),
            NS,
        )
        .await
        .expect("an Opaque Secret");
    // Outside learner namespaces nothing changes.
    admin
        .apply(&hijack, "default")
        .await
        .expect("the instructor's own namespaces are not learners'");
}

#[tokio::test]
async fn v1beta1_policies_are_used_where_only_they_are_served() {
    let (fake, admin, _dir) = connected().await;
    fake.serve_admission_policies(Some("v1beta1"));
    let guard = admin.ensure_admission_policies().await.expect("installed");
    assert_eq!(
        guard,
        AdmissionGuard::Policies {
            api_version: "admissionregistration.k8s.io/v1beta1".into()
        }
    );
    assert!(
        fake.get(
            "admissionregistration.k8s.io/v1beta1",
            "ValidatingAdmissionPolicyBinding",
            None,
            NO_EXTERNAL_IPS_POLICY
        )
        .is_some()
    );
}

#[tokio::test]
async fn without_policies_kubelab_sweeps_what_the_api_server_accepted() {
    let (fake, admin, learner, _dir) = as_alice(&alice()).await;
    let guard = admin.ensure_admission_policies().await.expect("looked up");
    assert!(
        matches!(&guard, AdmissionGuard::Sweep { why } if why.contains("1.30")),
        "{guard:?}"
    );
    let requests = fake.requests();
    let answered: Vec<&str> = requests
        .iter()
        .filter(|r| r.path.starts_with("/apis/admissionregistration"))
        .map(|r| r.path.as_str())
        .collect();
    assert!(
        answered.contains(&"/apis/admissionregistration.k8s.io/v1beta1"),
        "{answered:?}"
    );
    learner
        .apply(
            &service("hijack", json!({"externalIPs": ["10.0.0.53"]})),
            NS,
        )
        .await
        .expect("1.28 accepts it");
    learner
        .apply(&token_secret("forever"), NS)
        .await
        .expect("1.28 accepts it");
    learner
        .apply(&service("web", json!({})), NS)
        .await
        .expect("a plain Service");
    admin
        .apply(
            &service("outside", json!({"externalIPs": ["10.0.0.53"]})),
            "default",
        )
        .await
        .expect("outside learner namespaces");

    let removed = admin.sweep_learner_breaches().await.expect("swept");
    let mut keys: Vec<String> = removed.iter().map(|b| b.key.to_string()).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "Secret learner-alice/forever",
            "Service learner-alice/hijack"
        ]
    );
    assert!(fake.get("v1", "Service", Some(NS), "hijack").is_none());
    assert!(fake.get("v1", "Secret", Some(NS), "forever").is_none());
    assert!(fake.get("v1", "Service", Some(NS), "web").is_some());
    assert!(
        fake.get("v1", "Service", Some("default"), "outside")
            .is_some()
    );
    assert!(
        admin
            .sweep_learner_breaches()
            .await
            .expect("again")
            .is_empty()
    );
}

#[tokio::test]
async fn the_fake_answers_policy_discovery_like_the_recorded_server_and_like_1_30() {
    let fake = FakeApi::start().await;
    let client = reqwest::Client::new();
    let get = |path: &'static str| {
        let request = client
            .get(format!("{}{path}", fake.url()))
            .bearer_auth(fake.token());
        async move {
            let response = request.send().await.expect("GET");
            let status = response.status().as_u16();
            (status, response.json::<Value>().await.expect("JSON"))
        }
    };
    for (number, path) in [
        ("146", "/apis/admissionregistration.k8s.io"),
        ("147", "/apis/admissionregistration.k8s.io/v1"),
        ("148", "/apis/admissionregistration.k8s.io/v1beta1"),
        (
            "149",
            "/apis/admissionregistration.k8s.io/v1beta1/validatingadmissionpolicies",
        ),
        (
            "150",
            "/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies",
        ),
    ] {
        let recorded = crate::support::discovery::recorded(number);
        let (status, body) = get(path).await;
        assert_eq!(
            u64::from(status),
            recorded["response"]["status"].as_u64().expect("status"),
            "{path}"
        );
        assert_eq!(body, recorded["response"]["body"], "{path}");
    }

    fake.serve_admission_policies(Some("v1"));
    let (status, list) = get("/apis/admissionregistration.k8s.io/v1").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "mutatingwebhookconfigurations",
            "validatingwebhookconfigurations",
            "validatingadmissionpolicies",
            "validatingadmissionpolicies/status",
            "validatingadmissionpolicybindings"
        ]
    );
    let (status, empty) =
        get("/apis/admissionregistration.k8s.io/v1/validatingadmissionpolicies").await;
    assert_eq!(
        (status, empty["kind"].as_str()),
        (200, Some("ValidatingAdmissionPolicyList"))
    );
    let (status, _) = get("/apis/admissionregistration.k8s.io/v1beta1").await;
    assert_eq!(status, 404, "v1beta1 stays off when v1 serves the policies");
}
