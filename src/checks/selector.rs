//! Label selectors in kubectl syntax: `app=nginx`, `tier!=db`, `env in (a,b)`, `env notin (c)`,
//! `app`, `!app`, `replicas>2`, combined with commas.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

/// A parsed label selector: every requirement must hold. The empty selector matches everything.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// One comma-separated part of a selector.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// `key=value` or `key==value`.
    Equals(String, String),
    /// `key!=value` (also true when the label is missing).
    NotEquals(String, String),
    /// `key in (a,b)`.
    In(String, Vec<String>),
    /// `key notin (a,b)` (also true when the label is missing).
    NotIn(String, Vec<String>),
    /// `key`: the label is set.
    Exists(String),
    /// `!key`: the label is not set.
    DoesNotExist(String),
    /// `key>n`: the label is an integer greater than n.
    GreaterThan(String, i64),
    /// `key<n`: the label is an integer less than n.
    LessThan(String, i64),
}

impl Requirement {
    fn matches<'l>(&self, get: impl Fn(&str) -> Option<&'l str>) -> bool {
        match self {
            Requirement::Equals(k, v) => get(k) == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k) != Some(v.as_str()),
            Requirement::In(k, vs) => get(k).is_some_and(|a| vs.iter().any(|v| v == a)),
            Requirement::NotIn(k, vs) => !get(k).is_some_and(|a| vs.iter().any(|v| v == a)),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::DoesNotExist(k) => get(k).is_none(),
            Requirement::GreaterThan(k, n) => get(k)
                .and_then(|a| a.parse::<i64>().ok())
                .is_some_and(|a| a > *n),
            Requirement::LessThan(k, n) => get(k)
                .and_then(|a| a.parse::<i64>().ok())
                .is_some_and(|a| a < *n),
        }
    }
}

impl Selector {
    /// The requirements, in the order written.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// True when the labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let get = |k: &str| labels.get(k).map(String::as_str);
        self.requirements.iter().all(|r| r.matches(get))
    }

    /// True when a JSON labels map (`metadata.labels`; `null` or missing = no labels) satisfies
    /// every requirement. Non-string label values count as missing.
    pub fn matches_labels(&self, labels: Option<&Value>) -> bool {
        let get = |k: &str| labels.and_then(|l| l.get(k)).and_then(Value::as_str);
        self.requirements.iter().all(|r| r.matches(get))
    }

    /// True when a Kubernetes object's `metadata.labels` satisfy every requirement.
    pub fn matches_object(&self, object: &Value) -> bool {
        self.matches_labels(object.pointer("/metadata/labels"))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match r {
                Requirement::Equals(k, v) => write!(f, "{k}={v}")?,
                Requirement::NotEquals(k, v) => write!(f, "{k}!={v}")?,
                Requirement::In(k, vs) => write!(f, "{k} in ({})", vs.join(","))?,
                Requirement::NotIn(k, vs) => write!(f, "{k} notin ({})", vs.join(","))?,
                Requirement::Exists(k) => write!(f, "{k}")?,
                Requirement::DoesNotExist(k) => write!(f, "!{k}")?,
                Requirement::GreaterThan(k, n) => write!(f, "{k}>{n}")?,
                Requirement::LessThan(k, n) => write!(f, "{k}<{n}")?,
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Eq,
    DoubleEq,
    NotEq,
    Bang,
    Gt,
    Lt,
    Open,
    Close,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(w) => write!(f, "`{w}`"),
            Token::Eq => f.write_str("`=`"),
            Token::DoubleEq => f.write_str("`==`"),
            Token::NotEq => f.write_str("`!=`"),
            Token::Bang => f.write_str("`!`"),
            Token::Gt => f.write_str("`>`"),
            Token::Lt => f.write_str("`<`"),
            Token::Open => f.write_str("`(`"),
            Token::Close => f.write_str("`)`"),
            Token::Comma => f.write_str("`,`"),
        }
    }
}

fn tokenize(s: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = s.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            ',' => tokens.push(Token::Comma),
            '>' => tokens.push(Token::Gt),
            '<' => tokens.push(Token::Lt),
            '=' => {
                if chars.next_if(|(_, c)| *c == '=').is_some() {
                    tokens.push(Token::DoubleEq);
                } else {
                    tokens.push(Token::Eq);
                }
            }
            '!' => {
                if chars.next_if(|(_, c)| *c == '=').is_some() {
                    tokens.push(Token::NotEq);
                } else {
                    tokens.push(Token::Bang);
                }
            }
            c if is_word_char(c) => {
                let mut end = start + c.len_utf8();
                while let Some((i, c)) = chars.next_if(|(_, c)| is_word_char(*c)) {
                    end = i + c.len_utf8();
                }
                tokens.push(Token::Word(s[start..end].to_owned()));
            }
            other => return Err(format!("unexpected character `{other}`")),
        }
    }
    Ok(tokens)
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/')
}

