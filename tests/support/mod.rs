//! A fake Kubernetes API server for kubelab's integration tests, answering over real HTTP like
//! the kube-apiserver 1.28 exchanges recorded in `tests/support/recorded/` (discovery, server-side
//! apply with managedFields, list/watch with selectors, Status errors, namespace deletion,
//! ServiceAccount tokens with audiences checked by RBAC, access and token reviews,
//! LimitRange/PodSecurity/ResourceQuota admission), with test hooks and an opt-in workload
//! simulator standing in for the scheduler, controllers and a kubelet (graceful Pod
//! termination, exec over WebSocket with tty sessions, logs). `tests/differential/` holds it to
//! a real cluster.

pub mod admission;
pub mod client;
pub mod container;
pub mod discovery;
pub mod events;
pub mod exec;
pub mod fields;
mod hook_tests;
pub mod interpreter;
pub mod kubectl;
pub mod kubelet;
pub mod logs;
pub mod policies;
pub mod rbac;
pub mod reviews;
pub mod selectors;
mod server;
mod simulate;
pub mod state;
pub mod terminal;
mod tests;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use discovery::DISCOVERY;
use state::{ObjKey, State};

pub use exec::{ExecCall, ExecProtocols, ExecReply, ExecSession, TerminalSize};
pub use kubelet::{NodeFlavor, PodTermination};
pub use state::ApiError;
pub use terminal::ShellScript;

/// The bearer token the fake accepts (and writes into kubeconfigs).
pub const TOKEN: &str = "kubelab-fake-admin-token";

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    /// HTTP method (`GET`).
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Decoded query parameters.
    pub query: BTreeMap<String, String>,
    /// `Content-Type` header ("" when absent).
    pub content_type: String,
    /// `Accept` header.
    pub accept: String,
    /// `User-Agent` header.
    pub user_agent: String,
    /// Request body as text.
    pub body: String,
}

/// State shared by the HTTP handlers, the hooks and background tasks.
pub struct Shared {
    state: Mutex<State>,
    notify: tokio::sync::watch::Sender<u64>,
    /// Bumped by `drop_watches`: open watch streams end when it changes.
    drops: tokio::sync::watch::Sender<u64>,
    /// The test's exec handler (`None`: the default command interpreter).
    exec_handler: Mutex<Option<exec::ExecHandler>>,
    /// Every exec session so far.
    exec_sessions: Mutex<Vec<ExecSession>>,
    /// How interactive shells behave.
    shell_script: Mutex<ShellScript>,
    token: String,
}

impl Shared {
    /// Reads or changes the state without announcing a change.
    pub fn with_state<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut guard)
    }

    /// Changes the state and wakes watches (and the simulator).
    pub fn mutate<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let (out, rv) = self.with_state(|s| (f(s), s.rv));
        self.notify.send_replace(rv);
        out
    }
}

