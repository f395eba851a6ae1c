//! What keeps workshop learners apart beyond RBAC: the default NetworkPolicy of each learner
//! namespace (traffic only within it, DNS, the API server), and the cluster-wide
//! ValidatingAdmissionPolicies that refuse Services with `spec.externalIPs` (CVE-2020-8554) and
//! `kubernetes.io/service-account-token` Secrets (tokens that never expire) in learner
//! namespaces — installed where the cluster serves `admissionregistration.k8s.io` v1 (or
//! v1beta1), and otherwise replaced by a sweep that deletes such objects soon after they appear.

use serde::Serialize;
use serde_json::{Value, json};

use super::learners::{LEARNER_LABEL, MANAGED_BY, MANAGED_BY_LABEL};
use kube::api::{Api, ListParams};
use kube::core::DynamicObject;

use super::{Cluster, ClusterError, ObjectKey, bounded, to_value};

/// The default NetworkPolicy of every learner namespace.
pub const LEARNER_NETWORK_POLICY: &str = "learner-isolation";
/// The policy (and its binding) refusing `spec.externalIPs` on learners' Services.
pub const NO_EXTERNAL_IPS_POLICY: &str = "kubelab-learner-no-external-ips";
/// The policy (and its binding) refusing legacy ServiceAccount token Secrets.
pub const NO_TOKEN_SECRETS_POLICY: &str = "kubelab-learner-no-token-secrets";
/// The Secret type whose token the token controller fills in and which never expires.
pub const TOKEN_SECRET_TYPE: &str = "kubernetes.io/service-account-token";

/// The admission policy API versions kubelab can use, newest first (v1 is GA in 1.30; v1beta1
/// is served by 1.28 and 1.29 only when enabled).
const POLICY_VERSIONS: [&str; 2] = [
    "admissionregistration.k8s.io/v1",
    "admissionregistration.k8s.io/v1beta1",
];

/// Where a learner's Pods may send traffic besides their own namespace and DNS: the API server
/// (for `kubectl` in the toolbox), as its Service address and its endpoints.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ApiServerRoute {
    /// `(IP, port)` pairs: the `kubernetes` Service's cluster IP and port, then each endpoint.
    pub addresses: Vec<(String, u16)>,
}

/// How learner namespaces are kept from `externalIPs` and legacy token Secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "kebab-case")]
pub enum AdmissionGuard {
    /// ValidatingAdmissionPolicies of this `apiVersion` refuse them.
    Policies {
        /// `admissionregistration.k8s.io/v1` or `.../v1beta1`.
        api_version: String,
    },
    /// The cluster serves no ValidatingAdmissionPolicy: kubelab deletes such objects when it
    /// finds them (see [`Cluster::sweep_learner_breaches`]).
    Sweep {
        /// Why the policies could not be installed.
        why: String,
    },
}

impl AdmissionGuard {
    /// Whether the API server itself refuses the objects.
    pub fn enforced(&self) -> bool {
        matches!(self, AdmissionGuard::Policies { .. })
    }
}

/// One object kubelab removed from a learner namespace because admission could not refuse it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Breach {
    /// The object.
    pub key: ObjectKey,
    /// What was wrong with it.
    pub why: String,
}

/// The default NetworkPolicy for a learner namespace: ingress only from Pods of the same
/// namespace; egress to the same namespace, to DNS (kube-system's `k8s-app=kube-dns`, port 53
/// over UDP and TCP) and to the API server's addresses in `route`. kubelab itself needs no
/// rule: it reaches learners' Pods only through the API server (exec, logs).
pub fn network_policy(namespace: &str, labels: &Value, route: &ApiServerRoute) -> Value {
    let same_namespace = json!({"podSelector": {}});
    let dns = json!({
        "to": [{
            "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}},
        }],
        "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
    });
    let mut egress = vec![json!({"to": [same_namespace.clone()]}), dns];
    for (ip, port) in &route.addresses {
        let cidr = if ip.contains(':') {
            format!("{ip}/128")
        } else {
            format!("{ip}/32")
        };
        egress.push(json!({
            "to": [{"ipBlock": {"cidr": cidr}}],
            "ports": [{"protocol": "TCP", "port": port}],
        }));
    }
    json!({
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": LEARNER_NETWORK_POLICY, "namespace": namespace, "labels": labels},
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [same_namespace]}],
            "egress": egress,
        },
    })
}