/// Parses a kubectl label selector (`app=nginx,tier in (web,api),!canary`).
pub fn parse_selector(s: &str) -> Result<Selector, String> {
    let tokens = tokenize(s)?;
    let mut requirements = Vec::new();
    let mut pos = 0;
    if tokens.is_empty() {
        return Ok(Selector { requirements });
    }
    loop {
        let (requirement, next) = parse_requirement(&tokens, pos)?;
        requirements.push(requirement);
        pos = next;
        match tokens.get(pos) {
            None => break,
            Some(Token::Comma) => pos += 1,
            Some(t) => return Err(format!("expected `,` between requirements, found {t}")),
        }
        if pos >= tokens.len() {
            return Err("a trailing `,` must be followed by another requirement".into());
        }
    }
    Ok(Selector { requirements })
}

fn parse_requirement(tokens: &[Token], pos: usize) -> Result<(Requirement, usize), String> {
    if tokens.get(pos) == Some(&Token::Bang) {
        let key = word(tokens, pos + 1, "a label key after `!`")?;
        check_key(key)?;
        return Ok((Requirement::DoesNotExist(key.to_owned()), pos + 2));
    }
    let key = word(tokens, pos, "a label key")?;
    check_key(key)?;
    let key = key.to_owned();
    match tokens.get(pos + 1) {
        None | Some(Token::Comma) => Ok((Requirement::Exists(key), pos + 1)),
        Some(Token::Eq | Token::DoubleEq | Token::NotEq) => {
            let value = match tokens.get(pos + 2) {
                Some(Token::Word(v)) => v.clone(),
                // `app=` selects an empty value, as kubectl allows.
                None | Some(Token::Comma) => String::new(),
                Some(t) => return Err(format!("expected a value after `{key}`, found {t}")),
            };
            check_value(&value)?;
            let next = if value.is_empty() { pos + 2 } else { pos + 3 };
            let requirement = if tokens[pos + 1] == Token::NotEq {
                Requirement::NotEquals(key, value)
            } else {
                Requirement::Equals(key, value)
            };
            Ok((requirement, next))
        }
        Some(op @ (Token::Gt | Token::Lt)) => {
            let n = word(tokens, pos + 2, "an integer")?;
            let n = n
                .parse::<i64>()
                .map_err(|_| format!("`{key}` {op} needs an integer, not `{n}`"))?;
            let requirement = if *op == Token::Gt {
                Requirement::GreaterThan(key, n)
            } else {
                Requirement::LessThan(key, n)
            };
            Ok((requirement, pos + 3))
        }
        Some(Token::Word(w)) if w == "in" || w == "notin" => {
            let not = w == "notin";
            if tokens.get(pos + 2) != Some(&Token::Open) {
                return Err(format!("expected `(` after `{key} {w}`"));
            }
            let mut values = Vec::new();
            let mut p = pos + 3;
            loop {
                match tokens.get(p) {
                    Some(Token::Word(v)) => {
                        check_value(v)?;
                        values.push(v.clone());
                        p += 1;
                    }
                    Some(Token::Close) if values.is_empty() => {
                        return Err(format!("`{key} {w} ()` needs at least one value"));
                    }
                    _ => return Err(format!("expected a value in `{key} {w} (...)`")),
                }
                match tokens.get(p) {
                    Some(Token::Comma) => p += 1,
                    Some(Token::Close) => break,
                    _ => return Err(format!("expected `,` or `)` in `{key} {w} (...)`")),
                }
            }
            let requirement = if not {
                Requirement::NotIn(key, values)
            } else {
                Requirement::In(key, values)
            };
            Ok((requirement, p + 1))
        }
        Some(t) => Err(format!(
            "expected `=`, `==`, `!=`, `in` or `notin` after `{key}`, found {t}"
        )),
    }
}

fn word<'t>(tokens: &'t [Token], pos: usize, what: &str) -> Result<&'t str, String> {
    match tokens.get(pos) {
        Some(Token::Word(w)) => Ok(w),
        Some(t) => Err(format!("expected {what}, found {t}")),
        None => Err(format!("expected {what} at the end")),
    }
}

// Label keys are `[prefix/]name`: a DNS subdomain prefix and a name of at most 63 characters.
fn check_key(key: &str) -> Result<(), String> {
    let (prefix, name) = match key.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    if let Some(prefix) = prefix {
        let valid = !prefix.is_empty()
            && prefix.len() <= 253
            && prefix.split('.').all(|part| {
                !part.is_empty()
                    && part
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                    && !part.starts_with('-')
                    && !part.ends_with('-')
            });
        if !valid {
            return Err(format!(
                "`{key}` has an invalid prefix `{prefix}` (it must be a DNS subdomain such as `example.com`)"
            ));
        }
    }
    if name.is_empty() || !is_label_name(name) {
        return Err(format!(
            "`{key}` is not a valid label key (at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit)"
        ));
    }
    Ok(())
}

