//! Names people type (a learner's display name, a workshop's name) made safe to show to
//! others: control characters, bidirectional overrides and invisible characters removed,
//! runs of white space folded into one space.

/// `name` without control, bidi-control or invisible (zero-width, format) characters, its
/// white space folded and trimmed. What is left is what the grid, the pages and the API show.
pub fn clean_name(name: &str) -> String {
    let kept: String = name
        .chars()
        .map(|c| if c.is_whitespace() { ' ' } else { c })
        .filter(|c| !c.is_control() && !is_invisible(*c))
        .collect();
    kept.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Unicode format characters (category Cf) and other characters that show nothing but can
/// reorder or hide text: bidi embeddings, overrides, isolates and marks, zero-width spaces and
/// joiners, the byte-order mark, invisible operators, tags, interlinear annotations,
/// variation selectors, Hangul fillers.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{0600}'..='\u{0605}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn control_characters_are_removed() {
        assert_eq!(clean_name("Al\u{0}ice\u{7}"), "Alice");
        assert_eq!(clean_name("Bob\u{1b}[31m"), "Bob[31m");
    }

    #[test]
    fn bidi_overrides_and_isolates_are_removed() {
        // "evil\u{202E}gpj.exe" would show as "evilexe.jpg".
        assert_eq!(clean_name("evil\u{202E}gpj.exe"), "evilgpj.exe");
        assert_eq!(clean_name("\u{2066}a\u{2069}\u{200F}"), "a");
    }

    #[test]
    fn zero_width_characters_are_removed() {
        assert_eq!(
            clean_name("A\u{200B}l\u{200C}i\u{200D}c\u{2060}e\u{FEFF}"),
            "Alice"
        );
        assert_eq!(clean_name("\u{200B}\u{200B}"), "");
    }

    #[test]
    fn white_space_is_folded_and_trimmed() {
        assert_eq!(clean_name("  Ada \t\n Lovelace  "), "Ada Lovelace");
        assert_eq!(clean_name("Ada\u{3000}Lovelace"), "Ada Lovelace");
    }

    #[test]
    fn names_in_any_script_are_kept() {
        assert_eq!(clean_name("李雷"), "李雷");
        assert_eq!(clean_name("Zoë O'Brien-Ñúñez"), "Zoë O'Brien-Ñúñez");
        assert_eq!(clean_name("محمد"), "محمد");
        assert_eq!(clean_name("🚀 team"), "🚀 team");
    }
}
