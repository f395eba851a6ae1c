//! Placeholders in lab text, rendered per reader: `{kubelab:namespace}` (the lab's namespace
//! locally, the learner's own in a workshop) and `{kubelab:node}` (the cluster's node).
//!
//! Why this spelling: lab text shows other template languages verbatim and must keep them —
//! `{{.Names}}` and `{{end}}` (Go templates of `docker --format` and `kubectl -o go-template`),
//! `${VAR}` and `$(command)` (shell), `{.items[*].metadata.name}` (JSONPath), `<name>` (HTML,
//! which the sanitizer would remove) and `[[ … ]]` (a bash test, a Markdown link form). A single
//! brace followed by `kubelab:` is none of these, so a placeholder cannot be mistaken for them or
//! they for a placeholder. It also passes through Markdown rendering and HTML sanitizing
//! unchanged, so a text is rendered to HTML once when the labs load and each reader's values
//! go in with a string replacement (see [`Values::render_html`]).

use std::borrow::Cow;

use regex::Regex;

use super::markdown::escape_html;
use crate::i18n::Text;

/// How every placeholder starts.
pub const PREFIX: &str = "{kubelab:";

/// What a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placeholder {
    /// The namespace the reader works in: the lab's locally, their own in a workshop.
    Namespace,
    /// The name of the cluster's node (the first by name when there are several).
    Node,
}

impl Placeholder {
    /// Every placeholder.
    pub const ALL: [Placeholder; 2] = [Placeholder::Namespace, Placeholder::Node];

    /// The name after `kubelab:`.
    pub fn name(self) -> &'static str {
        match self {
            Placeholder::Namespace => "namespace",
            Placeholder::Node => "node",
        }
    }

    /// The placeholder as written in a text: `{kubelab:namespace}`.
    pub fn token(self) -> &'static str {
        match self {
            Placeholder::Namespace => "{kubelab:namespace}",
            Placeholder::Node => "{kubelab:node}",
        }
    }

    fn named(name: &str) -> Option<Placeholder> {
        Placeholder::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// What the placeholders stand for, for one reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Values {
    /// Replaces `{kubelab:namespace}`.
    pub namespace: String,
    /// Replaces `{kubelab:node}`.
    pub node: String,
}

impl Values {
    fn get(&self, p: Placeholder) -> &str {
        match p {
            Placeholder::Namespace => &self.namespace,
            Placeholder::Node => &self.node,
        }
    }

    /// `text` (plain text, or Markdown) with every placeholder replaced by its value.
    pub fn render<'t>(&self, text: &'t str) -> Cow<'t, str> {
        self.replace(text, |v| Cow::Borrowed(v))
    }

    /// Sanitized HTML with every placeholder replaced by its value, HTML-escaped: values come
    /// from the cluster and from names kubelab generates, and are never put into a page raw.
    pub fn render_html<'t>(&self, html: &'t str) -> Cow<'t, str> {
        self.replace(html, escape_html)
    }

    /// Both languages of `text`, rendered.
    pub fn text(&self, text: &Text) -> Text {
        Text {
            en: self.render(&text.en).into_owned(),
            zh: self.render(&text.zh).into_owned(),
        }
    }

    fn replace<'t>(&self, text: &'t str, escape: impl Fn(&str) -> Cow<'_, str>) -> Cow<'t, str> {
        if !text.contains(PREFIX) {
            return Cow::Borrowed(text);
        }
        let mut out = String::with_capacity(text.len() + 64);
        let mut rest = text;
        while let Some(at) = rest.find(PREFIX) {
            out.push_str(&rest[..at]);
            let after = &rest[at + PREFIX.len()..];
            match after
                .find('}')
                .and_then(|end| Placeholder::named(&after[..end]).map(|p| (p, end)))
            {
                Some((p, end)) => {
                    out.push_str(&escape(self.get(p)));
                    rest = &after[end + 1..];
                }
                None => {
                    // Validation refuses unknown placeholders; left as written, never guessed.
                    out.push_str(PREFIX);
                    rest = after;
                }
            }
        }
        out.push_str(rest);
        Cow::Owned(out)
    }
}

/// Whether `text` contains placeholder `p`.
pub fn uses(text: &str, p: Placeholder) -> bool {
    text.contains(p.token())
}

/// The 1-based line of byte offset `at` in `text`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// Every `{kubelab:…}` in `text` that is not a known placeholder, as (1-based line, message).
pub fn placeholder_problems(text: &str) -> Vec<(usize, String)> {
    let known = Placeholder::ALL
        .iter()
        .map(|p| format!("`{}`", p.token()))
        .collect::<Vec<_>>()
        .join(" and ");
    let mut problems = Vec::new();
    for (at, _) in text.match_indices(PREFIX) {
        let after = &text[at + PREFIX.len()..];
        let name = after
            .find(['}', '\n'])
            .filter(|end| after[*end..].starts_with('}'))
            .map(|end| &after[..end]);
        let written = match name {
            Some(name) if Placeholder::named(name).is_some() => continue,
            Some(name) => format!("{PREFIX}{name}}}"),
            None => format!("{PREFIX}{}", after.lines().next().unwrap_or_default()),
        };
        problems.push((
            line_of(text, at),
            format!("unknown placeholder `{written}`: the placeholders are {known}"),
        ));
    }
    problems
}

