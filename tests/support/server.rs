//! The fake's HTTP layer: auth, discovery, resource routing, list/watch, and the `kind: Status`
//! error bodies of kube-apiserver 1.28.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State as AxumState};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use super::discovery::{DISCOVERY, Resource};
use super::exec::{self, ExecCall, ExecReply};
use super::rbac::{self, Identity};
use super::reviews;
use super::selectors::{FieldSelector, LabelSelector};
use super::state::{self, ApiError, ObjKey, bad_request, not_found, status, with_type};
use super::{RecordedRequest, Shared};

const AGGREGATED_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList";

/// Decodes a percent-encoded query string component.
pub fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a query string into a map.
pub fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn json_response(code: u16, body: &Value) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .header("Audit-Id", state::uid())
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn error_response(e: ApiError) -> Response {
    json_response(e.code, &e.body)
}

/// The answer (or error) with one `Warning: 299 - "..."` header per admission warning.
fn with_warnings(result: Result<Response, ApiError>, warnings: &[String]) -> Response {
    let mut response = result.unwrap_or_else(error_response);
    for w in warnings {
        let quoted = Value::String(w.clone()).to_string();
        if let Ok(v) = header::HeaderValue::from_str(&format!("299 - {quoted}")) {
            response.headers_mut().append(header::WARNING, v);
        }
    }
    response
}

fn text_response(body: &str) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header("X-Content-Type-Options", "nosniff")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn aggregated(body: &Value) -> Response {
    Response::builder()
        .header(header::CONTENT_TYPE, AGGREGATED_CONTENT_TYPE)
        .header(header::CACHE_CONTROL, "public")
        .header(header::VARY, "Accept")
        .header(header::ETAG, format!("\"{:X}\"", body.to_string().len()))
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

fn server_not_found() -> ApiError {
    status(
        404,
        "NotFound",
        "the server could not find the requested resource",
        Some(json!({})),
    )
}

/// Handles every request the fake receives.
pub async fn handle(AxumState(shared): AxumState<Arc<Shared>>, req: Request) -> Response {
    let (mut parts, body) = req.into_parts();
    let exec_target = exec_target(parts.uri.path());
    let body = if exec_target.is_some() {
        Bytes::new()
    } else {
        axum::body::to_bytes(body, 16 * 1024 * 1024)
            .await
            .unwrap_or_default()
    };
    let query = parse_query(parts.uri.query());
    let path = parts.uri.path().to_string();
    let recorded = RecordedRequest {
        method: parts.method.to_string(),
        path: path.clone(),
        query: query.clone(),
        content_type: header_str(&parts.headers, header::CONTENT_TYPE),
        accept: header_str(&parts.headers, header::ACCEPT),
        user_agent: header_str(&parts.headers, header::USER_AGENT),
        body: String::from_utf8_lossy(&body).into_owned(),
    };
    shared.with_state(|s| s.requests.push(recorded));
    let auth = header_str(&parts.headers, header::AUTHORIZATION);
    let public = ["/healthz", "/readyz", "/livez", "/version"].contains(&path.as_str());
    let identity = match auth.strip_prefix("Bearer ") {
        Some(token) => shared.with_state(|s| rbac::authenticate(s, &shared.token, token)),
        None if auth.is_empty() && public => Some(Identity::Anonymous),
        None => None,
    };
    let Some(identity) = identity else {
        return json_response(
            401,
            &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": "Unauthorized", "reason": "Unauthorized", "code": 401}),
        );
    };
    if matches!(identity, Identity::ServiceAccount { .. }) {
        let attributes = rbac::attributes(&parts.method, &path, &query);
        if shared
            .with_state(|s| rbac::decide(s, &identity, &attributes))
            .is_err()
        {
            return error_response(rbac::forbidden(&identity, &attributes));
        }
    }
    if let Some((ns, name)) = exec_target {
        return match exec::request(&shared, &mut parts, &ns, &name, &query).await {
            Ok(r) => r,
            Err(e) => error_response(e),
        };
    }
    match route(
        &shared,
        &identity,
        &parts.method,
        &path,
        &query,
        &parts.headers,
        &body,
    )
    .await
    {
        Ok(r) => r,
        Err(e) => error_response(e),
    }
}

/// `(namespace, pod)` when the path is a Pod's `exec` subresource.
fn exec_target(path: &str) -> Option<(String, String)> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segs.as_slice() {
        ["api", "v1", "namespaces", ns, "pods", name, "exec"] => {
            Some((ns.to_string(), name.to_string()))
        }
        _ => None,
    }
}

