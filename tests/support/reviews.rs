//! The kinds the API server computes instead of storing (all answered 201 Created): access
//! reviews (SubjectAccessReview, SelfSubjectAccessReview, SelfSubjectRulesReview), who-am-I
//! (SelfSubjectReview), TokenReview, and the ServiceAccount `token` subresource — shaped like
//! recordings 099-103, 114 and 126-139, including the Update managedFields entry they echo.

use serde_json::{Value, json};

use super::fields;
use super::rbac::{self, API_AUDIENCE, Identity};
use super::state::{self, ApiError, State, status};

/// The Update managedFields entry the API server puts on a computed object it returns.
fn managed(manager: &str, api_version: &str, kind: &str, obj: &Value, sub: Option<&str>) -> Value {
    let (group, _) = super::discovery::split_api_version(api_version);
    let mut input = obj.clone();
    if let Some(m) = input.as_object_mut() {
        m.remove("status");
    }
    let set = fields::update_set(Some(&fields::zero_object(group, kind)), &input, false);
    let mut entry = json!({"manager": manager, "operation": "Update", "apiVersion": api_version,
        "time": state::now(), "fieldsType": "FieldsV1", "fieldsV1": set.to_json()});
    if let Some(sub) = sub {
        entry["subresource"] = json!(sub);
    }
    entry
}

/// A review echoing `obj`'s spec, with `status`.
fn review(obj: &Value, api_version: &str, kind: &str, manager: &str, status: Value) -> Value {
    let mut metadata = json!({"creationTimestamp": null});
    let entry = managed(manager, api_version, kind, obj, None);
    if !entry["fieldsV1"].as_object().is_some_and(|m| m.is_empty()) {
        metadata["managedFields"] = json!([entry]);
    }
    json!({"kind": kind, "apiVersion": api_version, "metadata": metadata,
        "spec": obj.get("spec").cloned().unwrap_or(json!({})), "status": status})
}

/// The identity a SubjectAccessReview asks about, or its 422 (recording 129).
fn subject(spec: &Value) -> Result<Identity, ApiError> {
    let user = spec["user"].as_str().unwrap_or("").to_string();
    let groups: Vec<String> = spec["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g.as_str().map(String::from))
        .collect();
    if user.is_empty() && groups.is_empty() {
        let message = "Invalid value: \"\": at least one of user or group must be specified";
        return Err(status(
            422,
            "Invalid",
            &format!(".authorization.k8s.io \"\" is invalid: spec.user: {message}"),
            Some(json!({"group": "authorization.k8s.io", "causes": [
                {"reason": "FieldValueInvalid", "message": message, "field": "spec.user"}]})),
        ));
    }
    Ok(Identity::User { name: user, groups })
}

/// The answer to a TokenReview of `token` for `audiences` (recordings 135-137).
fn token_review(s: &State, admin_token: &str, spec: &Value) -> Value {
    let token = spec["token"].as_str().unwrap_or("");
    let wanted: Vec<String> = match spec["audiences"].as_array() {
        Some(a) if !a.is_empty() => a
            .iter()
            .filter_map(|x| x.as_str().map(String::from))
            .collect(),
        _ => vec![API_AUDIENCE.to_string()],
    };
    let refused = |error: String| json!({"user": {}, "error": error});
    if token == admin_token {
        return json!({"authenticated": true,
            "user": {"username": "admin", "uid": "admin-uid", "groups": ["system:masters", "system:authenticated"]},
            "audiences": wanted});
    }
    let Some(issued) = s.tokens.get(token) else {
        return refused("invalid bearer token".into());
    };
    let matching: Vec<&String> = wanted
        .iter()
        .filter(|a| issued.audiences.contains(a))
        .collect();
    if matching.is_empty() {
        return refused(format!(
            "[invalid bearer token, token audiences {} is invalid for the target audiences {}]",
            go_strings(&issued.audiences),
            go_strings(&wanted)
        ));
    }
    let sa = Identity::ServiceAccount {
        namespace: issued.namespace.clone(),
        name: issued.name.clone(),
    };
    if let Some(why) = rbac::why_refused(s, issued) {
        return refused(format!("[invalid bearer token, {why}]"));
    }
    json!({"authenticated": true,
        "user": {"username": sa.username(), "uid": issued.uid, "groups": sa.groups()},
        "audiences": matching})
}

/// `["a", "b"]` as Go's `%q` prints a string slice.
fn go_strings(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    format!("[{}]", quoted.join(" "))
}

/// The body of a computed kind's create (`None`: `kind` is stored, not computed).
pub fn create(
    s: &State,
    admin_token: &str,
    identity: &Identity,
    kind: &str,
    obj: &Value,
    manager: &str,
) -> Option<Result<Value, ApiError>> {
    let authz = "authorization.k8s.io/v1";
    let authn = "authentication.k8s.io/v1";
    Some(Ok(match kind {
        "SelfSubjectAccessReview" => {
            let st = rbac::access_review(s, identity, &obj["spec"]);
            review(obj, authz, kind, manager, st)
        }
        "SubjectAccessReview" | "LocalSubjectAccessReview" => {
            let who = match subject(&obj["spec"]) {
                Ok(who) => who,
                Err(e) => return Some(Err(e)),
            };
            let st = rbac::access_review(s, &who, &obj["spec"]);
            review(obj, authz, kind, manager, st)
        }
        "SelfSubjectRulesReview" => {
            let ns = obj["spec"]["namespace"].as_str().unwrap_or("");
            json!({"kind": kind, "apiVersion": authz, "metadata": {"creationTimestamp": null},
                "spec": {}, "status": rbac::rules_review(s, identity, ns)})
        }
        "SelfSubjectReview" => json!({"kind": kind, "apiVersion": authn,
            "metadata": {"creationTimestamp": state::now()},
            "status": {"userInfo": rbac::user_info(s, identity)}}),
        "TokenReview" => {
            let st = token_review(s, admin_token, &obj["spec"]);
            review(obj, authn, kind, manager, st)
        }
        _ => return None,
    }))
}

/// `POST serviceaccounts/NAME/token` (recordings 099, 134, 139).
pub fn token_request(
    s: &mut State,
    ns: &str,
    name: &str,
    req: &Value,
    manager: &str,
) -> Result<Value, ApiError> {
    let mut out = rbac::issue_token(s, ns, name, req)?;
    let entry = managed(
        manager,
        "authentication.k8s.io/v1",
        "TokenRequest",
        req,
        Some("token"),
    );
    if !entry["fieldsV1"].as_object().is_some_and(|m| m.is_empty()) {
        out["metadata"]["managedFields"] = json!([entry]);
    }
    Ok(out)
}