/// Every place where `text` names the lab's namespace `namespace` in a command or a YAML
/// excerpt (`-n NS`, `--namespace NS`, `--namespace=NS`, `namespace: NS`, `kubectl get
/// namespace NS`, `/namespaces/NS/`), as (1-based line, message): a workshop learner works
/// in a namespace of their own, and a command naming the lab's is forbidden to them.
pub fn hard_coded_namespace(text: &str, namespace: &str) -> Vec<(usize, String)> {
    let ns = regex::escape(namespace);
    let pattern = format!(
        r"(?m)(?:(?:^|[\s'`(])(?P<flag>(?:-n|--namespace)(?:=|[ \t]+)|namespace:[ \t]*|(?:get|create|delete|describe|edit|label|annotate)[ \t]+(?:namespaces?|ns)[ \t]+)|(?P<path>/namespaces/)){ns}(?:$|[^A-Za-z0-9._-])"
    );
    let Ok(re) = Regex::new(&pattern) else {
        return Vec::new();
    };
    re.captures_iter(text)
        .filter_map(|c| c.name("flag").or_else(|| c.name("path")))
        .map(|what| {
            let written = format!("{}{namespace}", what.as_str());
            let fixed = format!("{}{}", what.as_str(), Placeholder::Namespace.token());
            (
                line_of(text, what.start()),
                format!(
                    "`{written}` names the lab's namespace, which is not the reader's in a workshop: write `{fixed}`"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> Values {
        Values {
            namespace: "kl-5nkkve-24931ddc62e1".into(),
            node: "colima".into(),
        }
    }

    #[test]
    fn placeholders_are_replaced_and_other_templates_kept() {
        let text = "kubectl get pods -n {kubelab:namespace} -o go-template='{{range .items}}{{.metadata.name}}{{end}}'\n\
                    kubectl label node {kubelab:node} a=b; echo ${HOME} $(date) {.items[*]} {kubelab:nope}";
        let rendered = values().render(text);
        assert_eq!(
            rendered,
            "kubectl get pods -n kl-5nkkve-24931ddc62e1 -o go-template='{{range .items}}{{.metadata.name}}{{end}}'\n\
             kubectl label node colima a=b; echo ${HOME} $(date) {.items[*]} {kubelab:nope}"
        );
        assert!(matches!(
            values().render("no placeholder"),
            Cow::Borrowed(_)
        ));
        assert_eq!(values().render("{kubelab:"), "{kubelab:");
        let text = Text {
            en: "in {kubelab:namespace}".into(),
            zh: "在 {kubelab:namespace} 里".into(),
        };
        assert_eq!(values().text(&text).zh, "在 kl-5nkkve-24931ddc62e1 里");
    }

    #[test]
    fn values_put_into_html_are_escaped() {
        let hostile = Values {
            namespace: "<script>\"x\"&'".into(),
            node: "n".into(),
        };
        assert_eq!(
            hostile.render_html("<code>-n {kubelab:namespace}</code>"),
            "<code>-n &lt;script&gt;&quot;x&quot;&amp;&#39;</code>"
        );
    }

    #[test]
    fn rendered_markdown_keeps_placeholders_for_the_reader() {
        let html = crate::labs::render_markdown(
            "Run `kubectl get pods -n {kubelab:namespace}`:\n\n```shell\nkubectl describe node {kubelab:node}\n```\n",
        );
        let rendered = values().render_html(&html);
        assert!(
            rendered.contains("<code>kubectl get pods -n kl-5nkkve-24931ddc62e1</code>"),
            "{rendered}"
        );
        assert!(
            rendered.contains("kubectl describe node colima\n</code></pre>"),
            "{rendered}"
        );
    }

    #[test]
    fn unknown_placeholders_are_reported_with_their_line() {
        let text = "ok {kubelab:namespace} {kubelab:node}\n\nbad {kubelab:Namespace}\n{kubelab:ns\n{{.Names}}";
        let problems = placeholder_problems(text);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].0, 3);
        assert!(
            problems[0]
                .1
                .contains("unknown placeholder `{kubelab:Namespace}`"),
            "{problems:?}"
        );
        assert!(problems[0].1.contains("`{kubelab:namespace}`"));
        assert_eq!(problems[1].0, 4);
        assert!(problems[1].1.contains("`{kubelab:ns`"), "{problems:?}");
    }

    #[test]
    fn hard_coded_namespaces_are_found_in_every_spelling() {
        let text = "kubectl get pods -n fly-k8s\n\
                    kubectl get pods --namespace fly-k8s -o wide\n\
                    kubectl get pods --namespace=fly-k8s\n\
                    metadata:\n  namespace: fly-k8s\n\
                    kubectl create namespace fly-k8s\n\
                    kubectl get --raw /api/v1/namespaces/fly-k8s/pods\n\
                    fine: -n fly-k8s-other, -n kube-system, image fly-k8s/busybox:0.0.1, `fly-k8s`, -n {kubelab:namespace}";
        let found = hard_coded_namespace(text, "fly-k8s");
        let lines: Vec<usize> = found.iter().map(|(l, _)| *l).collect();
        assert_eq!(lines, [1, 2, 3, 5, 6, 7], "{found:?}");
        assert!(
            found[0]
                .1
                .contains("`-n fly-k8s` names the lab's namespace"),
            "{found:?}"
        );
        assert!(
            found[2]
                .1
                .contains("write `--namespace={kubelab:namespace}`")
        );
        assert!(hard_coded_namespace("kubectl get pods -n default", "default").len() == 1);
        assert!(hard_coded_namespace("the default ServiceAccount", "default").is_empty());
    }
}
