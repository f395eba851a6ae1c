//! Validation of what lab texts say about where the reader works: placeholders must be known
//! and used only where kubelab renders them, and commands must not hard-code the lab's
//! namespace (see [`super::placeholders`]). Manifests are not text: kubelab retargets them.

use super::node::{Node, Value};
use super::placeholders::{Placeholder, hard_coded_namespace, placeholder_problems};

/// Where `lab.yaml`'s texts are rendered per reader: key paths (list positions left out) of
/// the `{en, zh}` maps whose placeholders are replaced.
const RENDERED: &[&[&str]] = &[
    &["steps", "hints"],
    &["steps", "checks", "title"],
    &["steps", "checks", "reason"],
    &["steps", "checks", "question"],
    &["steps", "checks", "pending", "reason"],
    &["steps", "checks", "describe"],
];

// The author's words for an expectation (`$describe` anywhere in a check) are rendered too.
fn rendered_at(path: &[&str]) -> bool {
    RENDERED.contains(&path)
        || (path.starts_with(&["steps", "checks"]) && path.last() == Some(&"$describe"))
}

/// Problems in a Markdown text (intro or step), as (1-based line, message).
pub(super) fn markdown_problems(md: &str, namespace: &str) -> Vec<(usize, String)> {
    let mut problems = placeholder_problems(md);
    problems.extend(hard_coded_namespace(md, namespace));
    problems.sort_by_key(|(line, _)| *line);
    problems
}

/// Problems in the texts of `lab.yaml` (every `{en, zh}` map), as (1-based line, message).
pub(super) fn lab_yaml_problems(root: &Node, namespace: &str) -> Vec<(usize, String)> {
    let mut problems = Vec::new();
    visit(root, &mut Vec::new(), namespace, &mut problems);
    problems
}

fn visit<'n>(
    node: &'n Node,
    path: &mut Vec<&'n str>,
    namespace: &str,
    problems: &mut Vec<(usize, String)>,
) {
    match &node.value {
        Value::Seq(items) => {
            for item in items {
                visit(item, path, namespace, problems);
            }
        }
        Value::Map(entries) if is_text(entries) => {
            let rendered = rendered_at(path);
            for (_, value) in entries {
                if let Some(text) = value.as_str() {
                    text_problems(text, value.line, rendered, path, namespace, problems);
                }
            }
        }
        Value::Map(entries) => {
            for (key, value) in entries {
                path.push(&key.name);
                visit(value, path, namespace, problems);
                path.pop();
            }
        }
        _ => {}
    }
}

/// A text as authors write it: `{en: ..., zh: ...}`.
fn is_text(entries: &[(super::node::Key, Node)]) -> bool {
    !entries.is_empty()
        && entries
            .iter()
            .all(|(k, v)| matches!(k.name.as_str(), "en" | "zh") && v.as_str().is_some())
}

fn text_problems(
    text: &str,
    line: usize,
    rendered: bool,
    path: &[&str],
    namespace: &str,
    problems: &mut Vec<(usize, String)>,
) {
    let at = |offset: usize| line + offset - 1;
    for (offset, message) in placeholder_problems(text) {
        problems.push((at(offset), message));
    }
    let placeholder = Placeholder::ALL
        .into_iter()
        .find(|p| text.contains(p.token()));
    if let (false, Some(p)) = (rendered, placeholder) {
        problems.push((
            line,
            format!(
                "`{}` is not rendered in `{}`: placeholders work in step and intro texts, hints, a check's title, reason, question, describe and pending reason, and its expectations and CEL",
                p.token(),
                path.join(".")
            ),
        ));
    }
    for (offset, message) in hard_coded_namespace(text, namespace) {
        problems.push((at(offset), message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_yaml_texts_are_checked_where_they_are() {
        let yaml = "title: {en: \"Lab in {kubelab:namespace}\", zh: x}\n\
                    namespace: fly-k8s\n\
                    steps:\n\
                    \x20 - id: a\n\
                    \x20   hints:\n\
                    \x20     - {en: \"kubectl get pods -n {kubelab:namespace}\", zh: \"kubectl get pods -n fly-k8s\"}\n\
                    \x20   checks:\n\
                    \x20     - id: c\n\
                    \x20       title: {en: \"Pod in {kubelab:node}\", zh: \"{kubelab:nod}\"}\n\
                    \x20       find: {apiVersion: v1, kind: Namespace, name: fly-k8s}\n";
        let root = super::super::node::parse(yaml).expect("yaml");
        let problems = lab_yaml_problems(&root, "fly-k8s");
        let lines: Vec<usize> = problems.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 6, 9], "{problems:?}");
        let words = "steps:\n  - checks:\n      - describe: {en: \"in {kubelab:namespace}\", zh: x}\n        expect:\n          a: {$eq: 1, $describe: {en: \"{kubelab:node}\", zh: y}}\n";
        let root = super::super::node::parse(words).expect("yaml");
        assert_eq!(lab_yaml_problems(&root, "fly-k8s"), []);
        assert!(
            problems[0].1.contains("is not rendered in `title`"),
            "{problems:?}"
        );
        assert!(problems[1].1.contains("`-n fly-k8s`"), "{problems:?}");
        assert!(
            problems[2]
                .1
                .contains("unknown placeholder `{kubelab:nod}`")
        );
    }

    #[test]
    fn markdown_problems_come_in_line_order() {
        let md = "a {kubelab:x}\n\n```shell\nkubectl get pods -n fly-k8s\n```\n";
        let problems = markdown_problems(md, "fly-k8s");
        assert_eq!(problems.len(), 2);
        assert_eq!((problems[0].0, problems[1].0), (1, 4));
    }
}
