//! Workshop isolation: one namespace per learner with its ServiceAccount, Role/RoleBinding,
//! ResourceQuota, LimitRange, NetworkPolicy and Pod Security labels (server-side applied,
//! idempotent), the
//! learner's scoped kubeconfig (a TokenRequest token, never the admin credentials), and the
//! guarded deletion and listing of a workshop's namespaces.

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine;
use kube::config::{Config, KubeConfigOptions, Kubeconfig};
use serde::Serialize;
use serde_json::{Value, json};

use super::isolation::{ApiServerRoute, network_policy};
use super::{Applied, ApplyAction, Cluster, ClusterError, Inner, ObjectKey, bounded, error};

/// The ServiceAccount every learner acts as, in their own namespace.
pub const LEARNER_SERVICE_ACCOUNT: &str = "learner";
/// The Role (and RoleBinding) that grants a learner what the labs need in their namespace.
pub const LEARNER_ROLE: &str = "learner-edit";
/// The ResourceQuota of a learner namespace.
pub const LEARNER_QUOTA: &str = "learner-quota";
/// The LimitRange of a learner namespace.
pub const LEARNER_LIMITS: &str = "learner-limits";
/// Label marking everything kubelab created (`app.kubernetes.io/managed-by=kubelab`).
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// The value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "kubelab";
/// Label naming the workshop a learner namespace belongs to.
pub const WORKSHOP_LABEL: &str = "kubelab.io/workshop";
/// Label naming the learner a namespace belongs to.
pub const LEARNER_LABEL: &str = "kubelab.io/learner";

/// The shortest token lifetime the API server accepts in a TokenRequest.
pub const MIN_TOKEN_EXPIRY: Duration = Duration::from_secs(600);

/// The Pod Security labels of a learner namespace. `enforce: baseline` refuses what could
/// reach the node (privileged, host namespaces, hostPath, added capabilities) with a clear 403;
/// `warn: baseline` says the same at `apply` time for Deployments and other workloads, whose
/// Pods enforcement refuses later, out of the learner's sight; `restricted` is only audited
/// (the API server's audit log), as the labs' busybox and nginx Pods run as root and would
/// otherwise print a multi-line warning on every apply. `latest`: the policy of the cluster's
/// own version.
pub const POD_SECURITY: [(&str, &str); 6] = [
    ("pod-security.kubernetes.io/enforce", "baseline"),
    ("pod-security.kubernetes.io/enforce-version", "latest"),
    ("pod-security.kubernetes.io/warn", "baseline"),
    ("pod-security.kubernetes.io/warn-version", "latest"),
    ("pod-security.kubernetes.io/audit", "restricted"),
    ("pod-security.kubernetes.io/audit-version", "latest"),
];

const EDIT: &[&str] = &[
    "get", "list", "watch", "create", "update", "patch", "delete",
];
const READ: &[&str] = &["get", "list", "watch"];

/// What a learner may use in their namespace, all at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaSpec {
    /// Pods (`pods`).
    pub pods: u32,
    /// Sum of CPU requests (`requests.cpu`, a quantity such as `"2"` or `"1500m"`).
    pub requests_cpu: String,
    /// Sum of memory requests (`requests.memory`, such as `"2Gi"`).
    pub requests_memory: String,
    /// Sum of CPU limits (`limits.cpu`).
    pub limits_cpu: String,
    /// Sum of memory limits (`limits.memory`).
    pub limits_memory: String,
    /// ConfigMaps (`configmaps`; every namespace already holds `kube-root-ca.crt`).
    pub configmaps: u32,
    /// Secrets (`secrets`).
    pub secrets: u32,
    /// Services (`services`).
    pub services: u32,
    /// PersistentVolumeClaims (`persistentvolumeclaims`).
    pub persistent_volume_claims: u32,
    /// Sum of storage the claims request (`requests.storage`).
    pub requests_storage: String,
    /// NodePorts (`services.nodeports`): 0, so no learner opens a port on every node.
    pub node_ports: u32,
    /// LoadBalancer Services (`services.loadbalancers`): 0, so no learner gets a public address.
    pub load_balancers: u32,
    /// Object counts of other kinds the learner may create (`count/deployments.apps`, ...).
    pub counts: BTreeMap<String, u32>,
}