/// The ValidatingAdmissionPolicies and their bindings (in apply order) for `api_version`,
/// matching only namespaces labelled as kubelab learner namespaces.
pub fn admission_policies(api_version: &str) -> Vec<Value> {
    let labels = json!({MANAGED_BY_LABEL: MANAGED_BY});
    let learner_namespaces = json!({
        "matchLabels": {MANAGED_BY_LABEL: MANAGED_BY},
        "matchExpressions": [{"key": LEARNER_LABEL, "operator": "Exists"}],
    });
    let policy = |name: &str, resource: &str, expression: &str, message: &str| {
        json!({
            "apiVersion": api_version,
            "kind": "ValidatingAdmissionPolicy",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {"resourceRules": [{
                    "apiGroups": [""], "apiVersions": ["v1"],
                    "operations": ["CREATE", "UPDATE"], "resources": [resource],
                }]},
                "validations": [{"expression": expression, "message": message}],
            },
        })
    };
    let binding = |name: &str| {
        json!({
            "apiVersion": api_version,
            "kind": "ValidatingAdmissionPolicyBinding",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": learner_namespaces},
            },
        })
    };
    vec![
        policy(
            NO_EXTERNAL_IPS_POLICY,
            "services",
            "!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0",
            "a workshop learner's Service may not set spec.externalIPs: they would capture \
             traffic meant for those addresses across the cluster (CVE-2020-8554)",
        ),
        binding(NO_EXTERNAL_IPS_POLICY),
        policy(
            NO_TOKEN_SECRETS_POLICY,
            "secrets",
            &format!("!has(object.type) || object.type != '{TOKEN_SECRET_TYPE}'"),
            "a workshop learner may not create kubernetes.io/service-account-token Secrets: \
             their token never expires; use kubectl create token instead",
        ),
        binding(NO_TOKEN_SECRETS_POLICY),
    ]
}

/// Why `object` breaks what the admission policies would have refused, if it does.
pub fn breach_of(object: &Value) -> Option<String> {
    match object["kind"].as_str() {
        Some("Service")
            if object["spec"]["externalIPs"]
                .as_array()
                .is_some_and(|ips| !ips.is_empty()) =>
        {
            Some("a Service with spec.externalIPs".to_owned())
        }
        Some("Secret") if object["type"] == TOKEN_SECRET_TYPE => {
            Some(format!("a {TOKEN_SECRET_TYPE} Secret"))
        }
        _ => None,
    }
}

impl Cluster {
    /// The addresses the API server is reached at from Pods: the `kubernetes` Service in
    /// `default` (cluster IP, port) and its Endpoints. Either may be missing (a cluster without
    /// the endpoint reconciler): then fewer addresses, never an error for that.
    pub async fn api_server_route(&self) -> Result<ApiServerRoute, ClusterError> {
        let key = |kind: &str| ObjectKey {
            api_version: "v1".into(),
            kind: kind.into(),
            namespace: Some("default".into()),
            name: "kubernetes".into(),
        };
        let mut addresses = Vec::new();
        if let Some(service) = self.get(&key("Service")).await? {
            let ip = service["spec"]["clusterIP"].as_str().unwrap_or_default();
            for port in service["spec"]["ports"].as_array().into_iter().flatten() {
                if let (false, Some(port)) = (ip.is_empty() || ip == "None", as_port(&port["port"]))
                {
                    addresses.push((ip.to_owned(), port));
                }
            }
        }
        if let Some(endpoints) = self.get(&key("Endpoints")).await? {
            for subset in endpoints["subsets"].as_array().into_iter().flatten() {
                for address in subset["addresses"].as_array().into_iter().flatten() {
                    let Some(ip) = address["ip"].as_str() else {
                        continue;
                    };
                    for port in subset["ports"].as_array().into_iter().flatten() {
                        if let Some(port) = as_port(&port["port"]) {
                            addresses.push((ip.to_owned(), port));
                        }
                    }
                }
            }
        }
        addresses.dedup();
        Ok(ApiServerRoute { addresses })
    }

    /// Installs (server-side apply; idempotent) the admission policies refusing `externalIPs`
    /// and token Secrets in learner namespaces, in the newest version the cluster serves; says
    /// [`AdmissionGuard::Sweep`] when it serves none.
    pub async fn ensure_admission_policies(&self) -> Result<AdmissionGuard, ClusterError> {
        let mut version = None;
        for candidate in POLICY_VERSIONS {
            if self.served(candidate, "ValidatingAdmissionPolicy").await? {
                version = Some(candidate);
                break;
            }
        }
        let Some(api_version) = version else {
            return Ok(AdmissionGuard::Sweep {
                why:
                    "the cluster serves no ValidatingAdmissionPolicy (admissionregistration.k8s.io \
                      v1 is GA from Kubernetes 1.30; v1beta1 must be enabled on 1.28 and 1.29)"
                        .to_owned(),
            });
        };
        for object in admission_policies(api_version) {
            self.apply(&object, "").await?;
        }
        tracing::info!(%api_version, "learner admission policies installed");
        Ok(AdmissionGuard::Policies {
            api_version: api_version.to_owned(),
        })
    }

