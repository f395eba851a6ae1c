//! Where a position in a check's CEL expression is in `lab.yaml`: CEL counts columns in the
//! expression as YAML hands it over — a `>-` block folded into one line — while the author
//! needs the file's line and column.

use super::node::Node;

/// The 1-based file line and column of character `offset` of the `cel` value of `check`
/// (a check's mapping node), read from the file's text `source`.
pub fn locate(source: &str, check: &Node, offset: usize) -> Option<(usize, usize)> {
    let (key, _) = check.entry("cel")?;
    let lines: Vec<&str> = source.lines().collect();
    let key_line = *lines.get(key.line.checked_sub(1)?)?;
    let key_indent = indent(key_line);
    let after_key = key_line.find("cel:")? + "cel:".len();
    let rest = &key_line[after_key..];
    let value_start = after_key + (rest.len() - rest.trim_start().len());
    let first = rest.trim_start();
    // Each piece of the value: (1-based line, 0-based character column, text); pieces are
    // joined by one character (a space when folded, a line break when literal).
    let mut pieces: Vec<(usize, usize, &str)> = Vec::new();
    if !(first.starts_with('>') || first.starts_with('|')) {
        let quoted = usize::from(first.starts_with('"') || first.starts_with('\''));
        let start = key_line[..value_start].chars().count() + quoted;
        pieces.push((key.line, start, first.get(quoted..).unwrap_or_default()));
    }
    for (i, line) in lines.iter().enumerate().skip(key.line) {
        if line.trim().is_empty() {
            continue;
        }
        if indent(line) <= key_indent {
            break;
        }
        let text = line.trim_start();
        pieces.push((i + 1, line.chars().count() - text.chars().count(), text));
    }
    let mut left = offset;
    let mut end = None;
    for (line, column, text) in pieces {
        let len = text.chars().count();
        if left < len {
            return Some((line, column + left + 1));
        }
        left = left.saturating_sub(len + 1);
        end = Some((line, column + len + 1));
    }
    // A parser that ran out of expression points just past its end.
    end
}

fn indent(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labs::node;

    fn check_at(src: &str) -> Node {
        node::parse(src)
            .expect("yaml")
            .get("checks")
            .expect("checks")
            .items()[0]
            .clone()
    }

    #[test]
    fn folded_blocks_map_to_their_line() {
        let src = "checks:\n  - id: a\n    cel: >-\n      has(object.status)\n      && objects.x == 1\n    title: t\n";
        let check = check_at(src);
        let cel = check.get("cel").and_then(Node::as_str).unwrap();
        let offset = cel.find("objects").unwrap();
        assert_eq!(locate(src, &check, offset), Some((5, 10)));
        assert_eq!(locate(src, &check, 0), Some((4, 7)));
        assert_eq!(locate(src, &check, cel.chars().count()), Some((5, 24)));
    }

    #[test]
    fn inline_values_count_from_the_key() {
        let src = "checks:\n  - id: a\n    cel: \"nosuchfn(object)\"\n";
        assert_eq!(locate(src, &check_at(src), 0), Some((3, 11)));
        let plain = "checks:\n  - id: a\n    cel: object.x == nosuch\n";
        assert_eq!(locate(plain, &check_at(plain), 12), Some((3, 22)));
    }
}
