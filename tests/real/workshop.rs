//! A workshop learner on a real cluster: kubelab in `--workshop` mode, an instructor creating
//! the workshop, a learner joining through the page's form, doing the ConfigMap lab in their own
//! namespace, and their downloaded kubeconfig meeting real RBAC, Pod Security (`baseline`
//! enforced and warned, the labs' Pods quiet), the ResourceQuota (no NodePorts), the default
//! NetworkPolicy and, as 1.28 serves no ValidatingAdmissionPolicy, kubelab's sweep of an
//! `externalIPs` Service. Reset keeps their namespace; ending the workshop removes it.

use std::panic::AssertUnwindSafe;

use futures::FutureExt;
use kubelab::startup::{InstructorCredential, instructor_credential};
use serde_json::{Value, json};

use super::harness::{Kubectl, Real, Row, STARTUP, Step, instructor_post, real_options, reset_on};
use crate::app::{TestApp, spawn_workshop_app_with_cluster};

const TOKEN: &str = "real-cluster-instructor-token-0123456789abcdef";
const LAB: &str = "configmap";

/// What a learner may do: (namespace — `None` for their own, `Some("*")` for cluster-wide —,
/// verb, resource, allowed?).
const ACCESS: &[(Option<&str>, &str, &str, bool)] = &[
    (None, "list", "pods", true),
    (None, "create", "pods", true),
    (None, "create", "configmaps", true),
    (None, "create", "pods/exec", true),
    (None, "create", "deployments.apps", true),
    (None, "get", "namespaces", true),
    (Some("default"), "list", "pods", false),
    (Some("kube-system"), "list", "secrets", false),
    (Some("*"), "list", "nodes", false),
    (Some("*"), "create", "namespaces", false),
    (None, "create", "roles.rbac.authorization.k8s.io", false),
    (None, "update", "resourcequotas", false),
];

/// Instructor and learner, from creating the workshop to ending it.
pub async fn run(real: &Real) {
    let site = spawn_workshop_app_with_cluster(real_options()).await;
    assert_eq!(
        instructor_credential(site.engine(), Some(TOKEN))
            .await
            .expect("token stored"),
        InstructorCredential::Given
    );
    let (status, workshop) = instructor(
        &site,
        "/api/instructor/workshops",
        json!({"name": "real cluster", "labs": [LAB, "pod"], "capacity": 2, "hours": 1}),
    )
    .await;
    assert_eq!(status, 201, "{workshop}");
    let id = workshop["id"].as_str().expect("id").to_owned();
    let code = workshop["code"].as_str().expect("code").to_owned();

    // The workshop is ended whatever happens to the learner, so no namespace is left behind.
    let outcome = AssertUnwindSafe(learner(real, &site, &code))
        .catch_unwind()
        .await;
    let (status, ended) = instructor(
        &site,
        &format!("/api/instructor/workshops/{id}/end"),
        json!({}),
    )
    .await;
    site.stop().await;
    let namespace = match outcome {
        Ok(namespace) => namespace,
        Err(panic) => std::panic::resume_unwind(panic),
    };
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["deleted"], 1, "{ended}");
    let left = real.kubectl.json(&["namespace", &namespace]).await;
    assert!(
        left.is_null() || left["metadata"]["deletionTimestamp"].is_string(),
        "ending the workshop deletes {namespace}: {left}"
    );
    real.record(Row {
        place: "workshop".into(),
        action: "instructor ends the workshop".into(),
        verdicts: format!("learner namespace deleted ({})", left["status"]["phase"]),
        waited: 0.0,
    });
}

/// The learner's part; returns their namespace.
async fn learner(real: &Real, site: &TestApp, code: &str) -> String {
    join(site, code).await;
    let (status, lab) = site.get_json(&format!("/api/labs/{LAB}")).await;
    assert_eq!(status, 200, "{lab}");
    let ns = lab["namespace"].as_str().expect("namespace").to_owned();
    assert!(ns.starts_with("kl-"), "{ns}");
    let namespace = real.kubectl.json(&["namespace", &ns]).await;
    for (label, value) in kubelab::cluster::POD_SECURITY {
        assert_eq!(namespace["metadata"]["labels"][label], value, "{namespace}");
    }

    let (status, kubeconfig) = site.get("/kubeconfig").await;
    assert_eq!(status, 200, "{kubeconfig}");
    let file = site.dir.path().join("learner.kubeconfig");
    std::fs::write(&file, kubeconfig).expect("kubeconfig written");
    let own = Kubectl::with_kubeconfig(&file);

    access(real, &own, &ns).await;
    admission(real, &own, &ns).await;
    lab_in_own_namespace(real, site, &own, &ns).await;
    ns
}

