//! Author slips that are valid check language but can never hold on a real cluster: a check
//! that compiles and is still wrong. Each found once, when the labs load.

use serde_json::Value;

use super::spec::CheckSpec;

/// Every `status: true` (a boolean) inside `conditions`: Kubernetes writes condition statuses
/// as the strings `"True"`, `"False"` and `"Unknown"`, so a boolean never matches — the check
/// would fail on a Ready Pod and tell the learner they are wrong.
pub fn condition_statuses(spec: &CheckSpec) -> Vec<String> {
    let mut problems = Vec::new();
    let fields = [
        ("expect", spec.expect.as_ref()),
        ("pending.when", spec.pending.as_ref().map(|p| &p.when)),
    ];
    for (field, value) in fields {
        if let Some(value) = value {
            walk(value, false, &mut Vec::new(), field, &mut problems);
        }
    }
    problems
}

fn walk(
    value: &Value,
    in_conditions: bool,
    path: &mut Vec<String>,
    field: &str,
    problems: &mut Vec<String>,
) {
    match value {
        Value::Object(map) => {
            for (key, inner) in map {
                if in_conditions && key == "status" && boolean_status(inner) {
                    path.push(key.clone());
                    problems.push(format!(
                        "`{field}` at `{}`: condition statuses are the strings \"True\", \"False\" and \"Unknown\", never a boolean, so this can never match; write `status: \"True\"` (in quotes).",
                        path.join(".").replace(".[", "[")
                    ));
                    path.pop();
                    continue;
                }
                path.push(key.clone());
                walk(
                    inner,
                    in_conditions || key == "conditions",
                    path,
                    field,
                    problems,
                );
                path.pop();
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                path.push(format!("[{i}]"));
                walk(item, in_conditions, path, field, problems);
                path.pop();
            }
        }
        _ => {}
    }
}

// `true`, or an operator comparing with booleans (`{$eq: true}`, `{$in: [true]}`).
fn boolean_status(value: &Value) -> bool {
    match value {
        Value::Bool(_) => true,
        Value::Object(map) => map.iter().any(|(op, operand)| match op.as_str() {
            "$eq" | "$ne" => operand.is_boolean(),
            "$in" => operand
                .as_array()
                .is_some_and(|a| a.iter().any(Value::is_boolean)),
            _ => false,
        }),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(expect: Value) -> CheckSpec {
        serde_json::from_value(json!({
            "id": "c", "title": {"en": "t", "zh": "t"}, "reason": {"en": "r", "zh": "r"},
            "find": {"apiVersion": "v1", "kind": "Pod", "name": "p"},
            "expect": expect
        }))
        .expect("a check")
    }

    #[test]
    fn boolean_condition_statuses_are_found_wherever_they_are() {
        let found = condition_statuses(&check(
            json!({"status": {"conditions": [{"type": "Ready", "status": true}]}}),
        ));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].starts_with(
                "`expect` at `status.conditions[0].status`: condition statuses are the strings"
            ),
            "{found:?}"
        );
        let nested = condition_statuses(&check(json!({"status": {"conditions": {
            "$some": {"type": "Available", "status": {"$in": [true, "True"]}}
        }}})));
        assert_eq!(nested.len(), 1, "{nested:?}");
    }

    #[test]
    fn string_statuses_and_other_booleans_are_fine() {
        assert!(
            condition_statuses(&check(json!({
                "status": {"conditions": [{"type": "Ready", "status": "True"}],
                           "containerStatuses": [{"ready": true}]},
                "spec": {"status": true}
            })))
            .is_empty()
        );
    }
}
