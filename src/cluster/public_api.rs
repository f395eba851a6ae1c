//! The API server as learners reach it: the `--public-api-server` URL (and optional CA) that
//! learner kubeconfigs name instead of kubelab's own connection, validated at startup, and
//! [`ApiReach`] — whether the address a learner kubeconfig would name can work from a learner's
//! own computer.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use base64::Engine;

use super::Cluster;
use super::learners::Endpoint;

/// The environment variable Kubernetes sets in every Pod to the `kubernetes` Service's ClusterIP.
pub const SERVICE_HOST_ENV: &str = "KUBERNETES_SERVICE_HOST";

/// Why a `--public-api-server` or `--public-api-server-ca` value is refused.
#[derive(Debug, thiserror::Error)]
pub enum PublicApiError {
    /// Not an absolute URL with a host.
    #[error("--public-api-server {url:?} is not a URL of the form https://HOST[:PORT]: {why}")]
    BadUrl {
        /// The value given.
        url: String,
        /// What is wrong with it.
        why: String,
    },
    /// `http://` to somewhere other than this machine.
    #[error(
        "--public-api-server {url:?} must use https: learners' kubectl would send their token \
         in the clear (http is only accepted for a loopback address such as 127.0.0.1)"
    )]
    NotHttps {
        /// The value given.
        url: String,
    },
    /// The CA file cannot be read.
    #[error("--public-api-server-ca {}: cannot read it: {source}", path.display())]
    CaUnreadable {
        /// The file given.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The CA file holds no usable PEM certificate.
    #[error(
        "--public-api-server-ca {}: {why} (expected one or more PEM certificates, \
         -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)",
        path.display()
    )]
    CaNotPem {
        /// The file given.
        path: PathBuf,
        /// What is wrong with it.
        why: String,
    },
}

/// The API server address (and CA) written into learner kubeconfigs instead of kubelab's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicApiServer {
    /// The URL, without a trailing `/`.
    pub url: String,
    /// The CA certificates (DER) learners' kubectl trusts; `None`: those of kubelab's own
    /// connection.
    pub ca_der: Option<Vec<Vec<u8>>>,
}

impl PublicApiServer {
    /// Checks `url` (https, or http to a loopback address; a host; no user, query or fragment)
    /// and reads the PEM certificates of `ca_file`, if given.
    pub fn new(url: &str, ca_file: Option<&Path>) -> Result<PublicApiServer, PublicApiError> {
        let url = validate_url(url)?;
        let ca_der = match ca_file {
            Some(path) => Some(read_ca(path)?),
            None => None,
        };
        Ok(PublicApiServer { url, ca_der })
    }

    /// The endpoint learner kubeconfigs name: this URL, with this CA or else `own`'s. Never
    /// skips verification, and drops `own`'s TLS server name, which belongs to `own`'s address.
    pub(crate) fn endpoint(&self, own: &Endpoint) -> Endpoint {
        if self.ca_der.is_none() && own.insecure {
            tracing::warn!(
                server = %self.url,
                "kubelab's own connection skips TLS verification, so it has no CA to hand on: \
                 learners' kubectl will check the API server against their system's CAs \
                 (pass --public-api-server-ca FILE to give them the cluster's)"
            );
        }
        Endpoint {
            server: self.url.clone(),
            ca_der: self.ca_der.clone().unwrap_or_else(|| own.ca_der.clone()),
            insecure: false,
            tls_server_name: None,
        }
    }
}

fn validate_url(given: &str) -> Result<String, PublicApiError> {
    let bad = |why: &str| PublicApiError::BadUrl {
        url: given.to_owned(),
        why: why.to_owned(),
    };
    let trimmed = given.trim().trim_end_matches('/');
    if trimmed.contains(['#', '?']) {
        return Err(bad("it has a query or fragment"));
    }
    let uri: http::Uri = trimmed
        .parse()
        .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
    let scheme = uri
        .scheme_str()
        .ok_or_else(|| bad("it has no https:// in front"))?;
    let authority = uri.authority().ok_or_else(|| bad("it has no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad(
            "it carries a user name; learners authenticate with their token",
        ));
    }
    let host = authority.host();
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    if authority
        .as_str()
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.ends_with(']') && authority.port_u16().is_none_or(|p| p == 0))
    {
        return Err(bad("its port is not a number from 1 to 65535"));
    }
    match scheme {
        "https" => {}
        "http" if is_loopback_host(host) => {}
        "http" => {
            return Err(PublicApiError::NotHttps {
                url: given.to_owned(),
            });
        }
        _ => {
            return Err(bad(
                "only https:// (or http:// to a loopback address) is accepted",
            ));
        }
    }
    Ok(trimmed.to_owned())
}

