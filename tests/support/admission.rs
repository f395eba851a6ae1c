//! The admission plugins a learner namespace relies on, shaped like kube-apiserver 1.28:
//! LimitRanger (container defaults, the `kubernetes.io/limit-ranger` annotation, max), Pod
//! Security (`enforce` → 403, `warn` → `Warning` header) and ResourceQuota (403 `exceeded
//! quota`, status.used kept current) — recordings 096-107.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::discovery::Resource;
use super::state::{self, ApiError, ObjKey, State, status};

/// A quantity in thousandths of its unit (`100m` → 100, `64Mi` → 67108864000).
pub fn parse_quantity(text: &str) -> Option<i128> {
    let text = text.trim();
    let end = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(end);
    let multiplier: i128 = match suffix {
        "" => 1000,
        "m" => 1,
        "k" => 1000 * 1000,
        "M" => 1000 * 1_000_000,
        "G" => 1000 * 1_000_000_000,
        "T" => 1000 * 1_000_000_000_000,
        "Ki" => 1000 << 10,
        "Mi" => 1000 << 20,
        "Gi" => 1000 << 30,
        "Ti" => 1000 << 40,
        _ => return None,
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let whole: i128 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let mut value = whole * multiplier;
    if !frac.is_empty() {
        let digits: i128 = frac.parse().ok()?;
        let scale = 10i128.checked_pow(u32::try_from(frac.len()).ok()?)?;
        value += digits * multiplier / scale;
    }
    Some(value)
}

/// Formats a quantity of resource `name` the way the apiserver prints it in quota messages.
fn format_quantity(name: &str, milli: i128) -> String {
    if is_count(name) || milli == 0 {
        return (milli / 1000).to_string();
    }
    if name.contains("cpu") {
        return if milli % 1000 == 0 {
            (milli / 1000).to_string()
        } else {
            format!("{milli}m")
        };
    }
    let bytes = milli / 1000;
    for (suffix, shift) in [("Ti", 40), ("Gi", 30), ("Mi", 20), ("Ki", 10)] {
        if bytes % (1i128 << shift) == 0 {
            return format!("{}{suffix}", bytes >> shift);
        }
    }
    bytes.to_string()
}

fn is_count(name: &str) -> bool {
    name.starts_with("count/")
        || [
            "pods",
            "configmaps",
            "secrets",
            "services",
            "persistentvolumeclaims",
            "resourcequotas",
            "replicationcontrollers",
            "services.nodeports",
            "services.loadbalancers",
        ]
        .contains(&name)
}

fn containers(spec: &Value) -> Vec<&Value> {
    ["initContainers", "containers", "ephemeralContainers"]
        .iter()
        .flat_map(|k| spec[*k].as_array().into_iter().flatten())
        .collect()
}

/// LimitRanger: fills in missing container requests/limits from the namespace's LimitRanges
/// and annotates the Pod (recording 104).
pub fn limit_ranger(s: &State, res: &Resource, ns: &str, obj: &mut Value) {
    if !(res.group.is_empty() && res.kind == "Pod") {
        return;
    }
    let ranges = s.list(&state::resource("v1", "LimitRange"), Some(ns));
    let mut notes = Vec::new();
    for list in ["initContainers", "containers"] {
        let what = if list == "initContainers" {
            "init container"
        } else {
            "container"
        };
        for c in obj["spec"]
            .get_mut(list)
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            let name = c["name"].as_str().unwrap_or("").to_string();
            let (mut set_requests, mut set_limits) = (Vec::new(), Vec::new());
            for range in &ranges {
                for item in range["spec"]["limits"].as_array().into_iter().flatten() {
                    if item["type"] != "Container" {
                        continue;
                    }
                    for (field, source, set) in [
                        ("limits", "default", &mut set_limits),
                        ("requests", "defaultRequest", &mut set_requests),
                    ] {
                        for (r, q) in item[source].as_object().into_iter().flatten() {
                            if c["resources"][field][r].is_null() {
                                if !c["resources"].is_object() {
                                    c["resources"] = json!({});
                                }
                                if !c["resources"][field].is_object() {
                                    c["resources"][field] = json!({});
                                }
                                c["resources"][field][r] = q.clone();
                                set.push(r.clone());
                            }
                        }
                    }
                }
            }
            if !set_requests.is_empty() {
                notes.push(format!(
                    "{} request for {what} {name}",
                    set_requests.join(", ")
                ));
            }
            if !set_limits.is_empty() {
                notes.push(format!("{} limit for {what} {name}", set_limits.join(", ")));
            }
        }
    }
    if !notes.is_empty() {
        if !obj["metadata"]["annotations"].is_object() {
            obj["metadata"]["annotations"] = json!({});
        }
        obj["metadata"]["annotations"]["kubernetes.io/limit-ranger"] =
            json!(format!("LimitRanger plugin set: {}", notes.join("; ")));
    }
}

