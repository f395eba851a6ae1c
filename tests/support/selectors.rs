//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, `key`, `!key`, `key>n`, `key<n`) and field
//! selectors with the field labels the real server supports per kind.

use serde_json::Value;

/// One label requirement.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Req {
    Eq(String, String),
    Ne(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    Gt(String, i64),
    Lt(String, i64),
}

// `key>n` / `key<n`: the real server takes integers only, and says so.
fn integer_requirement(part: &str, op: char) -> Option<Result<Req, String>> {
    let (k, v) = part.split_once(op)?;
    let (k, v) = (k.trim().to_owned(), v.trim());
    Some(match v.parse::<i64>() {
        Ok(n) if op == '>' => Ok(Req::Gt(k, n)),
        Ok(n) => Ok(Req::Lt(k, n)),
        Err(_) => Err(format!(
            "unable to parse requirement: values[0]: Invalid value: \"{v}\": for 'Gt', 'Lt' operators, the value must be an integer"
        )),
    })
}

/// A parsed label selector.
#[derive(Debug, Clone, Default)]
pub struct LabelSelector(Vec<Req>);

/// Splits on commas that are not inside parentheses.
fn split_top(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur));
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur);
    out.into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

fn set_values(s: &str) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_string()).collect())
}

impl LabelSelector {
    /// Parses kubectl label-selector syntax; `Err` carries the server's message.
    pub fn parse(s: &str) -> Result<LabelSelector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let req = if let Some(key) = part.strip_prefix('!') {
                Req::NotExists(key.trim().to_string())
            } else if let Some((k, v)) = part.split_once("!=") {
                Req::Ne(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once("==") {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some((k, v)) = part.split_once('=') {
                Req::Eq(k.trim().into(), v.trim().into())
            } else if let Some(req) =
                integer_requirement(&part, '>').or_else(|| integer_requirement(&part, '<'))
            {
                req?
            } else if let Some((k, v)) = part.split_once(" notin ") {
                Req::NotIn(
                    k.trim().into(),
                    set_values(v).ok_or(format!("unable to parse requirement: {part}"))?,
                )
            } else if let Some((k, v)) = part.split_once(" in ") {
                Req::In(
                    k.trim().into(),
                    set_values(v).ok_or(format!("unable to parse requirement: {part}"))?,
                )
            } else if part
                .chars()
                .all(|c| c.is_alphanumeric() || "-_./".contains(c))
            {
                Req::Exists(part.clone())
            } else {
                return Err(format!("unable to parse requirement: {part}"));
            };
            reqs.push(req);
        }
        Ok(LabelSelector(reqs))
    }

    /// Whether an object's labels satisfy every requirement.
    pub fn matches(&self, obj: &Value) -> bool {
        let labels = &obj["metadata"]["labels"];
        let get = |k: &str| labels.get(k).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Req::Eq(k, v) => get(k) == Some(v.as_str()),
            Req::Ne(k, v) => get(k) != Some(v.as_str()),
            Req::In(k, vs) => get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Req::NotIn(k, vs) => !get(k).is_some_and(|l| vs.iter().any(|v| v == l)),
            Req::Exists(k) => get(k).is_some(),
            Req::NotExists(k) => get(k).is_none(),
            Req::Gt(k, n) => get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l > *n),
            Req::Lt(k, n) => get(k)
                .and_then(|l| l.parse::<i64>().ok())
                .is_some_and(|l| l < *n),
        })
    }
}

/// A parsed field selector.
#[derive(Debug, Clone, Default)]
pub struct FieldSelector(Vec<(String, bool, String)>);

/// The extra field labels a kind supports beyond `metadata.name`/`metadata.namespace`.
fn extra_fields(group: &str, kind: &str) -> &'static [&'static str] {
    match (group, kind) {
        ("", "Pod") => &[
            "spec.nodeName",
            "spec.restartPolicy",
            "spec.schedulerName",
            "spec.serviceAccountName",
            "spec.hostNetwork",
            "status.phase",
            "status.podIP",
            "status.nominatedNodeName",
        ],
        ("", "Event") => &[
            "involvedObject.kind",
            "involvedObject.namespace",
            "involvedObject.name",
            "involvedObject.uid",
            "involvedObject.apiVersion",
            "involvedObject.resourceVersion",
            "involvedObject.fieldPath",
            "reason",
            "reportingComponent",
            "source",
            "type",
        ],
        ("events.k8s.io", "Event") => &[
            "regarding.kind",
            "regarding.namespace",
            "regarding.name",
            "regarding.uid",
            "regarding.apiVersion",
            "regarding.resourceVersion",
            "regarding.fieldPath",
            "reason",
            "reportingController",
            "type",
        ],
        ("", "Secret") => &["type"],
        ("", "Node") => &["spec.unschedulable"],
        ("", "Namespace") => &["status.phase"],
        ("apps", "ReplicaSet") => &["status.replicas"],
        ("batch", "Job") => &["status.successful"],
        _ => &[],
    }
}