    /// Deletes, in every kubelab learner namespace, Services with `spec.externalIPs` and
    /// `kubernetes.io/service-account-token` Secrets (deleting the Secret revokes its token):
    /// the fallback where no admission policy refuses them. Returns what it deleted.
    pub async fn sweep_learner_breaches(&self) -> Result<Vec<Breach>, ClusterError> {
        let selector = format!("{MANAGED_BY_LABEL}={MANAGED_BY},{LEARNER_LABEL}");
        let learner_namespaces: std::collections::BTreeSet<String> = self
            .list("v1", "Namespace", None, Some(&selector))
            .await?
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
            .collect();
        if learner_namespaces.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self.list_by_fields("Service", None).await?;
        found.extend(
            self.list_by_fields("Secret", Some(&format!("type={TOKEN_SECRET_TYPE}")))
                .await?,
        );
        let mut removed = Vec::new();
        for object in found {
            let namespace = object["metadata"]["namespace"].as_str().unwrap_or_default();
            let Some(why) = breach_of(&object).filter(|_| learner_namespaces.contains(namespace))
            else {
                continue;
            };
            let key = ObjectKey {
                api_version: "v1".into(),
                kind: object["kind"].as_str().unwrap_or_default().to_owned(),
                namespace: Some(namespace.to_owned()),
                name: object["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            };
            if self.delete(&key).await? {
                tracing::warn!(%key, %why, "removed from a learner namespace: admission could not refuse it");
                removed.push(Breach { key, why });
            }
        }
        Ok(removed)
    }
}

impl Cluster {
    /// Every object of a core kind in the cluster, optionally by field selector.
    async fn list_by_fields(
        &self,
        kind: &str,
        fields: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            let resolved = self.resolve(client, &server, "v1", kind).await?;
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resolved.resource);
            let mut params = ListParams::default();
            if let Some(fields) = fields {
                params = params.fields(fields);
            }
            let list = api
                .list(&params)
                .await
                .map_err(|e| super::error::from_kube(e, &server))?;
            list.items
                .into_iter()
                .map(|o| to_value(o, &resolved))
                .collect()
        })
        .await
    }
}

fn as_port(value: &Value) -> Option<u16> {
    value.as_u64().and_then(|p| u16::try_from(p).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_network_policy_keeps_traffic_in_the_namespace_plus_dns_and_the_api_server() {
        let route = ApiServerRoute {
            addresses: vec![("10.43.0.1".into(), 443), ("192.168.5.15".into(), 6443)],
        };
        let policy = network_policy("kl-x", &json!({"a": "b"}), &route);
        let spec = &policy["spec"];
        assert_eq!(spec["podSelector"], json!({}));
        assert_eq!(spec["policyTypes"], json!(["Ingress", "Egress"]));
        assert_eq!(spec["ingress"], json!([{"from": [{"podSelector": {}}]}]));
        let egress = spec["egress"].as_array().expect("egress");
        assert_eq!(egress[0], json!({"to": [{"podSelector": {}}]}));
        assert_eq!(
            egress[1]["ports"][0],
            json!({"protocol": "UDP", "port": 53})
        );
        assert_eq!(
            egress[3],
            json!({"to": [{"ipBlock": {"cidr": "192.168.5.15/32"}}],
                "ports": [{"protocol": "TCP", "port": 6443}]})
        );
        assert_eq!(egress.len(), 4);
    }

    #[test]
    fn breaches_are_external_ips_and_token_secrets_only() {
        let service = |spec: Value| json!({"kind": "Service", "spec": spec});
        assert!(breach_of(&service(json!({"externalIPs": ["1.2.3.4"]}))).is_some());
        assert!(breach_of(&service(json!({"externalIPs": []}))).is_none());
        assert!(breach_of(&service(json!({"type": "ClusterIP"}))).is_none());
        assert!(breach_of(&json!({"kind": "Secret", "type": TOKEN_SECRET_TYPE})).is_some());
        assert!(breach_of(&json!({"kind": "Secret", "type": "Opaque"})).is_none());
    }

    #[test]
    fn the_policies_compile_as_cel_and_refuse_what_they_should() {
        for object in admission_policies("admissionregistration.k8s.io/v1") {
            if object["kind"] != "ValidatingAdmissionPolicy" {
                assert_eq!(object["spec"]["validationActions"], json!(["Deny"]));
                continue;
            }
            let expression = object["spec"]["validations"][0]["expression"]
                .as_str()
                .expect("expression");
            let cel = crate::checks::cel::CelExpr::compile(expression).expect("compiles");
            let (bad, good) = if object["metadata"]["name"] == NO_EXTERNAL_IPS_POLICY {
                (
                    json!({"spec": {"externalIPs": ["1.2.3.4"]}}),
                    json!({"spec": {"ports": []}}),
                )
            } else {
                (
                    json!({"type": TOKEN_SECRET_TYPE}),
                    json!({"type": "Opaque"}),
                )
            };
            assert_eq!(cel.eval(&bad), Ok(false), "{expression}");
            assert_eq!(cel.eval(&good), Ok(true), "{expression}");
        }
    }
}
