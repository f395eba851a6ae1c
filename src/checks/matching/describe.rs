//! Expectations in words, in English and Chinese: what a diagnostic says was expected.
//! Operators read as a beginner would say them (`{$gte: 1, $lte: 80}` is "between 1 and 80",
//! "介于 1 和 80 之间"); values, names and patterns are code spans. A lab author's `$describe`
//! replaces the generated words.

use serde_json::Value;

use super::super::path::{self, Segment};
use super::super::values::{self, cjk, code, text};
use super::{Cmp, Expectation, Op, Operand, range};
use crate::i18n::Text;

/// One expectation in words, in the forms its place in a sentence needs.
#[derive(Debug, Clone)]
struct Desc {
    /// On its own: `text matching the pattern `p``.
    en: String,
    /// After a field name or "an element": `matching the pattern `p``.
    en_pred: String,
    /// On its own: `匹配模式 `p` 的文本`.
    zh: String,
    /// After a field name, or as the clause of "包含…的元素": `匹配模式 `p``.
    zh_pred: String,
}

impl Desc {
    fn same_forms(en: String, zh: String) -> Desc {
        Desc {
            en_pred: en.clone(),
            en,
            zh_pred: zh.clone(),
            zh,
        }
    }

    fn text(self) -> Text {
        text(self.en, self.zh)
    }
}

/// What an expectation wants, as the *expected* of a diagnostic.
pub fn describe(node: &Expectation) -> Text {
    desc(node).text()
}

/// A value that must be equal: the value as code (`null` reads "absent").
pub fn describe_value(value: &Value) -> Text {
    match value {
        Value::Null => absent(),
        other => values::same(values::json(other)),
    }
}

/// "absent": the key must be missing or null.
pub fn absent() -> Text {
    text("absent", "不存在")
}

/// "present": the key must be there and not null.
pub fn present() -> Text {
    text("present", "存在")
}

/// One operator of an operator map, as the *expected* of the diagnostic it failed.
pub fn op_words(op: &Op) -> Text {
    desc_op(op).text()
}

/// A range of two comparisons (`{$gte: 1, $lte: 80}`) as one expectation.
pub fn range_words(lower: &Op, upper: &Op) -> Text {
    desc_range(lower, upper).text()
}

/// The found length of a list, string or map.
pub fn length(n: usize) -> Text {
    text(format!("of length {n}"), format!("长度为 {n}"))
}

/// A `count` as words: `exactly 3`, `at least 3`.
pub fn count(node: &Expectation) -> Text {
    match node {
        Expectation::Equal(Value::Number(n)) => text(format!("exactly {n}"), format!("恰好 {n}")),
        other => describe(other),
    }
}

/// "An element …": what an expected list element (or `$some`) wants.
pub fn some_element(node: &Expectation) -> Text {
    let (en, zh) = some_forms(node);
    text(en, zh)
}

/// Something (an event) that must exist: `an event with `reason` = "Pulled"` /
/// `` `reason` 为 "Pulled" 的事件 ``; with the author's words, those words.
pub fn thing(node: &Expectation, noun: (&str, &str)) -> Text {
    match node {
        Expectation::Described(_, words) => words.clone(),
        other if is_anything(other) => {
            text(format!("an {}", noun.0), format!("任意一条{}", noun.1))
        }
        other => text(
            format!("an {} {}", noun.0, cond_en(other)),
            cjk(&[&rel_zh(other), "的", noun.1]),
        ),
    }
}

/// Something (an event) that must not exist: `no event with …` / `没有 … 的事件`.
pub fn no_thing(node: &Expectation, noun: (&str, &str)) -> Text {
    match node {
        Expectation::Described(_, words) => text(
            format!("no {} like: {}", noun.0, words.en),
            format!("没有这样的{}：{}", noun.1, words.zh),
        ),
        other if is_anything(other) => text(format!("no {}", noun.0), format!("没有{}", noun.1)),
        other => text(
            format!("no {} {}", noun.0, cond_en(other)),
            cjk(&["没有", &rel_zh(other), "的", noun.1]),
        ),
    }
}

/// How many things (events) matching `node` there must be: `events with …: at least 2`.
pub fn count_of(node: &Expectation, noun: (&str, &str), wanted: &Text) -> Text {
    match node {
        Expectation::Described(_, words) => text(
            format!("{} ({}s): {}", words.en, noun.0, wanted.en),
            format!("{}（{}数）：{}", words.zh, noun.1, wanted.zh),
        ),
        other if is_anything(other) => text(
            format!("{}s: {}", noun.0, wanted.en),
            format!("{}数：{}", noun.1, wanted.zh),
        ),
        other => text(
            format!("{}s {}: {}", noun.0, cond_en(other), wanted.en),
            cjk(&[&rel_zh(other), "的", noun.1, "数：", &wanted.zh]),
        ),
    }
}