impl Default for QuotaSpec {
    /// Enough for every lab (a 3-replica Deployment during a rolling restart, an HPA up to 5,
    /// the ReplicaSets of ten `rollout restart`s) with the learner's toolbox Pod running beside
    /// it (one Pod, 100m/128Mi requested, 500m/256Mi limits: see `ToolboxSpec`); no NodePort or
    /// LoadBalancer Services.
    fn default() -> QuotaSpec {
        let counts = [
            ("count/deployments.apps", 10),
            ("count/replicasets.apps", 40),
            ("count/statefulsets.apps", 5),
            ("count/daemonsets.apps", 2),
            ("count/jobs.batch", 10),
            ("count/cronjobs.batch", 5),
            ("count/horizontalpodautoscalers.autoscaling", 5),
        ];
        QuotaSpec {
            pods: 11,
            requests_cpu: "2100m".into(),
            requests_memory: "2176Mi".into(),
            limits_cpu: "4500m".into(),
            limits_memory: "4352Mi".into(),
            configmaps: 20,
            secrets: 20,
            services: 10,
            persistent_volume_claims: 5,
            requests_storage: "5Gi".into(),
            node_ports: 0,
            load_balancers: 0,
            counts: counts.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
        }
    }
}

impl QuotaSpec {
    /// Changes one quota entry by its ResourceQuota name (`pods`, `requests.cpu`,
    /// `services.nodeports`, `count/deployments.apps`, ...): a count or a quantity as the entry
    /// takes. `count/<plural>.<group>` entries not in the defaults are added.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let value = value.trim();
        let count = || {
            value.parse::<u32>().map_err(|_| {
                format!("the learner quota's {name} is a count of objects, not {value:?}")
            })
        };
        let quantity = |field: &mut String| {
            validate_quantity(&format!("learner quota's {name}"), value)
                .map_err(|e| e.to_string())?;
            value.clone_into(field);
            Ok(())
        };
        match name {
            "pods" => self.pods = count()?,
            "configmaps" => self.configmaps = count()?,
            "secrets" => self.secrets = count()?,
            "services" => self.services = count()?,
            "persistentvolumeclaims" => self.persistent_volume_claims = count()?,
            "services.nodeports" => self.node_ports = count()?,
            "services.loadbalancers" => self.load_balancers = count()?,
            "requests.cpu" => return quantity(&mut self.requests_cpu),
            "requests.memory" => return quantity(&mut self.requests_memory),
            "limits.cpu" => return quantity(&mut self.limits_cpu),
            "limits.memory" => return quantity(&mut self.limits_memory),
            "requests.storage" => return quantity(&mut self.requests_storage),
            counted if counted.starts_with("count/") && counted.len() > "count/".len() => {
                let n = count()?;
                self.counts.insert(counted.to_owned(), n);
            }
            _ => {
                return Err(format!(
                    "the learner quota has no entry {name:?}: use pods, requests.cpu, \
                     requests.memory, limits.cpu, limits.memory, configmaps, secrets, services, \
                     persistentvolumeclaims, requests.storage, services.nodeports, \
                     services.loadbalancers or count/<resource>.<group>"
                ));
            }
        }
        Ok(())
    }

    /// The ResourceQuota's `spec.hard`.
    pub fn hard(&self) -> BTreeMap<String, String> {
        let mut hard: BTreeMap<String, String> = self
            .counts
            .iter()
            .map(|(k, v)| (k.clone(), v.to_string()))
            .collect();
        for (key, value) in [
            ("pods", self.pods.to_string()),
            ("requests.cpu", self.requests_cpu.clone()),
            ("requests.memory", self.requests_memory.clone()),
            ("limits.cpu", self.limits_cpu.clone()),
            ("limits.memory", self.limits_memory.clone()),
            ("configmaps", self.configmaps.to_string()),
            ("secrets", self.secrets.to_string()),
            ("services", self.services.to_string()),
            (
                "persistentvolumeclaims",
                self.persistent_volume_claims.to_string(),
            ),
            ("requests.storage", self.requests_storage.clone()),
            ("services.nodeports", self.node_ports.to_string()),
            ("services.loadbalancers", self.load_balancers.to_string()),
        ] {
            hard.insert(key.to_owned(), value);
        }
        hard
    }
}

