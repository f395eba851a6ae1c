//! A YAML tree that remembers the line of every node and key, read with serde-saphyr, and a
//! serde `Deserializer` over it that reports the line of the node where deserialization failed.
//!
//! Why: serde stops at the first error of a value, so deserializing a whole `lab.yaml` at once
//! finds one problem per file. Parsing once into this tree lets the loader deserialize each
//! step and each check separately (one problem per element, all with real lines) and look up
//! the line of any value for semantic problems (duplicate ids, missing files).

use std::cell::{Cell, RefCell};
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess,
    Visitor,
};
use serde::{Deserialize, forward_to_deserialize_any};
use serde_saphyr::Spanned;

/// One YAML node and the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// 1-based line of the node (for a block mapping in a list: the line of its first key).
    pub line: usize,
    pub value: Value,
}

/// The value of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// `true` / `false` (YAML 1.2 spellings only: `yes` and `no` stay strings).
    Bool(bool),
    /// A negative integer.
    Int(i64),
    /// A non-negative integer.
    UInt(u64),
    /// A floating-point number.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in source order.
    Map(Vec<(Key, Node)>),
}

/// A mapping key (always read as text) and its line.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// 1-based line of the key.
    pub line: usize,
    /// The key as text.
    pub name: String,
}

/// A YAML problem: what is wrong and, when known, the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct YamlError {
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// The message, without the location.
    pub message: String,
}

impl Node {
    /// The value under `key` when this node is a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.entry(key).map(|(_, v)| v)
    }

    /// The key and value under `key` when this node is a mapping.
    pub fn entry(&self, key: &str) -> Option<(&Key, &Node)> {
        match &self.value {
            Value::Map(entries) => entries
                .iter()
                .find(|(k, _)| k.name == key)
                .map(|(k, v)| (k, v)),
            _ => None,
        }
    }

    /// The elements when this node is a sequence.
    pub fn items(&self) -> &[Node] {
        match &self.value {
            Value::Seq(items) => items,
            _ => &[],
        }
    }

    /// The string when this node is a string.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The node as JSON (non-finite floats become strings: JSON has no NaN).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::UInt(u) => J::from(*u),
            Value::Float(f) => serde_json::Number::from_f64(*f)
                .map(J::Number)
                .unwrap_or_else(|| J::String(f.to_string())),
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.name.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short description of the node's type for messages ("a list", "a string").
    pub fn type_name(&self) -> &'static str {
        match &self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) | Value::UInt(_) | Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! {
        strict_booleans: true,
        with_snippet: false,
    }
}

static LOCATION_SUFFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r" at line \d+, column \d+$").expect("the pattern is a valid regex")
});

fn yaml_error(e: &serde_saphyr::Error) -> YamlError {
    let line = e
        .location()
        .and_then(|l| usize::try_from(l.line()).ok())
        .filter(|l| *l > 0);
    let message = e.without_snippet().to_string();
    // The location is reported separately (file:line), so drop saphyr's " at line L, column C".
    let message = LOCATION_SUFFIX.replace(&message, "").into_owned();
    YamlError { line, message }
}

/// Parses a single YAML document (strict booleans).
pub fn parse(src: &str) -> Result<Node, YamlError> {
    serde_saphyr::from_str_with_options::<Node>(src, options()).map_err(|e| yaml_error(&e))
}

/// Parses a stream of YAML documents separated by `---` (strict booleans). Empty documents
/// are skipped, as `kubectl apply` does.
pub fn parse_multi(src: &str) -> Result<Vec<Node>, YamlError> {
    let docs: Vec<Node> =
        serde_saphyr::from_str_multiple_with_options(src, options()).map_err(|e| yaml_error(&e))?;
    Ok(docs
        .into_iter()
        .filter(|d| d.value != Value::Null)
        .collect())
}