fn is_anything(node: &Expectation) -> bool {
    matches!(node, Expectation::Map(entries) if entries.is_empty())
}

fn desc(node: &Expectation) -> Desc {
    match node {
        Expectation::Equal(v) => Desc {
            en: values::json(v),
            en_pred: format!("= {}", values::json(v)),
            zh: values::json(v),
            zh_pred: format!("为 {}", values::json(v)),
        },
        Expectation::Null => {
            let a = absent();
            Desc::same_forms(a.en, a.zh)
        }
        Expectation::Map(entries) if entries.is_empty() => Desc {
            en: "a map".to_owned(),
            en_pred: "a map".to_owned(),
            zh: "一个映射".to_owned(),
            zh_pred: "为映射".to_owned(),
        },
        Expectation::Map(entries) => {
            let (en, zh) = fields(entries);
            Desc {
                en: format!("a map with {}", join_en(&en)),
                en_pred: format!("with {}", join_en(&en)),
                zh: cjk(&["一个映射，其中", &zh.join("，")]),
                zh_pred: format!("满足：{}", zh.join("、")),
            }
        }
        Expectation::Array(elements) => desc_array(elements),
        Expectation::Ops(ops) => desc_ops(ops),
        Expectation::Described(_, words) => Desc::same_forms(words.en.clone(), words.zh.clone()),
        Expectation::Template(written) => desc(&Expectation::Equal(Value::String(written.clone()))),
    }
}

fn desc_array(elements: &[Expectation]) -> Desc {
    if elements.is_empty() {
        return Desc {
            en: "a list".to_owned(),
            en_pred: "a list".to_owned(),
            zh: "一个列表".to_owned(),
            zh_pred: "为列表".to_owned(),
        };
    }
    let (en, zh): (Vec<String>, Vec<String>) = elements.iter().map(some_forms).unzip();
    let zh = zh.join("，以及");
    Desc {
        en: format!("a list containing {}", join_en(&en)),
        en_pred: format!("containing {}", join_en(&en)),
        zh: zh.clone(),
        zh_pred: zh,
    }
}

// Several operators must all hold; a range reads as one.
fn desc_ops(ops: &[Op]) -> Desc {
    let range = range(ops);
    let mut parts: Vec<Desc> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match range {
            Some((lo, hi)) if i == lo.min(hi) => parts.push(desc_range(&ops[lo], &ops[hi])),
            Some((lo, hi)) if i == lo.max(hi) => {}
            _ => parts.push(desc_op(op)),
        }
    }
    match parts.len() {
        0 => Desc::same_forms("anything".to_owned(), "任意值".to_owned()),
        1 => parts.remove(0),
        _ => {
            let list = |f: fn(&Desc) -> &String, sep: &str| {
                parts.iter().map(f).cloned().collect::<Vec<_>>().join(sep)
            };
            Desc {
                en: list(|d| &d.en, " and "),
                en_pred: list(|d| &d.en_pred, " and "),
                zh: list(|d| &d.zh, "，且"),
                zh_pred: list(|d| &d.zh_pred, "，且"),
            }
        }
    }
}

fn desc_range(lower: &Op, upper: &Op) -> Desc {
    match (lower, upper) {
        (Op::Cmp(Cmp::Gte, a), Op::Cmp(Cmp::Lte, b)) => Desc::same_forms(
            format!("between {} and {}", a.show(), b.show()),
            format!("介于 {} 和 {} 之间", a.show(), b.show()),
        ),
        _ => {
            let (l, u) = (desc_op(lower), desc_op(upper));
            Desc::same_forms(
                format!("{} and {}", l.en, u.en),
                format!("{}，且{}", l.zh, u.zh),
            )
        }
    }
}

