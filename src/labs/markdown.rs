//! Markdown to sanitized HTML for lab text: CommonMark with tables and strikethrough, headings
//! with ids, external links opening in a new tab, code blocks with a copy button.

use std::borrow::Cow;
use std::collections::HashSet;
use std::sync::LazyLock;

use pulldown_cmark::{CowStr, Event, Options, Parser, Tag, TagEnd};

/// The copy button put before every code block (its text is replaced client-side per language).
const COPY_BUTTON: &str =
    r#"<button type="button" class="copy" data-copy aria-label="Copy">Copy</button>"#;

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    // No `style` attributes anywhere (table alignment included): pages send a strict CSP that
    // would block them anyway.
    let mut b = ammonia::Builder::default();
    b.add_tag_attributes("code", ["class"])
        .add_tag_attributes("a", ["target"])
        .add_tags(["h1", "h2", "h3", "h4", "h5", "h6"])
        .add_tag_attributes("h1", ["id"])
        .add_tag_attributes("h2", ["id"])
        .add_tag_attributes("h3", ["id"])
        .add_tag_attributes("h4", ["id"])
        .add_tag_attributes("h5", ["id"])
        .add_tag_attributes("h6", ["id"])
        .rm_tag_attributes("img", ["align", "height", "width"])
        .add_tag_attributes("img", ["title"])
        .link_rel(Some("noopener noreferrer"))
        .attribute_filter(|element, attribute, value| match (element, attribute) {
            // Only the syntax-highlighting hint survives on code, so pages can style by language.
            ("code", "class") => value
                .split_whitespace()
                .find(|c| {
                    c.strip_prefix("language-").is_some_and(|lang| {
                        !lang.is_empty()
                            && lang
                                .chars()
                                .all(|ch| ch.is_ascii_alphanumeric() || "+-_#.".contains(ch))
                    })
                })
                .map(|c| Cow::Owned(c.to_owned())),
            ("a", "target") => (value == "_blank").then_some(Cow::Borrowed("_blank")),
            // Images come from the lab itself: relative paths (rewritten to the lab's image
            // URLs) or /labs/... only, never another site.
            ("img", "src") => is_lab_image_url(value).then_some(Cow::Borrowed(value)),
            _ => Some(Cow::Borrowed(value)),
        });
    b
});

/// The largest Markdown file a lab may have (the longest chapter text is ~12 KiB).
pub const MAX_MARKDOWN_BYTES: usize = 256 * 1024;

/// The deepest nesting of block quotes, lists and inline HTML elements a lab text may use.
pub const MAX_MARKDOWN_NESTING: usize = 24;

/// Why a lab's Markdown is refused before it is rendered, with its 1-based line: too large, or
/// nested too deeply (the HTML sanitizer's cost grows much faster than the nesting, so a hostile
/// file could otherwise stall `kubelab validate` and the server).
pub fn markdown_problem(md: &str) -> Option<(usize, String)> {
    if md.len() > MAX_MARKDOWN_BYTES {
        return Some((
            1,
            format!(
                "the text is {} KiB; a lab text may be at most {} KiB (split the step)",
                md.len().div_ceil(1024),
                MAX_MARKDOWN_BYTES / 1024
            ),
        ));
    }
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let (mut blocks, mut html) = (0usize, 0usize);
    for (event, range) in Parser::new_ext(md, options).into_offset_iter() {
        match event {
            Event::Start(_) => blocks += 1,
            Event::End(_) => blocks = blocks.saturating_sub(1),
            Event::Html(raw) | Event::InlineHtml(raw) => html = html_depth_after(html, &raw),
            _ => {}
        }
        if blocks + html > MAX_MARKDOWN_NESTING {
            let line = md[..range.start].matches('\n').count() + 1;
            return Some((
                line,
                format!(
                    "the text nests block quotes, lists or HTML more than {MAX_MARKDOWN_NESTING} levels deep here; flatten it"
                ),
            ));
        }
    }
    None
}

/// The open-element depth after the raw HTML `raw`, counting `<tag` up and `</tag` down
/// (void and self-closing elements count nothing): a bound, not a parser.
fn html_depth_after(mut depth: usize, raw: &str) -> usize {
    const VOID: &[&str] = &[
        "area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr",
    ];
    for tag in raw.split('<').skip(1) {
        let body = tag.split('>').next().unwrap_or("");
        if let Some(closing) = body.strip_prefix('/') {
            if !closing.is_empty() {
                depth = depth.saturating_sub(1);
            }
            continue;
        }
        let name: String = body
            .chars()
            .take_while(char::is_ascii_alphanumeric)
            .collect::<String>()
            .to_ascii_lowercase();
        if !name.is_empty() && !body.ends_with('/') && !VOID.contains(&name.as_str()) {
            depth += 1;
        }
    }
    depth
}