fn check_value(value: &str) -> Result<(), String> {
    if value.is_empty() || is_label_name(value) {
        Ok(())
    } else {
        Err(format!(
            "`{value}` is not a valid label value (at most 63 letters, digits, `-`, `_` or `.`, starting and ending with a letter or digit)"
        ))
    }
}

fn is_label_name(s: &str) -> bool {
    let bytes = s.as_bytes();
    s.len() <= 63
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn equality_forms() {
        let nginx = labels(&[("app", "nginx"), ("tier", "web")]);
        assert!(parse_selector("app=nginx").unwrap().matches(&nginx));
        assert!(parse_selector("app==nginx").unwrap().matches(&nginx));
        assert!(
            parse_selector("app = nginx , tier=web")
                .unwrap()
                .matches(&nginx)
        );
        assert!(!parse_selector("app=busybox").unwrap().matches(&nginx));
        assert!(parse_selector("app!=busybox").unwrap().matches(&nginx));
        assert!(!parse_selector("app!=nginx").unwrap().matches(&nginx));
        assert!(parse_selector("missing!=x").unwrap().matches(&nginx));
        assert!(!parse_selector("app=nginx,tier=db").unwrap().matches(&nginx));
    }

    #[test]
    fn set_forms() {
        let nginx = labels(&[("app", "nginx"), ("env", "prod")]);
        assert!(
            parse_selector("env in (prod, staging)")
                .unwrap()
                .matches(&nginx)
        );
        assert!(!parse_selector("env in (dev)").unwrap().matches(&nginx));
        assert!(
            parse_selector("env notin (dev,qa)")
                .unwrap()
                .matches(&nginx)
        );
        assert!(!parse_selector("env notin (prod)").unwrap().matches(&nginx));
        assert!(
            parse_selector("other notin (prod)")
                .unwrap()
                .matches(&nginx)
        );
        assert!(!parse_selector("other in (prod)").unwrap().matches(&nginx));
        assert!(
            parse_selector("env in (prod,staging),app")
                .unwrap()
                .matches(&nginx)
        );
    }

    #[test]
    fn existence_forms() {
        let nginx = labels(&[("app", "nginx")]);
        assert!(parse_selector("app").unwrap().matches(&nginx));
        assert!(!parse_selector("!app").unwrap().matches(&nginx));
        assert!(parse_selector("!canary").unwrap().matches(&nginx));
        assert!(parse_selector("").unwrap().matches(&nginx));
        assert!(parse_selector("app,!canary").unwrap().matches(&nginx));
    }

    #[test]
    fn numeric_comparisons() {
        let l = labels(&[("replicas", "3")]);
        assert!(parse_selector("replicas>2").unwrap().matches(&l));
        assert!(!parse_selector("replicas<3").unwrap().matches(&l));
        assert!(parse_selector("replicas>x").is_err());
    }

    #[test]
    fn prefixed_keys_and_json_labels() {
        let sel = parse_selector("app.kubernetes.io/name=nginx").unwrap();
        let pod =
            json!({"metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "nginx"}}});
        assert!(sel.matches_object(&pod));
        assert!(!sel.matches_object(&json!({"metadata": {"name": "bare"}})));
        assert!(sel.matches_labels(pod.pointer("/metadata/labels")));
        assert!(parse_selector("!app").unwrap().matches_labels(None));
    }

    #[test]
    fn bad_selectors_are_explained() {
        assert_eq!(
            parse_selector("app=nginx,").unwrap_err(),
            "a trailing `,` must be followed by another requirement"
        );
        assert_eq!(
            parse_selector("env in prod").unwrap_err(),
            "expected `(` after `env in`"
        );
        assert_eq!(
            parse_selector("env in ()").unwrap_err(),
            "`env in ()` needs at least one value"
        );
        assert_eq!(
            parse_selector("app nginx").unwrap_err(),
            "expected `=`, `==`, `!=`, `in` or `notin` after `app`, found `nginx`"
        );
        assert_eq!(
            parse_selector("app=ng*nx").unwrap_err(),
            "unexpected character `*`"
        );
        assert!(
            parse_selector("-app=x")
                .unwrap_err()
                .contains("not a valid label key")
        );
        assert!(
            parse_selector("Bad_Prefix/app=x")
                .unwrap_err()
                .contains("invalid prefix")
        );
        assert!(parse_selector(&format!("app={}", "v".repeat(64))).is_err());
        assert!(parse_selector("env in (a b)").is_err());
        assert!(parse_selector("!").is_err());
    }

    #[test]
    fn display_round_trips() {
        let text = "app=nginx,tier!=db,env in (a,b),x notin (c),canary,!legacy";
        let sel = parse_selector(text).unwrap();
        assert_eq!(sel.to_string(), text);
        assert_eq!(parse_selector(&sel.to_string()).unwrap(), sel);
        assert_eq!(sel.requirements().len(), 6);
    }
}