fn desc_op(op: &Op) -> Desc {
    let same = Desc::same_forms;
    match op {
        Op::Eq(v) => desc(&equal(v)),
        Op::Ne(Value::Null) => {
            let p = present();
            same(p.en, p.zh)
        }
        Op::Ne(v) => Desc {
            en: format!("anything but {}", values::json(v)),
            en_pred: format!("other than {}", values::json(v)),
            zh: format!("不是 {}", values::json(v)),
            zh_pred: format!("不是 {}", values::json(v)),
        },
        Op::Cmp(cmp, operand) => desc_cmp(*cmp, operand),
        Op::Exists(true) => {
            let p = present();
            same(p.en, p.zh)
        }
        Op::Exists(false) => {
            let a = absent();
            same(a.en, a.zh)
        }
        Op::Regex(_, pattern) => Desc {
            en: format!("text matching the pattern {}", code(pattern)),
            en_pred: format!("matching the pattern {}", code(pattern)),
            zh: format!("匹配模式 {} 的文本", code(pattern)),
            zh_pred: format!("匹配模式 {}", code(pattern)),
        },
        Op::Glob(_, pattern) => desc_glob(pattern),
        Op::In(options) => {
            let shown: Vec<String> = options.iter().map(values::json).collect();
            Desc {
                en: format!("one of {}", shown.join(", ")),
                en_pred: format!("equal to one of {}", shown.join(", ")),
                zh: format!("{} 之一", shown.join("、")),
                zh_pred: format!("为 {} 之一", shown.join("、")),
            }
        }
        Op::Contains(needle) => {
            let needle = values::json(&Value::String(needle.clone()));
            Desc {
                en: format!("text containing {needle}"),
                en_pred: format!("containing {needle}"),
                zh: format!("包含 {needle} 的文本"),
                zh_pred: format!("包含 {needle}"),
            }
        }
        Op::Len(inner) => {
            let (en, zh) = match inner.as_ref() {
                Expectation::Equal(Value::Number(n)) => {
                    (format!("of length {n}"), format!("长度为 {n}"))
                }
                other => {
                    let d = desc(other);
                    (format!("of length {}", d.en), format!("长度{}", d.zh))
                }
            };
            same(en, zh)
        }
        Op::Not(inner) => desc_not(inner),
        Op::Every(inner) => desc_every(inner),
        Op::Some(inner) => {
            let (en, zh) = some_forms(inner);
            Desc {
                en_pred: format!("containing {en}"),
                en,
                zh_pred: zh.clone(),
                zh,
            }
        }
        Op::None(inner) => {
            let (en, zh) = none_forms(inner);
            Desc {
                en_pred: format!("containing {en}"),
                en,
                zh_pred: zh.clone(),
                zh,
            }
        }
        Op::Exact(nodes) => desc_exact(nodes),
        Op::Count { pattern, is } => desc_count(pattern, is),
        Op::And(nodes) => desc_and(nodes),
        Op::Templated { shown, .. } => desc_op(shown),
    }
}

// `$gt` and friends: "more than 3" / "大于 3"; times read "after" / "晚于".
fn desc_cmp(cmp: Cmp, operand: &Operand) -> Desc {
    let x = operand.show();
    let (en, zh) = match (cmp, operand.is_time()) {
        (Cmp::Gt, false) => ("more than", "大于"),
        (Cmp::Gte, false) => ("at least", "至少"),
        (Cmp::Lt, false) => ("less than", "小于"),
        (Cmp::Lte, false) => ("at most", "不超过"),
        (Cmp::Gt, true) => ("after", "晚于"),
        (Cmp::Gte, true) => ("at or after", "不早于"),
        (Cmp::Lt, true) => ("before", "早于"),
        (Cmp::Lte, true) => ("at or before", "不晚于"),
    };
    Desc::same_forms(format!("{en} {x}"), format!("{zh} {x}"))
}

// `$and`: every part, joined: "more than 1 and less than 5" / "大于 1，且小于 5".
fn desc_and(nodes: &[Expectation]) -> Desc {
    let parts: Vec<Desc> = nodes.iter().map(desc).collect();
    let list = |f: fn(&Desc) -> &String, sep: &str| {
        parts.iter().map(f).cloned().collect::<Vec<_>>().join(sep)
    };
    Desc {
        en: list(|d| &d.en, " and "),
        en_pred: list(|d| &d.en_pred, " and "),
        zh: list(|d| &d.zh, "，且"),
        zh_pred: list(|d| &d.zh_pred, "，且"),
    }
}

// `$count`: "at least 2 elements with `protocol` = "TCP"" / "`protocol` 为 "TCP" 的元素数量至少 2".
fn desc_count(pattern: &Expectation, is: &Expectation) -> Desc {
    let wanted = count(is);
    let (en, zh) = match pattern {
        Expectation::Described(_, words) => (
            format!("{} elements like: {}", wanted.en, words.en),
            format!("符合“{}”的元素数量{}", words.zh, wanted.zh),
        ),
        other if is_anything(other) => (
            format!("{} elements", wanted.en),
            format!("元素数量{}", wanted.zh),
        ),
        other => (
            format!("{} elements {}", wanted.en, cond_en(other)),
            cjk(&[&rel_zh(other), "的元素数量", &wanted.zh]),
        ),
    };
    Desc {
        en_pred: format!("with {en}"),
        en,
        zh_pred: format!("中{zh}"),
        zh,
    }
}