/// The default exec interpreter's answer, with what the simulator recorded at container start.
pub fn default_exec(s: &state::State, call: &ExecCall) -> ExecReply {
    let res = state::resource("v1", "Pod");
    let uid = s
        .get(&ObjKey::new(&res, &call.namespace, &call.pod))
        .and_then(|p| p["metadata"]["uid"].as_str().map(String::from))
        .unwrap_or_default();
    let started = s.started.get(&uid).and_then(|m| m.get(&call.container));
    super::interpreter::default_reply(s, started, call)
}

fn header_str(h: &HeaderMap, name: header::HeaderName) -> String {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string()
}

/// What a resource path names.
struct Target {
    res: Resource,
    namespace: Option<String>,
    name: Option<String>,
    sub: Option<String>,
}

fn resolve(shared: &Shared, group: &str, version: &str, segs: &[&str]) -> Result<Target, ApiError> {
    if group == "metrics.k8s.io" && !shared.with_state(|s| s.metrics) {
        return Err(server_not_found());
    }
    let policies = shared.with_state(|s| s.admission_policies.clone());
    let find = |plural: &str| {
        if super::policies::hidden(policies.as_deref(), group, version, Some(plural)) {
            return Err(server_not_found());
        }
        DISCOVERY
            .by_plural(group, version, plural)
            .cloned()
            .ok_or_else(server_not_found)
    };
    let t = |res, ns: Option<&str>, name: Option<&str>, sub: Option<&str>| Target {
        res,
        namespace: ns.map(String::from),
        name: name.map(String::from),
        sub: sub.map(String::from),
    };
    Ok(match segs {
        ["namespaces", ns, plural, rest @ ..] if group.is_empty() || !plural.is_empty() => {
            if group.is_empty() && rest.is_empty() && ["status", "finalize"].contains(plural) {
                t(find("namespaces")?, None, Some(ns), Some(plural))
            } else {
                let res = find(plural)?;
                if !res.namespaced {
                    return Err(server_not_found());
                }
                match rest {
                    [] => t(res, Some(ns), None, None),
                    [name] => t(res, Some(ns), Some(name), None),
                    [name, sub] => t(res, Some(ns), Some(name), Some(sub)),
                    _ => return Err(server_not_found()),
                }
            }
        }
        [plural] => t(find(plural)?, None, None, None),
        [plural, name] => {
            let res = find(plural)?;
            if res.namespaced && *plural != "namespaces" {
                return Err(server_not_found());
            }
            t(res, None, Some(name), None)
        }
        [plural, name, sub] => t(find(plural)?, None, Some(name), Some(sub)),
        _ => return Err(server_not_found()),
    })
}