/// Defaults and bounds for each container of a learner's Pods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitSpec {
    /// CPU request of a container that sets none.
    pub default_request_cpu: String,
    /// Memory request of a container that sets none.
    pub default_request_memory: String,
    /// CPU limit of a container that sets none.
    pub default_limit_cpu: String,
    /// Memory limit of a container that sets none.
    pub default_limit_memory: String,
    /// The most CPU one container may be limited to (`None`: no bound).
    pub max_cpu: Option<String>,
    /// The most memory one container may be limited to (`None`: no bound).
    pub max_memory: Option<String>,
}

impl Default for LimitSpec {
    fn default() -> LimitSpec {
        LimitSpec {
            default_request_cpu: "100m".into(),
            default_request_memory: "64Mi".into(),
            default_limit_cpu: "200m".into(),
            default_limit_memory: "128Mi".into(),
            max_cpu: Some("1".into()),
            max_memory: Some("512Mi".into()),
        }
    }
}

/// One learner's isolated space in a workshop.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LearnerSpace {
    /// The namespace (a DNS label, not a system namespace).
    pub namespace: String,
    /// The workshop's id (a label value).
    pub workshop: String,
    /// The learner's id (a label value).
    pub learner: String,
    /// The ResourceQuota.
    pub quota: QuotaSpec,
    /// The LimitRange.
    pub limits: LimitSpec,
    /// The API server's addresses the NetworkPolicy lets Pods reach (empty: looked up when
    /// provisioning).
    pub api_server: ApiServerRoute,
}

impl LearnerSpace {
    /// A space with the default quota and limits.
    pub fn new(
        namespace: impl Into<String>,
        workshop: impl Into<String>,
        learner: impl Into<String>,
    ) -> LearnerSpace {
        LearnerSpace {
            namespace: namespace.into(),
            workshop: workshop.into(),
            learner: learner.into(),
            quota: QuotaSpec::default(),
            limits: LimitSpec::default(),
            api_server: ApiServerRoute::default(),
        }
    }

    /// Checks names, label values and quantities before anything is sent to the cluster.
    pub fn validate(&self) -> Result<(), ClusterError> {
        validate_namespace(&self.namespace)?;
        validate_label_value("workshop", &self.workshop)?;
        validate_label_value("learner", &self.learner)?;
        let q = &self.quota;
        for (what, value) in [
            ("quota requests.cpu", &q.requests_cpu),
            ("quota requests.memory", &q.requests_memory),
            ("quota limits.cpu", &q.limits_cpu),
            ("quota limits.memory", &q.limits_memory),
            ("quota requests.storage", &q.requests_storage),
            ("default cpu request", &self.limits.default_request_cpu),
            (
                "default memory request",
                &self.limits.default_request_memory,
            ),
            ("default cpu limit", &self.limits.default_limit_cpu),
            ("default memory limit", &self.limits.default_limit_memory),
        ] {
            validate_quantity(what, value)?;
        }
        for (what, value) in [
            ("max cpu", &self.limits.max_cpu),
            ("max memory", &self.limits.max_memory),
        ] {
            if let Some(value) = value {
                validate_quantity(what, value)?;
            }
        }
        Ok(())
    }

    /// The labels every object of this space carries.
    fn labels(&self) -> Value {
        json!({
            MANAGED_BY_LABEL: MANAGED_BY,
            WORKSHOP_LABEL: self.workshop,
            LEARNER_LABEL: self.learner,
        })
    }

