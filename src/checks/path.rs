//! Field paths and value rendering for diagnostics: `spec.template.spec.containers[name=nginx].image`,
//! `data["game.properties"]`, JSON values cut to a readable length.

use std::fmt::Write as _;

use serde_json::Value;

/// How many characters of a rendered value a diagnostic shows before cutting it with `…`.
pub const MAX_VALUE_CHARS: usize = 120;

/// One step of a path into an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Segment<'a> {
    /// A map key.
    Key(&'a str),
    /// An array element without a usable `name`, by position.
    Index(usize),
    /// An array element named by its `name` field.
    Named(&'a str),
    /// An array element chosen by another field: `[port=80]`.
    Where(&'a str, &'a str),
}

impl<'a> Segment<'a> {
    /// The segment for element `index` of an array: by its `name` field when it has one.
    pub fn element(index: usize, element: &'a Value) -> Segment<'a> {
        match element.get("name").and_then(Value::as_str) {
            Some(name) => Segment::Named(name),
            None => Segment::Index(index),
        }
    }
}

/// Renders a path the way a beginner reads it; the empty path is the object as a whole.
pub fn render(segments: &[Segment<'_>]) -> String {
    let mut out = String::new();
    for segment in segments {
        match segment {
            Segment::Key(key) if needs_quoting(key) => {
                out.push('[');
                out.push_str(&Value::String((*key).to_owned()).to_string());
                out.push(']');
            }
            Segment::Key(key) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            Segment::Index(index) => {
                let _ = write!(out, "[{index}]");
            }
            Segment::Named(name) => {
                let _ = write!(out, "[name={name}]");
            }
            Segment::Where(key, value) => {
                let _ = write!(out, "[{key}={value}]");
            }
        }
    }
    out
}

// Dots and slashes would read as path separators; brackets, quotes, spaces and the empty key
// would make the path ambiguous.
fn needs_quoting(key: &str) -> bool {
    key.is_empty()
        || key
            .chars()
            .any(|c| matches!(c, '.' | '/' | '[' | ']' | '"' | '\'' | '=') || c.is_whitespace())
}

/// A value as compact JSON, cut at [`MAX_VALUE_CHARS`] characters with `…`.
pub fn show(value: &Value) -> String {
    truncate(value.to_string())
}

/// A value as found in an object: its JSON, or `missing` when absent.
pub fn show_actual(value: Option<&Value>) -> String {
    match value {
        Some(value) => show(value),
        None => "missing".to_owned(),
    }
}

/// Cuts `text` at [`MAX_VALUE_CHARS`] characters, marking the cut with `…`.
pub fn truncate(mut text: String) -> String {
    if let Some((cut, _)) = text.char_indices().nth(MAX_VALUE_CHARS) {
        text.truncate(cut);
        text.push('…');
    }
    text
}

/// One step of a field path as a lab author writes it (`answer.field`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldStep {
    /// A map key: `status`, `["kubernetes.io/hostname"]`.
    Key(String),
    /// An array element by position: `[0]`.
    Index(usize),
    /// The array element whose field `key` is `value` (as text: `[port=80]` selects
    /// `port: 80`): `[name=nginx]`, `[type=InternalIP]`.
    Where {
        /// The element's field.
        key: String,
        /// Its value, as text.
        value: String,
    },
}

/// A field path that does not parse, with what is wrong in a few words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldPathError(String);

/// Parses a dotted field path as diagnostics show them: `status.nodeInfo.kubeletVersion`,
/// `metadata.labels["kubernetes.io/hostname"]` (or single quotes), `addresses[0].address`,
/// `containers[name=nginx].image`, `ports[port=80].targetPort`.
pub fn parse_field(text: &str) -> Result<Vec<FieldStep>, FieldPathError> {
    let fail = |message: String| Err(FieldPathError(message));
    if text.trim().is_empty() {
        return fail("it is empty".to_owned());
    }
    let chars: Vec<char> = text.chars().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '[' => {
                let (step, next) = parse_bracket(&chars, i)?;
                steps.push(step);
                i = next;
            }
            '.' if steps.is_empty() => {
                return fail("it starts with a dot; leave the leading dot out".to_owned());
            }
            '.' => {
                i += 1;
                if i == chars.len() {
                    return fail("it ends with a dot".to_owned());
                }
                if matches!(chars[i], '.' | '[') {
                    return fail(format!(
                        "it has an empty part after the dot at character {i}"
                    ));
                }
            }
            ']' => return fail(format!("`]` at character {} has no `[`", i + 1)),
            _ => {
                if !steps.is_empty() && chars[i - 1] != '.' {
                    return fail(format!("a dot is missing before character {}", i + 1));
                }
                let start = i;
                while i < chars.len() && !matches!(chars[i], '.' | '[' | ']') {
                    i += 1;
                }
                let key: String = chars[start..i].iter().collect();
                if key.chars().any(char::is_whitespace) {
                    return fail(format!(
                        "the key \"{key}\" has a space; quote such keys: [\"{key}\"]"
                    ));
                }
                steps.push(FieldStep::Key(key));
            }
        }
    }
    Ok(steps)
}