async fn route(
    shared: &Arc<Shared>,
    identity: &Identity,
    method: &Method,
    path: &str,
    query: &BTreeMap<String, String>,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, ApiError> {
    let accept = header_str(headers, header::ACCEPT);
    let wants_aggregated = accept.contains("apidiscovery.k8s.io") && accept.contains("v=v2beta1");
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let (metrics, policies) = shared.with_state(|s| (s.metrics, s.admission_policies.clone()));
    if *method == Method::GET {
        match segs.as_slice() {
            ["version"] => return Ok(json_response(200, &DISCOVERY.version)),
            ["healthz"] | ["livez"] => return Ok(text_response("ok")),
            ["readyz"] => {
                if query.contains_key("verbose") {
                    let body = super::discovery::recorded("013")["response"]["body"]
                        .as_str()
                        .unwrap_or("ok")
                        .to_string();
                    return Ok(text_response(&body));
                }
                return Ok(text_response("ok"));
            }
            ["metrics"] => {
                let body = super::discovery::recorded("014")["response"]["body"]
                    .as_str()
                    .unwrap_or("")
                    .to_string();
                let mut r = text_response(&body);
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    header::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                return Ok(r);
            }
            ["openapi", "v3"] => {
                return Ok(json_response(
                    200,
                    &super::discovery::recorded("015")["response"]["body"],
                ));
            }
            ["api"] if wants_aggregated => return Ok(aggregated(&DISCOVERY.api_aggregated)),
            ["api"] => return Ok(json_response(200, &DISCOVERY.api)),
            ["apis"] if wants_aggregated => {
                let mut apis = DISCOVERY.apis_aggregated(metrics);
                with_policies_aggregated(&mut apis, policies.as_deref());
                return Ok(aggregated(&apis));
            }
            ["apis"] => {
                let mut apis = DISCOVERY.apis(metrics);
                with_policies_version(&mut apis, policies.as_deref());
                return Ok(json_response(200, &apis));
            }
            ["api", "v1"] => return Ok(json_response(200, &DISCOVERY.resource_list("", "v1"))),
            ["apis", group] => {
                let mut apis = DISCOVERY.apis(metrics);
                with_policies_version(&mut apis, policies.as_deref());
                let found = apis["groups"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|g| g["name"] == *group);
                return match found {
                    Some(g) => {
                        let mut g = g.clone();
                        g["kind"] = json!("APIGroup");
                        g["apiVersion"] = json!("v1");
                        Ok(json_response(200, &g))
                    }
                    None => Err(server_not_found()),
                };
            }
            ["apis", group, version] => {
                if !DISCOVERY.serves(group, version)
                    || (*group == "metrics.k8s.io" && !metrics)
                    || super::policies::hidden(policies.as_deref(), group, version, None)
                {
                    return Err(server_not_found());
                }
                let mut list = DISCOVERY.resource_list(group, version);
                if let Some(resources) = list["resources"].as_array_mut() {
                    resources.retain(|r| {
                        let plural = r["name"].as_str().unwrap_or_default();
                        let plural = plural.split('/').next().unwrap_or_default();
                        !super::policies::hidden(policies.as_deref(), group, version, Some(plural))
                    });
                }
                return Ok(json_response(200, &list));
            }
            _ => {}
        }
    }
    let (group, version, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] => ("", "v1", rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(server_not_found()),
    };
    let target = resolve(shared, group, version, rest)?;
    let user_agent = header_str(headers, header::USER_AGENT);
    let default_manager = user_agent
        .split('/')
        .next()
        .unwrap_or("unknown")
        .to_string();
    let manager = query
        .get("fieldManager")
        .cloned()
        .unwrap_or(default_manager);
    let content_type = header_str(headers, header::CONTENT_TYPE);
    let ns = target.namespace.clone().unwrap_or_default();
    match (&target.name, method.clone()) {
        (None, Method::GET) => {
            if query.get("watch").is_some_and(|w| w == "1" || w == "true") {
                Ok(watch(shared.clone(), &target, query))
            } else {
                list(shared, &target, query)
            }
        }
        (None, Method::POST) => {
            let obj = parse_json(body)?;
            create_only(shared, identity, &target, &obj, &manager)
                .unwrap_or_else(|| post(shared, &target, obj, &manager))
        }
        (None, Method::DELETE) => {
            let sel = selectors(&target, query)?;
            let items = shared.mutate(|s| {
                let objs = s.list(&target.res, target.namespace.as_deref());
                let mut out = Vec::new();
                for o in objs.into_iter().filter(|o| matches(o, &sel)) {
                    let ons = o["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_string();
                    let name = o["metadata"]["name"].as_str().unwrap_or("").to_string();
                    out.push(s.delete(&target.res, &ons, &name)?);
                }
                Ok::<_, ApiError>(out)
            })?;
            Ok(json_response(
                200,
                &list_body(shared, &target.res, items, None, None),
            ))
        }
        (Some(name), m) => object_request(
            shared,
            &target,
            name,
            &ns,
            m,
            query,
            &content_type,
            body,
            &manager,
            headers,
        ),
        _ => Err(status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            Some(json!({})),
        )),
    }
}

/// The plain `/apis` list with admissionregistration.k8s.io/v1beta1 when policies are served
/// there (v1 is listed anyway: it also serves the webhook configurations).
fn with_policies_version(apis: &mut Value, served: Option<&str>) {
    if served != Some("v1beta1") {
        return;
    }
    for group in apis["groups"].as_array_mut().into_iter().flatten() {
        if group["name"] == super::policies::GROUP
            && let Some(versions) = group["versions"].as_array_mut()
        {
            versions.push(json!({
                "groupVersion": format!("{}/v1beta1", super::policies::GROUP),
                "version": "v1beta1",
            }));
        }
    }
}

/// The aggregated `/apis` with the policy resources in the version that serves them.
fn with_policies_aggregated(apis: &mut Value, served: Option<&str>) {
    let Some(version) = served else {
        return;
    };
    let entries: Vec<Value> = super::policies::resources(version)
        .iter()
        .map(|r| {
            json!({"resource": r.plural, "responseKind": {"group": "", "version": "", "kind": r.kind},
                "scope": "Cluster", "singularResource": r.singular, "verbs": r.verbs,
                "categories": r.categories})
        })
        .collect();
    for group in apis["items"].as_array_mut().into_iter().flatten() {
        if group["metadata"]["name"] != super::policies::GROUP {
            continue;
        }
        let Some(versions) = group["versions"].as_array_mut() else {
            continue;
        };
        match versions.iter_mut().find(|v| v["version"] == version) {
            Some(found) => {
                if let Some(resources) = found["resources"].as_array_mut() {
                    resources.extend(entries.clone());
                }
            }
            None => versions.push(
                json!({"version": version, "resources": entries.clone(), "freshness": "Current"}),
            ),
        }
    }
}

fn parse_json(body: &Bytes) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| bad_request(&format!("error decoding request body: {e}")))
}