    /// The objects of this space, in the order they are applied (namespace first).
    pub fn objects(&self) -> Vec<Value> {
        let ns = &self.namespace;
        let labels = self.labels();
        let meta = |name: &str| json!({"name": name, "namespace": ns, "labels": labels});
        let mut ns_labels = labels.clone();
        for (key, value) in POD_SECURITY {
            ns_labels[key] = json!(value);
        }
        let q = &self.quota;
        let l = &self.limits;
        let mut max = serde_json::Map::new();
        if let Some(cpu) = &l.max_cpu {
            max.insert("cpu".into(), json!(cpu));
        }
        if let Some(memory) = &l.max_memory {
            max.insert("memory".into(), json!(memory));
        }
        let mut container_limits = json!({
            "type": "Container",
            "default": {"cpu": l.default_limit_cpu, "memory": l.default_limit_memory},
            "defaultRequest": {"cpu": l.default_request_cpu, "memory": l.default_request_memory},
        });
        if !max.is_empty() {
            container_limits["max"] = Value::Object(max);
        }
        vec![
            json!({"apiVersion": "v1", "kind": "Namespace",
                "metadata": {"name": ns, "labels": ns_labels}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": meta(LEARNER_SERVICE_ACCOUNT)}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                "metadata": meta(LEARNER_ROLE), "rules": learner_rules()}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": meta(LEARNER_ROLE),
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": LEARNER_ROLE},
                "subjects": [{"kind": "ServiceAccount", "name": LEARNER_SERVICE_ACCOUNT, "namespace": ns}]}),
            json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": meta(LEARNER_QUOTA),
                "spec": {"hard": q.hard()}}),
            json!({"apiVersion": "v1", "kind": "LimitRange", "metadata": meta(LEARNER_LIMITS),
                "spec": {"limits": [container_limits]}}),
            network_policy(ns, &labels, &self.api_server),
        ]
    }
}

/// The rules of the `learner-edit` Role: what the labs need inside the learner's namespace —
/// no RBAC objects, no quota or limit changes, nothing cluster-scoped but reading their own
/// Namespace (`kubectl get namespace <theirs>`, as the labs' text says: a request for a
/// Namespace object is in that namespace, so a Role there grants it for no other).
pub fn learner_rules() -> Value {
    json!([
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
        {"apiGroups": [""], "resources": ["pods", "configmaps", "secrets", "services",
            "persistentvolumeclaims"], "verbs": EDIT},
        {"apiGroups": [""], "resources": ["pods/log", "pods/status", "endpoints", "events",
            "serviceaccounts", "resourcequotas", "limitranges"], "verbs": READ},
        {"apiGroups": [""], "resources": ["pods/exec", "pods/attach", "pods/portforward"],
            "verbs": ["create", "get"]},
        {"apiGroups": ["apps"], "resources": ["deployments", "replicasets", "statefulsets",
            "daemonsets"], "verbs": EDIT},
        {"apiGroups": ["apps"], "resources": ["deployments/scale", "replicasets/scale",
            "statefulsets/scale"], "verbs": ["get", "update", "patch"]},
        {"apiGroups": ["autoscaling"], "resources": ["horizontalpodautoscalers"], "verbs": EDIT},
        {"apiGroups": ["batch"], "resources": ["jobs", "cronjobs"], "verbs": EDIT},
        {"apiGroups": ["metrics.k8s.io"], "resources": ["pods"], "verbs": ["get", "list"]},
        {"apiGroups": ["events.k8s.io"], "resources": ["events"], "verbs": READ},
        {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies"], "verbs": READ},
    ])
}

/// What [`Cluster::provision_learner`] did.
#[derive(Debug, Clone, Serialize)]
pub struct Provisioned {
    /// The learner's namespace.
    pub namespace: String,
    /// Each object applied, in order (namespace, ServiceAccount, Role, RoleBinding,
    /// ResourceQuota, LimitRange, NetworkPolicy), with what the apply did.
    pub objects: Vec<Applied>,
}

impl Provisioned {
    /// The objects that did not exist before.
    pub fn created(&self) -> Vec<&ObjectKey> {
        self.with_action(ApplyAction::Created)
    }

    /// The objects that existed and were changed back to what kubelab wants (drift fixed).
    pub fn configured(&self) -> Vec<&ObjectKey> {
        self.with_action(ApplyAction::Configured)
    }

    /// Whether everything already existed exactly as wanted.
    pub fn unchanged(&self) -> bool {
        self.objects
            .iter()
            .all(|a| a.action == ApplyAction::Unchanged)
    }

    fn with_action(&self, action: ApplyAction) -> Vec<&ObjectKey> {
        self.objects
            .iter()
            .filter(|a| a.action == action)
            .map(|a| &a.key)
            .collect()
    }
}

/// How to reach the API server, as a learner kubeconfig needs it (never the credentials).
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// The API server URL.
    pub server: String,
    /// The CA certificates (DER) the client trusts, if any.
    pub ca_der: Vec<Vec<u8>>,
    /// Whether the client skips TLS verification.
    pub insecure: bool,
    /// The TLS server name, when it differs from the URL's host.
    pub tls_server_name: Option<String>,
}