/// LimitRanger's validation: container limits above a LimitRange `max`.
fn limit_range_max(s: &State, ns: &str, obj: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    for range in s.list(&state::resource("v1", "LimitRange"), Some(ns)) {
        for item in range["spec"]["limits"].as_array().into_iter().flatten() {
            if item["type"] != "Container" {
                continue;
            }
            for (r, max) in item["max"].as_object().into_iter().flatten() {
                let max_text = max.as_str().unwrap_or("");
                let Some(max_q) = parse_quantity(max_text) else {
                    continue;
                };
                for c in containers(&obj["spec"]) {
                    match c["resources"]["limits"][r].as_str() {
                        None => errors.push(format!(
                            "maximum {r} usage per Container is {max_text}.  No limit is specified"
                        )),
                        Some(limit) if parse_quantity(limit).is_some_and(|l| l > max_q) => errors
                            .push(format!(
                                "maximum {r} usage per Container is {max_text}, but limit is {limit}"
                            )),
                        Some(_) => {}
                    }
                }
            }
        }
    }
    errors
}

/// Pod Security levels, lowest first.
fn level_rank(level: &str) -> Option<u8> {
    match level {
        "privileged" => Some(0),
        "baseline" => Some(1),
        "restricted" => Some(2),
        _ => None,
    }
}

fn who(kind: &str, names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("\"{n}\"")).collect();
    let plural = if names.len() == 1 { "" } else { "s" };
    format!("{kind}{plural} {}", quoted.join(", "))
}