/// Computed kinds (reviews): 201 with a status, nothing stored.
fn create_only(
    shared: &Shared,
    identity: &Identity,
    target: &Target,
    obj: &Value,
    manager: &str,
) -> Option<Result<Response, ApiError>> {
    let answer = shared.with_state(|s| {
        reviews::create(s, &shared.token, identity, &target.res.kind, obj, manager)
    })?;
    Some(answer.map(|body| json_response(201, &body)))
}

fn post(
    shared: &Shared,
    target: &Target,
    mut obj: Value,
    manager: &str,
) -> Result<Response, ApiError> {
    let ns = target.namespace.clone().unwrap_or_default();
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    if target.res.namespaced
        && let Some(body_ns) = obj["metadata"]["namespace"].as_str()
        && body_ns != ns
    {
        return Err(bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    if obj["metadata"]["name"].as_str().is_none_or(str::is_empty)
        && let Some(g) = obj["metadata"]["generateName"].as_str()
    {
        obj["metadata"]["name"] = json!(format!("{g}{}", state::random_suffix(5)));
    }
    if target.res.namespaced {
        obj["metadata"]["namespace"] = json!(ns);
    }
    obj["apiVersion"] = json!(target.res.api_version());
    obj["kind"] = json!(target.res.kind);
    if target.res.has_status()
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    let (created, warnings) = shared.mutate(|s| {
        s.warnings.clear();
        let created = s.put_new(&target.res, obj, manager);
        (created, std::mem::take(&mut s.warnings))
    });
    Ok(with_warnings(
        created.map(|c| json_response(201, &with_type(&c, &target.res))),
        &warnings,
    ))
}

#[allow(clippy::too_many_arguments)]
fn object_request(
    shared: &Arc<Shared>,
    target: &Target,
    name: &str,
    ns: &str,
    method: Method,
    query: &BTreeMap<String, String>,
    content_type: &str,
    body: &Bytes,
    manager: &str,
    headers: &HeaderMap,
) -> Result<Response, ApiError> {
    let res = &target.res;
    let key = ObjKey::new(res, ns, name);
    let sub = target.sub.as_deref();
    if let Some(sub) = sub
        && !res.subresources.iter().any(|s| s == sub)
        && !(res.kind == "Namespace" && sub == "finalize")
    {
        return Err(server_not_found());
    }
    let current = shared.with_state(|s| s.get(&key).cloned());
    match sub {
        Some("log") => {
            let pod = current.ok_or_else(|| not_found(res, name))?;
            return super::kubelet::logs(shared, &pod, query);
        }
        Some("exec") | Some("attach") | Some("portforward") => {
            let pod = current.ok_or_else(|| not_found(res, name))?;
            let upgrade = headers.get(header::UPGRADE).is_some();
            if !upgrade {
                return Err(bad_request("Upgrade request required"));
            }
            let node = pod["spec"]["nodeName"].as_str().unwrap_or("").to_string();
            if node.is_empty() {
                return Err(bad_request(&format!(
                    "pod {name} does not have a host assigned"
                )));
            }
            return Err(status(
                500,
                "",
                &format!(
                    "error dialing backend: dial tcp: lookup {node} on 192.0.2.53:53: no such host"
                ),
                None,
            ));
        }
        Some("token") if method == Method::POST => {
            let req = parse_json(body)?;
            let out = shared.with_state(|s| reviews::token_request(s, ns, name, &req, manager))?;
            return Ok(json_response(201, &out));
        }
        _ => {}
    }
    match method {
        Method::GET => current
            .map(|o| json_response(200, &with_type(&o, res)))
            .ok_or_else(|| not_found(res, name)),
        Method::DELETE => {
            let grace = delete_grace(query, body);
            let out = shared.mutate(|s| s.delete_with(res, ns, name, grace))?;
            if res.group.is_empty() && res.kind == "Namespace" {
                let delay = shared.with_state(|s| s.namespace_delete_delay);
                let shared2 = shared.clone();
                let ns_name = name.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    shared2.mutate(|s| s.finalize_namespace(&ns_name));
                });
            }
            Ok(json_response(200, &out))
        }
        Method::PUT => {
            let obj = parse_json(body)?;
            let body_name = obj["metadata"]["name"].as_str().unwrap_or("");
            if body_name != name {
                return Err(bad_request(&format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            let cur = current.ok_or_else(|| not_found(res, name))?;
            if let Some(rv) = obj["metadata"]["resourceVersion"].as_str()
                && Some(rv) != cur["metadata"]["resourceVersion"].as_str()
            {
                return Err(status(
                    409,
                    "Conflict",
                    &format!(
                        "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                        res.qualified()
                    ),
                    Some(state::details(res, name)),
                ));
            }
            let out = shared.mutate(|s| s.update(res, &cur, obj, manager, sub, false))?;
            Ok(json_response(200, &with_type(&out, res)))
        }
        Method::PATCH => {
            let ct = content_type.split(';').next().unwrap_or("").trim();
            if ct == "application/apply-patch+yaml" {
                let text = String::from_utf8_lossy(body);
                let applied: Value = serde_saphyr::from_str(&text)
                    .map_err(|e| bad_request(&format!("error decoding YAML: {e}")))?;
                let force = query.get("force").is_some_and(|f| f == "true");
                let fm = query.get("fieldManager").map(String::as_str);
                let apply = |s: &mut state::State| {
                    s.warnings.clear();
                    let applied = s.apply(res, ns, name, applied, fm, force, sub);
                    (applied, std::mem::take(&mut s.warnings))
                };
                // `dryRun=All`: the answer a real apply would give, with nothing stored.
                let (applied, warnings) = if query.get("dryRun").is_some_and(|d| d == "All") {
                    shared.with_state(|s| {
                        let (objects, rv, logged) = (s.objects.clone(), s.rv, s.log.len());
                        let out = apply(s);
                        s.objects = objects;
                        s.rv = rv;
                        s.log.truncate(logged);
                        out
                    })
                } else {
                    shared.mutate(apply)
                };
                return Ok(with_warnings(
                    applied.map(|(created, out)| {
                        json_response(if created { 201 } else { 200 }, &with_type(&out, res))
                    }),
                    &warnings,
                ));
            }
            let cur = current.ok_or_else(|| not_found(res, name))?;
            let patch = parse_json(body)?;
            let mut patched = cur.clone();
            match ct {
                "application/merge-patch+json" => merge_patch(&mut patched, &patch),
                "application/strategic-merge-patch+json" => {
                    super::fields::merge(&mut patched, &patch, "")
                }
                "application/json-patch+json" => json_patch(&mut patched, &patch)?,
                other => {
                    return Err(status(
                        415,
                        "UnsupportedMediaType",
                        &format!(
                            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other})"
                        ),
                        None,
                    ));
                }
            }
            let out = shared.mutate(|s| s.update(res, &cur, patched, manager, sub, false))?;
            Ok(json_response(200, &with_type(&out, res)))
        }
        _ => Err(status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            Some(json!({})),
        )),
    }
}

