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
}