/// Renders lab Markdown to HTML that is safe to put in a page: no scripts, event handlers or
/// `javascript:` URLs survive; inline HTML is reduced to harmless tags.
pub fn render_markdown(md: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let events = with_heading_ids(Parser::new_ext(md, options).collect());
    let events = events.into_iter().map(external_links);
    let mut html = String::with_capacity(md.len() * 3 / 2);
    pulldown_cmark::html::push_html(&mut html, events);
    let clean = SANITIZER.clean(&html).to_string();
    // After sanitizing, so the button is not stripped; the sanitizer never leaves attributes
    // on <pre>, so the literal tags are exactly the code blocks.
    clean
        .replace(
            "<pre>",
            &format!(r#"<div class="code-block">{COPY_BUTTON}<pre>"#),
        )
        .replace("</pre>", "</pre></div>")
}

/// Renders the Markdown of lab `lab`: like [`render_markdown`], and relative `images/...`
/// sources point at the lab's served images (`/labs/<lab>/images/...`).
pub fn render_lab_markdown(md: &str, lab: &str) -> String {
    // The sanitized HTML has no other `src="images/` than image sources (attribute values are
    // quoted by the serializer and text cannot contain a raw `"`).
    render_markdown(md)
        .replace("src=\"./images/", "src=\"images/")
        .replace("src=\"images/", &format!("src=\"/labs/{lab}/images/"))
}

/// An image source kubelab serves: relative (no scheme, not protocol-relative) or under
/// `/labs/`.
fn is_lab_image_url(url: &str) -> bool {
    let url = url.trim();
    if url.starts_with("/labs/") {
        return !url.contains("..");
    }
    let before_path = url.split(['/', '?', '#']).next().unwrap_or_default();
    !url.is_empty() && !url.starts_with('/') && !url.contains('\\') && !before_path.contains(':')
}

/// Gives every heading without an explicit id one derived from its text, unique in the page.
fn with_heading_ids(mut events: Vec<Event<'_>>) -> Vec<Event<'_>> {
    let mut used = HashSet::new();
    let mut i = 0;
    while i < events.len() {
        if let Event::Start(Tag::Heading { id, .. }) = &events[i] {
            let explicit = id.as_ref().map(|id| id.to_string());
            let mut text = String::new();
            let mut j = i + 1;
            while j < events.len() && !matches!(events[j], Event::End(TagEnd::Heading(_))) {
                if let Event::Text(t) | Event::Code(t) = &events[j] {
                    text.push_str(t);
                }
                j += 1;
            }
            // The prefix keeps lab headings from taking ids the page itself uses (`live`, `lab`).
            let base = format!("h-{}", explicit.unwrap_or_else(|| slug(&text)));
            let mut unique = base.clone();
            let mut n = 1;
            while !used.insert(unique.clone()) {
                unique = format!("{base}-{n}");
                n += 1;
            }
            if let Event::Start(Tag::Heading { id, .. }) = &mut events[i] {
                *id = Some(CowStr::from(unique));
            }
            i = j;
        }
        i += 1;
    }
    events
}

/// A URL fragment from heading text: lowercase letters and digits (any script) joined by `-`.
fn slug(text: &str) -> String {
    let mut out = String::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('-');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    if out.is_empty() {
        "section".to_owned()
    } else {
        out
    }
}

/// Links to other sites open in a new tab, so the learner keeps the lab open.
fn external_links(event: Event<'_>) -> Event<'_> {
    match event {
        Event::Start(Tag::Link {
            dest_url, title, ..
        }) if is_external(&dest_url) => {
            let title = if title.is_empty() {
                String::new()
            } else {
                format!(r#" title="{}""#, escape_html(&title))
            };
            Event::InlineHtml(CowStr::from(format!(
                r#"<a href="{}"{title} target="_blank">"#,
                escape_html(&dest_url)
            )))
        }
        other => other,
    }
}

fn is_external(url: &str) -> bool {
    let lower = url.trim_start().to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("//")
}

/// `value` safe inside HTML text and quoted attributes.
pub(crate) fn escape_html(value: &str) -> std::borrow::Cow<'_, str> {
    if !value.contains(['&', '<', '>', '"', '\'']) {
        return std::borrow::Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 16);
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_or_huge_texts_are_refused_before_rendering() {
        let quotes = format!("# T\n\n{}deep\n", "> ".repeat(50_000));
        let (line, why) = markdown_problem(&quotes).expect("deep quotes refused");
        assert_eq!(line, 3);
        assert!(why.contains("more than 24 levels"), "{why}");
        let lists = (0..40)
            .map(|i| format!("{}- item\n", "  ".repeat(i)))
            .collect::<String>();
        assert!(markdown_problem(&lists).is_some());
        let tags = format!("text {} x", "<b>".repeat(30));
        assert!(markdown_problem(&tags).is_some());
        let huge = "word ".repeat(60_000);
        assert!(
            markdown_problem(&huge)
                .expect("huge")
                .1
                .contains("at most 256 KiB")
        );
    }

    #[test]
    fn ordinary_texts_with_html_pass() {
        let md = "> a quote\n>\n> - list\n>   - nested\n\n<details><summary>s</summary>\n\n                  x<br>y <img src=\"images/a.svg\"/> <b>b</b> <i>i</i>\n\n</details>\n";
        assert_eq!(markdown_problem(md), None);
        let many = "<b>bold</b> and <br> line\n\n".repeat(2_000);
        assert_eq!(markdown_problem(&many), None);
    }

    #[test]
    fn scripts_handlers_and_javascript_urls_are_neutralized() {
        let html = render_markdown(
            "Hi <script>alert(1)</script>\n\n<img src=x onerror=\"alert(2)\">\n\n\
             <a href=\"#\" onclick=\"steal()\">x</a> [bad](javascript:alert(3)) \
             <a href=\"javascript:alert(4)\">y</a>",
        );
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("alert(1)"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
        assert!(!html.contains("onclick"), "{html}");
        assert!(!html.contains("javascript:"), "{html}");
    }

    #[test]
    fn code_blocks_get_a_copy_button_and_keep_their_language() {
        let html = render_markdown("Run:\n\n```sh\nkubectl get pods\n```\n");
        assert!(
            html.contains(
                r#"<div class="code-block"><button type="button" class="copy" data-copy aria-label="Copy">Copy</button><pre><code class="language-sh">kubectl get pods"#
            ),
            "{html}"
        );
        assert!(html.contains("</code></pre></div>"), "{html}");
        let hostile = render_markdown("```sh\" onclick=\"x\n1\n```\n");
        assert!(!hostile.contains("onclick"), "{hostile}");
    }

    #[test]
    fn headings_get_unique_ids() {
        let html = render_markdown(
            "# Create the ConfigMap\n\n## 创建 ConfigMap\n\n## Create the ConfigMap\n",
        );
        assert!(
            html.contains(r#"<h1 id="h-create-the-configmap">"#),
            "{html}"
        );
        assert!(html.contains(r#"<h2 id="h-创建-configmap">"#), "{html}");
        assert!(
            html.contains(r#"<h2 id="h-create-the-configmap-1">"#),
            "{html}"
        );
    }

    #[test]
    fn external_links_are_safe_and_open_in_a_new_tab() {
        let html =
            render_markdown("[docs](https://kubernetes.io/docs/ \"K8s\") and [next](../pod)");
        assert!(
            html.contains(r#"href="https://kubernetes.io/docs/""#),
            "{html}"
        );
        assert!(html.contains(r#"target="_blank""#), "{html}");
        assert!(html.contains(r#"rel="noopener noreferrer""#), "{html}");
        assert!(html.contains(r#"href="../pod""#), "{html}");
    }

    #[test]
    fn lab_images_point_at_the_lab_and_only_local_images_survive() {
        let html = render_lab_markdown(
            "![Parts](images/components.svg \"The parts\") ![x](./images/b.png)\n\n\
             ![remote](https://evil.example/t.png) <img src=\"//evil.example/p.png\" onerror=\"x\">\n\n\
             <img src=\"images/c.svg\" width=\"9\"> ![d](data:image/png;base64,AAAA)",
            "architecture",
        );
        assert!(
            html.contains(r#"<img src="/labs/architecture/images/components.svg" alt="Parts" title="The parts">"#),
            "{html}"
        );
        assert!(
            html.contains(r#"src="/labs/architecture/images/b.png""#),
            "{html}"
        );
        assert!(
            html.contains(r#"<img src="/labs/architecture/images/c.svg">"#),
            "{html}"
        );
        assert!(!html.contains("evil.example"), "{html}");
        assert!(!html.contains("data:"), "{html}");
        assert!(!html.contains("onerror"), "{html}");
    }

    #[test]
    fn tables_strikethrough_and_harmless_inline_html_survive() {
        let html = render_markdown("| a | b |\n|---|:-:|\n| 1 | 2 |\n\n~~old~~ <kbd>Ctrl</kbd>\n");
        assert!(html.contains("<table>"), "{html}");
        assert!(!html.contains("style="), "{html}");
        assert!(html.contains("<del>old</del>"), "{html}");
        assert!(html.contains("<kbd>Ctrl</kbd>"), "{html}");
    }
}