impl Endpoint {
    /// What a client config says about the server.
    pub(crate) fn of(config: &Config) -> Endpoint {
        Endpoint {
            server: config
                .cluster_url
                .to_string()
                .trim_end_matches('/')
                .to_owned(),
            ca_der: config.root_cert.clone().unwrap_or_default(),
            insecure: config.accept_invalid_certs,
            tls_server_name: config.tls_server_name.clone(),
        }
    }
}

impl Cluster {
    /// Creates (or re-attaches to) a learner's space: server-side applies the namespace with
    /// Pod Security labels, the `learner` ServiceAccount, the `learner-edit` Role and
    /// RoleBinding, the ResourceQuota, the LimitRange and the default NetworkPolicy (whose API
    /// server addresses are looked up unless `space` gives them). Re-running it is harmless and puts
    /// back anything that drifted. Refuses an invalid or system namespace, and a namespace that
    /// exists but is not this workshop's learner namespace.
    pub async fn provision_learner(
        &self,
        space: &LearnerSpace,
    ) -> Result<Provisioned, ClusterError> {
        space.validate()?;
        let existing = self.get(&namespace_key(&space.namespace)).await?;
        if let Some(existing) = existing {
            let labels = &existing["metadata"]["labels"];
            let owned = labels[MANAGED_BY_LABEL] == MANAGED_BY
                && labels[WORKSHOP_LABEL] == space.workshop.as_str()
                && labels[LEARNER_LABEL] == space.learner.as_str();
            if !owned {
                return Err(ClusterError::InvalidObject(format!(
                    "the namespace {} already exists and is not the learner namespace of \
                     {} in workshop {}; kubelab will not take it over — choose another name",
                    space.namespace, space.learner, space.workshop
                )));
            }
            if existing["metadata"]["deletionTimestamp"].is_string() {
                return Err(ClusterError::InvalidObject(format!(
                    "the namespace {} is still being deleted; try again once it is gone",
                    space.namespace
                )));
            }
        }
        let mut space = space.clone();
        if space.api_server.addresses.is_empty() {
            space.api_server = self.api_server_route().await?;
        }
        let mut objects = Vec::new();
        for object in space.objects() {
            objects.push(self.apply(&object, &space.namespace).await?);
        }
        tracing::info!(
            namespace = %space.namespace,
            workshop = %space.workshop,
            learner = %space.learner,
            created = objects.iter().filter(|a| a.action == ApplyAction::Created).count(),
            "learner namespace provisioned"
        );
        Ok(Provisioned {
            namespace: space.namespace.clone(),
            objects,
        })
    }

    /// A kubeconfig for the learner of `namespace`: the cluster's server URL and CA, a
    /// ServiceAccount token of `learner` valid for `expiry` (at least 10 minutes), and a
    /// current context whose namespace is the learner's. Carries no admin credentials.
    pub async fn learner_kubeconfig(
        &self,
        namespace: &str,
        expiry: Duration,
    ) -> Result<String, ClusterError> {
        validate_namespace(namespace)?;
        if expiry < MIN_TOKEN_EXPIRY {
            return Err(ClusterError::InvalidObject(format!(
                "a learner token must be valid for at least {} minutes (asked for {} s)",
                MIN_TOKEN_EXPIRY.as_secs() / 60,
                expiry.as_secs()
            )));
        }
        let endpoint = self
            .inner
            .endpoint
            .clone()
            .ok_or_else(|| ClusterError::Unavailable {
                message: "the API server's address is not known to this cluster handle, so no \
                          learner kubeconfig can be written"
                    .to_owned(),
            })?;
        let token = self.request_token(namespace, expiry).await?;
        Ok(kubeconfig_yaml(&endpoint, namespace, &token))
    }