/// `gracePeriodSeconds` from the query or a DeleteOptions body.
fn delete_grace(query: &BTreeMap<String, String>, body: &Bytes) -> Option<i64> {
    query
        .get("gracePeriodSeconds")
        .and_then(|g| g.parse().ok())
        .or_else(|| {
            serde_json::from_slice::<Value>(body)
                .ok()
                .and_then(|b| b["gracePeriodSeconds"].as_i64())
        })
}

/// RFC 7386 JSON merge patch.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            if let Some(t) = target.as_object_mut() {
                for (k, v) in p {
                    if v.is_null() {
                        t.remove(k);
                    } else {
                        merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
                    }
                }
            }
        }
        other => *target = other.clone(),
    }
}

fn json_patch(target: &mut Value, ops: &Value) -> Result<(), ApiError> {
    for op in ops.as_array().into_iter().flatten() {
        let path = op["path"].as_str().unwrap_or("");
        let (parent, last) = path
            .rsplit_once('/')
            .ok_or_else(|| bad_request("invalid JSON patch path"))?;
        let last = last.replace("~1", "/").replace("~0", "~");
        let parent_v = target
            .pointer_mut(parent)
            .ok_or_else(|| bad_request(&format!("jsonpatch: path {path} not found")))?;
        match (op["op"].as_str().unwrap_or(""), parent_v) {
            ("add" | "replace", Value::Object(m)) => {
                m.insert(last, op["value"].clone());
            }
            ("add", Value::Array(a)) => {
                let v = op["value"].clone();
                match last.parse::<usize>() {
                    Ok(i) if i <= a.len() => a.insert(i, v),
                    _ => a.push(v),
                }
            }
            ("replace", Value::Array(a)) => {
                let i: usize = last.parse().map_err(|_| bad_request("invalid index"))?;
                *a.get_mut(i)
                    .ok_or_else(|| bad_request("index out of range"))? = op["value"].clone();
            }
            ("remove", Value::Object(m)) => {
                m.remove(&last);
            }
            ("remove", Value::Array(a)) => {
                let i: usize = last.parse().map_err(|_| bad_request("invalid index"))?;
                if i < a.len() {
                    a.remove(i);
                }
            }
            ("test", _) => {}
            (other, _) => return Err(bad_request(&format!("unsupported JSON patch op {other}"))),
        }
    }
    Ok(())
}