/// Joins through the join page's form, as a browser does.
async fn join(site: &TestApp, code: &str) {
    let (status, page) = site.get(&format!("/join/{code}")).await;
    assert_eq!(status, 200, "{page}");
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    let token = page[start..].split('"').next().expect("token");
    let response = site
        .client
        .post(format!("{}/join/{code}", site.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=Real+Learner&csrf_token={token}"))
        .send()
        .await
        .expect("POST join");
    assert_eq!(response.status().as_u16(), 303, "joined");
}

/// The issued kubeconfig against real RBAC: `kubectl auth can-i` and real requests.
async fn access(real: &Real, own: &Kubectl, ns: &str) {
    let mut wrong = Vec::new();
    let mut seen = Vec::new();
    for &(namespace, verb, resource, expected) in ACCESS {
        let mut args = vec!["auth", "can-i", verb, resource];
        match namespace {
            None => args.extend(["-n", ns]),
            Some("*") => {}
            Some(other) => args.extend(["-n", other]),
        }
        // `can-i` answers "no" with exit status 1.
        let answer = match own.try_run(&args).await {
            Ok(out) | Err(out) => out.trim().to_owned(),
        };
        let place = namespace.unwrap_or("own");
        seen.push(format!("{verb} {resource} in {place}: {answer}"));
        if (answer == "yes") != expected {
            wrong.push(format!(
                "{verb} {resource} in {place}: {answer}, expected {expected}"
            ));
        }
    }
    own.line(&format!("get pods -n {ns}")).await;
    // The labs' text has the learner look at their namespace; no other is visible.
    own.line(&format!("get namespace {ns}")).await;
    for other in ["get pods -n default", "get namespace default"] {
        match own.try_line(other).await {
            Err(e) if e.contains("Forbidden") || e.contains("forbidden") => {}
            answer => wrong.push(format!("kubectl {other}: {answer:?}")),
        }
    }
    assert!(wrong.is_empty(), "learner access: {wrong:#?}");
    real.record(Row {
        place: "workshop".into(),
        action: format!(
            "learner kubeconfig: kubectl auth can-i ×{}, get pods and namespace: own / default",
            ACCESS.len()
        ),
        verdicts: format!("{} answers as designed; default → Forbidden", seen.len()),
        waited: 0.0,
    });
}

/// Pod Security `baseline` refuses a privileged Pod; the ResourceQuota refuses a Pod that asks
/// for more CPU than the namespace has.
async fn admission(real: &Real, own: &Kubectl, ns: &str) {
    let privileged = own.apply(ns, PRIVILEGED).await;
    let refusal = privileged.expect_err("a privileged Pod is refused");
    assert!(refusal.contains("violates PodSecurity"), "{refusal}");
    let greedy = own.apply(ns, GREEDY).await;
    let refusal = greedy.expect_err("a Pod over the quota is refused");
    assert!(refusal.contains("exceeded quota"), "{refusal}");
    real.record(Row {
        place: "workshop".into(),
        action: "learner applies a privileged Pod; a Pod asking for 3 CPUs".into(),
        verdicts: "refused: violates PodSecurity \"baseline\"; exceeded quota".into(),
        waited: 0.0,
    });
    isolation(real, own, ns).await;
}

/// Quiet Pod Security for the labs' Pods, a warning for a workload enforcement would refuse,
/// no NodePorts, the default NetworkPolicy, and (1.28 serves no ValidatingAdmissionPolicy)
/// kubelab's sweep removing an `externalIPs` Service.
async fn isolation(real: &Real, own: &Kubectl, ns: &str) {
    let lab_pods = [
        include_str!("../../labs/kubectl/manifests/nginx-deployment.yaml"),
        include_str!("../../labs/pod/manifests/pair-pod.yaml"),
        include_str!("../../labs/configmap/manifests/busybox-pod.yaml"),
    ];
    for manifest in lab_pods {
        let (admitted, stderr) = own.dry_run_apply(ns, manifest).await;
        assert!(admitted, "{stderr}");
        assert!(
            !stderr.contains("Warning"),
            "no Pod Security noise: {stderr}"
        );
    }
    let (admitted, stderr) = own.dry_run_apply(ns, PRIVILEGED_DEPLOYMENT).await;
    assert!(admitted, "{stderr}");
    assert!(
        stderr.contains("Warning: would violate PodSecurity \"baseline:latest\": privileged"),
        "{stderr}"
    );
    let node_port = own.apply(ns, NODE_PORT).await;
    let refusal = node_port.expect_err("a NodePort Service is refused");
    assert!(
        refusal.contains("exceeded quota: learner-quota, requested: services.nodeports=1"),
        "{refusal}"
    );
    let policy = real
        .kubectl
        .json(&["networkpolicy", "learner-isolation", "-n", ns])
        .await;
    assert_eq!(
        policy["spec"]["policyTypes"],
        json!(["Ingress", "Egress"]),
        "{policy}"
    );
    own.apply(ns, EXTERNAL_IPS)
        .await
        .expect("1.28 serves no ValidatingAdmissionPolicy: the API server accepts it");
    let started = std::time::Instant::now();
    real.kubectl
        .wait_gone(&["service", "hijack", "-n", ns], STARTUP)
        .await;
    real.record(Row {
        place: "workshop".into(),
        action: "learner applies lab Pods, a privileged Deployment, a NodePort and an externalIPs Service".into(),
        verdicts: "lab Pods without warnings; Deployment warned (baseline); NodePort refused by quota; externalIPs swept".into(),
        waited: started.elapsed().as_secs_f64(),
    });
}

/// The ConfigMap lab in the learner's namespace, through their session and their kubectl.
async fn lab_in_own_namespace(real: &Real, site: &TestApp, own: &Kubectl, ns: &str) {
    let create = Step::on(real, site, LAB, "create-configmap");
    create.setup().await;
    create
        .expect(
            "workshop: Set up (into the learner's namespace)",
            &[("namespace-active", "passed"), ("configmap-keys", "passed")],
        )
        .await;
    let pod = Step::on(real, site, LAB, "pod");
    pod.setup().await;
    pod.expect(
        "workshop: Set up the Pod",
        &[("env-from-configmap", "passed"), ("pod-ready", "passed")],
    )
    .await;
    Step::on(real, site, LAB, "look-inside")
        .expect(
            "workshop: exec checks in the learner's Pod",
            &[
                ("env-inside", "passed"),
                ("game-file-inside", "passed"),
                ("only-listed-keys", "passed"),
            ],
        )
        .await;
    let env = own
        .line(&format!("exec busybox -n {ns} -- printenv FLY_NAME"))
        .await;
    assert_eq!(env.trim(), "kubelab");
    own.run(&[
        "patch",
        "configmap",
        "base-map",
        "-n",
        ns,
        "--type",
        "merge",
        "-p",
        r#"{"data":{"fly-name":"kubelab-v2"}}"#,
    ])
    .await;
    Step::on(real, site, LAB, "change-config")
        .expect(
            "workshop: the learner's own kubectl patch",
            &[("fly-name-changed", "passed"), ("lives-changed", "failed")],
        )
        .await;

    let report = reset_on(site, LAB).await;
    let deleted: Vec<Value> = report["deleted"].as_array().cloned().unwrap_or_default();
    assert!(
        deleted.iter().all(|o| o["kind"] != "Namespace"),
        "a learner's reset never deletes their namespace: {report}"
    );
    real.kubectl
        .wait_gone(&["pod", "busybox", "-n", ns], STARTUP)
        .await;
    real.kubectl
        .wait_gone(&["configmap", "base-map", "-n", ns], STARTUP)
        .await;
    let namespace = real.kubectl.json(&["namespace", ns]).await;
    assert_eq!(namespace["status"]["phase"], "Active", "{namespace}");
    create
        .expect(
            "workshop: after the learner's Reset",
            &[("namespace-active", "passed"), ("configmap-keys", "failed")],
        )
        .await;
}

/// A POST to the instructor API with the bearer token.
async fn instructor(site: &TestApp, path: &str, body: Value) -> (u16, Value) {
    instructor_post(&site.url, TOKEN, path, body).await
}

const PRIVILEGED: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: privileged
spec:
  containers:
    - name: app
      image: busybox:1.36
      command: ["sleep", "3600"]
      securityContext:
        privileged: true
"#;

const PRIVILEGED_DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata:
  name: privileged
spec:
  replicas: 1
  selector: {matchLabels: {app: privileged}}
  template:
    metadata: {labels: {app: privileged}}
    spec:
      containers:
        - name: app
          image: busybox:1.36
          command: ["sleep", "3600"]
          securityContext:
            privileged: true
"#;

const NODE_PORT: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: node-port
spec:
  type: NodePort
  ports: [{port: 80}]
"#;

const EXTERNAL_IPS: &str = r#"
apiVersion: v1
kind: Service
metadata:
  name: hijack
spec:
  externalIPs: ["10.0.0.53"]
  ports: [{port: 80}]
"#;

/// Three containers at the LimitRange's 1-CPU maximum: 3 CPUs, over the quota's 2.
const GREEDY: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: greedy
spec:
  containers:
    - name: a
      image: busybox:1.36
      command: ["sleep", "3600"]
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
    - name: b
      image: busybox:1.36
      command: ["sleep", "3600"]
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
    - name: c
      image: busybox:1.36
      command: ["sleep", "3600"]
      resources: {requests: {cpu: "1"}, limits: {cpu: "1"}}
"#;
