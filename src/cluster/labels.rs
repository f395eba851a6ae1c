//! Label selectors in kubectl's text form (`app=web,tier in (a,b),!canary`), parsed into
//! kube's selector types so watch caches can filter the way the API server would.

use std::collections::{BTreeMap, BTreeSet};

use kube::core::{Expression, Selector, SelectorExt};
use serde_json::Value;

/// Parses a label selector; an empty text selects everything.
pub fn parse_label_selector(text: &str) -> Result<Selector, String> {
    let mut expressions = Vec::new();
    for requirement in split_requirements(text)? {
        expressions.push(requirement_of(requirement)?);
    }
    Ok(Selector::from_iter(expressions))
}

/// Whether the object's `metadata.labels` satisfy `selector`.
pub(crate) fn object_matches(selector: &Selector, object: &Value) -> bool {
    let labels: BTreeMap<String, String> = object
        .pointer("/metadata/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    selector.matches(&labels)
}

/// Splits at the commas that are not inside `( )`.
fn split_requirements(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth
                    .checked_sub(1)
                    .ok_or_else(|| format!("unbalanced `)` in the label selector `{text}`"))?;
            }
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unbalanced `(` in the label selector `{text}`"));
    }
    parts.push(&text[start..]);
    let parts: Vec<&str> = parts.into_iter().map(str::trim).collect();
    if parts.len() == 1 && parts[0].is_empty() {
        return Ok(Vec::new());
    }
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("empty requirement in the label selector `{text}`"));
    }
    Ok(parts)
}

fn requirement_of(text: &str) -> Result<Expression, String> {
    let bad = |why: &str| format!("invalid label selector requirement `{text}`: {why}");
    if let Some(key) = text.strip_prefix('!') {
        return Ok(Expression::DoesNotExist(
            key_of(key.trim()).map_err(|e| bad(&e))?,
        ));
    }
    if let Some((key, value)) = text.split_once("!=") {
        return Ok(Expression::NotEqual(
            key_of(key.trim()).map_err(|e| bad(&e))?,
            value_of(value.trim()).map_err(|e| bad(&e))?,
        ));
    }
    if let Some((key, value)) = text.split_once("==").or_else(|| text.split_once('=')) {
        return Ok(Expression::Equal(
            key_of(key.trim()).map_err(|e| bad(&e))?,
            value_of(value.trim()).map_err(|e| bad(&e))?,
        ));
    }
    let mut words = text.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default();
    let rest = words.next().unwrap_or_default().trim_start();
    if rest.is_empty() {
        return Ok(Expression::Exists(key_of(key).map_err(|e| bad(&e))?));
    }
    let (set_of, values) = if let Some(values) = rest.strip_prefix("notin") {
        (false, values)
    } else if let Some(values) = rest.strip_prefix("in") {
        (true, values)
    } else {
        return Err(bad("expected `=`, `!=`, `in` or `notin`"));
    };
    let values = values
        .trim()
        .strip_prefix('(')
        .and_then(|v| v.strip_suffix(')'))
        .ok_or_else(|| bad("a set of values is written `(a,b)`"))?;
    let values: BTreeSet<String> = values
        .split(',')
        .map(|v| value_of(v.trim()))
        .collect::<Result<_, _>>()
        .map_err(|e| bad(&e))?;
    let key = key_of(key).map_err(|e| bad(&e))?;
    Ok(if set_of {
        Expression::In(key, values)
    } else {
        Expression::NotIn(key, values)
    })
}

/// A label key: an optional DNS prefix and `/`, then a name.
fn key_of(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
        && key.matches('/').count() <= 1;
    if ok {
        Ok(key.to_owned())
    } else {
        Err(format!("`{key}` is not a label key"))
    }
}

/// A label value (may be empty).
fn value_of(value: &str) -> Result<String, String> {
    if value
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
    {
        Ok(value.to_owned())
    } else {
        Err(format!("`{value}` is not a label value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(labels: Value) -> Value {
        json!({"metadata": {"name": "p", "labels": labels}})
    }

    fn matches(selector: &str, labels: Value) -> bool {
        let selector = parse_label_selector(selector).expect("valid selector");
        object_matches(&selector, &pod(labels))
    }

    #[test]
    fn equality_and_inequality() {
        assert!(matches("app=nginx", json!({"app": "nginx"})));
        assert!(matches("app==nginx", json!({"app": "nginx"})));
        assert!(!matches("app=nginx", json!({"app": "web"})));
        assert!(matches("app!=nginx", json!({})));
        assert!(!matches("app!=nginx,tier=web", json!({"tier": "db"})));
    }

    #[test]
    fn sets_and_existence() {
        assert!(matches("tier in (web, db)", json!({"tier": "db"})));
        assert!(!matches("tier in (web,db)", json!({})));
        assert!(matches("tier notin (web)", json!({})));
        assert!(matches("app,!canary", json!({"app": "x"})));
        assert!(!matches("app,!canary", json!({"app": "x", "canary": "1"})));
        assert!(matches(
            "app.kubernetes.io/name=x",
            json!({"app.kubernetes.io/name": "x"})
        ));
        assert!(matches("", json!({"anything": "goes"})));
    }

    #[test]
    fn bad_selectors_are_refused() {
        for bad in ["app=(", "tier in web", "a,,b", "tier in (a", "x y", "=v"] {
            assert!(parse_label_selector(bad).is_err(), "{bad}");
        }
    }
}