/// The Pod Security checks failed by `pod` at `level` (in the order the apiserver lists them).
pub fn pod_security_violations(pod: &Value, level: &str) -> Vec<String> {
    let Some(rank) = level_rank(level) else {
        return Vec::new();
    };
    if rank == 0 {
        return Vec::new();
    }
    let restricted = rank >= 2;
    let spec = &pod["spec"];
    let cs = containers(spec);
    let name_of = |c: &Value| c["name"].as_str().unwrap_or("").to_string();
    let mut out = Vec::new();
    if restricted {
        let bad: Vec<String> = cs
            .iter()
            .filter(|c| c["securityContext"]["allowPrivilegeEscalation"] != false)
            .map(|c| name_of(c))
            .collect();
        if !bad.is_empty() {
            out.push(format!(
                "allowPrivilegeEscalation != false ({} must set securityContext.allowPrivilegeEscalation=false)",
                who("container", &bad)
            ));
        }
    }
    const BASELINE_CAPS: &[&str] = &[
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    ];
    let mut added = Vec::new();
    for c in &cs {
        for cap in c["securityContext"]["capabilities"]["add"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !BASELINE_CAPS.contains(&cap) {
                added.push(format!(
                    "container \"{}\" must not include \"{cap}\" in securityContext.capabilities.add",
                    name_of(c)
                ));
            }
        }
    }
    if !added.is_empty() {
        out.push(format!("non-default capabilities ({})", added.join(", ")));
    }
    if restricted {
        let bad: Vec<String> = cs
            .iter()
            .filter(|c| {
                !c["securityContext"]["capabilities"]["drop"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|x| x == "ALL"))
            })
            .map(|c| name_of(c))
            .collect();
        if !bad.is_empty() {
            out.push(format!(
                "unrestricted capabilities ({} must set securityContext.capabilities.drop=[\"ALL\"])",
                who("container", &bad)
            ));
        }
    }
    let host: Vec<&str> = ["hostNetwork", "hostPID", "hostIPC"]
        .into_iter()
        .filter(|k| spec[*k] == true)
        .collect();
    if !host.is_empty() {
        let parts: Vec<String> = host.iter().map(|k| format!("{k}=true")).collect();
        out.push(format!("host namespaces ({})", parts.join(", ")));
    }
    let volumes: Vec<&Value> = spec["volumes"].as_array().into_iter().flatten().collect();
    let host_paths: Vec<String> = volumes
        .iter()
        .filter(|v| v.get("hostPath").is_some())
        .map(|v| name_of(v))
        .collect();
    if !host_paths.is_empty() {
        out.push(format!("hostPath volumes ({})", who("volume", &host_paths)));
    }
    let mut ports = Vec::new();
    for c in &cs {
        for p in c["ports"].as_array().into_iter().flatten() {
            if let Some(hp) = p["hostPort"].as_i64().filter(|hp| *hp != 0) {
                ports.push(format!("container \"{}\" uses hostPort {hp}", name_of(c)));
            }
        }
    }
    if !ports.is_empty() {
        out.push(format!("hostPort ({})", ports.join(", ")));
    }
    let privileged: Vec<String> = cs
        .iter()
        .filter(|c| c["securityContext"]["privileged"] == true)
        .map(|c| name_of(c))
        .collect();
    if !privileged.is_empty() {
        out.push(format!(
            "privileged ({} must not set securityContext.privileged=true)",
            who("container", &privileged)
        ));
    }
    if restricted {
        const ALLOWED: &[&str] = &[
            "configMap",
            "csi",
            "downwardAPI",
            "emptyDir",
            "ephemeral",
            "persistentVolumeClaim",
            "projected",
            "secret",
        ];
        let bad: Vec<String> = volumes
            .iter()
            .filter_map(|v| {
                let kind = v
                    .as_object()?
                    .keys()
                    .find(|k| k.as_str() != "name" && !ALLOWED.contains(&k.as_str()))?;
                Some(format!(
                    "volume \"{}\" uses restricted volume type \"{kind}\"",
                    name_of(v)
                ))
            })
            .collect();
        if !bad.is_empty() {
            out.push(format!("restricted volume types ({})", bad.join(", ")));
        }
        let pod_non_root = spec["securityContext"]["runAsNonRoot"] == true;
        let bad: Vec<String> = cs
            .iter()
            .filter(|c| !pod_non_root && c["securityContext"]["runAsNonRoot"] != true)
            .map(|c| name_of(c))
            .collect();
        if !bad.is_empty() {
            out.push(format!(
                "runAsNonRoot != true (pod or {} must set securityContext.runAsNonRoot=true)",
                who("container", &bad)
            ));
        }
        let ok_profile = |v: &Value| {
            v["securityContext"]["seccompProfile"]["type"]
                .as_str()
                .is_some_and(|t| t == "RuntimeDefault" || t == "Localhost")
        };
        let pod_ok = ok_profile(spec);
        let bad: Vec<String> = cs
            .iter()
            .filter(|c| !pod_ok && !ok_profile(c))
            .map(|c| name_of(c))
            .collect();
        if !bad.is_empty() {
            out.push(format!(
                "seccompProfile (pod or {} must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
                who("container", &bad)
            ));
        }
    }
    out
}

/// The namespace's Pod Security label for `mode` (`enforce`, `warn`): (level, version).
fn pod_security_label(s: &State, ns: &str, mode: &str) -> Option<(String, String)> {
    let namespace = s.get(&ObjKey::new(&state::resource("v1", "Namespace"), "", ns))?;
    let labels = &namespace["metadata"]["labels"];
    let level = labels[format!("pod-security.kubernetes.io/{mode}")].as_str()?;
    let version = labels[format!("pod-security.kubernetes.io/{mode}-version")]
        .as_str()
        .unwrap_or("latest");
    Some((level.to_string(), version.to_string()))
}