fn selectors(
    target: &Target,
    query: &BTreeMap<String, String>,
) -> Result<(Option<LabelSelector>, Option<FieldSelector>), ApiError> {
    let label = query
        .get("labelSelector")
        .filter(|s| !s.is_empty())
        .map(|s| LabelSelector::parse(s))
        .transpose()
        .map_err(|e| bad_request(&e))?;
    let field = query
        .get("fieldSelector")
        .filter(|s| !s.is_empty())
        .map(|s| FieldSelector::parse(s, &target.res.group, &target.res.kind))
        .transpose()
        .map_err(|e| bad_request(&e))?;
    Ok((label, field))
}

fn matches(obj: &Value, sel: &(Option<LabelSelector>, Option<FieldSelector>)) -> bool {
    sel.0.as_ref().is_none_or(|l| l.matches(obj)) && sel.1.as_ref().is_none_or(|f| f.matches(obj))
}

fn strip_type(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        m.remove("kind");
        m.remove("apiVersion");
    }
    v
}

fn list_body(
    shared: &Shared,
    res: &Resource,
    items: Vec<Value>,
    cont: Option<String>,
    remaining: Option<usize>,
) -> Value {
    let rv = shared.with_state(|s| s.rv);
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if let Some(c) = cont {
        meta["continue"] = json!(c);
    }
    if let Some(r) = remaining {
        meta["remainingItemCount"] = json!(r);
    }
    json!({"kind": format!("{}List", res.kind), "apiVersion": res.api_version(), "metadata": meta,
        "items": items.iter().map(strip_type).collect::<Vec<_>>()})
}

