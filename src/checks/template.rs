//! Placeholders inside checks: `{kubelab:namespace}` and `{kubelab:node}` in `expect`,
//! `pending.when`, `events` and `cel`, rendered per reader when a check is evaluated (the lab's
//! namespace locally, the learner's own in a workshop) — the same spelling as in lab text.

use std::borrow::Cow;

use serde_json::Value;

pub use crate::labs::placeholders::PREFIX;
pub use crate::labs::placeholders::Values;
use crate::labs::placeholders::{Placeholder, placeholder_problems};

/// Whether `text` holds a placeholder (known or not).
pub fn has_placeholder(text: &str) -> bool {
    text.contains(PREFIX)
}

/// Whether any string inside `value` holds a placeholder.
pub fn value_has_placeholder(value: &Value) -> bool {
    match value {
        Value::String(s) => has_placeholder(s),
        Value::Array(items) => items.iter().any(value_has_placeholder),
        Value::Object(map) => map.values().any(value_has_placeholder),
        _ => false,
    }
}

/// `value` with every placeholder in its strings replaced (`escape` applied to each value put
/// in: a regex pattern needs its values escaped, plain text does not).
pub fn render_value<'v>(
    value: &'v Value,
    values: &Values,
    escape: fn(&str) -> String,
) -> Cow<'v, Value> {
    match value {
        Value::String(s) if has_placeholder(s) => {
            Cow::Owned(Value::String(render(s, values, escape)))
        }
        Value::Array(items) if items.iter().any(value_has_placeholder) => Cow::Owned(Value::Array(
            items
                .iter()
                .map(|i| render_value(i, values, escape).into_owned())
                .collect(),
        )),
        Value::Object(map) if map.values().any(value_has_placeholder) => Cow::Owned(Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render_value(v, values, escape).into_owned()))
                .collect(),
        )),
        other => Cow::Borrowed(other),
    }
}

/// `text` with every placeholder replaced, each value passed through `escape`.
pub fn render(text: &str, values: &Values, escape: fn(&str) -> String) -> String {
    let escaped = Values {
        namespace: escape(&values.namespace),
        node: escape(&values.node),
    };
    escaped.render(text).into_owned()
}

/// Values put in as they are.
pub fn verbatim(value: &str) -> String {
    value.to_owned()
}

/// Stand-ins for validation, each exactly as long as its placeholder, so that positions in
/// a rendered CEL expression are positions in the expression as written. Valid names too.
pub fn sample() -> Values {
    let same_length = |p: Placeholder, word: &str| {
        let mut s = word.to_owned();
        while s.len() < p.token().len() {
            s.push('x');
        }
        s
    };
    Values {
        namespace: same_length(Placeholder::Namespace, "sample-namespace-"),
        node: same_length(Placeholder::Node, "sample-node-"),
    }
}

/// Every unknown placeholder in `text`, as a message.
pub fn problems(text: &str) -> Vec<String> {
    placeholder_problems(text)
        .into_iter()
        .map(|(_, message)| message)
        .collect()
}

/// Every unknown placeholder in the strings of `value`, as messages.
pub fn value_problems(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => problems(s),
        Value::Array(items) => items.iter().flat_map(value_problems).collect(),
        Value::Object(map) => map.values().flat_map(value_problems).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reader() -> Values {
        Values {
            namespace: "kl-abc-1".into(),
            node: "lab-node".into(),
        }
    }

    #[test]
    fn values_are_rendered_deep_and_escaped_on_request() {
        let v = json!({"a": ["x", "system:serviceaccount:{kubelab:namespace}:reader"], "n": 3});
        assert_eq!(
            render_value(&v, &reader(), verbatim).into_owned(),
            json!({"a": ["x", "system:serviceaccount:kl-abc-1:reader"], "n": 3})
        );
        let untouched = json!({"a": "plain"});
        assert!(matches!(
            render_value(&untouched, &reader(), verbatim),
            Cow::Borrowed(_)
        ));
        let dotted = Values {
            namespace: "a.b".into(),
            node: "n".into(),
        };
        assert_eq!(
            render("^{kubelab:namespace}$", &dotted, regex::escape),
            "^a\\.b$"
        );
    }

    #[test]
    fn samples_keep_positions() {
        let s = sample();
        assert_eq!(s.namespace.len(), Placeholder::Namespace.token().len());
        assert_eq!(s.node.len(), Placeholder::Node.token().len());
    }

    #[test]
    fn unknown_placeholders_are_problems() {
        assert!(value_problems(&json!({"a": "{kubelab:namespace}"})).is_empty());
        let found = value_problems(&json!({"a": ["{kubelab:ns}"]}));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].contains("unknown placeholder `{kubelab:ns}`"),
            "{found:?}"
        );
    }
}