/// What one object adds to each quota-tracked resource.
fn usage(res: &Resource, obj: &Value) -> BTreeMap<String, i128> {
    let mut u = BTreeMap::new();
    let count_key = if res.group.is_empty() {
        format!("count/{}", res.plural)
    } else {
        format!("count/{}.{}", res.plural, res.group)
    };
    u.insert(count_key, 1000);
    if res.group.is_empty() && is_count(&res.plural) {
        u.insert(res.plural.clone(), 1000);
    }
    if res.group.is_empty() && res.kind == "Service" {
        // NodePorts count per port; a LoadBalancer also allocates them unless told not to.
        let ports = obj["spec"]["ports"].as_array().map_or(0, Vec::len) as i128 * 1000;
        match obj["spec"]["type"].as_str().unwrap_or("") {
            "NodePort" => {
                u.insert("services.nodeports".into(), ports);
            }
            "LoadBalancer" => {
                u.insert("services.loadbalancers".into(), 1000);
                if obj["spec"]["allocateLoadBalancerNodePorts"] != json!(false) {
                    u.insert("services.nodeports".into(), ports);
                }
            }
            _ => {}
        }
    }
    if res.group.is_empty() && res.kind == "Pod" {
        let phase = obj["status"]["phase"].as_str().unwrap_or("");
        if phase == "Succeeded" || phase == "Failed" {
            return BTreeMap::new();
        }
        for c in obj["spec"]["containers"].as_array().into_iter().flatten() {
            for (field, r) in [
                ("requests", "cpu"),
                ("requests", "memory"),
                ("limits", "cpu"),
                ("limits", "memory"),
            ] {
                let q = c["resources"][field][r]
                    .as_str()
                    .and_then(parse_quantity)
                    .unwrap_or(0);
                *u.entry(format!("{field}.{r}")).or_insert(0) += q;
                if field == "requests" {
                    *u.entry(r.to_string()).or_insert(0) += q;
                }
            }
        }
    }
    u
}

/// What the objects of a namespace use of each resource in `hard`.
fn used(s: &State, ns: &str, hard: &serde_json::Map<String, Value>) -> BTreeMap<String, i128> {
    let mut total: BTreeMap<String, i128> = hard.keys().map(|k| (k.clone(), 0)).collect();
    for (key, obj) in s.objects.iter().filter(|(k, _)| k.namespace == ns) {
        let Some(res) = super::discovery::DISCOVERY
            .resources
            .iter()
            .find(|r| r.group == key.group && r.plural == key.plural)
        else {
            continue;
        };
        for (k, v) in usage(res, obj) {
            if let Some(t) = total.get_mut(&k) {
                *t += v;
            }
        }
    }
    total
}