/// The DER certificates of a PEM file; refuses a file with none, or with a block that is not
/// base64 of a DER structure.
fn read_ca(path: &Path) -> Result<Vec<Vec<u8>>, PublicApiError> {
    let text = std::fs::read(path).map_err(|source| PublicApiError::CaUnreadable {
        path: path.to_owned(),
        source,
    })?;
    pem_certificates(&String::from_utf8_lossy(&text)).map_err(|why| PublicApiError::CaNotPem {
        path: path.to_owned(),
        why,
    })
}

const PEM_BEGIN: &str = "-----BEGIN CERTIFICATE-----";
const PEM_END: &str = "-----END CERTIFICATE-----";

fn pem_certificates(text: &str) -> Result<Vec<Vec<u8>>, String> {
    let mut certificates = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(PEM_BEGIN) {
        let body = &rest[start + PEM_BEGIN.len()..];
        let end = body
            .find(PEM_END)
            .ok_or_else(|| format!("certificate {} has no END line", certificates.len() + 1))?;
        let base64: String = body[..end].split_whitespace().collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(&base64)
            .map_err(|e| format!("certificate {} is not base64: {e}", certificates.len() + 1))?;
        // Every X.509 certificate is a DER SEQUENCE (tag 0x30) of some length.
        if der.len() < 16 || der[0] != 0x30 {
            return Err(format!(
                "certificate {} does not hold a DER certificate",
                certificates.len() + 1
            ));
        }
        certificates.push(der);
        rest = &body[end + PEM_END.len()..];
    }
    if certificates.is_empty() {
        return Err("it holds no certificate".to_owned());
    }
    Ok(certificates)
}

/// Whether an address a learner kubeconfig names can work from a learner's own computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiReach {
    /// `--public-api-server` names it.
    Public {
        /// The URL learner kubeconfigs name.
        server: String,
    },
    /// kubelab's own connection, and nothing says learners cannot reach it.
    Direct {
        /// The URL learner kubeconfigs name.
        server: String,
    },
    /// kubelab's own connection from inside the cluster: a Service name, the `kubernetes`
    /// Service's ClusterIP, or the in-cluster config of kubelab's Pod.
    InCluster {
        /// The URL learner kubeconfigs name.
        server: String,
    },
    /// kubelab's own connection to this machine's loopback address while kubelab serves
    /// learners on other machines.
    Loopback {
        /// The URL learner kubeconfigs name.
        server: String,
    },
    /// No cluster is configured: there is no address yet.
    Unknown,
}

impl ApiReach {
    /// Whether learners' kubeconfigs will most likely not reach the API server.
    pub fn unreachable(&self) -> bool {
        matches!(self, ApiReach::InCluster { .. } | ApiReach::Loopback { .. })
    }

    /// The URL learner kubeconfigs name, when known.
    pub fn server(&self) -> Option<&str> {
        match self {
            ApiReach::Public { server }
            | ApiReach::Direct { server }
            | ApiReach::InCluster { server }
            | ApiReach::Loopback { server } => Some(server),
            ApiReach::Unknown => None,
        }
    }
}

/// What the learner-kubeconfig address `server` means for learners: `public` when it comes from
/// `--public-api-server`, `in_cluster` when kubelab uses its Pod's in-cluster config,
/// `service_host` the value of [`SERVICE_HOST_ENV`], `listening_on_loopback` whether kubelab
/// serves only this machine.
pub fn api_reach(
    server: &str,
    public: bool,
    in_cluster: bool,
    service_host: Option<&str>,
    listening_on_loopback: bool,
) -> ApiReach {
    let server = server.to_owned();
    if public {
        return ApiReach::Public { server };
    }
    let host = server
        .parse::<http::Uri>()
        .ok()
        .and_then(|u| {
            u.host()
                .map(|h| h.trim_matches(['[', ']']).to_ascii_lowercase())
        })
        .unwrap_or_default();
    let service_host = service_host
        .map(|h| h.trim().trim_matches(['[', ']']).to_ascii_lowercase())
        .filter(|h| !h.is_empty());
    if in_cluster || is_service_name(&host) || service_host.is_some_and(|h| h == host) {
        ApiReach::InCluster { server }
    } else if is_loopback_host(&host) && !listening_on_loopback {
        ApiReach::Loopback { server }
    } else {
        ApiReach::Direct { server }
    }
}