impl FieldSelector {
    /// Parses a field selector, checking each label is supported for the kind; `Err` carries
    /// the server's 400 message.
    pub fn parse(s: &str, group: &str, kind: &str) -> Result<FieldSelector, String> {
        let mut reqs = Vec::new();
        for part in split_top(s) {
            let (k, eq, v) = if let Some((k, v)) = part.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = part.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = part.split_once('=') {
                (k, true, v)
            } else {
                return Err(format!(
                    "invalid selector: '{s}'; can't understand '{part}'"
                ));
            };
            let k = k.trim();
            let extra = extra_fields(group, kind);
            if !["metadata.name", "metadata.namespace"].contains(&k) && !extra.contains(&k) {
                let mut known = vec![
                    "\"metadata.name\"".to_string(),
                    "\"metadata.namespace\"".to_string(),
                ];
                known.extend(extra.iter().map(|f| format!("\"{f}\"")));
                return Err(format!(
                    "\"{k}\" is not a known field selector: only {}",
                    known.join(", ")
                ));
            }
            // The server reads some field labels from a different place than their name says.
            let path = match (group, kind, k) {
                ("", "Event", "source") => "source.component",
                _ => k,
            };
            reqs.push((path.to_string(), eq, v.trim().to_string()));
        }
        Ok(FieldSelector(reqs))
    }

    /// Whether an object's fields satisfy every requirement (missing fields read as "").
    pub fn matches(&self, obj: &Value) -> bool {
        self.0.iter().all(|(path, eq, want)| {
            let mut cur = obj;
            for seg in path.split('.') {
                cur = &cur[seg];
            }
            let actual = match cur {
                Value::String(s) => s.clone(),
                // Unset booleans are false to the server's field-label functions.
                Value::Null
                    if ["spec.unschedulable", "spec.hostNetwork"].contains(&path.as_str()) =>
                {
                    "false".to_string()
                }
                Value::Null => String::new(),
                other => other.to_string(),
            };
            (actual == *want) == *eq
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn label_selector_operators() {
        let obj = json!({"metadata": {"labels": {"app": "nginx", "tier": "web"}}});
        for (sel, want) in [
            ("app=nginx", true),
            ("app==nginx", true),
            ("app!=nginx", false),
            ("app in (nginx, redis)", true),
            ("app notin (nginx)", false),
            ("tier", true),
            ("!tier", false),
            ("!missing,app=nginx", true),
            ("missing", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&obj),
                want,
                "{sel}"
            );
        }
        let counted = json!({"metadata": {"labels": {"replicas": "3", "app": "x"}}});
        for (sel, want) in [
            ("replicas>2", true),
            ("replicas>3", false),
            ("replicas<4,app", true),
            ("app>1", false),
            ("missing<9", false),
        ] {
            assert_eq!(
                LabelSelector::parse(sel).unwrap().matches(&counted),
                want,
                "{sel}"
            );
        }
        // As the real server (recorded on 1.28): integers only.
        assert_eq!(
            LabelSelector::parse("x>abc").unwrap_err(),
            "unable to parse requirement: values[0]: Invalid value: \"abc\": for 'Gt', 'Lt' operators, the value must be an integer"
        );
    }

    #[test]
    fn field_selector_rejects_unknown_label_like_the_server() {
        let err = FieldSelector::parse("data.fly-name=x", "", "ConfigMap").unwrap_err();
        assert_eq!(
            err,
            "\"data.fly-name\" is not a known field selector: only \"metadata.name\", \"metadata.namespace\""
        );
        let pods = FieldSelector::parse("status.phase=Pending,spec.nodeName=", "", "Pod").unwrap();
        assert!(pods.matches(&json!({"status": {"phase": "Pending"}, "spec": {}})));
    }
}