fn parse_bracket(chars: &[char], open: usize) -> Result<(FieldStep, usize), FieldPathError> {
    let fail = |message: String| Err(FieldPathError(message));
    let Some(close) = chars[open..]
        .iter()
        .position(|c| *c == ']')
        .map(|p| open + p)
    else {
        return fail(format!("`[` at character {} is not closed", open + 1));
    };
    // A quoted key may itself hold `]`: look for the closing quote first.
    if let Some(&quote) = chars.get(open + 1).filter(|c| matches!(c, '"' | '\'')) {
        let mut key = String::new();
        let mut i = open + 2;
        while i < chars.len() && chars[i] != quote {
            if chars[i] == '\\' && i + 1 < chars.len() {
                i += 1;
            }
            key.push(chars[i]);
            i += 1;
        }
        if chars.get(i + 1) != Some(&']') {
            return fail(format!(
                "the quoted key at character {} is not closed with {quote}]",
                open + 2
            ));
        }
        return Ok((FieldStep::Key(key), i + 2));
    }
    let inner: String = chars[open + 1..close].iter().collect();
    let inner = inner.trim();
    if let Ok(index) = inner.parse::<usize>() {
        return Ok((FieldStep::Index(index), close + 1));
    }
    if let Some((key, value)) = inner.split_once('=') {
        let key = key.trim();
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
            .unwrap_or(value);
        let key_ok = !key.is_empty()
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-'));
        if key_ok && !value.is_empty() {
            return Ok((
                FieldStep::Where {
                    key: key.to_owned(),
                    value: value.to_owned(),
                },
                close + 1,
            ));
        }
    }
    fail(format!(
        "[{inner}] is neither a quoted key like [\"a.b\"], a position like [0] nor an element chosen by a field like [name=nginx] or [port=80]"
    ))
}

/// The value at `steps` in `value`, if any.
pub fn lookup<'a>(value: &'a Value, steps: &[FieldStep]) -> Option<&'a Value> {
    steps.iter().try_fold(value, |current, step| match step {
        FieldStep::Key(key) => current.get(key.as_str()),
        FieldStep::Index(index) => current.get(*index),
        FieldStep::Where { key, value } => current
            .as_array()?
            .iter()
            .find(|e| e.get(key.as_str()).is_some_and(|v| same_text(v, value))),
    })
}

// A field's value as a path writes it: strings as they are, numbers and booleans as text.
fn same_text(actual: &Value, written: &str) -> bool {
    match actual {
        Value::String(s) => s == written,
        Value::Number(n) => {
            n.to_string() == written || written.parse::<f64>().is_ok_and(|w| n.as_f64() == Some(w))
        }
        Value::Bool(b) => b.to_string() == written,
        _ => false,
    }
}