    /// Deletes a learner namespace (and so everything in it). Refuses a namespace that does
    /// not carry both `app.kubernetes.io/managed-by=kubelab` and a `kubelab.io/workshop`
    /// label. `Ok(false)` when it does not exist.
    pub async fn delete_learner(&self, namespace: &str) -> Result<bool, ClusterError> {
        validate_name_syntax(namespace)?;
        let key = namespace_key(namespace);
        let Some(existing) = self.get(&key).await? else {
            return Ok(false);
        };
        let labels = &existing["metadata"]["labels"];
        let managed = labels[MANAGED_BY_LABEL] == MANAGED_BY
            && labels[WORKSHOP_LABEL]
                .as_str()
                .is_some_and(|w| !w.is_empty());
        if !managed {
            return Err(ClusterError::InvalidObject(format!(
                "kubelab refuses to delete the namespace {namespace}: it is not a workshop learner \
                 namespace (it lacks the labels {MANAGED_BY_LABEL}={MANAGED_BY} and \
                 {WORKSHOP_LABEL})"
            )));
        }
        let deleted = self.delete(&key).await?;
        if deleted {
            tracing::info!(%namespace, "learner namespace deleted");
        }
        Ok(deleted)
    }

    /// The names of the learner namespaces of `workshop` (sorted; including any still being
    /// deleted), found by label selector.
    pub async fn learner_namespaces(&self, workshop: &str) -> Result<Vec<String>, ClusterError> {
        validate_label_value("workshop", workshop)?;
        let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY},{WORKSHOP_LABEL}={workshop}");
        let items = self.list("v1", "Namespace", None, Some(&selector)).await?;
        let mut names: Vec<String> = items
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
            .collect();
        names.sort();
        Ok(names)
    }

    /// Whether this handle's identity may `verb` the `resource` (`pods`, or `pods/exec` for a
    /// subresource) of API `group` (`""` for core) in `namespace` (`None`: cluster-wide), as a
    /// SelfSubjectAccessReview answers.
    pub async fn can_i(
        &self,
        namespace: Option<&str>,
        verb: &str,
        group: &str,
        resource: &str,
    ) -> Result<bool, ClusterError> {
        let (client, server) = self.client()?;
        let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
        let mut attributes = json!({"verb": verb, "group": group, "resource": resource});
        if let Some(ns) = namespace {
            attributes["namespace"] = json!(ns);
        }
        if !subresource.is_empty() {
            attributes["subresource"] = json!(subresource);
        }
        let body = json!({"apiVersion": "authorization.k8s.io/v1",
            "kind": "SelfSubjectAccessReview", "spec": {"resourceAttributes": attributes}});
        let review = bounded(
            self.call_timeout,
            &server,
            post_json(
                client,
                &server,
                "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
                &body,
            ),
        )
        .await?;
        Ok(review["status"]["allowed"] == true)
    }

    /// A cluster handle acting with the credentials of a kubeconfig given as text (its current
    /// context), e.g. a learner kubeconfig from [`Cluster::learner_kubeconfig`].
    pub async fn from_kubeconfig_text(yaml: &str) -> Result<Cluster, ClusterError> {
        let unusable = |e: &dyn std::fmt::Display| ClusterError::Unavailable {
            message: format!("the kubeconfig is unusable: {e}"),
        };
        let kubeconfig = Kubeconfig::from_yaml(yaml).map_err(|e| unusable(&e))?;
        let context = kubeconfig.current_context.clone();
        let options = KubeConfigOptions {
            context,
            ..KubeConfigOptions::default()
        };
        let mut config = Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .map_err(|e| unusable(&e))?;
        config.connect_timeout = Some(super::connect::CONNECT_TIMEOUT);
        let endpoint = Endpoint::of(&config);
        let client = kube::Client::try_from(config).map_err(|e| unusable(&error::chain(&e)))?;
        Ok(Cluster::from_inner(Inner {
            client: Some(client),
            context: options.context,
            server: Some(endpoint.server.clone()),
            endpoint: Some(endpoint),
            public_api: false,
            in_cluster: false,
            unavailable: None,
            discovery: super::discovery::Cache::default(),
            groups: super::inspect::GroupCache::default(),
            watches: super::watch::Registry::default(),
        }))
    }

    /// A token for the learner ServiceAccount of `namespace` (TokenRequest).
    async fn request_token(
        &self,
        namespace: &str,
        expiry: Duration,
    ) -> Result<String, ClusterError> {
        let (client, server) = self.client()?;
        let path = format!(
            "/api/v1/namespaces/{namespace}/serviceaccounts/{LEARNER_SERVICE_ACCOUNT}/token"
        );
        let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"expirationSeconds": expiry.as_secs()}});
        let answer = bounded(
            self.call_timeout,
            &server,
            post_json(client, &server, &path, &body),
        )
        .await?;
        match answer["status"]["token"].as_str() {
            Some(token) if !token.is_empty() => Ok(token.to_owned()),
            _ => Err(ClusterError::Unavailable {
                message: format!("{server} answered a TokenRequest without a token"),
            }),
        }
    }
}