/// A cluster-internal DNS name: `kubernetes`, `kubernetes.default`, `NAME.NAMESPACE.svc` and
/// `….svc.cluster.local`.
fn is_service_name(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    host == "kubernetes"
        || host == "kubernetes.default"
        || host.ends_with(".svc")
        || host.contains(".svc.")
}

fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_matches(['[', ']']).trim_end_matches('.');
    host.eq_ignore_ascii_case("localhost")
        || host.to_ascii_lowercase().ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

impl Cluster {
    /// Whether the address learner kubeconfigs name can work from learners' computers, given
    /// whether kubelab listens only on a loopback address.
    pub fn learner_api_reach(&self, listening_on_loopback: bool) -> ApiReach {
        let Some(endpoint) = &self.inner.endpoint else {
            return ApiReach::Unknown;
        };
        let service_host = std::env::var(SERVICE_HOST_ENV).ok();
        api_reach(
            &endpoint.server,
            self.inner.public_api,
            self.inner.in_cluster,
            service_host.as_deref(),
            listening_on_loopback,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CERT_B64: &str =
        "MIIBszCCAVmgAwIBAgIUXt0hRmVhZ2tlZmFrZWNlcnRmb3J0ZXN0czAKBggqhkjOPQQDAjAY";

    fn pem(body: &str) -> String {
        format!("{PEM_BEGIN}\n{body}\n{PEM_END}\n")
    }

    #[test]
    fn urls_must_be_https_with_a_host() {
        for good in [
            "https://k8s.workshop.example:6443",
            "https://203.0.113.10:6443/",
            "https://[2001:db8::1]:6443",
            "https://k8s.example/prefix",
            "http://127.0.0.1:6443",
            "http://localhost:8001",
            "http://[::1]:6443",
        ] {
            assert!(validate_url(good).is_ok(), "{good} refused");
        }
        assert_eq!(
            validate_url("https://203.0.113.10:6443/").expect("valid"),
            "https://203.0.113.10:6443"
        );
        for (bad, says) in [
            ("k8s.example:6443", "no https://"),
            ("", "not a URL"),
            ("https://", "not a URL"),
            ("ftp://k8s.example", "only https://"),
            ("https://user:pw@k8s.example", "user name"),
            ("https://k8s.example:99999", "not a URL"),
            ("https://k8s.example:0", "port is not a number"),
            ("https://k8s.example:port", "not a URL"),
            ("https://k8s.example/?a=b", "query"),
        ] {
            let e = validate_url(bad).expect_err(bad).to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
        let e = validate_url("http://203.0.113.10:6443").expect_err("http");
        assert!(matches!(e, PublicApiError::NotHttps { .. }), "{e}");
        assert!(e.to_string().contains("must use https"), "{e}");
    }

    #[test]
    fn the_ca_file_must_hold_pem_certificates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let write = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write");
            path
        };
        let two = write("two.pem", &format!("{}{}", pem(CERT_B64), pem(CERT_B64)));
        let server = PublicApiServer::new("https://k8s.example:6443", Some(&two)).expect("valid");
        assert_eq!(server.ca_der.as_ref().map(Vec::len), Some(2));
        assert_eq!(server.ca_der.expect("ca")[0][0], 0x30);

        let missing = dir.path().join("missing.pem");
        let e = PublicApiServer::new("https://k8s.example", Some(&missing)).expect_err("missing");
        assert!(matches!(e, PublicApiError::CaUnreadable { .. }), "{e}");
        assert!(e.to_string().contains("missing.pem"), "{e}");
        for (name, text, says) in [
            ("empty.pem", "", "no certificate"),
            (
                "key.pem",
                "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                "no certificate",
            ),
            (
                "cut.pem",
                &format!("{PEM_BEGIN}\n{CERT_B64}\n"),
                "no END line",
            ),
            ("junk.pem", &pem("not base64 !!"), "not base64"),
            ("short.pem", &pem("AAAA"), "does not hold a DER certificate"),
        ] {
            let path = write(name, text);
            let e = PublicApiServer::new("https://k8s.example", Some(&path)).expect_err(name);
            assert!(matches!(e, PublicApiError::CaNotPem { .. }), "{name}: {e}");
            assert!(e.to_string().contains(says), "{name}: {e}");
        }
    }

    #[test]
    fn the_public_endpoint_keeps_its_own_ca_or_falls_back_to_kubelabs() {
        let own = Endpoint {
            server: "https://10.43.0.1:443".into(),
            ca_der: vec![vec![0x30, 1]],
            insecure: true,
            tls_server_name: Some("kubernetes.default.svc".into()),
        };
        let without_ca = PublicApiServer {
            url: "https://k8s.example:6443".into(),
            ca_der: None,
        };
        let endpoint = without_ca.endpoint(&own);
        assert_eq!(endpoint.server, "https://k8s.example:6443");
        assert_eq!(endpoint.ca_der, own.ca_der);
        assert!(!endpoint.insecure && endpoint.tls_server_name.is_none());
        let with_ca = PublicApiServer {
            ca_der: Some(vec![vec![0x30, 2]]),
            ..without_ca
        };
        assert_eq!(with_ca.endpoint(&own).ca_der, vec![vec![0x30, 2]]);
    }

    #[test]
    fn in_cluster_addresses_are_recognised() {
        let reach = |server: &str, in_cluster: bool, service_host: Option<&str>| {
            api_reach(server, false, in_cluster, service_host, false)
        };
        for server in [
            "https://kubernetes.default.svc",
            "https://kubernetes.default.svc:443",
            "https://kubernetes.default.svc.cluster.local",
            "https://KUBERNETES.default.svc.cluster.local.:443",
            "https://kubernetes.default",
            "https://kubernetes",
            "https://api-proxy.kube-system.svc:6443",
        ] {
            assert!(
                matches!(reach(server, false, None), ApiReach::InCluster { .. }),
                "{server}"
            );
        }
        assert!(matches!(
            reach("https://10.43.0.1:443", false, Some("10.43.0.1")),
            ApiReach::InCluster { .. }
        ));
        assert!(matches!(
            reach("https://[fd00::1]:443", false, Some("fd00::1")),
            ApiReach::InCluster { .. }
        ));
        assert!(matches!(
            reach("https://192.0.2.7:6443", true, None),
            ApiReach::InCluster { .. }
        ));
        let direct = reach("https://10.43.0.1:443", false, Some("10.96.0.1"));
        assert_eq!(
            direct,
            ApiReach::Direct {
                server: "https://10.43.0.1:443".into()
            }
        );
        assert!(!direct.unreachable());
        for server in [
            "https://k8s.workshop.example:6443",
            "https://kubernetes-api.example",
        ] {
            assert!(
                matches!(reach(server, false, None), ApiReach::Direct { .. }),
                "{server}"
            );
        }
    }

    #[test]
    fn loopback_warns_only_when_learners_are_on_other_machines() {
        for server in [
            "https://127.0.0.1:6443",
            "https://localhost:6443",
            "https://[::1]:6443",
            "https://127.0.1.1:6443",
        ] {
            let far = api_reach(server, false, false, None, false);
            assert!(matches!(far, ApiReach::Loopback { .. }), "{server}");
            assert!(far.unreachable());
            let near = api_reach(server, false, false, None, true);
            assert!(matches!(near, ApiReach::Direct { .. }), "{server}");
        }
    }

    #[test]
    fn a_public_server_is_never_warned_about() {
        let reach = api_reach(
            "https://kubernetes.default.svc",
            true,
            true,
            Some("10.43.0.1"),
            false,
        );
        assert_eq!(
            reach,
            ApiReach::Public {
                server: "https://kubernetes.default.svc".into()
            }
        );
        assert!(!reach.unreachable());
        assert_eq!(reach.server(), Some("https://kubernetes.default.svc"));
        assert_eq!(ApiReach::Unknown.server(), None);
    }
}