fn object_sort_key(o: &Value) -> String {
    let ns = o["metadata"]["namespace"].as_str().unwrap_or("");
    let name = o["metadata"]["name"].as_str().unwrap_or("");
    if ns.is_empty() {
        name.to_string()
    } else {
        format!("{ns}/{name}")
    }
}

fn list(
    shared: &Shared,
    target: &Target,
    query: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    if query.contains_key("resourceVersionMatch")
        && query.get("resourceVersion").is_none_or(String::is_empty)
    {
        return Err(status(
            422,
            "Invalid",
            "ListOptions.meta.k8s.io \"\" is invalid: resourceVersionMatch: Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
            Some(
                json!({"group": "meta.k8s.io", "kind": "ListOptions", "causes": [{"reason": "FieldValueForbidden",
                "message": "Forbidden: resourceVersionMatch is forbidden unless resourceVersion is provided",
                "field": "resourceVersionMatch"}]}),
            ),
        ));
    }
    let sel = selectors(target, query)?;
    let mut items: Vec<Value> = shared
        .with_state(|s| s.list(&target.res, target.namespace.as_deref()))
        .into_iter()
        .filter(|o| matches(o, &sel))
        .collect();
    if let Some(token) = query.get("continue").filter(|c| !c.is_empty()) {
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.trim_end_matches('='))
            .or_else(|_| {
                base64::engine::general_purpose::STANDARD_NO_PAD.decode(token.trim_end_matches('='))
            })
            .map_err(|_| bad_request("continue key is not valid: illegal base64 data"))?;
        let parsed: Value =
            serde_json::from_slice(&raw).map_err(|_| bad_request("continue key is not valid"))?;
        let start = parsed["start"]
            .as_str()
            .unwrap_or("")
            .trim_end_matches('\u{0}')
            .to_string();
        items.retain(|o| object_sort_key(o) > start);
    }
    let limit = query
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .filter(|l| *l > 0);
    let (cont, remaining) = match limit {
        Some(l) if items.len() > l => {
            let remaining = items.len() - l;
            items.truncate(l);
            let last = object_sort_key(items.last().unwrap_or(&Value::Null));
            let rv = shared.with_state(|s| s.rv);
            let token = json!({"v": "meta.k8s.io/v1", "rv": rv, "start": format!("{last}\u{0}")});
            // The count is only known without selectors (it comes from etcd's range count).
            let filtered = sel.0.is_some() || sel.1.is_some();
            (
                Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token.to_string())),
                (!filtered).then_some(remaining),
            )
        }
        _ => (None, None),
    };
    Ok(json_response(
        200,
        &list_body(shared, &target.res, items, cont, remaining),
    ))
}

fn event_line(etype: &str, obj: &Value) -> Bytes {
    let mut s = json!({"type": etype, "object": obj}).to_string();
    s.push('\n');
    Bytes::from(s)
}

struct WatchCursor {
    shared: Arc<Shared>,
    res: Resource,
    namespace: Option<String>,
    sel: (Option<LabelSelector>, Option<FieldSelector>),
    cursor: u64,
    pending: std::collections::VecDeque<Bytes>,
    deadline: tokio::time::Instant,
    bookmarks: bool,
    bookmark_sent: bool,
    rx: tokio::sync::watch::Receiver<u64>,
    drops: tokio::sync::watch::Receiver<u64>,
    done: bool,
}

impl WatchCursor {
    fn collect(&mut self) {
        let entries = self.shared.with_state(|s| {
            s.log
                .iter()
                .filter(|e| e.rv > self.cursor)
                .cloned()
                .collect::<Vec<_>>()
        });
        for e in entries {
            self.cursor = self.cursor.max(e.rv);
            if e.key.group != self.res.group
                || e.key.plural != self.res.plural
                || self
                    .namespace
                    .as_ref()
                    .is_some_and(|n| *n != e.key.namespace)
            {
                continue;
            }
            let now_match = matches(&e.object, &self.sel);
            let was_match = e.prev.as_ref().is_some_and(|p| matches(p, &self.sel));
            let etype = match (e.etype, was_match, now_match) {
                ("DELETED", true, _) => "DELETED",
                ("DELETED", false, _) => continue,
                ("ADDED", _, true) => "ADDED",
                ("MODIFIED", true, true) => "MODIFIED",
                ("MODIFIED", false, true) => "ADDED",
                ("MODIFIED", true, false) => "DELETED",
                _ => continue,
            };
            // An object that stops matching leaves as it was, at the event's resourceVersion
            // (the watch cache's `convertToWatchEvent`).
            let object = match (e.etype, &e.prev) {
                ("MODIFIED", Some(prev)) if etype == "DELETED" => {
                    let mut p = prev.clone();
                    p["metadata"]["resourceVersion"] =
                        e.object["metadata"]["resourceVersion"].clone();
                    p
                }
                _ => e.object.clone(),
            };
            self.pending
                .push_back(event_line(etype, &with_type(&object, &self.res)));
        }
    }