/// POSTs a JSON body and reads the JSON answer.
async fn post_json(
    client: &kube::Client,
    server: &str,
    path: &str,
    body: &Value,
) -> Result<Value, ClusterError> {
    let bytes = serde_json::to_vec(body).map_err(|e| ClusterError::InvalidObject(e.to_string()))?;
    let request = http::Request::post(path)
        .header(http::header::CONTENT_TYPE, "application/json")
        .header(http::header::ACCEPT, "application/json")
        .body(bytes)
        .map_err(|e| ClusterError::InvalidObject(e.to_string()))?;
    client
        .request::<Value>(request)
        .await
        .map_err(|e| error::from_kube(e, server))
}

fn namespace_key(namespace: &str) -> ObjectKey {
    ObjectKey {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: namespace.into(),
    }
}

/// The kubeconfig text; every scalar is a JSON string, which YAML reads verbatim.
fn kubeconfig_yaml(endpoint: &Endpoint, namespace: &str, token: &str) -> String {
    let q = |s: &str| Value::String(s.to_owned()).to_string();
    let name = format!("kubelab-{namespace}");
    let user = format!("{LEARNER_SERVICE_ACCOUNT}@{namespace}");
    let mut cluster = format!("    server: {}\n", q(&endpoint.server));
    if !endpoint.ca_der.is_empty() {
        let pem: String = endpoint
            .ca_der
            .iter()
            .map(|der| pem_certificate(der))
            .collect();
        let data = base64::engine::general_purpose::STANDARD.encode(pem);
        cluster.push_str(&format!("    certificate-authority-data: {}\n", q(&data)));
    }
    if endpoint.insecure {
        cluster.push_str("    insecure-skip-tls-verify: true\n");
    }
    if let Some(tls_name) = &endpoint.tls_server_name {
        cluster.push_str(&format!("    tls-server-name: {}\n", q(tls_name)));
    }
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name_q}\n  cluster:\n{cluster}\
         users:\n- name: {user_q}\n  user:\n    token: {token_q}\n\
         contexts:\n- name: {name_q}\n  context:\n    cluster: {name_q}\n    user: {user_q}\n    \
         namespace: {ns_q}\ncurrent-context: {name_q}\npreferences: {{}}\n",
        name_q = q(&name),
        user_q = q(&user),
        token_q = q(token),
        ns_q = q(namespace),
    )
}

fn pem_certificate(der: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in encoded.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    pem
}

/// A DNS-1123 label (what Kubernetes accepts as a namespace name), nothing more.
fn validate_name_syntax(namespace: &str) -> Result<(), ClusterError> {
    let ok = !namespace.is_empty()
        && namespace.len() <= 63
        && namespace
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !namespace.starts_with('-')
        && !namespace.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ClusterError::InvalidObject(format!(
            "`{namespace}` is not a valid namespace name: use at most 63 lowercase letters, \
             digits and '-', starting and ending with a letter or digit"
        )))
    }
}

/// A valid namespace name that is not one of the cluster's own namespaces.
fn validate_namespace(namespace: &str) -> Result<(), ClusterError> {
    validate_name_syntax(namespace)?;
    if namespace == "default" || namespace.starts_with("kube-") {
        return Err(ClusterError::InvalidObject(format!(
            "`{namespace}` is a system namespace and cannot be a learner namespace"
        )));
    }
    Ok(())
}

