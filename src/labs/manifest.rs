//! Manifest files: every YAML document must be a Kubernetes object (`apiVersion`, `kind`,
//! `metadata.name`, optional `metadata.namespace`), read with strict booleans so `yes`/`no`
//! stay strings as the API server expects.

use super::model::{Manifest, ManifestLines};
use super::node::{self, Node, Value};

/// A problem in a manifest file: 1-based line (when known) and message.
pub type LineProblem = (Option<usize>, String);

/// Parses every document of a manifest file (`file` is its path relative to the lab folder,
/// recorded in each [`Manifest`]). Returns the objects and the problems found; objects are
/// only returned for documents without problems.
pub fn parse_manifests(file: &str, src: &str) -> (Vec<Manifest>, Vec<LineProblem>) {
    let docs = match node::parse_multi(src) {
        Ok(docs) => docs,
        Err(e) => return (Vec::new(), vec![(e.line, e.message)]),
    };
    let mut objects = Vec::new();
    let mut problems = Vec::new();
    if docs.is_empty() {
        problems.push((None, "the file holds no Kubernetes object".to_owned()));
    }
    for (index, doc) in docs.iter().enumerate() {
        let which = if docs.len() > 1 {
            format!("document {} ", index + 1)
        } else {
            String::new()
        };
        match object(file, doc) {
            Ok(manifest) => objects.push(manifest),
            Err(found) => problems.extend(
                found
                    .into_iter()
                    .map(|(line, message)| (line, format!("{which}{message}"))),
            ),
        }
    }
    (objects, problems)
}

/// Reads one document as a Kubernetes object, or every reason it is not one.
fn object(file: &str, doc: &Node) -> Result<Manifest, Vec<LineProblem>> {
    if !matches!(doc.value, Value::Map(_)) {
        return Err(vec![(
            Some(doc.line),
            format!(
                "is not a Kubernetes object: expected a mapping with apiVersion, kind and metadata, found {}",
                doc.type_name()
            ),
        )]);
    }
    let mut problems = Vec::new();
    let api_version = required_string(doc, "apiVersion", doc.line, &mut problems);
    let kind = required_string(doc, "kind", doc.line, &mut problems);
    let mut name = None;
    let mut namespace = None;
    let mut lines = ManifestLines {
        kind: doc.get("kind").map_or(doc.line, |k| k.line),
        namespace: None,
    };
    match doc.entry("metadata") {
        None => problems.push((
            Some(doc.line),
            "has no `metadata`: every object needs `metadata.name`".to_owned(),
        )),
        Some((key, metadata)) if !matches!(metadata.value, Value::Map(_)) => problems.push((
            Some(key.line),
            format!(
                "`metadata` must be a mapping, found {}",
                metadata.type_name()
            ),
        )),
        Some((key, metadata)) => {
            name = required_string(metadata, "name", key.line, &mut problems);
            if let Some(n) = &name
                && let Some(why) = dns1123_subdomain_problem(n)
            {
                problems.push((
                    metadata.get("name").map(|v| v.line),
                    format!("`metadata.name` {n:?} is not a valid Kubernetes name: {why}"),
                ));
                name = None;
            }
            if let Some(ns_node) = metadata.get("namespace") {
                lines.namespace = Some(ns_node.line);
                match ns_node.as_str() {
                    Some(ns) => match dns1123_label_problem(ns) {
                        Some(why) => problems.push((
                            Some(ns_node.line),
                            format!(
                                "`metadata.namespace` {ns:?} is not a valid namespace name: {why}"
                            ),
                        )),
                        None => namespace = Some(ns.to_owned()),
                    },
                    None => problems.push((
                        Some(ns_node.line),
                        format!(
                            "`metadata.namespace` must be a string, found {}",
                            ns_node.type_name()
                        ),
                    )),
                }
            }
        }
    }
    match (api_version, kind, name) {
        (Some(api_version), Some(kind), Some(name)) if problems.is_empty() => Ok(Manifest {
            file: file.to_owned(),
            api_version,
            kind,
            name,
            namespace,
            object: doc.to_json(),
            source: doc.clone(),
            lines,
        }),
        _ => Err(problems),
    }
}

