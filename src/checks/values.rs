//! Values as diagnostics show them: code spans, found values cut to a readable length, and two
//! long strings shown around the place where they differ, never cut before it.

use serde_json::Value;

use super::path::MAX_VALUE_CHARS;
use crate::i18n::Text;

/// Characters of unchanged text kept on each side of a difference.
const CONTEXT_CHARS: usize = 20;

/// Characters of the differing part itself shown before it is cut.
const MIDDLE_CHARS: usize = 60;

/// A found value as a diagnostic shows it: its text, and the whole value when the text shows
/// only part of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    /// What the diagnostic's *found* says.
    pub text: Text,
    /// The whole value, when `text` is shortened.
    pub full: Option<String>,
}

impl Shown {
    /// Text that is complete as it is.
    pub fn whole(text: Text) -> Shown {
        Shown { text, full: None }
    }
}

/// `text` as a Markdown code span, fenced with more backticks than it holds in a row (and
/// padded with a space when it starts or ends with one).
pub fn code(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    if text.starts_with('`')
        || text.ends_with('`')
        || (text.starts_with(' ') && text.ends_with(' ') && !text.trim().is_empty())
    {
        format!("{fence} {text} {fence}")
    } else {
        format!("{fence}{text}{fence}")
    }
}

/// A value as compact JSON in a code span, cut at [`MAX_VALUE_CHARS`] characters with `…`.
pub fn json(value: &Value) -> String {
    code(&cut(&value.to_string()).0)
}

/// The same text in both languages.
pub fn same(text: impl Into<String>) -> Text {
    Text::same(text)
}

/// Localized text.
pub fn text(en: impl Into<String>, zh: impl Into<String>) -> Text {
    Text {
        en: en.into(),
        zh: zh.into(),
    }
}

/// Joins Chinese text and code spans, with a space between a code span and a Chinese
/// character next to it (as technical Chinese is written).
pub fn cjk(parts: &[&str]) -> String {
    let mut out = String::new();
    for part in parts.iter().filter(|p| !p.is_empty()) {
        let boundary = (out.chars().next_back(), part.chars().next());
        if let (Some(left), Some(right)) = boundary
            && ((left == '`' && is_cjk(right)) || (is_cjk(left) && right == '`'))
        {
            out.push(' ');
        }
        out.push_str(part);
    }
    out
}

fn is_cjk(c: char) -> bool {
    matches!(c, '\u{3400}'..='\u{9fff}' | '\u{f900}'..='\u{faff}')
}

/// "missing": nothing at that path.
pub fn missing() -> Text {
    text("missing", "不存在")
}

/// A found value (None = missing), with the whole value kept when it had to be cut.
pub fn found(value: Option<&Value>) -> Shown {
    let Some(value) = value else {
        return Shown::whole(missing());
    };
    let json = value.to_string();
    let (shown, was_cut) = cut(&json);
    Shown {
        text: same(code(&shown)),
        full: was_cut.then(|| full(value)),
    }
}

/// The whole of a value for the expandable view: a string as it is (line breaks kept), other
/// values as indented JSON.
pub fn full(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_else(|_| other.to_string()),
    }
}

/// An expected and a found string that differ, both shown as JSON strings around the first
/// difference: the common beginning and end are elided with `…` beyond a little context, so
/// the place where they differ is always visible. Short strings are shown whole.
pub fn differing(expected: &str, actual: &str) -> (String, Shown) {
    let whole = |s: &str| Value::String(s.to_owned()).to_string();
    let (e_json, a_json) = (whole(expected), whole(actual));
    if e_json.chars().count() <= MAX_VALUE_CHARS && a_json.chars().count() <= MAX_VALUE_CHARS {
        return (code(&e_json), Shown::whole(same(code(&a_json))));
    }
    let e: Vec<char> = expected.chars().collect();
    let a: Vec<char> = actual.chars().collect();
    let prefix = e.iter().zip(&a).take_while(|(x, y)| x == y).count();
    let room = e.len().min(a.len()) - prefix;
    let suffix = e
        .iter()
        .rev()
        .zip(a.iter().rev())
        .take(room)
        .take_while(|(x, y)| x == y)
        .count();
    let excerpt = |chars: &[char]| -> (String, bool) {
        let start = prefix.saturating_sub(CONTEXT_CHARS);
        let differs_end = chars.len() - suffix;
        let middle_end = differs_end.min(prefix + MIDDLE_CHARS);
        let end = if middle_end < differs_end {
            middle_end
        } else {
            (differs_end + CONTEXT_CHARS).min(chars.len())
        };
        let mut out = String::new();
        if start > 0 {
            out.push('…');
        }
        out.extend(&chars[start..end]);
        if end < chars.len() {
            out.push('…');
        }
        (whole(&out), start > 0 || end < chars.len())
    };
    let (e_shown, _) = excerpt(&e);
    let (a_shown, a_cut) = excerpt(&a);
    (
        code(&e_shown),
        Shown {
            text: same(code(&a_shown)),
            full: a_cut.then(|| actual.to_owned()),
        },
    )
}

