//! Authentication and RBAC of the fake: the admin token, ServiceAccount tokens it issued through
//! TokenRequest (JWT-shaped), and a minimal RBAC evaluator (RoleBindings and ClusterRoleBindings
//! → Role/ClusterRole rules, `*` wildcards) answering 403 with kube-apiserver's message shape,
//! plus the SelfSubjectAccessReview / SelfSubjectRulesReview / SelfSubjectReview answers.

use std::collections::BTreeMap;

use axum::http::Method;
use base64::Engine;
use serde_json::{Value, json};

use super::state::{self, ApiError, ObjKey, State, status};

/// The audience of the API server itself (tokens for other audiences are refused, 138).
pub const API_AUDIENCE: &str = "https://kubernetes.default.svc.cluster.local";

/// A token issued by TokenRequest.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    /// The audiences it was minted for.
    pub audiences: Vec<String>,
    /// The ServiceAccount's namespace.
    pub namespace: String,
    /// The ServiceAccount's name.
    pub name: String,
    /// The ServiceAccount's uid when the token was issued (a re-created SA invalidates it).
    pub uid: String,
    /// Unix time after which the token is refused.
    pub expires: i64,
}

/// Who sent a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// The admin token (`system:masters`): everything is allowed.
    Admin,
    /// A ServiceAccount token.
    ServiceAccount {
        /// Namespace of the ServiceAccount.
        namespace: String,
        /// Name of the ServiceAccount.
        name: String,
    },
    /// No credentials (only the public health endpoints answer).
    Anonymous,
    /// A user named in a SubjectAccessReview.
    User {
        /// The user name (`system:serviceaccount:NS:NAME` for a ServiceAccount).
        name: String,
        /// The groups.
        groups: Vec<String>,
    },
}

impl Identity {
    /// `system:serviceaccount:NS:NAME`, `admin` or `system:anonymous`.
    pub fn username(&self) -> String {
        match self {
            Identity::Admin => "admin".into(),
            Identity::ServiceAccount { namespace, name } => {
                format!("system:serviceaccount:{namespace}:{name}")
            }
            Identity::Anonymous => "system:anonymous".into(),
            Identity::User { name, .. } => name.clone(),
        }
    }

    /// The groups the identity belongs to.
    pub fn groups(&self) -> Vec<String> {
        match self {
            Identity::Admin => vec!["system:masters".into(), "system:authenticated".into()],
            Identity::ServiceAccount { namespace, .. } => vec![
                "system:serviceaccounts".into(),
                format!("system:serviceaccounts:{namespace}"),
                "system:authenticated".into(),
            ],
            Identity::Anonymous => vec!["system:unauthenticated".into()],
            Identity::User { groups, .. } => groups.clone(),
        }
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn rfc3339(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Who a bearer token belongs to; `None` for an unknown, expired or orphaned token, or one
/// minted for another audience (recording 138).
pub fn authenticate(s: &State, admin_token: &str, token: &str) -> Option<Identity> {
    if token == admin_token {
        return Some(Identity::Admin);
    }
    let issued = s.tokens.get(token)?;
    if !issued.audiences.iter().any(|a| a == API_AUDIENCE) || !authenticate_issued(s, issued) {
        return None;
    }
    Some(Identity::ServiceAccount {
        namespace: issued.namespace.clone(),
        name: issued.name.clone(),
    })
}

/// Whether an issued token is still good: not expired, its ServiceAccount not re-created.
pub fn authenticate_issued(s: &State, issued: &IssuedToken) -> bool {
    why_refused(s, issued).is_none()
}

/// Why an issued token is no longer good, as the real authenticator words it after
/// `invalid bearer token, `: expired, its ServiceAccount deleted or re-created.
pub fn why_refused(s: &State, issued: &IssuedToken) -> Option<String> {
    if issued.expires <= unix_now() {
        return Some("service account token has expired".to_owned());
    }
    let sa = s.get(&ObjKey::new(
        &state::resource("v1", "ServiceAccount"),
        &issued.namespace,
        &issued.name,
    ));
    match sa {
        None => Some(format!("serviceaccounts \"{}\" not found", issued.name)),
        Some(sa) if sa["metadata"]["uid"] != issued.uid.as_str() => Some(format!(
            "service account UID ({}) does not match claim ({})",
            sa["metadata"]["uid"].as_str().unwrap_or(""),
            issued.uid
        )),
        Some(_) => None,
    }
}

/// `POST .../serviceaccounts/NAME/token`: a JWT-shaped token remembered for authentication
/// (201 like recording 099); 422 below 10 minutes, as the real server.
pub fn issue_token(s: &mut State, ns: &str, name: &str, req: &Value) -> Result<Value, ApiError> {
    let sa_res = state::resource("v1", "ServiceAccount");
    let sa = s
        .get(&ObjKey::new(&sa_res, ns, name))
        .cloned()
        .ok_or_else(|| state::not_found(&sa_res, name))?;
    let secs = req["spec"]["expirationSeconds"].as_i64().unwrap_or(3600);
    if secs < 600 {
        return Err(status(
            422,
            "Invalid",
            &format!(
                "TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: Invalid value: {secs}: may not specify a duration less than 10 minutes"
            ),
            Some(
                json!({"group": "authentication.k8s.io", "kind": "TokenRequest",
                "causes": [{"reason": "FieldValueInvalid",
                    "message": format!("Invalid value: {secs}: may not specify a duration less than 10 minutes"),
                    "field": "spec.expirationSeconds"}]}),
            ),
        ));
    }
    let audiences = match req["spec"]["audiences"].as_array() {
        Some(a) if !a.is_empty() => Value::Array(a.clone()),
        _ => json!([API_AUDIENCE]),
    };
    let now = unix_now();
    let uid = sa["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let b64 = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let claims = json!({"aud": audiences, "exp": now + secs, "iat": now,
        "iss": "https://kubernetes.default.svc.cluster.local",
        "kubernetes.io": {"namespace": ns, "serviceaccount": {"name": name, "uid": uid}},
        "nbf": now, "sub": format!("system:serviceaccount:{ns}:{name}")});
    let token = format!(
        "{}.{}.{}",
        b64(&json!({"alg": "RS256", "kid": "fake"})),
        b64(&claims),
        state::random_suffix(43)
    );
    s.tokens.insert(
        token.clone(),
        IssuedToken {
            audiences: audiences
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(String::from))
                .collect(),
            namespace: ns.to_string(),
            name: name.to_string(),
            uid,
            expires: now + secs,
        },
    );
    Ok(
        json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1",
        "metadata": {"name": name, "namespace": ns, "creationTimestamp": state::now()},
        "spec": {"audiences": audiences, "expirationSeconds": secs, "boundObjectRef": null},
        "status": {"token": token, "expirationTimestamp": rfc3339(now + secs)}}),
    )
}