fn required_string(
    map: &Node,
    key: &str,
    map_line: usize,
    problems: &mut Vec<LineProblem>,
) -> Option<String> {
    let path = if key == "name" { "metadata.name" } else { key };
    match map.get(key) {
        None => {
            problems.push((Some(map_line), format!("has no `{path}`")));
            None
        }
        Some(v) => match v.as_str() {
            Some(s) if !s.trim().is_empty() => Some(s.to_owned()),
            Some(_) => {
                problems.push((Some(v.line), format!("`{path}` is empty")));
                None
            }
            None => {
                problems.push((
                    Some(v.line),
                    format!("`{path}` must be a string, found {}", v.type_name()),
                ));
                None
            }
        },
    }
}

/// Why `name` is not a DNS-1123 subdomain (the rule for most object names), if it is not.
pub fn dns1123_subdomain_problem(name: &str) -> Option<String> {
    if name.len() > 253 {
        return Some("it must be at most 253 characters".to_owned());
    }
    if name
        .split('.')
        .any(|label| dns1123_label_chars(label).is_some())
    {
        return Some(
            "use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"
                .to_owned(),
        );
    }
    None
}

/// Why `name` is not a DNS-1123 label (namespaces, services), if it is not.
pub fn dns1123_label_problem(name: &str) -> Option<String> {
    if name.len() > 63 {
        return Some("it must be at most 63 characters".to_owned());
    }
    dns1123_label_chars(name)
}

fn dns1123_label_chars(label: &str) -> Option<String> {
    let ok_chars = label
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    let ok_ends = !label.is_empty() && !label.starts_with('-') && !label.ends_with('-');
    if ok_chars && ok_ends {
        None
    } else {
        Some(
            "use lowercase letters, digits and `-`, starting and ending with a letter or digit"
                .to_owned(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_read_with_kind_name_namespace_and_strict_booleans() {
        let src = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-map\n  namespace: fly-k8s\ndata:\n  enabled: yes\n  debug: off\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n";
        let (objects, problems) = parse_manifests("manifests/cm.yaml", src);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].kind, "ConfigMap");
        assert_eq!(objects[0].name, "base-map");
        assert_eq!(objects[0].namespace.as_deref(), Some("fly-k8s"));
        assert_eq!(objects[0].object["data"]["enabled"], "yes");
        assert_eq!(objects[0].object["data"]["debug"], "off");
        assert_eq!(objects[1].api_version, "apps/v1");
        assert_eq!(objects[1].namespace, None);
        assert_eq!(objects[1].file, "manifests/cm.yaml");
    }

    #[test]
    fn documents_that_are_not_objects_are_reported_with_lines() {
        let src = "apiVersion: v1\nmetadata:\n  name: a\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Bad_Name\n---\n- just a list\n";
        let (objects, problems) = parse_manifests("m.yaml", src);
        assert!(objects.is_empty());
        assert!(
            problems.contains(&(Some(1), "document 1 has no `kind`".to_owned())),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|(l, m)| *l == Some(8)
                    && m.starts_with("document 2 `metadata.name` \"Bad_Name\"")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|(l, m)| *l == Some(10) && m.contains("is not a Kubernetes object")),
            "{problems:?}"
        );
    }

    #[test]
    fn names() {
        assert!(dns1123_subdomain_problem("nginx-deployment").is_none());
        assert!(dns1123_subdomain_problem("a.b-c.d").is_none());
        assert!(dns1123_subdomain_problem("-a").is_some());
        assert!(dns1123_subdomain_problem("a..b").is_some());
        assert!(dns1123_label_problem("a.b").is_some());
        assert!(dns1123_label_problem("fly-k8s").is_none());
    }
}