    fn bookmark(&self) -> Bytes {
        let mut obj = json!({"kind": self.res.kind, "apiVersion": self.res.api_version(),
            "metadata": {"resourceVersion": self.cursor.to_string(), "creationTimestamp": null}});
        if self.res.group.is_empty() && self.res.kind == "Pod" {
            obj["spec"] = json!({"containers": null});
            obj["status"] = json!({});
        }
        event_line("BOOKMARK", &obj)
    }
}

fn watch(shared: Arc<Shared>, target: &Target, query: &BTreeMap<String, String>) -> Response {
    let sel = match selectors(target, query) {
        Ok(s) => s,
        Err(e) => return error_response(e),
    };
    let rv: Option<u64> = query.get("resourceVersion").and_then(|r| r.parse().ok());
    let timeout = query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(1800);
    let (log_start, current, initial) = shared.with_state(|s| {
        let initial = match rv {
            None | Some(0) => s.list(&target.res, target.namespace.as_deref()),
            Some(_) => Vec::new(),
        };
        (s.log_start, s.rv, initial)
    });
    let stream_response = |body: Body| {
        Response::builder()
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-cache, private")
            .body(body)
            .unwrap_or_default()
    };
    if let Some(rv) = rv
        && rv != 0
        && rv < log_start
    {
        let err = status(
            410,
            "Expired",
            &format!("too old resource version: {rv} ({log_start})"),
            None,
        );
        let line = event_line("ERROR", &err.body);
        let stream = futures::stream::iter(vec![Ok::<Bytes, std::io::Error>(line)]);
        return stream_response(Body::from_stream(stream));
    }
    let mut pending = std::collections::VecDeque::new();
    for o in initial.iter().filter(|o| matches(o, &sel)) {
        pending.push_back(event_line("ADDED", o));
    }
    let cursor = match rv {
        None | Some(0) => current,
        Some(r) => r,
    };
    let rx = shared.notify.subscribe();
    let mut drops = shared.drops.subscribe();
    drops.borrow_and_update();
    let state = WatchCursor {
        shared: shared.clone(),
        res: target.res.clone(),
        namespace: target.namespace.clone(),
        sel,
        cursor,
        pending,
        deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        bookmarks: query
            .get("allowWatchBookmarks")
            .is_some_and(|b| b == "true" || b == "1"),
        bookmark_sent: false,
        rx,
        drops,
        done: false,
    };
    let stream = futures::stream::unfold(state, |mut st| async move {
        loop {
            if st.done {
                return None;
            }
            if let Some(line) = st.pending.pop_front() {
                return Some((Ok::<Bytes, std::io::Error>(line), st));
            }
            st.collect();
            if !st.pending.is_empty() {
                continue;
            }
            let now = tokio::time::Instant::now();
            if now >= st.deadline {
                return None;
            }
            let bookmark_at = st
                .deadline
                .checked_sub(Duration::from_secs(2))
                .unwrap_or(now);
            let wake = if st.bookmarks && !st.bookmark_sent {
                bookmark_at.min(st.deadline)
            } else {
                st.deadline
            };
            if st.bookmarks && !st.bookmark_sent && now >= bookmark_at {
                st.bookmark_sent = true;
                let b = st.bookmark();
                return Some((Ok(b), st));
            }
            tokio::select! {
                changed = st.rx.changed() => {
                    if changed.is_err() {
                        st.done = true;
                    }
                }
                _ = st.drops.changed() => {
                    return None;
                }
                _ = tokio::time::sleep_until(wake) => {}
            }
        }
    });
    stream_response(Body::from_stream(stream))
}