/// What a request asks to do, as the authorizer sees it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`.
    pub verb: String,
    /// Whether this is a resource request (else a non-resource path).
    pub resource_request: bool,
    /// API group (`""` for core).
    pub group: String,
    /// Plural resource.
    pub resource: String,
    /// Subresource (`""` for none).
    pub subresource: String,
    /// Namespace (`""` for cluster scope).
    pub namespace: String,
    /// Object name (`""` for collections and creates).
    pub name: String,
    /// The request path (non-resource requests).
    pub path: String,
}

/// The attributes of an HTTP request, like the apiserver's RequestInfo.
pub fn attributes(method: &Method, path: &str, query: &BTreeMap<String, String>) -> Attributes {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    let non_resource = || Attributes {
        verb: method.as_str().to_lowercase(),
        path: path.to_string(),
        ..Attributes::default()
    };
    let (group, rest) = match segs.as_slice() {
        ["api", "v1", rest @ ..] if !rest.is_empty() => ("", rest),
        ["apis", g, _, rest @ ..] if !rest.is_empty() => (*g, rest),
        _ => return non_resource(),
    };
    let mut a = Attributes {
        resource_request: true,
        group: group.to_string(),
        path: path.to_string(),
        ..Attributes::default()
    };
    let rest: Vec<&str> = match rest {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => {
            a.namespace = ns.to_string();
            tail.to_vec()
        }
        other => other.to_vec(),
    };
    match rest.as_slice() {
        [plural] => a.resource = plural.to_string(),
        [plural, name] => {
            a.resource = plural.to_string();
            a.name = name.to_string();
        }
        [plural, name, sub, ..] => {
            a.resource = plural.to_string();
            a.name = name.to_string();
            a.subresource = sub.to_string();
        }
        _ => return non_resource(),
    }
    // `namespaces/NAME` is the namespace's own object, scoped to itself.
    if a.group.is_empty() && a.resource == "namespaces" && !a.name.is_empty() {
        a.namespace = a.name.clone();
    }
    let watching = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    a.verb = match *method {
        Method::GET | Method::HEAD if a.name.is_empty() => {
            if watching { "watch" } else { "list" }.into()
        }
        Method::GET | Method::HEAD => if watching { "watch" } else { "get" }.into(),
        Method::POST => "create".into(),
        Method::PUT => "update".into(),
        Method::PATCH => "patch".into(),
        Method::DELETE if a.name.is_empty() => "deletecollection".into(),
        Method::DELETE => "delete".into(),
        ref other => other.as_str().to_lowercase(),
    };
    a
}

