//! ValidatingAdmissionPolicy, off by default as on the recorded 1.28 server (recordings
//! 146-150: not in discovery, 404 on its paths), or served in `v1` (1.30+, k3s in colima) or
//! `v1beta1` (1.28/1.29 with the API enabled). When served, stored policies and bindings take
//! effect on creates and updates: resource rules, the binding's namespace selector, each
//! validation's CEL expression over `object` (kubelab's CEL interpreter), and a `Deny` refusal
//! shaped like the apiserver's — 422 Invalid, `<resource> "<name>" is forbidden:
//! ValidatingAdmissionPolicy '<policy>' with binding '<binding>' denied request: <message>`,
//! the same text as the one `details.causes` entry.

use serde_json::{Value, json};

use super::discovery::Resource;
use super::state::{self, ApiError, ObjKey, State};

/// The API group of the policies.
pub const GROUP: &str = "admissionregistration.k8s.io";

const POLICY_PLURALS: [&str; 2] = [
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
];

/// The policy kinds in `version`, as the aggregated discovery of 1.30 lists them.
pub fn resources(version: &str) -> Vec<Resource> {
    let verbs: Vec<String> = [
        "create",
        "delete",
        "deletecollection",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    .iter()
    .map(|v| v.to_string())
    .collect();
    let resource = |plural: &str, singular: &str, kind: &str, status: bool| Resource {
        group: GROUP.into(),
        version: version.into(),
        plural: plural.into(),
        singular: singular.into(),
        kind: kind.into(),
        namespaced: false,
        subresources: if status {
            vec!["status".into()]
        } else {
            Vec::new()
        },
        verbs: verbs.clone(),
        short_names: Vec::new(),
        categories: vec!["api-extensions".into()],
        subresource_verbs: if status {
            vec![vec!["get".into(), "patch".into(), "update".into()]]
        } else {
            Vec::new()
        },
    };
    vec![
        resource(
            POLICY_PLURALS[0],
            "validatingadmissionpolicy",
            "ValidatingAdmissionPolicy",
            true,
        ),
        resource(
            POLICY_PLURALS[1],
            "validatingadmissionpolicybinding",
            "ValidatingAdmissionPolicyBinding",
            false,
        ),
    ]
}

/// Whether the fake hides `group/version` (`plural`: one resource of it, or `None` for the
/// group-version itself) because policies are not served in that version.
pub fn hidden(served: Option<&str>, group: &str, version: &str, plural: Option<&str>) -> bool {
    if group != GROUP || served == Some(version) {
        return false;
    }
    // v1 itself is always served (webhook configurations); v1beta1 only carries policies here.
    version != "v1" || plural.is_some_and(|p| POLICY_PLURALS.contains(&p))
}

/// Whether a `namespaceSelector`/`objectSelector` (matchLabels, matchExpressions) selects
/// `labels`; an absent or empty selector selects everything.
pub fn selects(selector: &Value, labels: &Value) -> bool {
    let label = |k: &str| labels[k].as_str();
    let labels_ok = selector["matchLabels"]
        .as_object()
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k) == v.as_str());
    let expressions_ok = selector["matchExpressions"]
        .as_array()
        .into_iter()
        .flatten()
        .all(|e| {
            let key = e["key"].as_str().unwrap_or_default();
            let values: Vec<&str> = e["values"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            match e["operator"].as_str().unwrap_or_default() {
                "In" => label(key).is_some_and(|v| values.contains(&v)),
                "NotIn" => label(key).is_none_or(|v| !values.contains(&v)),
                "Exists" => label(key).is_some(),
                "DoesNotExist" => label(key).is_none(),
                _ => false,
            }
        });
    labels_ok && expressions_ok
}

fn rule_matches(rule: &Value, res: &Resource, operation: &str) -> bool {
    let has = |key: &str, wanted: &str| {
        rule[key]
            .as_array()
            .into_iter()
            .flatten()
            .any(|v| v == "*" || v == wanted)
    };
    has("apiGroups", &res.group)
        && has("apiVersions", &res.version)
        && has("resources", &res.plural)
        && has("operations", operation)
}

/// Runs every served policy bound to this request (`operation`: `CREATE` or `UPDATE`) and
/// answers the apiserver's refusal for the first validation that fails under `Deny`.
pub fn admit(
    s: &State,
    res: &Resource,
    ns: &str,
    name: &str,
    obj: &Value,
    operation: &str,
) -> Result<(), ApiError> {
    let Some(version) = s.admission_policies.as_deref() else {
        return Ok(());
    };
    let api_version = format!("{GROUP}/{version}");
    let bindings = s.list(
        &state::resource(&api_version, "ValidatingAdmissionPolicyBinding"),
        None,
    );
    let namespace_labels = s
        .get(&ObjKey::new(&state::resource("v1", "Namespace"), "", ns))
        .map(|n| n["metadata"]["labels"].clone())
        .unwrap_or(Value::Null);
    for binding in bindings {
        let spec = &binding["spec"];
        let policy_name = spec["policyName"].as_str().unwrap_or_default();
        let policy_key = ObjKey::new(
            &state::resource(&api_version, "ValidatingAdmissionPolicy"),
            "",
            policy_name,
        );
        let Some(policy) = s.get(&policy_key) else {
            continue;
        };
        let in_scope = policy["spec"]["matchConstraints"]["resourceRules"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|r| rule_matches(r, res, operation));
        let selected = !res.namespaced
            || selects(
                &spec["matchResources"]["namespaceSelector"],
                &namespace_labels,
            );
        let denies = spec["validationActions"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x == "Deny"));
        if !(in_scope && selected && denies) {
            continue;
        }
        for validation in policy["spec"]["validations"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let expression = validation["expression"].as_str().unwrap_or("false");
            let held = kubelab::checks::cel::CelExpr::compile(expression)
                .ok()
                .and_then(|cel| cel.eval(obj).ok())
                .unwrap_or(false);
            if held {
                continue;
            }
            let message = validation["message"]
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("failed expression: {expression}"));
            let binding_name = binding["metadata"]["name"].as_str().unwrap_or_default();
            let denial = format!(
                "ValidatingAdmissionPolicy '{policy_name}' with binding '{binding_name}' denied request: {message}"
            );
            let mut details = state::details(res, name);
            details["causes"] = json!([{"message": denial}]);
            return Err(state::status(
                422,
                "Invalid",
                &format!("{} \"{name}\" is forbidden: {denial}", res.qualified()),
                Some(details),
            ));
        }
    }
    Ok(())
}