/// Renders a parsed field path the way diagnostics show paths.
pub fn render_field(steps: &[FieldStep]) -> String {
    let segments: Vec<Segment<'_>> = steps
        .iter()
        .map(|step| match step {
            FieldStep::Key(key) => Segment::Key(key),
            FieldStep::Index(index) => Segment::Index(*index),
            FieldStep::Where { key, value } if key == "name" => Segment::Named(value),
            FieldStep::Where { key, value } => Segment::Where(key, value),
        })
        .collect();
    render(&segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn plain_keys_are_dotted() {
        let path = [
            Segment::Key("spec"),
            Segment::Key("template"),
            Segment::Key("spec"),
            Segment::Key("containers"),
            Segment::Named("nginx"),
            Segment::Key("image"),
        ];
        assert_eq!(
            render(&path),
            "spec.template.spec.containers[name=nginx].image"
        );
    }

    #[test]
    fn keys_with_dots_and_slashes_are_quoted() {
        assert_eq!(
            render(&[Segment::Key("data"), Segment::Key("game.properties")]),
            r#"data["game.properties"]"#
        );
        assert_eq!(
            render(&[
                Segment::Key("metadata"),
                Segment::Key("annotations"),
                Segment::Key("kubectl.kubernetes.io/restartedAt"),
            ]),
            r#"metadata.annotations["kubectl.kubernetes.io/restartedAt"]"#
        );
        assert_eq!(
            render(&[Segment::Key("data"), Segment::Key("fly-name")]),
            "data.fly-name"
        );
        assert_eq!(render(&[Segment::Key("a.b")]), r#"["a.b"]"#);
    }

    #[test]
    fn elements_without_name_use_their_index() {
        let element = json!({"containerPort": 80});
        let named = json!({"name": "web", "containerPort": 80});
        let path = [
            Segment::Key("ports"),
            Segment::element(2, &element),
            Segment::Key("containerPort"),
        ];
        assert_eq!(render(&path), "ports[2].containerPort");
        assert_eq!(
            render(&[Segment::Key("ports"), Segment::element(0, &named)]),
            "ports[name=web]"
        );
        assert_eq!(render(&[]), "");
    }

    #[test]
    fn long_values_are_cut_with_an_ellipsis() {
        let long = Value::String("x".repeat(300));
        let shown = show(&long);
        assert_eq!(shown.chars().count(), MAX_VALUE_CHARS + 1);
        assert!(shown.starts_with("\"xxx"));
        assert!(shown.ends_with('…'));
        assert_eq!(show(&json!("nginx:1.14.2")), "\"nginx:1.14.2\"");
        assert_eq!(show_actual(None), "missing");
        // Multi-byte characters are never split.
        let chinese = Value::String("配置".repeat(100));
        assert!(show(&chinese).ends_with('…'));
    }

    #[test]
    fn field_paths_parse() {
        use FieldStep::*;
        let key = |k: &str| Key(k.to_owned());
        assert_eq!(
            parse_field("status.nodeInfo.kubeletVersion").unwrap(),
            vec![key("status"), key("nodeInfo"), key("kubeletVersion")]
        );
        assert_eq!(
            parse_field(r#"metadata.labels["kubernetes.io/hostname"]"#).unwrap(),
            vec![
                key("metadata"),
                key("labels"),
                key("kubernetes.io/hostname")
            ]
        );
        assert_eq!(
            parse_field("data['game.properties']").unwrap(),
            vec![key("data"), key("game.properties")]
        );
        assert_eq!(
            parse_field("status.addresses[0].address").unwrap(),
            vec![key("status"), key("addresses"), Index(0), key("address")]
        );
        assert_eq!(
            parse_field("spec.containers[name=nginx].image").unwrap(),
            vec![
                key("spec"),
                key("containers"),
                Where {
                    key: "name".to_owned(),
                    value: "nginx".to_owned()
                },
                key("image")
            ]
        );
        assert_eq!(
            parse_field("spec.ports[port=80].targetPort").unwrap()[2],
            Where {
                key: "port".to_owned(),
                value: "80".to_owned()
            }
        );
        assert_eq!(
            parse_field(r#"subjects[kind="ServiceAccount"].name"#).unwrap()[1],
            Where {
                key: "kind".to_owned(),
                value: "ServiceAccount".to_owned()
            }
        );
        assert_eq!(
            render_field(&parse_field("spec.ports[port=80].targetPort").unwrap()),
            "spec.ports[port=80].targetPort"
        );
        assert_eq!(
            parse_field(r#"["a]b"].c"#).unwrap(),
            vec![key("a]b"), key("c")]
        );
        let path = parse_field(r#"metadata.labels["kubernetes.io/hostname"]"#).unwrap();
        assert_eq!(
            render_field(&path),
            r#"metadata.labels["kubernetes.io/hostname"]"#
        );
    }

    #[test]
    fn bad_field_paths_say_why() {
        let err = |text: &str| parse_field(text).unwrap_err().to_string();
        assert_eq!(err(""), "it is empty");
        assert_eq!(
            err(".status"),
            "it starts with a dot; leave the leading dot out"
        );
        assert_eq!(err("status."), "it ends with a dot");
        assert_eq!(
            err("status..phase"),
            "it has an empty part after the dot at character 7"
        );
        assert_eq!(err("labels[\"a"), "`[` at character 7 is not closed");
        assert_eq!(
            err(r#"labels["a"x]"#),
            "the quoted key at character 8 is not closed with \"]"
        );
        assert_eq!(
            err("items[first]"),
            "[first] is neither a quoted key like [\"a.b\"], a position like [0] nor an element chosen by a field like [name=nginx] or [port=80]"
        );
        assert!(err("ports[=80]").contains("neither"));
        assert!(err("ports[port=]").contains("neither"));
        assert!(err("ports[a b=1]").contains("neither"));
        assert_eq!(err("a]"), "`]` at character 2 has no `[`");
        assert_eq!(err("items[0]name"), "a dot is missing before character 9");
        assert_eq!(
            err("node info"),
            "the key \"node info\" has a space; quote such keys: [\"node info\"]"
        );
    }

    #[test]
    fn field_lookup() {
        let node = json!({
            "metadata": {"labels": {"kubernetes.io/hostname": "colima"}},
            "status": {"addresses": [{"type": "InternalIP", "address": "192.168.5.15"}],
                       "nodeInfo": {"kubeletVersion": "v1.28.7+k3s1"}},
            "spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}
        });
        let at = |p: &str| lookup(&node, &parse_field(p).unwrap()).cloned();
        assert_eq!(
            at("status.nodeInfo.kubeletVersion"),
            Some(json!("v1.28.7+k3s1"))
        );
        assert_eq!(
            at(r#"metadata.labels["kubernetes.io/hostname"]"#),
            Some(json!("colima"))
        );
        assert_eq!(
            at("status.addresses[0].address"),
            Some(json!("192.168.5.15"))
        );
        assert_eq!(at("spec.containers[name=b].image"), Some(json!("y")));
        assert_eq!(at("spec.containers[name=c].image"), None);
        let service = json!({"spec": {"ports": [
            {"name": "https", "port": 443, "targetPort": 8443},
            {"port": 80, "targetPort": "http", "appProtocol": "http"}
        ]}});
        let svc = |p: &str| lookup(&service, &parse_field(p).unwrap()).cloned();
        assert_eq!(svc("spec.ports[port=80].targetPort"), Some(json!("http")));
        assert_eq!(svc("spec.ports[port=443].targetPort"), Some(json!(8443)));
        assert_eq!(svc("spec.ports[appProtocol=http].port"), Some(json!(80)));
        assert_eq!(svc("spec.ports[port=81].port"), None);
        assert_eq!(
            at("status.addresses[type=InternalIP].address"),
            Some(json!("192.168.5.15"))
        );
        assert_eq!(at("status.addresses[3]"), None);
        assert_eq!(at("status.phase"), None);
    }
}