/// A running fake API server on 127.0.0.1.
pub struct FakeApi {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<JoinHandle<()>>>,
    simulator: Mutex<Option<JoinHandle<()>>>,
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let app = Router::new().fallback(server::handle).with_state(shared);
    // Connections live in this set so that stopping the server also cuts open watches.
    let mut connections = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let app = app.clone();
        connections.spawn(async move {
            let service =
                hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                    app.clone().oneshot(req.map(axum::body::Body::new))
                });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades()
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

impl FakeApi {
    /// Starts a fake on a free port of 127.0.0.1.
    pub async fn start() -> FakeApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0 for the fake API server");
        let addr = listener.local_addr().expect("local address of the fake");
        let (notify, _) = tokio::sync::watch::channel(0);
        let (drops, _) = tokio::sync::watch::channel(0);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new()),
            notify,
            drops,
            exec_handler: Mutex::new(None),
            exec_sessions: Mutex::new(Vec::new()),
            shell_script: Mutex::new(ShellScript::default()),
            token: TOKEN.to_string(),
        });
        let server = tokio::spawn(serve(listener, shared.clone()));
        FakeApi {
            shared,
            addr,
            server: Mutex::new(Some(server)),
            simulator: Mutex::new(None),
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bearer token requests must carry.
    pub fn token(&self) -> &str {
        &self.shared.token
    }

    /// Writes a kubeconfig (cluster `fake`, user with the bearer token, context `fake` as
    /// current-context) into `dir` and returns its path.
    pub fn write_kubeconfig(&self, dir: &Path) -> PathBuf {
        let path = dir.join("kubeconfig");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: {url}\ncontexts:\n- name: fake\n  context:\n    cluster: fake\n    user: fake-admin\n    namespace: default\ncurrent-context: fake\nusers:\n- name: fake-admin\n  user:\n    token: {token}\n",
            url = self.url(),
            token = self.shared.token
        );
        std::fs::write(&path, text).expect("write the fake's kubeconfig");
        path
    }

    /// Stops answering: the port is closed and open connections (watches) are cut.
    pub async fn stop(&self) {
        let handle = self.server.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(h) = handle {
            h.abort();
            let _ = h.await;
        }
    }

    /// Starts again on the same port, keeping objects; watches from an older resourceVersion
    /// now get 410 Expired, as after a real apiserver restart.
    pub async fn restart(&self) {
        self.stop().await;
        self.shared.with_state(|s| {
            s.rv += 1;
            s.log_start = s.rv;
            s.log.clear();
        });
        let mut listener = None;
        for _ in 0..50 {
            match TcpListener::bind(self.addr).await {
                Ok(l) => {
                    listener = Some(l);
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
            }
        }
        let listener = listener.expect("rebind the fake API server's port");
        let server = tokio::spawn(serve(listener, self.shared.clone()));
        *self.server.lock().unwrap_or_else(|p| p.into_inner()) = Some(server);
    }

    /// Serves metrics.k8s.io (off by default, as on a cluster without metrics-server); with the
    /// simulator on, `NodeMetrics`/`PodMetrics` objects follow the running Pods.
    pub fn set_metrics_api(&self, enabled: bool) {
        self.shared.mutate(|s| s.metrics = enabled);
    }

    /// Serves ValidatingAdmissionPolicy (and its binding) in `version` (`"v1"` as 1.30+ and k3s
    /// do, `"v1beta1"` as 1.28/1.29 with the API enabled), enforcing stored policies; `None`
    /// (the default) as the recorded 1.28: not in discovery, 404.
    pub fn serve_admission_policies(&self, version: Option<&str>) {
        self.shared
            .mutate(|s| s.admission_policies = version.map(str::to_string));
    }

    /// Answers execs into running containers with `handler` instead of the default command
    /// interpreter (`printenv`, `cat`, `echo`, `sh -c`, `wget`, ...).
    pub fn set_exec_handler(
        &self,
        handler: impl Fn(ExecCall) -> ExecReply + Send + Sync + 'static,
    ) {
        *self
            .shared
            .exec_handler
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(handler));
    }

    /// Goes back to the default exec command interpreter.
    pub fn clear_exec_handler(&self) {
        *self
            .shared
            .exec_handler
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Which exec WebSocket subprotocols the simulated node speaks (default: 1.28, v4 only).
    pub fn set_exec_protocols(&self, protocols: ExecProtocols) {
        self.shared.with_state(|s| s.exec_protocols = protocols);
    }

    /// Accepts `token` as if TokenRequest had issued it (one already expired, say).
    pub fn accept_token(&self, token: &str, issued: rbac::IssuedToken) {
        self.shared.with_state(|s| {
            s.tokens.insert(token.to_owned(), issued);
        });
    }

    /// Every exec session so far, in order: the request, the negotiated subprotocol, what the
    /// client typed and the terminal sizes it sent, the exit status.
    pub fn exec_sessions(&self) -> Vec<ExecSession> {
        self.shared
            .exec_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// How interactive shells (exec with `tty=true&stdin=true` running `sh`) behave: banner,
    /// prompt, and an optional handler for each typed line.
    pub fn set_shell_script(&self, script: ShellScript) {
        *self
            .shared
            .shell_script
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = script;
    }

    /// Names the simulated node and chooses how it looks; call before `simulate_workloads(true)`
    /// (default: `colima`, k3s with Docker).
    pub fn set_node(&self, name: &str, flavor: NodeFlavor) {
        self.shared.with_state(|s| {
            s.sim_node = name.to_string();
            s.node_flavor = flavor;
        });
    }

    /// How long the simulated kubelet takes to stop a deleted Pod (default: its whole grace
    /// period, as a real kubelet with a container that ignores SIGTERM). The Pod always reports
    /// the real `deletionGracePeriodSeconds` and deadline; only the wait changes.
    pub fn set_pod_termination(&self, termination: PodTermination) {
        self.shared.with_state(|s| s.pod_termination = termination);
    }

    /// Ends the grace period of a terminating Pod now (for `PodTermination::Manual`, or to cut
    /// a faithful wait short): the kubelet's final writes follow at once. Returns whether the
    /// Pod was terminating.
    pub fn finish_pod_termination(&self, namespace: &str, name: &str) -> bool {
        let key = ObjKey::new(&state::resource("v1", "Pod"), namespace, name);
        self.shared.mutate(|s| {
            let uid = s
                .get(&key)
                .and_then(|p| p["metadata"]["uid"].as_str().map(String::from));
            match uid.and_then(|u| s.terminations.get_mut(&u)) {
                Some(t) => {
                    t.deadline = Some(std::time::Instant::now());
                    true
                }
                None => false,
            }
        })
    }

    /// Pods the simulated kubelet is still stopping, as `namespace/name`.
    pub fn terminating_pods(&self) -> Vec<String> {
        self.shared.with_state(|s| {
            s.terminations
                .values()
                .map(|t| format!("{}/{}", t.key.namespace, t.key.name))
                .collect()
        })
    }

    /// What container `container` of Pod `namespace/name` has written to its log (the
    /// simulator runs no programs; call after creating the Pod, replaces earlier text).
    pub fn set_container_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.shared.with_state(|s| {
            s.logs.insert(
                (namespace.into(), pod.into(), container.into()),
                text.to_string(),
            )
        });
    }

    /// Appends to a container's log (a running program printing more).
    pub fn append_container_log(&self, namespace: &str, pod: &str, container: &str, text: &str) {
        self.shared.with_state(|s| {
            s.logs
                .entry((namespace.into(), pod.into(), container.into()))
                .or_default()
                .push_str(text)
        });
    }

    /// Simulated CPU usage of each Pod in `namespace` matching the label `selector`, in
    /// millicores (the last matching setting wins; other Pods use 1m). Feeds `PodMetrics`,
    /// `NodeMetrics` and the HPA controller.
    pub fn set_pod_cpu_usage(&self, namespace: &str, selector: &str, millicores: u64) {
        self.shared.mutate(|s| {
            s.cpu_usage
                .retain(|(n, sel, _)| !(n == namespace && sel == selector));
            s.cpu_usage
                .push((namespace.to_string(), selector.to_string(), millicores));
        });
    }

    /// Ends every open watch stream (as a load balancer or apiserver restart would) while the
    /// server keeps answering; clients must re-watch.
    pub fn drop_watches(&self) {
        self.shared.drops.send_modify(|n| *n += 1);
    }

    /// How long a deleted namespace stays Terminating before it and its objects are gone.
    pub fn set_namespace_deletion_delay(&self, delay: Duration) {
        self.shared.with_state(|s| s.namespace_delete_delay = delay);
    }

    /// Turns the workload simulator on or off: Pods get scheduled on node `colima` and become
    /// Running/Ready, Deployments get ReplicaSets, Pods and a complete rollout status.
    pub fn simulate_workloads(&self, enabled: bool) {
        self.shared.with_state(|s| s.simulate = enabled);
        let mut sim = self.simulator.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(h) = sim.take() {
            h.abort();
        }
        if enabled {
            self.shared.mutate(simulate::ensure_node);
            *sim = Some(tokio::spawn(simulate::run(self.shared.clone())));
        }
    }

    /// Creates or replaces an object directly, as a controller would (status included).
    pub fn put(&self, obj: Value) -> Result<Value, ApiError> {
        let mut obj = obj;
        let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        if let Some(res) = DISCOVERY.by_kind(&api_version, &kind)
            && res.namespaced
            && obj["metadata"]["namespace"].as_str().is_none()
        {
            obj["metadata"]["namespace"] = json!("default");
        }
        self.shared.mutate(|s| s.put(obj, "kubelab-test"))
    }

    /// Replaces an object's status (like a controller's `/status` write).
    pub fn patch_status(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
        status: Value,
    ) -> Result<Value, ApiError> {
        let res = DISCOVERY
            .by_kind(api_version, kind)
            .cloned()
            .ok_or_else(|| state::bad_request(&format!("no resource {api_version} {kind}")))?;
        let key = ObjKey::new(&res, namespace.unwrap_or(""), name);
        self.shared.mutate(|s| {
            let cur = s
                .get(&key)
                .cloned()
                .ok_or_else(|| state::not_found(&res, name))?;
            let mut new = cur.clone();
            server::merge_patch(&mut new["status"], &status);
            s.update(&res, &cur, new, "kubelab-test", Some("status"), false)
        })
    }

    /// One stored object (with kind/apiVersion), if it exists.
    pub fn get(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Option<Value> {
        let res = DISCOVERY.by_kind(api_version, kind)?.clone();
        let key = ObjKey::new(&res, namespace.unwrap_or(""), name);
        self.shared
            .with_state(|s| s.get(&key).map(|o| state::with_type(o, &res)))
    }

    /// Stored objects of a kind (one namespace, or all with `None`), in key order.
    pub fn list(&self, api_version: &str, kind: &str, namespace: Option<&str>) -> Vec<Value> {
        let Some(res) = DISCOVERY.by_kind(api_version, kind).cloned() else {
            return Vec::new();
        };
        self.shared.with_state(|s| s.list(&res, namespace))
    }

    /// Deletes an object as a DELETE request would (namespaces start Terminating).
    pub fn delete(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<Value, ApiError> {
        let res = DISCOVERY
            .by_kind(api_version, kind)
            .cloned()
            .ok_or_else(|| state::bad_request(&format!("no resource {api_version} {kind}")))?;
        let out = self
            .shared
            .mutate(|s| s.delete(&res, namespace.unwrap_or(""), name))?;
        if res.group.is_empty() && res.kind == "Namespace" {
            let shared = self.shared.clone();
            let delay = shared.with_state(|s| s.namespace_delete_delay);
            let ns = name.to_string();
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                shared.mutate(|s| s.finalize_namespace(&ns));
            });
        }
        Ok(out)
    }

    /// The current resourceVersion (last one handed out).
    pub fn resource_version(&self) -> u64 {
        self.shared.with_state(|s| s.rv)
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.with_state(|s| s.requests.clone())
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.with_state(|s| s.requests.clear());
    }

    /// Waits (polling) until `cond` holds on the fake, up to `timeout`; returns whether it held.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut cond: impl FnMut(&FakeApi) -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for FakeApi {
    fn drop(&mut self) {
        if let Some(h) = self.server.lock().unwrap_or_else(|p| p.into_inner()).take() {
            h.abort();
        }
        if let Some(h) = self
            .simulator
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            h.abort();
        }
    }
}