/// The status the resourcequota controller writes for `quota` (recordings 098, 107).
pub fn quota_status(s: &State, quota: &Value) -> Value {
    let ns = quota["metadata"]["namespace"].as_str().unwrap_or("");
    let hard = quota["spec"]["hard"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let used: serde_json::Map<String, Value> = used(s, ns, &hard)
        .into_iter()
        .map(|(k, v)| {
            let text = format_quantity(&k, v);
            (k, json!(text))
        })
        .collect();
    json!({"hard": hard, "used": used})
}

/// One quota-tracked resource a create would push over its limit.
struct Exceeded {
    key: String,
    requested: i128,
    used: i128,
    limited: i128,
}

/// ResourceQuota admission for creating `obj` (recording 106).
fn quota_check(
    s: &State,
    res: &Resource,
    ns: &str,
    name: &str,
    obj: &Value,
) -> Result<(), ApiError> {
    let forbidden = |message: String| {
        status(
            403,
            "Forbidden",
            &format!("{} \"{name}\" is forbidden: {message}", res.qualified()),
            Some(state::details(res, name)),
        )
    };
    let wanted = usage(res, obj);
    for quota in s.list(&state::resource("v1", "ResourceQuota"), Some(ns)) {
        let qname = quota["metadata"]["name"].as_str().unwrap_or("");
        let hard = quota["spec"]["hard"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        if res.group.is_empty() && res.kind == "Pod" {
            let mut missing = Vec::new();
            for key in [
                "limits.cpu",
                "limits.memory",
                "requests.cpu",
                "requests.memory",
            ] {
                if !hard.contains_key(key) {
                    continue;
                }
                let (field, r) = key.split_once('.').unwrap_or((key, ""));
                let lacking: Vec<String> = obj["spec"]["containers"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|c| c["resources"][field][r].is_null())
                    .map(|c| c["name"].as_str().unwrap_or("").to_string())
                    .collect();
                if !lacking.is_empty() {
                    missing.push(format!("{key} for: {}", lacking.join(",")));
                }
            }
            if !missing.is_empty() {
                return Err(forbidden(format!(
                    "failed quota: {qname}: must specify {}",
                    missing.join("; ")
                )));
            }
        }
        let used = used(s, ns, &hard);
        let mut exceeded = Vec::new();
        for (key, limit) in &hard {
            let Some(req) = wanted.get(key).filter(|r| **r > 0) else {
                continue;
            };
            let limit_q = limit.as_str().and_then(parse_quantity).unwrap_or(0);
            let now = used.get(key).copied().unwrap_or(0);
            if now + req > limit_q {
                exceeded.push(Exceeded {
                    key: key.clone(),
                    requested: *req,
                    used: now,
                    limited: limit_q,
                });
            }
        }
        if !exceeded.is_empty() {
            let list = |pick: fn(&Exceeded) -> i128| {
                exceeded
                    .iter()
                    .map(|e| format!("{}={}", e.key, format_quantity(&e.key, pick(e))))
                    .collect::<Vec<_>>()
                    .join(",")
            };
            return Err(forbidden(format!(
                "exceeded quota: {qname}, requested: {}, used: {}, limited: {}",
                list(|e| e.requested),
                list(|e| e.used),
                list(|e| e.limited)
            )));
        }
    }
    Ok(())
}

/// Validating admission for a create: LimitRange max, Pod Security enforce (403) and warn
/// (`Warning` headers pushed to `warnings`), then ResourceQuota.
pub fn validate_create(
    s: &State,
    res: &Resource,
    ns: &str,
    name: &str,
    obj: &Value,
    warnings: &mut Vec<String>,
) -> Result<(), ApiError> {
    if !res.namespaced {
        return Ok(());
    }
    if res.group.is_empty() && res.kind == "Pod" {
        let errors = limit_range_max(s, ns, obj);
        if !errors.is_empty() {
            let text = if errors.len() == 1 {
                errors[0].clone()
            } else {
                format!("[{}]", errors.join(", "))
            };
            return Err(status(
                403,
                "Forbidden",
                &format!("pods \"{name}\" is forbidden: {text}"),
                Some(state::details(res, name)),
            ));
        }
        if let Some((level, version)) = pod_security_label(s, ns, "enforce") {
            let v = pod_security_violations(obj, &level);
            if !v.is_empty() {
                return Err(status(
                    403,
                    "Forbidden",
                    &format!(
                        "pods \"{name}\" is forbidden: violates PodSecurity \"{level}:{version}\": {}",
                        v.join(", ")
                    ),
                    Some(state::details(res, name)),
                ));
            }
        }
        if let Some((level, version)) = pod_security_label(s, ns, "warn") {
            let v = pod_security_violations(obj, &level);
            if !v.is_empty() {
                warnings.push(format!(
                    "would violate PodSecurity \"{level}:{version}\": {}",
                    v.join(", ")
                ));
            }
        }
    }
    quota_check(s, res, ns, name, obj)
}