fn line_of(location: serde_saphyr::Location) -> usize {
    usize::try_from(location.line()).unwrap_or(0)
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Value>::deserialize(d)?;
        Ok(Node {
            line: line_of(spanned.referenced),
            value: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(if v >= 0 {
            Value::UInt(v.unsigned_abs())
        } else {
            Value::Int(v)
        })
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<KeyText>>()? {
            let value = map.next_value::<Node>()?;
            entries.push((
                Key {
                    line: line_of(key.referenced),
                    name: key.value.0,
                },
                value,
            ));
        }
        Ok(Value::Map(entries))
    }
}

/// A scalar mapping key, as text.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a plain key (a string, number or boolean)")
            }
            fn visit_str<E>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<KeyText, E> {
                Ok(KeyText("null".to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Deserializes `T` from `node`; on failure the error carries the line of the node (or key)
/// being read when it happened: the unknown key, the value of the wrong type, or the mapping
/// that lacks a required key.
///
/// A missing field also names the mapping it is missing from (`missing field `zh` in
/// `title``): the line alone points at the mapping, which may hold several texts.
pub fn from_node<T: DeserializeOwned>(node: &Node) -> Result<T, YamlError> {
    let line = Cell::new(node.line);
    let path = RefCell::new(Vec::new());
    T::deserialize(NodeDe {
        node,
        line: &line,
        path: &path,
    })
    .map_err(|e| {
        let path = path.borrow();
        let message = if e.0.starts_with("missing field") && !path.is_empty() {
            format!("{} in `{}`", e.0, render_path(&path))
        } else {
            e.0
        };
        YamlError {
            line: Some(line.get()).filter(|l| *l > 0),
            message,
        }
    })
}

// `pending.reason`, `hints[1]`.
fn render_path(path: &[String]) -> String {
    let mut out = String::new();
    for part in path {
        if !part.starts_with('[') && !out.is_empty() {
            out.push('.');
        }
        out.push_str(part);
    }
    out
}

/// The error of [`NodeDe`]: just the message (the line is tracked beside it).
#[derive(Debug)]
struct DeError(String);

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        DeError(msg.to_string())
    }
}

#[derive(Clone, Copy)]
struct NodeDe<'a> {
    node: &'a Node,
    line: &'a Cell<usize>,
    // The keys and positions from the root to the node being read; left as it is on an error.
    path: &'a RefCell<Vec<String>>,
}