/// A label value: at most 63 characters of `[A-Za-z0-9._-]`, alphanumeric at both ends.
fn validate_label_value(what: &str, value: &str) -> Result<(), ClusterError> {
    let ok = !value.is_empty()
        && value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && value.starts_with(|c: char| c.is_ascii_alphanumeric())
        && value.ends_with(|c: char| c.is_ascii_alphanumeric());
    if ok {
        Ok(())
    } else {
        Err(ClusterError::InvalidObject(format!(
            "the {what} id `{value}` cannot be a label value: use at most 63 letters, digits, \
             '-', '_' or '.', starting and ending with a letter or digit"
        )))
    }
}

/// A Kubernetes quantity such as `100m`, `1`, `1.5`, `64Mi`, `2Gi`.
fn validate_quantity(what: &str, value: &str) -> Result<(), ClusterError> {
    const SUFFIXES: &[&str] = &[
        "", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
    ];
    let digits_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, suffix) = value.split_at(digits_end);
    let number_ok = !number.is_empty()
        && number.matches('.').count() <= 1
        && number.chars().any(|c| c.is_ascii_digit());
    if number_ok && SUFFIXES.contains(&suffix) {
        Ok(())
    } else {
        Err(ClusterError::InvalidObject(format!(
            "the {what} `{value}` is not a Kubernetes quantity (like 500m, 2, 128Mi or 1Gi)"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_any_call() {
        for bad in [
            "",
            "Alice",
            "-a",
            "a-",
            "a_b",
            "default",
            "kube-system",
            &"a".repeat(64),
        ] {
            assert!(validate_namespace(bad).is_err(), "{bad:?} accepted");
        }
        assert!(validate_namespace("learner-alice").is_ok());
        assert!(validate_label_value("workshop", "demo_2026.1").is_ok());
        assert!(validate_label_value("workshop", "a,b").is_err());
        assert!(validate_label_value("learner", "").is_err());
        for good in ["100m", "1", "1.5", "64Mi", "2Gi", "1k"] {
            assert!(validate_quantity("x", good).is_ok(), "{good}");
        }
        for bad in ["", "m", "1..2", "12Q", "-1", "1 Gi"] {
            assert!(validate_quantity("x", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_role_grants_no_rbac_and_only_reads_the_namespace() {
        let rules = learner_rules();
        for rule in rules.as_array().into_iter().flatten() {
            let groups = rule["apiGroups"].to_string();
            let resources = rule["resources"].to_string();
            assert!(!groups.contains("rbac") && !groups.contains('*'), "{rule}");
            assert!(!resources.contains('*'), "{rule}");
            if resources.contains("namespaces") {
                assert_eq!(rule["verbs"], json!(["get"]), "{rule}");
                assert_eq!(rule["resources"], json!(["namespaces"]), "{rule}");
            }
            if resources.contains("resourcequotas") {
                assert_eq!(rule["verbs"], json!(READ), "{rule}");
            }
        }
    }

    #[test]
    fn the_kubeconfig_parses_and_carries_only_the_token() {
        let endpoint = Endpoint {
            server: "https://127.0.0.1:6443".into(),
            ca_der: vec![b"not really DER".to_vec()],
            insecure: false,
            tls_server_name: None,
        };
        let text = kubeconfig_yaml(&endpoint, "learner-alice", "tok\"en");
        let parsed = Kubeconfig::from_yaml(&text).expect("valid kubeconfig");
        assert_eq!(
            parsed.current_context.as_deref(),
            Some("kubelab-learner-alice")
        );
        let context = parsed.contexts[0].context.as_ref().expect("context");
        assert_eq!(context.namespace.as_deref(), Some("learner-alice"));
        let cluster = parsed.clusters[0].cluster.as_ref().expect("cluster");
        assert_eq!(cluster.server.as_deref(), Some("https://127.0.0.1:6443"));
        let ca = cluster
            .certificate_authority_data
            .as_deref()
            .expect("ca data");
        let pem = base64::engine::general_purpose::STANDARD
            .decode(ca)
            .expect("base64");
        assert!(String::from_utf8_lossy(&pem).starts_with("-----BEGIN CERTIFICATE-----\n"));
        assert!(text.contains(r#"token: "tok\"en""#), "{text}");
        assert_eq!(parsed.auth_infos.len(), 1);
    }
}