// `$eq: null` is `null`, which means absent; other values are equalities.
fn equal(value: &Value) -> Expectation {
    match value {
        Value::Null => Expectation::Null,
        other => Expectation::Equal(other.clone()),
    }
}

fn desc_glob(pattern: &str) -> Desc {
    let mut hints_en = Vec::new();
    let mut hints_zh = Vec::new();
    if pattern.contains('*') {
        hints_en.push(format!("{} stands for any text", code("*")));
        hints_zh.push(format!("{} 代表任意文本", code("*")));
    }
    if pattern.contains('?') {
        hints_en.push(format!("{} for one character", code("?")));
        hints_zh.push(format!("{} 代表一个字符", code("?")));
    }
    let (hint_en, hint_zh) = if hints_en.is_empty() {
        (String::new(), String::new())
    } else {
        (
            format!(" ({})", hints_en.join(", ")),
            format!("（{}）", hints_zh.join("，")),
        )
    };
    Desc {
        en: format!("text of the form {}{hint_en}", code(pattern)),
        en_pred: format!("of the form {}", code(pattern)),
        zh: format!("符合通配模式 {} 的文本{hint_zh}", code(pattern)),
        zh_pred: format!("符合通配模式 {}", code(pattern)),
    }
}

fn desc_not(inner: &Expectation) -> Desc {
    match inner {
        Expectation::Null => desc_op(&Op::Exists(true)),
        Expectation::Equal(v) => desc_op(&Op::Ne(v.clone())),
        Expectation::Ops(ops) if ops.len() == 1 => match &ops[0] {
            Op::Exists(b) => desc_op(&Op::Exists(!b)),
            Op::Eq(v) => desc_op(&Op::Ne(v.clone())),
            Op::Some(x) => {
                let (en, zh) = none_forms(x);
                Desc {
                    en_pred: format!("containing {en}"),
                    en,
                    zh_pred: zh.clone(),
                    zh,
                }
            }
            _ => negated(desc(inner), true),
        },
        Expectation::Described(_, words) => Desc::same_forms(
            format!("not: {}", words.en),
            format!("不符合：{}", words.zh),
        ),
        other => negated(desc(other), matches!(other, Expectation::Ops(_))),
    }
}

// "not …" (`not matching the pattern …` for operators, which read as predicates); in Chinese
// 不 goes before a verb, otherwise "不满足：…".
fn negated(d: Desc, predicate: bool) -> Desc {
    const VERBS: &[&str] = &["匹配", "包含", "为", "符合", "等于", "存在"];
    let zh = if VERBS.iter().any(|v| d.zh_pred.starts_with(v)) {
        format!("不{}", d.zh_pred)
    } else {
        format!("不满足：{}", d.zh)
    };
    let en = format!("not {}", if predicate { &d.en_pred } else { &d.en });
    Desc {
        en_pred: en.clone(),
        en,
        zh_pred: zh.clone(),
        zh,
    }
}

fn desc_every(inner: &Expectation) -> Desc {
    match inner {
        Expectation::Described(_, words) => Desc {
            en: format!("every element: {}", words.en),
            en_pred: format!("with every element: {}", words.en),
            zh: format!("每个元素都符合：{}", words.zh),
            zh_pred: format!("中每个元素都符合：{}", words.zh),
        },
        other => {
            let verb = verb_zh(other);
            Desc {
                en: format!("every element {}", cond_en(other)),
                en_pred: format!("with every element {}", cond_en(other)),
                zh: cjk(&["每个元素都", &verb]),
                zh_pred: cjk(&["中每个元素都", &verb]),
            }
        }
    }
}

fn desc_exact(nodes: &[Expectation]) -> Desc {
    let plain: Option<Vec<Value>> = nodes
        .iter()
        .map(|n| match n {
            Expectation::Equal(v) => Some(v.clone()),
            _ => None,
        })
        .collect();
    match plain {
        Some(values) => {
            let list = values::json(&Value::Array(values));
            Desc::same_forms(
                format!("exactly {list}, in this order"),
                format!("恰好是 {list}（顺序一致）"),
            )
        }
        None => {
            let each: Vec<Desc> = nodes.iter().map(desc).collect();
            let en: Vec<String> = each.iter().map(|d| d.en.clone()).collect();
            let zh: Vec<String> = each.iter().map(|d| d.zh.clone()).collect();
            Desc::same_forms(
                format!(
                    "exactly {} elements, in this order: {}",
                    nodes.len(),
                    en.join("; ")
                ),
                format!("恰好 {} 个元素，依次为：{}", nodes.len(), zh.join("；")),
            )
        }
    }
}