impl<'de> Deserializer<'de> for NodeDe<'_> {
    type Error = DeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.line.set(self.node.line);
        match &self.node.value {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(i) => visitor.visit_i64(*i),
            Value::UInt(u) => visitor.visit_u64(*u),
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Str(s) => visitor.visit_str(s),
            Value::Seq(items) => visitor.visit_seq(SeqDe {
                items: items.iter(),
                index: 0,
                line: self.line,
                path: self.path,
            }),
            Value::Map(entries) => visitor.visit_map(MapDe {
                entries: entries.iter(),
                value: None,
                map_line: self.node.line,
                line: self.line,
                path: self.path,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.line.set(self.node.line);
        match self.node.value {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.line.set(self.node.line);
        match &self.node.value {
            Value::Str(s) => visitor.visit_enum(s.as_str().into_deserializer()),
            _ => Err(de::Error::custom(format!(
                "expected a string, found {}",
                self.node.type_name()
            ))),
        }
    }

    forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

struct SeqDe<'a> {
    items: std::slice::Iter<'a, Node>,
    index: usize,
    line: &'a Cell<usize>,
    path: &'a RefCell<Vec<String>>,
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        match self.items.next() {
            Some(node) => {
                self.path.borrow_mut().push(format!("[{}]", self.index));
                self.index += 1;
                let value = seed.deserialize(NodeDe {
                    node,
                    line: self.line,
                    path: self.path,
                })?;
                self.path.borrow_mut().pop();
                Ok(Some(value))
            }
            None => Ok(None),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::slice::Iter<'a, (Key, Node)>,
    value: Option<(&'a str, &'a Node)>,
    map_line: usize,
    line: &'a Cell<usize>,
    path: &'a RefCell<Vec<String>>,
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        match self.entries.next() {
            Some((key, value)) => {
                self.line.set(key.line);
                self.value = Some((&key.name, value));
                seed.deserialize(key.name.as_str().into_deserializer())
                    .map(Some)
            }
            None => {
                // A missing required field is reported after the last key: point at the mapping.
                self.line.set(self.map_line);
                Ok(None)
            }
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let (key, node) = self
            .value
            .take()
            .ok_or_else(|| <DeError as de::Error>::custom("value requested before its key"))?;
        self.path.borrow_mut().push(key.to_owned());
        let value = seed.deserialize(NodeDe {
            node,
            line: self.line,
            path: self.path,
        })?;
        self.path.borrow_mut().pop();
        Ok(value)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        id: String,
        n: u32,
        #[serde(default)]
        tags: Vec<String>,
        #[serde(default)]
        extra: Option<serde_json::Value>,
    }

    #[test]
    fn lines_of_nodes_and_keys() {
        let node = parse("a: 1\nlist:\n  - id: x\n    n: 2\n  - id: y\n    n: 3\n").unwrap();
        let list = node.get("list").unwrap();
        assert_eq!(list.items()[0].line, 3);
        assert_eq!(list.items()[1].line, 5);
        assert_eq!(list.items()[1].entry("n").unwrap().0.line, 6);
        assert_eq!(node.entry("list").unwrap().0.line, 2);
    }

    #[test]
    fn errors_point_at_the_offending_line() {
        let node = parse("id: x\nn: 2\ntags: [a]\nbogus: 1\n").unwrap();
        let err = from_node::<Item>(&node).unwrap_err();
        assert_eq!(err.line, Some(4));
        assert!(err.message.contains("unknown field `bogus`"), "{err:?}");

        let node = parse("id: x\nn: many\n").unwrap();
        let err = from_node::<Item>(&node).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert!(err.message.contains("invalid type"), "{err:?}");

        let node = parse("top:\n  id: x\n  tags: []\n").unwrap();
        let err = from_node::<Item>(node.get("top").unwrap()).unwrap_err();
        assert_eq!(err.line, Some(2));
        assert_eq!(err.message, "missing field `n`");
    }

    #[test]
    fn a_missing_field_names_the_mapping_it_is_missing_from() {
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Pair {
            en: String,
            zh: String,
        }
        #[derive(Debug, Deserialize)]
        #[allow(dead_code)]
        struct Texts {
            title: Pair,
            hints: Vec<Pair>,
        }
        let node =
            parse("title: {en: a, zh: b}\nhints:\n  - {en: c, zh: d}\n  - {en: e}\n").unwrap();
        let err = from_node::<Texts>(&node).unwrap_err();
        assert_eq!(err.message, "missing field `zh` in `hints[1]`");
        assert_eq!(err.line, Some(4));
        let node = parse("title: {en: a}\nhints: []\n").unwrap();
        let err = from_node::<Texts>(&node).unwrap_err();
        assert_eq!(err.message, "missing field `zh` in `title`");
    }

    #[test]
    fn values_deserialize_to_json_with_strict_booleans() {
        let node = parse("id: x\nn: 1\nextra: {a: yes, b: true, c: [1, -2, 1.5, ~]}\n").unwrap();
        let item = from_node::<Item>(&node).unwrap();
        assert_eq!(
            item.extra.unwrap(),
            serde_json::json!({"a": "yes", "b": true, "c": [1, -2, 1.5, null]})
        );
    }

    #[test]
    fn syntax_errors_have_lines() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert!(err.line.is_some(), "{err:?}");
        assert!(!err.message.contains(" at line "), "{err:?}");
    }

    #[test]
    fn multi_documents_skip_empty_ones() {
        let docs = parse_multi("# c\na: 1\n---\n---\n\nb: on\n").unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 2);
        assert_eq!(docs[1].line, 6);
        assert_eq!(docs[1].to_json(), serde_json::json!({"b": "on"}));
    }
}