/// Rules every authenticated identity has (system:basic-user, system:discovery,
/// system:public-info-viewer, system:service-account-issuer-discovery).
fn base_rules() -> Value {
    json!([
        {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
         "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
        {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    ])
}

fn base_non_resource_rules() -> Value {
    json!([
        {"verbs": ["get"], "nonResourceURLs": ["/.well-known/openid-configuration",
            "/.well-known/openid-configuration/", "/openid/v1/jwks", "/openid/v1/jwks/"]},
        {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]},
        {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz",
            "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]},
    ])
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(String::from))
        .collect()
}

fn rule_allows(rule: &Value, a: &Attributes) -> bool {
    let has = |key: &str, want: &str| strings(&rule[key]).iter().any(|v| v == "*" || v == want);
    if !has("verbs", &a.verb) {
        return false;
    }
    if !a.resource_request {
        return strings(&rule["nonResourceURLs"]).iter().any(|u| {
            u == "*"
                || *u == a.path
                || u.strip_suffix('*')
                    .is_some_and(|prefix| a.path.starts_with(prefix))
        });
    }
    if !has("apiGroups", &a.group) {
        return false;
    }
    let combined = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let resource_ok = strings(&rule["resources"]).iter().any(|r| {
        *r == "*"
            || *r == combined
            || (!a.subresource.is_empty() && *r == format!("*/{}", a.subresource))
    });
    let names = strings(&rule["resourceNames"]);
    resource_ok && (names.is_empty() || names.contains(&a.name))
}

fn subject_matches(subject: &Value, binding_ns: &str, who: &Identity) -> bool {
    let name = subject["name"].as_str().unwrap_or("");
    match (subject["kind"].as_str().unwrap_or(""), who) {
        ("ServiceAccount", _) => {
            let ns = subject["namespace"]
                .as_str()
                .filter(|n| !n.is_empty())
                .unwrap_or(binding_ns);
            who.username() == format!("system:serviceaccount:{ns}:{name}")
        }
        ("User", _) => name == who.username(),
        ("Group", _) => who.groups().iter().any(|g| g == name),
        _ => false,
    }
}

/// One binding that grants rules, for reasons and rules reviews.
struct Grant {
    /// `RoleBinding "NAME/NS" of Role "ROLE"` (how RBAC names it in reasons).
    describe: String,
    rules: Vec<Value>,
}

/// The bindings applying to `who` in `namespace` (plus cluster-wide ones), with their rules.
fn grants(s: &State, who: &Identity, namespace: &str) -> Vec<Grant> {
    let role_res = state::resource("rbac.authorization.k8s.io/v1", "Role");
    let cluster_role_res = state::resource("rbac.authorization.k8s.io/v1", "ClusterRole");
    let mut bindings: Vec<(Value, String)> = Vec::new();
    for b in s.list(
        &state::resource("rbac.authorization.k8s.io/v1", "ClusterRoleBinding"),
        None,
    ) {
        bindings.push((b, String::new()));
    }
    if !namespace.is_empty() {
        for b in s.list(
            &state::resource("rbac.authorization.k8s.io/v1", "RoleBinding"),
            Some(namespace),
        ) {
            bindings.push((b, namespace.to_string()));
        }
    }
    let mut out = Vec::new();
    for (binding, ns) in bindings {
        let Some(subject) = binding["subjects"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|sub| subject_matches(sub, &ns, who))
        else {
            continue;
        };
        let role_kind = binding["roleRef"]["kind"].as_str().unwrap_or("");
        let role_name = binding["roleRef"]["name"].as_str().unwrap_or("");
        let role = match role_kind {
            "Role" if !ns.is_empty() => s.get(&ObjKey::new(&role_res, &ns, role_name)),
            "ClusterRole" => s.get(&ObjKey::new(&cluster_role_res, "", role_name)),
            _ => None,
        };
        let Some(role) = role else { continue };
        let binding_name = binding["metadata"]["name"].as_str().unwrap_or("");
        let subject_kind = subject["kind"].as_str().unwrap_or("");
        let subject_name = match subject_kind {
            "ServiceAccount" => format!(
                "{}/{}",
                subject["name"].as_str().unwrap_or(""),
                subject["namespace"].as_str().unwrap_or(&ns)
            ),
            _ => subject["name"].as_str().unwrap_or("").to_string(),
        };
        let describe = if ns.is_empty() {
            format!(
                "ClusterRoleBinding \"{binding_name}\" of {role_kind} \"{role_name}\" to {subject_kind} \"{subject_name}\""
            )
        } else {
            format!(
                "RoleBinding \"{binding_name}/{ns}\" of {role_kind} \"{role_name}\" to {subject_kind} \"{subject_name}\""
            )
        };
        out.push(Grant {
            describe,
            rules: role["rules"].as_array().cloned().unwrap_or_default(),
        });
    }
    out
}

/// `Ok(reason)` when `who` may do `a`, else `Err(())`.
pub fn decide(s: &State, who: &Identity, a: &Attributes) -> Result<String, ()> {
    if *who == Identity::Admin || who.groups().iter().any(|g| g == "system:masters") {
        return Ok(String::new());
    }
    let base = if a.resource_request {
        base_rules()
    } else {
        base_non_resource_rules()
    };
    if *who != Identity::Anonymous
        && base
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| rule_allows(r, a))
    {
        return Ok(String::new());
    }
    for g in grants(s, who, &a.namespace) {
        if g.rules.iter().any(|r| rule_allows(r, a)) {
            return Ok(format!("RBAC: allowed by {}", g.describe));
        }
    }
    Err(())
}