// Cuts `text` at [`MAX_VALUE_CHARS`] characters, marking the cut with `…`; true when cut.
fn cut(text: &str) -> (String, bool) {
    match text.char_indices().nth(MAX_VALUE_CHARS) {
        Some((at, _)) => (format!("{}…", &text[..at]), true),
        None => (text.to_owned(), false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn code_spans_fence_backticks() {
        assert_eq!(code("nginx"), "`nginx`");
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`x`"), "`` `x` ``");
        assert_eq!(code("a``b"), "```a``b```");
    }

    #[test]
    fn found_values_are_cut_and_kept_whole() {
        assert_eq!(found(None).text.en, "missing");
        assert_eq!(found(None).text.zh, "不存在");
        let short = found(Some(&json!("nginx:1.14.2")));
        assert_eq!(short.text, Text::same("`\"nginx:1.14.2\"`"));
        assert_eq!(short.full, None);
        let long = "x".repeat(300);
        let shown = found(Some(&json!(long)));
        assert!(shown.text.en.ends_with("…`"), "{}", shown.text.en);
        assert_eq!(shown.text.en.chars().count(), MAX_VALUE_CHARS + 3);
        assert_eq!(shown.full.as_deref(), Some(long.as_str()));
        let list = json!([{"name": "a".repeat(200)}]);
        let shown = found(Some(&list));
        assert!(shown.full.as_deref().is_some_and(|f| f.contains("\n")));
    }

    #[test]
    fn long_strings_are_shown_where_they_differ() {
        let head = "enemies=aliens\n".repeat(10);
        let tail = "\ncheat=true\n".repeat(10);
        let expected = format!("{head}lives=3{tail}");
        let actual = format!("{head}lives=5{tail}");
        let (e, a) = differing(&expected, &actual);
        assert_eq!(
            e,
            "`\"…nemies=aliens\\nlives=3\\ncheat=true\\n\\ncheat=t…\"`"
        );
        assert_eq!(
            a.text.en,
            "`\"…nemies=aliens\\nlives=5\\ncheat=true\\n\\ncheat=t…\"`"
        );
        assert_eq!(a.full.as_deref(), Some(actual.as_str()));
        // A difference at the very end keeps the end.
        let (e, a) = differing(&format!("{head}A"), &format!("{head}B"));
        assert!(e.ends_with("A\"`"), "{e}");
        assert!(a.text.en.ends_with("B\"`"), "{}", a.text.en);
        // One is a prefix of the other: the extra part is shown.
        let (_, a) = differing(&head, &format!("{head}extra"));
        assert!(a.text.en.ends_with("\\nextra\"`"), "{}", a.text.en);
        // A long differing part is cut after a while, but starts where the difference does.
        let (_, a) = differing(
            &format!("{head}{}", "y".repeat(200)),
            &format!("{head}{}", "z".repeat(200)),
        );
        assert!(a.text.en.contains("aliens\\nzzzz"), "{}", a.text.en);
        assert!(
            a.text.en.chars().count() < MAX_VALUE_CHARS + 10,
            "{}",
            a.text.en
        );
        // Short strings are shown whole.
        let (e, a) = differing("fly\n", "fly");
        assert_eq!(e, "`\"fly\\n\"`");
        assert_eq!(a, Shown::whole(Text::same("`\"fly\"`")));
    }
}