// "an element with …" / "包含 … 的元素".
fn some_forms(node: &Expectation) -> (String, String) {
    match node {
        Expectation::Described(_, words) => (words.en.clone(), cjk(&["包含", &words.zh])),
        other if is_anything(other) => ("an element".to_owned(), "至少一个元素".to_owned()),
        other => (
            format!("an element {}", cond_en(other)),
            cjk(&["包含", &rel_zh(other), "的元素"]),
        ),
    }
}

// "no element with …" / "不包含 … 的元素".
fn none_forms(node: &Expectation) -> (String, String) {
    match node {
        Expectation::Described(_, words) => (
            format!("no element like: {}", words.en),
            cjk(&["不包含", &words.zh]),
        ),
        other if is_anything(other) => ("no element".to_owned(), "没有元素".to_owned()),
        other => (
            format!("no element {}", cond_en(other)),
            cjk(&["不包含", &rel_zh(other), "的元素"]),
        ),
    }
}

// What follows "an element" in English: `equal to `3``, `with `type` = "Ready"`.
fn cond_en(node: &Expectation) -> String {
    match node {
        Expectation::Equal(v) => format!("equal to {}", values::json(v)),
        Expectation::Null => "that is absent".to_owned(),
        Expectation::Map(entries) if entries.is_empty() => String::new(),
        Expectation::Map(entries) => format!("with {}", join_en(&fields(entries).0)),
        other => desc(other).en_pred,
    }
}

// The clause of "包含…的元素" in Chinese: `等于 `3``, `` `type` 为 "Ready"、`status` 为 "True" ``.
fn rel_zh(node: &Expectation) -> String {
    match node {
        Expectation::Equal(v) => format!("等于 {}", values::json(v)),
        Expectation::Null => "不存在".to_owned(),
        Expectation::Map(entries) if entries.is_empty() => "任意".to_owned(),
        Expectation::Map(entries) => fields(entries).1.join("、"),
        other => desc(other).zh_pred,
    }
}

// What follows "每个元素都" in Chinese: a verb, or "满足：" and the condition.
fn verb_zh(node: &Expectation) -> String {
    const VERBS: &[&str] = &["匹配", "包含", "为", "符合", "等于", "存在", "不"];
    match node {
        Expectation::Map(entries) if !entries.is_empty() => {
            format!("满足：{}", fields(entries).1.join("、"))
        }
        other => {
            let rel = rel_zh(other);
            if VERBS.iter().any(|v| rel.starts_with(v)) {
                rel
            } else {
                format!("满足：{rel}")
            }
        }
    }
}

// A partial map as one phrase per leaf field, nested maps flattened into paths:
// `` `resource.name` = "cpu" ``, `` `target.averageUtilization` between 1 and 80 ``.
fn fields(entries: &[(String, Expectation)]) -> (Vec<String>, Vec<String>) {
    let mut en = Vec::new();
    let mut zh = Vec::new();
    let mut path = Vec::new();
    flatten(entries, &mut path, &mut en, &mut zh);
    (en, zh)
}

fn flatten<'a>(
    entries: &'a [(String, Expectation)],
    path: &mut Vec<Segment<'a>>,
    en: &mut Vec<String>,
    zh: &mut Vec<String>,
) {
    for (key, node) in entries {
        path.push(Segment::Key(key));
        match node {
            Expectation::Map(inner) if !inner.is_empty() => flatten(inner, path, en, zh),
            leaf => {
                let field = code(&path::render(path));
                let (e, z) = field_forms(&field, leaf);
                en.push(e);
                zh.push(z);
            }
        }
        path.pop();
    }
}

fn field_forms(field: &str, node: &Expectation) -> (String, String) {
    match node {
        Expectation::Described(_, words) => (
            format!("{field}: {}", words.en),
            format!("{field}：{}", words.zh),
        ),
        other => {
            let d = desc(other);
            (
                format!("{field} {}", d.en_pred),
                format!("{field} {}", d.zh_pred),
            )
        }
    }
}

// `a`, `a and b`, `a, b and c`.
fn join_en(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests;