/// The 403 the apiserver answers when RBAC denies `a` (recordings 054/055 shape).
pub fn forbidden(who: &Identity, a: &Attributes) -> ApiError {
    let user = who.username();
    if !a.resource_request {
        return status(
            403,
            "Forbidden",
            &format!(
                "forbidden: User \"{user}\" cannot {} path \"{}\"",
                a.verb, a.path
            ),
            Some(json!({})),
        );
    }
    let resource = if a.subresource.is_empty() {
        a.resource.clone()
    } else {
        format!("{}/{}", a.resource, a.subresource)
    };
    let scope = if a.namespace.is_empty() {
        "at the cluster scope".to_string()
    } else {
        format!("in the namespace \"{}\"", a.namespace)
    };
    let reason = format!(
        "User \"{user}\" cannot {} resource \"{resource}\" in API group \"{}\" {scope}",
        a.verb, a.group
    );
    let qualified = if a.group.is_empty() {
        a.resource.clone()
    } else {
        format!("{}.{}", a.resource, a.group)
    };
    let message = if a.name.is_empty() {
        format!("{qualified} is forbidden: {reason}")
    } else {
        format!("{qualified} \"{}\" is forbidden: {reason}", a.name)
    };
    let mut details = serde_json::Map::new();
    if !a.name.is_empty() {
        details.insert("name".into(), json!(a.name));
    }
    if !a.group.is_empty() {
        details.insert("group".into(), json!(a.group));
    }
    details.insert("kind".into(), json!(a.resource));
    status(403, "Forbidden", &message, Some(Value::Object(details)))
}

/// The status of a SelfSubjectAccessReview by `who` (recordings 100-102).
pub fn access_review(s: &State, who: &Identity, spec: &Value) -> Value {
    let a = if let Some(r) = spec.get("resourceAttributes").filter(|r| r.is_object()) {
        let text = |k: &str| r[k].as_str().unwrap_or("").to_string();
        Attributes {
            verb: text("verb"),
            resource_request: true,
            group: text("group"),
            resource: text("resource"),
            subresource: text("subresource"),
            namespace: text("namespace"),
            name: text("name"),
            path: String::new(),
        }
    } else {
        let n = &spec["nonResourceAttributes"];
        Attributes {
            verb: n["verb"].as_str().unwrap_or("").to_string(),
            path: n["path"].as_str().unwrap_or("").to_string(),
            ..Attributes::default()
        }
    };
    match decide(s, who, &a) {
        Ok(reason) if reason.is_empty() => json!({"allowed": true}),
        Ok(reason) => json!({"allowed": true, "reason": reason}),
        Err(()) => json!({"allowed": false}),
    }
}

/// The status of a SelfSubjectRulesReview by `who` in `namespace` (recording 103).
pub fn rules_review(s: &State, who: &Identity, namespace: &str) -> Value {
    if *who == Identity::Admin {
        return json!({"resourceRules": [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}],
            "nonResourceRules": [{"verbs": ["*"], "nonResourceURLs": ["*"]}], "incomplete": false});
    }
    let mut rules = base_rules().as_array().cloned().unwrap_or_default();
    for g in grants(s, who, namespace) {
        rules.extend(g.rules);
    }
    json!({"resourceRules": rules, "nonResourceRules": base_non_resource_rules(), "incomplete": false})
}

/// The userInfo of a SelfSubjectReview by `who` (recording 114).
pub fn user_info(s: &State, who: &Identity) -> Value {
    match who {
        Identity::Admin => json!({"username": "admin", "uid": "admin-uid",
            "groups": ["system:masters", "system:authenticated"]}),
        Identity::ServiceAccount { namespace, name } => {
            let uid = s
                .get(&ObjKey::new(
                    &state::resource("v1", "ServiceAccount"),
                    namespace,
                    name,
                ))
                .and_then(|sa| sa["metadata"]["uid"].as_str().map(String::from))
                .unwrap_or_default();
            json!({"username": who.username(), "uid": uid, "groups": who.groups(),
                "extra": {"authentication.kubernetes.io/credential-id": ["JTI=fake"]}})
        }
        Identity::Anonymous | Identity::User { .. } => {
            json!({"username": who.username(), "groups": who.groups()})
        }
    }
}
