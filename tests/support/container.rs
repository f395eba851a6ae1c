//! What the simulated kubelet prepares when it starts a Pod's containers: volumes waiting on
//! missing ConfigMaps/Secrets, the environment resolved at start (env, envFrom, fieldRef) and
//! the files of configMap/secret/projected volumes, including `subPath` mounts frozen at start.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Value, json};

use super::state::{ObjKey, State, resource};

/// A Pod's container as the kubelet started it: the environment resolved at start and the
/// content of `subPath` mounts (which do not receive updates).
#[derive(Debug, Clone, Default)]
pub struct StartedContainer {
    /// Environment variables in definition order (later ones win).
    pub env: Vec<(String, String)>,
    /// `subPath`-mounted files: mount path -> content at start.
    pub fixed_files: BTreeMap<String, String>,
}

pub(crate) fn get_obj(
    s: &State,
    api_version: &str,
    kind: &str,
    ns: &str,
    name: &str,
) -> Option<Value> {
    s.get(&ObjKey::new(&resource(api_version, kind), ns, name))
        .cloned()
}

/// Key -> text of a ConfigMap (`data` and UTF-8 `binaryData`) or Secret (decoded `data`).
fn source_data(s: &State, kind: &str, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
    let obj = get_obj(s, "v1", kind, ns, name)?;
    let mut out = BTreeMap::new();
    let b64 = |v: &Value| {
        v.as_str()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    for (k, v) in obj["data"].as_object().into_iter().flatten() {
        let text = if kind == "Secret" {
            b64(v)
        } else {
            v.as_str().map(String::from)
        };
        if let Some(t) = text {
            out.insert(k.clone(), t);
        }
    }
    if kind == "Secret" {
        for (k, v) in obj["stringData"].as_object().into_iter().flatten() {
            out.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    } else {
        for (k, v) in obj["binaryData"].as_object().into_iter().flatten() {
            if let Some(t) = b64(v) {
                out.insert(k.clone(), t);
            }
        }
    }
    Some(out)
}

/// What keeps a container from starting: `(reason, message)` of the waiting state, or `None`.
pub fn start_blocker(s: &State, pod: &Value) -> Option<(&'static str, String)> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        for (field, kind, name_key) in [
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ] {
            let src = &v[field];
            if src.is_object()
                && src["optional"] != json!(true)
                && let Some(name) = src[name_key].as_str()
                && get_obj(s, "v1", kind, ns, name).is_none()
            {
                return Some((
                    "ContainerCreating",
                    format!(
                        "MountVolume.SetUp failed for volume \"{}\" : {} \"{name}\" not found",
                        v["name"].as_str().unwrap_or(""),
                        kind.to_lowercase()
                    ),
                ));
            }
        }
    }
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        if let Err(msg) = resolve_env(s, pod, c) {
            return Some(("CreateContainerConfigError", msg));
        }
    }
    None
}

/// Resolves a container's environment as the kubelet does at start.
pub fn resolve_env(
    s: &State,
    pod: &Value,
    container: &Value,
) -> Result<Vec<(String, String)>, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let mut env = Vec::new();
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = from["prefix"].as_str().unwrap_or("");
        for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            let r = &from[field];
            let Some(name) = r["name"].as_str() else {
                continue;
            };
            match source_data(s, kind, ns, name) {
                Some(data) => {
                    env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)))
                }
                None if r["optional"] == json!(true) => {}
                None => return Err(format!("{} \"{name}\" not found", kind.to_lowercase())),
            }
        }
    }
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or("").to_string();
        if let Some(v) = e.get("value").and_then(Value::as_str) {
            env.push((name, v.to_string()));
            continue;
        }
        let vf = &e["valueFrom"];
        let mut resolved = None;
        for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
            let r = &vf[field];
            let Some(src) = r["name"].as_str() else {
                continue;
            };
            let key = r["key"].as_str().unwrap_or("");
            let optional = r["optional"] == json!(true);
            match source_data(s, kind, ns, src) {
                Some(data) => match data.get(key) {
                    Some(v) => resolved = Some(v.clone()),
                    None if optional => {}
                    None => {
                        return Err(format!("couldn't find key {key} in {kind} {ns}/{src}"));
                    }
                },
                None if optional => {}
                None => return Err(format!("{} \"{src}\" not found", kind.to_lowercase())),
            }
        }
        if let Some(path) = vf["fieldRef"]["fieldPath"].as_str() {
            let mut cur = pod;
            for seg in path.split('.') {
                cur = &cur[seg];
            }
            resolved = Some(cur.as_str().unwrap_or("").to_string());
        }
        if let Some(v) = resolved {
            env.push((name, v));
        } else if vf.is_null() {
            env.push((name, String::new()));
        }
    }
    Ok(env)
}

/// Snapshot taken when the simulator starts a Pod's containers.
pub fn start_containers(s: &State, pod: &Value) -> BTreeMap<String, StartedContainer> {
    let mut out = BTreeMap::new();
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("").to_string();
        let mut env = vec![
            (
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ),
            (
                "HOSTNAME".to_string(),
                pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
            ),
        ];
        env.extend(
            resolve_env(s, pod, c)
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| !k.is_empty()),
        );
        if pod["spec"]["enableServiceLinks"] != json!(false) {
            env.extend(
                [
                    ("KUBERNETES_SERVICE_HOST", "10.43.0.1"),
                    ("KUBERNETES_SERVICE_PORT", "443"),
                    ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
                    ("KUBERNETES_PORT", "tcp://10.43.0.1:443"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string())),
            );
        }
        env.push(("HOME".into(), "/root".into()));
        let mut fixed_files = BTreeMap::new();
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            if let Some(sub) = m["subPath"].as_str().filter(|p| !p.is_empty()) {
                let mount = m["mountPath"].as_str().unwrap_or("");
                let files = volume_files(s, pod, m["name"].as_str().unwrap_or(""));
                if let Some(text) = files.get(sub) {
                    fixed_files.insert(mount.to_string(), text.clone());
                }
            }
        }
        out.insert(name, StartedContainer { env, fixed_files });
    }
    out
}

/// The files of a configMap/secret/projected volume as the kubelet currently writes them.
pub(crate) fn volume_files(s: &State, pod: &Value, volume: &str) -> BTreeMap<String, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let Some(v) = pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == volume)
    else {
        return BTreeMap::new();
    };
    let mut sources = Vec::new();
    if v["configMap"].is_object() {
        sources.push(("ConfigMap", v["configMap"].clone(), "name"));
    }
    if v["secret"].is_object() {
        sources.push(("Secret", v["secret"].clone(), "secretName"));
    }
    for p in v["projected"]["sources"].as_array().into_iter().flatten() {
        if p["configMap"].is_object() {
            sources.push(("ConfigMap", p["configMap"].clone(), "name"));
        }
        if p["secret"].is_object() {
            sources.push(("Secret", p["secret"].clone(), "name"));
        }
    }
    let mut out = BTreeMap::new();
    for (kind, src, name_key) in sources {
        let Some(data) = src[name_key]
            .as_str()
            .and_then(|n| source_data(s, kind, ns, n))
        else {
            continue;
        };
        match src["items"].as_array() {
            Some(items) => {
                for it in items {
                    let key = it["key"].as_str().unwrap_or("");
                    let path = it["path"].as_str().unwrap_or(key);
                    if let Some(t) = data.get(key) {
                        out.insert(path.to_string(), t.clone());
                    }
                }
            }
            None => out.extend(data),
        }
    }
    out
}
