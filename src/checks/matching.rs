//! Partial-object matching: expectations (`expect`, `pending.when`, `count`) compiled once into a
//! tree of matchers, then run against objects either as a yes/no test, a mismatch count, or with
//! full per-path diagnostics for the learner (worded by [`describe`]).

pub mod describe;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use regex::Regex;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::path::{self, Segment};
use super::quantity::Quantity;
use super::template::{self, Values};
use super::values::{self, Shown};
use super::verdict::Diagnostic;
use crate::i18n::Text;

/// Every operator the check language knows, for validation and "did you mean" hints.
pub const OPERATORS: &[&str] = &[
    "$eq",
    "$ne",
    "$gt",
    "$gte",
    "$lt",
    "$lte",
    "$exists",
    "$regex",
    "$glob",
    "$in",
    "$contains",
    "$len",
    "$not",
    "$every",
    "$some",
    "$none",
    "$exact",
    "$count",
    "$and",
];

/// The key that gives an expectation the lab author's own words (`{$describe: {en, zh}}`),
/// allowed next to operators and next to plain keys.
pub const DESCRIBE: &str = "$describe";

/// A compiled expectation.
#[derive(Debug)]
pub enum Expectation {
    /// A scalar that must be equal (numbers numerically).
    Equal(Value),
    /// `null`: the key must be missing or null.
    Null,
    /// A partial map: every listed key must match.
    Map(Vec<(String, Expectation)>),
    /// Each expected element must be matched by a distinct actual element.
    Array(Vec<Expectation>),
    /// An operator map: every operator must hold.
    Ops(Vec<Op>),
    /// An expectation with the lab author's words (`$describe`), shown instead of kubelab's.
    Described(Box<Expectation>, Text),
    /// A string with placeholders (`{kubelab:namespace}`) that must be equal once rendered for
    /// the reader.
    Template(String),
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    /// `$gt`
    Gt,
    /// `$gte`
    Gte,
    /// `$lt`
    Lt,
    /// `$lte`
    Lte,
}

impl Cmp {
    fn holds(self, ordering: Ordering) -> bool {
        match self {
            Cmp::Gt => ordering == Ordering::Greater,
            Cmp::Gte => ordering != Ordering::Less,
            Cmp::Lt => ordering == Ordering::Less,
            Cmp::Lte => ordering != Ordering::Greater,
        }
    }
}

/// The right-hand side of a comparison, parsed once.
#[derive(Debug)]
pub struct Operand {
    source: Value,
    quantity: Option<Quantity>,
    time: Option<OffsetDateTime>,
}

impl Operand {
    fn parse(value: &Value) -> Option<Operand> {
        let quantity = Quantity::from_json(value);
        let time = value
            .as_str()
            .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok());
        (quantity.is_some() || time.is_some()).then(|| Operand {
            source: value.clone(),
            quantity,
            time,
        })
    }

    fn compare(&self, actual: &Value) -> Option<Ordering> {
        if let Some(q) = &self.quantity
            && let Some(a) = Quantity::from_json(actual)
        {
            return Some(a.compare(q));
        }
        if let Some(t) = &self.time
            && let Some(a) = actual
                .as_str()
                .and_then(|s| OffsetDateTime::parse(s, &Rfc3339).ok())
        {
            return Some(a.cmp(t));
        }
        None
    }

    /// True when the operand is a point in time (not a number or quantity).
    fn is_time(&self) -> bool {
        self.time.is_some() && self.quantity.is_none()
    }

    /// The operand for a sentence: a number as it is, a quantity or timestamp as code.
    fn show(&self) -> String {
        match &self.source {
            Value::Number(n) => n.to_string(),
            Value::String(s) => values::code(s),
            other => values::json(other),
        }
    }
}

/// One operator of an operator map.
#[derive(Debug)]
pub enum Op {
    /// `$eq`: equal to the value (missing counts as null).
    Eq(Value),
    /// `$ne`: not equal to the value.
    Ne(Value),
    /// `$gt`, `$gte`, `$lt`, `$lte`: numbers, quantities or timestamps.
    Cmp(Cmp, Operand),
    /// `$exists`: present and not null (true) or missing/null (false).
    Exists(bool),
    /// `$regex`: a string (or number/bool as text) the regex finds a match in.
    Regex(Regex, String),
    /// `$glob`: a whole string matching a `*`/`?` pattern.
    Glob(Regex, String),
    /// `$in`: equal to one of the values.
    In(Vec<Value>),
    /// `$contains`: a string containing the text.
    Contains(String),
    /// `$len`: the length of an array, string or map matches.
    Len(Box<Expectation>),
    /// `$not`: the inner expectation does not match.
    Not(Box<Expectation>),
    /// `$every`: every element matches (an empty or missing array passes).
    Every(Box<Expectation>),
    /// `$some`: at least one element matches.
    Some(Box<Expectation>),
    /// `$none`: no element matches.
    None(Box<Expectation>),
    /// `$exact`: exactly these elements in this order.
    Exact(Vec<Expectation>),
    /// `$count`: how many elements of the list match `pattern` (a missing list has none).
    Count {
        /// What an element must look like to be counted.
        pattern: Box<Expectation>,
        /// What the number must be: a number or comparisons.
        is: Box<Expectation>,
    },
    /// `$and`: every expectation holds (several `$some` on one list, say).
    And(Vec<Expectation>),
    /// An operator whose operand holds placeholders: `shown` as written (for words), rebuilt
    /// from the rendered operand for each reader.
    Templated {
        /// The operator as written, placeholders and all.
        shown: Box<Op>,
        /// The operator's name (`$eq`, `$regex`...).
        name: &'static str,
        /// The operand as written.
        operand: Value,
    },
}

/// Compiles an expectation, appending every problem (with its location) to `errors`.
pub fn compile<'v>(
    value: &'v Value,
    loc: &mut Vec<Segment<'v>>,
    errors: &mut Vec<String>,
) -> Expectation {
    match value {
        Value::Null => Expectation::Null,
        Value::Array(items) => {
            let nodes = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    loc.push(Segment::Index(i));
                    let node = compile(item, loc, errors);
                    loc.pop();
                    node
                })
                .collect();
            Expectation::Array(nodes)
        }
        Value::Object(map) => {
            let node = compile_map(map, loc, errors);
            match map.get(DESCRIBE) {
                None => node,
                Some(words) => match description(words) {
                    Ok(text) if map.len() > 1 => Expectation::Described(Box::new(node), text),
                    Ok(_) => {
                        errors.push(located(
                            loc,
                            "`$describe` gives the expectation next to it in your words, but there is none; add the operators or keys it describes",
                        ));
                        node
                    }
                    Err(message) => {
                        errors.push(located(loc, &message));
                        node
                    }
                },
            }
        }
        Value::String(text) if template::has_placeholder(text) => {
            for problem in template::problems(text) {
                errors.push(located(loc, &problem));
            }
            Expectation::Template(text.clone())
        }
        scalar => Expectation::Equal(scalar.clone()),
    }
}

// A map without its `$describe`: an operator map, or a partial map of plain keys.
fn compile_map<'v>(
    map: &'v Map<String, Value>,
    loc: &mut Vec<Segment<'v>>,
    errors: &mut Vec<String>,
) -> Expectation {
    let keys = || map.iter().filter(|(k, _)| k.as_str() != DESCRIBE);
    let operators = keys().filter(|(k, _)| k.starts_with('$')).count();
    let plain = keys().find(|(k, _)| !k.starts_with('$'));
    if operators > 0
        && let Some((plain, _)) = plain
    {
        let op = keys()
            .find(|(k, _)| k.starts_with('$'))
            .map(|(k, _)| k.as_str());
        errors.push(located(
            loc,
            &format!(
                "mixes operators (`{}`) with plain keys (`{plain}`); an operator map may only hold operators",
                op.unwrap_or_default(),
            ),
        ));
    }
    if operators > 0 {
        let ops = keys()
            .filter(|(k, _)| k.starts_with('$'))
            .filter_map(|(k, v)| compile_op(k, v, loc, errors))
            .collect();
        Expectation::Ops(ops)
    } else {
        let entries = keys()
            .map(|(k, v)| {
                loc.push(Segment::Key(k));
                let node = compile(v, loc, errors);
                loc.pop();
                (k.clone(), node)
            })
            .collect();
        Expectation::Map(entries)
    }
}

/// Reads a `$describe` value: `{en: "...", zh: "..."}`, both non-empty.
pub fn description(value: &Value) -> Result<Text, String> {
    let wrong = || {
        format!(
            "`$describe` needs the expectation in the learner's words in both languages, such as {{en: \"a sensible number of replicas\", zh: \"合理的副本数\"}}, not {}",
            path::show(value)
        )
    };
    let Value::Object(map) = value else {
        return Err(wrong());
    };
    let text = |lang: &str| {
        map.get(lang)
            .and_then(Value::as_str)
            .filter(|s| !s.trim().is_empty())
            .map(str::to_owned)
    };
    match (text("en"), text("zh")) {
        (Some(en), Some(zh)) if map.len() == 2 => Ok(Text { en, zh }),
        _ => Err(wrong()),
    }
}

/// Formats a problem found at `loc` to follow the name of the field it is in:
/// `: message` at the top, ` at `spec.replicas`: message` below it.
pub fn located(loc: &[Segment<'_>], message: &str) -> String {
    if loc.is_empty() {
        format!(": {message}")
    } else {
        format!(" at `{}`: {message}", path::render(loc))
    }
}

/// Compiles one operator of an operator map; a problem with it goes to `errors` (at `loc`).
fn compile_op<'v>(
    op: &'v str,
    operand: &'v Value,
    loc: &mut Vec<Segment<'v>>,
    errors: &mut Vec<String>,
) -> Option<Op> {
    let nested = |loc: &mut Vec<Segment<'v>>, errors: &mut Vec<String>| {
        loc.push(Segment::Key(op));
        let node = compile(operand, loc, errors);
        loc.pop();
        Box::new(node)
    };
    if TEMPLATED.contains(&op) && template::value_has_placeholder(operand) {
        return templated(op, operand, loc, errors);
    }
    let compiled = match op {
        "$eq" => Ok(Op::Eq(operand.clone())),
        "$ne" => Ok(Op::Ne(operand.clone())),
        "$gt" | "$gte" | "$lt" | "$lte" => comparison(op, operand),
        "$exists" => match operand {
            Value::Bool(b) => Ok(Op::Exists(*b)),
            other => Err(format!(
                "`$exists` needs true or false, not {}",
                path::show(other)
            )),
        },
        "$regex" | "$glob" | "$contains" => text_op(op, operand),
        "$in" => match operand {
            Value::Array(items) => Ok(Op::In(items.clone())),
            other => Err(format!(
                "`$in` needs an array of values, not {}",
                path::show(other)
            )),
        },
        "$len" => match operand {
            Value::Number(n) if n.as_u64().is_some() => {
                Ok(Op::Len(Box::new(Expectation::Equal(operand.clone()))))
            }
            Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.starts_with('$')) => {
                Ok(Op::Len(nested(loc, errors)))
            }
            other => Err(format!(
                "`$len` needs a whole number or an operator map such as {{$gte: 1}}, not {}",
                path::show(other)
            )),
        },
        "$not" => Ok(Op::Not(nested(loc, errors))),
        "$every" => Ok(Op::Every(nested(loc, errors))),
        "$some" => Ok(Op::Some(nested(loc, errors))),
        "$none" => Ok(Op::None(nested(loc, errors))),
        "$exact" => exact(op, operand, loc, errors),
        "$count" => count_op(operand, loc, errors),
        "$and" => and_op(op, operand, loc, errors),
        unknown => Err(unknown_operator(unknown)),
    };
    match compiled {
        Ok(op) => Some(op),
        Err(message) => {
            errors.push(located(loc, &message));
            None
        }
    }
}

// The operators whose operand may hold placeholders.
const TEMPLATED: &[&str] = &["$eq", "$ne", "$in", "$regex", "$glob", "$contains"];

// An operator with placeholders in its operand: checked once with stand-in values (a pattern
// that does not compile is reported here, not at run time), rebuilt per reader when evaluated.
fn templated<'v>(
    op: &'v str,
    operand: &'v Value,
    loc: &mut [Segment<'v>],
    errors: &mut Vec<String>,
) -> Option<Op> {
    for problem in template::value_problems(operand) {
        errors.push(located(loc, &problem));
    }
    let sample = template::render_value(operand, &template::sample(), escape_for(op));
    let name = TEMPLATED.iter().copied().find(|t| *t == op)?;
    match leaf_op(name, &sample) {
        Ok(sampled) => {
            let shown = match sampled {
                Op::Regex(re, _) => Op::Regex(re, operand.as_str().unwrap_or_default().to_owned()),
                Op::Glob(re, _) => Op::Glob(re, operand.as_str().unwrap_or_default().to_owned()),
                Op::Contains(_) => Op::Contains(operand.as_str().unwrap_or_default().to_owned()),
                _ => leaf_op(name, operand).ok()?,
            };
            Some(Op::Templated {
                shown: Box::new(shown),
                name,
                operand: operand.clone(),
            })
        }
        Err(message) => {
            errors.push(located(loc, &message));
            None
        }
    }
}

// Values put into a pattern are matched literally.
fn escape_for(op: &str) -> fn(&str) -> String {
    match op {
        "$regex" => |s: &str| regex::escape(s),
        "$glob" => |s: &str| s.replace(['*', '?'], ""),
        _ => template::verbatim,
    }
}

// The operators whose operand is a plain value, built from it (rendered, for a templated one).
fn leaf_op(op: &str, operand: &Value) -> Result<Op, String> {
    match op {
        "$eq" => Ok(Op::Eq(operand.clone())),
        "$ne" => Ok(Op::Ne(operand.clone())),
        "$in" => match operand {
            Value::Array(items) => Ok(Op::In(items.clone())),
            other => Err(format!(
                "`$in` needs an array of values, not {}",
                path::show(other)
            )),
        },
        _ => text_op(op, operand),
    }
}

// `$count: {match: <element>, is: <number or comparisons>}`.
fn count_op<'v>(
    operand: &'v Value,
    loc: &mut Vec<Segment<'v>>,
    errors: &mut Vec<String>,
) -> Result<Op, String> {
    let wrong = || {
        format!(
            "`$count` needs `match` (what an element looks like) and `is` (a whole number or an operator map such as {{$gte: 2}}), such as {{match: {{protocol: TCP}}, is: {{$gte: 2}}}}, not {}",
            path::show(operand)
        )
    };
    let Value::Object(map) = operand else {
        return Err(wrong());
    };
    let (Some(pattern), Some(is)) = (map.get("match"), map.get("is")) else {
        return Err(wrong());
    };
    if map.len() != 2 {
        return Err(wrong());
    }
    let is_ok = match is {
        Value::Number(n) => n.as_u64().is_some(),
        Value::Object(m) => !m.is_empty() && m.keys().all(|k| k.starts_with('$')),
        _ => false,
    };
    if !is_ok {
        return Err(wrong());
    }
    loc.push(Segment::Key("$count"));
    loc.push(Segment::Key("match"));
    let pattern = compile(pattern, loc, errors);
    loc.pop();
    loc.push(Segment::Key("is"));
    let is = compile(is, loc, errors);
    loc.truncate(loc.len() - 2);
    Ok(Op::Count {
        pattern: Box::new(pattern),
        is: Box::new(is),
    })
}

// `$and: [a, b]`: each element an expectation of its own, located under `$and[i]`.
fn and_op<'v>(
    op: &'v str,
    operand: &'v Value,
    loc: &mut Vec<Segment<'v>>,
    errors: &mut Vec<String>,
) -> Result<Op, String> {
    match operand {
        Value::Array(items) if !items.is_empty() => {
            let nodes = items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    loc.push(Segment::Key(op));
                    loc.push(Segment::Index(i));
                    let node = compile(item, loc, errors);
                    loc.truncate(loc.len() - 2);
                    node
                })
                .collect();
            Ok(Op::And(nodes))
        }
        other => Err(format!(
            "`$and` needs a list of expectations that must all hold, such as [{{$some: {{type: Ready}}}}, {{$len: 2}}], not {}",
            path::show(other)
        )),
    }
}

// `$gt`, `$gte`, `$lt` and `$lte`.
fn comparison(op: &str, operand: &Value) -> Result<Op, String> {
    let cmp = match op {
        "$gt" => Cmp::Gt,
        "$gte" => Cmp::Gte,
        "$lt" => Cmp::Lt,
        _ => Cmp::Lte,
    };
    match Operand::parse(operand) {
        Some(parsed) => Ok(Op::Cmp(cmp, parsed)),
        None => Err(format!(
            "`{op}` needs a number, a quantity such as \"500m\" or an RFC 3339 timestamp, not {}",
            path::show(operand)
        )),
    }
}

// The operators whose operand is a string: `$regex`, `$glob` and `$contains`.
fn text_op(op: &str, operand: &Value) -> Result<Op, String> {
    let Value::String(src) = operand else {
        let wanted = if op == "$glob" {
            "a string pattern"
        } else {
            "a string"
        };
        return Err(format!(
            "`{op}` needs {wanted}, not {}",
            path::show(operand)
        ));
    };
    match op {
        "$regex" => match Regex::new(src) {
            Ok(re) => Ok(Op::Regex(re, src.clone())),
            Err(e) => Err(format!(
                "`$regex` {} does not compile: {}",
                path::show(operand),
                regex_error(&e)
            )),
        },
        "$glob" => match glob_regex(src) {
            Ok(re) => Ok(Op::Glob(re, src.clone())),
            Err(e) => Err(format!(
                "`$glob` {} is too large: {}",
                path::show(operand),
                regex_error(&e)
            )),
        },
        _ => Ok(Op::Contains(src.clone())),
    }
}

// `$exact`: each element is an expectation of its own, located under `$exact[i]`.
fn exact<'v>(
    op: &'v str,
    operand: &'v Value,
    loc: &mut Vec<Segment<'v>>,
    errors: &mut Vec<String>,
) -> Result<Op, String> {
    let Value::Array(items) = operand else {
        return Err(format!(
            "`$exact` needs an array of elements, not {}",
            path::show(operand)
        ));
    };
    let elements = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            loc.push(Segment::Key(op));
            loc.push(Segment::Index(i));
            let element = compile(item, loc, errors);
            loc.truncate(loc.len() - 2);
            element
        })
        .collect();
    Ok(Op::Exact(elements))
}

// An operator kubelab does not know, with the closest known one as a hint.
fn unknown_operator(unknown: &str) -> String {
    let hint = closest_operator(unknown)
        .map(|k| format!(" (did you mean `{k}`?)"))
        .unwrap_or_default();
    format!(
        "unknown operator `{unknown}`{hint}; the operators are {}",
        OPERATORS
            .iter()
            .map(|o| format!("`{o}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

// regex's errors draw a caret diagram over several lines; the last line says what is wrong.
fn regex_error(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("invalid regex")
        .trim_start_matches("error: ")
        .to_owned()
}

// Patterns written in a lab are compiled once when the labs load; a pattern with placeholders
// is rendered per reader, and its compiled forms are kept, up to a bound, so each reader's
// pattern is compiled once per process rather than on every evaluation.
fn cached_regex(pattern: &str) -> Result<Regex, regex::Error> {
    const MAX_CACHED: usize = 4096;
    static CACHE: LazyLock<Mutex<HashMap<String, Regex>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(re) = cache.get(pattern) {
        return Ok(re.clone());
    }
    let re = Regex::new(pattern)?;
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(pattern.to_owned(), re.clone());
    Ok(re)
}

fn glob_regex(glob: &str) -> Result<Regex, regex::Error> {
    Regex::new(&glob_pattern(glob))
}

// A wildcard pattern as a regex matching the whole string.
fn glob_pattern(glob: &str) -> String {
    let mut re = String::with_capacity(glob.len() + 8);
    re.push_str("(?s)^");
    for c in glob.chars() {
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push('$');
    re
}

// A templated operator rebuilt for the reader (patterns from the bounded cache).
fn rendered_op(name: &str, operand: &Value, values: Option<&Values>) -> Result<Op, String> {
    let rendered = match values {
        Some(values) => template::render_value(operand, values, escape_for(name)),
        None => std::borrow::Cow::Borrowed(operand),
    };
    let text = rendered.as_str().unwrap_or_default();
    let compiled = match name {
        "$regex" => cached_regex(text).map(|re| Op::Regex(re, text.to_owned())),
        "$glob" => cached_regex(&glob_pattern(text)).map(|re| Op::Glob(re, text.to_owned())),
        _ => return leaf_op(name, &rendered),
    };
    compiled.map_err(|e| regex_error(&e))
}

fn closest_operator(unknown: &str) -> Option<&'static str> {
    OPERATORS
        .iter()
        .chain([&DESCRIBE])
        .map(|op| (edit_distance(unknown, op), *op))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, op)| op)
}

/// Levenshtein distance, for "did you mean …?" suggestions.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = if ca == *cb {
                prev
            } else {
                1 + prev.min(cur).min(row[j])
            };
            prev = cur;
        }
    }
    row[b.len()]
}

/// JSON equality where numbers compare numerically (`3 == 3.0`) at any depth.
pub fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x == y,
            _ => match (x.as_u64(), y.as_u64()) {
                (Some(x), Some(y)) => x == y,
                _ => x.as_f64() == y.as_f64(),
            },
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_eq(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

// Missing and null are the same thing to a lab author.
fn eq_opt(actual: Option<&Value>, expected: &Value) -> bool {
    match actual {
        None => expected.is_null(),
        Some(a) => json_eq(a, expected),
    }
}

fn present(actual: Option<&Value>) -> Option<&Value> {
    actual.filter(|v| !v.is_null())
}

/// The two comparisons of an operator map that make a range (`{$gte: 1, $lte: 80}`): the
/// lower and the upper bound's positions. A range is worded and reported as one expectation.
pub fn range(ops: &[Op]) -> Option<(usize, usize)> {
    let bound = |lower: bool| {
        ops.iter().position(|op| match op {
            Op::Cmp(cmp, _) => matches!(cmp, Cmp::Gt | Cmp::Gte) == lower,
            _ => false,
        })
    };
    let (lo, hi) = (bound(true)?, bound(false)?);
    match (&ops[lo], &ops[hi]) {
        (Op::Cmp(_, a), Op::Cmp(_, b)) if a.is_time() == b.is_time() => Some((lo, hi)),
        _ => None,
    }
}

/// Where mismatches go: counted only (fast), or recorded as diagnostics with their paths.
pub struct Mismatches<'a> {
    path: Vec<Segment<'a>>,
    diagnostics: Option<Vec<Diagnostic>>,
    // The lab author's words for the expectations being checked, with the path depth they
    // apply at: a mismatch right there is worded by them, deeper ones keep their own words.
    described: Vec<(usize, &'a Text)>,
    // What placeholders stand for, for the reader (None: left as written).
    values: Option<&'a Values>,
    count: usize,
    limit: usize,
}

impl<'a> Mismatches<'a> {
    /// Counts mismatches, giving up once `limit` is reached (1 = a yes/no test).
    pub fn counting(limit: usize) -> Mismatches<'a> {
        Mismatches {
            path: Vec::new(),
            diagnostics: None,
            described: Vec::new(),
            values: None,
            count: 0,
            limit,
        }
    }

    /// Records every mismatch as a diagnostic.
    pub fn collecting() -> Mismatches<'a> {
        Mismatches {
            limit: usize::MAX,
            diagnostics: Some(Vec::new()),
            ..Mismatches::counting(usize::MAX)
        }
    }

    /// Renders placeholders in expectations for this reader.
    pub fn for_reader(mut self, values: Option<&'a Values>) -> Mismatches<'a> {
        self.values = values;
        self
    }

    /// Mismatches so far.
    pub fn count(&self) -> usize {
        self.count
    }

    /// The diagnostics recorded (empty when only counting).
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics.unwrap_or_default()
    }

    fn done(&self) -> bool {
        self.count >= self.limit
    }

    // A yes/no test of `node` for the same reader.
    fn holds(&self, node: &Expectation, actual: Option<&Value>) -> bool {
        matches_for(node, actual, self.values)
    }

    // `make` gives what was expected and what was found; it only runs when diagnostics are
    // recorded. Placeholders in the words are the reader's values.
    fn fail(&mut self, make: impl FnOnce() -> (Text, Shown)) {
        self.count += 1;
        if let Some(diagnostics) = &mut self.diagnostics {
            let (mut expected, shown) = make();
            if let Some((_, words)) = self
                .described
                .last()
                .filter(|(depth, _)| *depth == self.path.len())
            {
                expected = (*words).clone();
            }
            if let Some(values) = self.values {
                expected = values.text(&expected);
            }
            diagnostics.push(Diagnostic {
                path: path::render(&self.path),
                expected,
                actual: shown.text,
                actual_full: shown.full,
            });
        }
    }

    fn push(&mut self, segment: Segment<'a>) {
        if self.diagnostics.is_some() {
            self.path.push(segment);
        }
    }

    // Looking up an element's `name` costs a map lookup: only done when the path is shown.
    fn push_element(&mut self, index: usize, element: &'a Value) {
        if self.diagnostics.is_some() {
            self.path.push(Segment::element(index, element));
        }
    }

    fn pop(&mut self) {
        if self.diagnostics.is_some() {
            self.path.pop();
        }
    }
}

/// True when `actual` (None = missing) satisfies the expectation (placeholders as written).
pub fn matches(node: &Expectation, actual: Option<&Value>) -> bool {
    matches_for(node, actual, None)
}

/// True when `actual` satisfies the expectation, placeholders rendered with `values`.
pub fn matches_for(node: &Expectation, actual: Option<&Value>, values: Option<&Values>) -> bool {
    let mut report = Mismatches::counting(1).for_reader(values);
    check(node, actual, &mut report);
    report.count == 0
}

/// Runs the expectation against `actual`, recording mismatches in `report`.
pub fn check<'a>(node: &'a Expectation, actual: Option<&'a Value>, r: &mut Mismatches<'a>) {
    match node {
        Expectation::Null => {
            if present(actual).is_some() {
                r.fail(|| (describe::absent(), values::found(actual)));
            }
        }
        Expectation::Equal(expected) => {
            if !eq_opt(actual, expected) {
                r.fail(|| unequal(expected, actual));
            }
        }
        Expectation::Template(written) => {
            let expected = Value::String(match r.values {
                Some(values) => template::render(written, values, template::verbatim),
                None => written.clone(),
            });
            if !eq_opt(actual, &expected) {
                r.fail(|| unequal(&expected, actual));
            }
        }
        Expectation::Map(entries) => match present(actual) {
            None => check_entries(entries, None, r),
            Some(Value::Object(map)) => check_entries(entries, Some(map), r),
            Some(other) => r.fail(|| (describe::describe(node), values::found(Some(other)))),
        },
        Expectation::Array(elements) => match present(actual) {
            None => check_array(elements, &[], actual, r),
            Some(Value::Array(items)) => check_array(elements, items, actual, r),
            Some(other) => r.fail(|| (describe::describe(node), values::found(Some(other)))),
        },
        Expectation::Ops(ops) => check_ops(ops, actual, r),
        Expectation::Described(inner, words) => {
            let recording = r.diagnostics.is_some();
            if recording {
                r.described.push((r.path.len(), words));
            }
            check(inner, actual, r);
            if recording {
                r.described.pop();
            }
        }
    }
}

// What an equality expected and what was found; two long strings are shown where they differ.
fn unequal(expected: &Value, actual: Option<&Value>) -> (Text, Shown) {
    match (expected, actual) {
        (Value::String(e), Some(Value::String(a))) => {
            let (e, a) = values::differing(e, a);
            (values::same(e), a)
        }
        _ => (describe::describe_value(expected), values::found(actual)),
    }
}

// Every operator must hold; a range (`$gte` with `$lte`) is one expectation, reported once.
fn check_ops<'a>(ops: &'a [Op], actual: Option<&'a Value>, r: &mut Mismatches<'a>) {
    let range = range(ops);
    for (i, op) in ops.iter().enumerate() {
        match range {
            Some((lo, hi)) if i == lo || i == hi => {
                let other = if i == lo { hi } else { lo };
                // The first bound reached reports for both.
                if other < i {
                    continue;
                }
                if !check_op_holds(op, actual, r.values)
                    || !check_op_holds(&ops[other], actual, r.values)
                {
                    r.fail(|| {
                        (
                            describe::range_words(&ops[lo], &ops[hi]),
                            values::found(actual),
                        )
                    });
                }
            }
            _ => check_op(op, actual, r),
        }
        if r.done() {
            return;
        }
    }
}

fn check_entries<'a>(
    entries: &'a [(String, Expectation)],
    map: Option<&'a Map<String, Value>>,
    r: &mut Mismatches<'a>,
) {
    for (key, node) in entries {
        r.push(Segment::Key(key));
        check(node, map.and_then(|m| m.get(key)), r);
        r.pop();
        if r.done() {
            return;
        }
    }
}

// Each expected element needs its own actual element: a maximum bipartite matching
// (augmenting paths), small enough here since arrays in objects are short.
fn check_array<'a>(
    elements: &'a [Expectation],
    items: &'a [Value],
    whole: Option<&'a Value>,
    r: &mut Mismatches<'a>,
) {
    if elements.is_empty() {
        return;
    }
    // The common case, one expected element, needs no assignment bookkeeping.
    if let [element] = elements {
        if !items.iter().any(|item| r.holds(element, Some(item))) {
            report_unmatched(element, items, whole, r);
        }
        return;
    }
    let compatible: Vec<Vec<usize>> = elements
        .iter()
        .map(|e| {
            (0..items.len())
                .filter(|&j| r.holds(e, Some(&items[j])))
                .collect()
        })
        .collect();
    let mut owner: Vec<Option<usize>> = vec![None; items.len()];
    let mut unmatched = Vec::new();
    for i in 0..elements.len() {
        let mut seen = vec![false; items.len()];
        if !augment(i, &compatible, &mut owner, &mut seen) {
            unmatched.push(i);
        }
    }
    for i in unmatched {
        report_unmatched(&elements[i], items, whole, r);
        if r.done() {
            return;
        }
    }
}

fn report_unmatched<'a>(
    element: &'a Expectation,
    items: &'a [Value],
    whole: Option<&'a Value>,
    r: &mut Mismatches<'a>,
) {
    if let Some((j, name)) = named_candidate(element, items) {
        let before = r.count;
        r.push(Segment::Named(name));
        check(element, Some(&items[j]), r);
        r.pop();
        if r.count > before {
            return;
        }
    }
    r.fail(|| (describe::some_element(element), values::found(whole)));
}

fn augment(
    i: usize,
    compatible: &[Vec<usize>],
    owner: &mut [Option<usize>],
    seen: &mut [bool],
) -> bool {
    for &j in &compatible[i] {
        if seen[j] {
            continue;
        }
        seen[j] = true;
        if owner[j].is_none_or(|k| augment(k, compatible, owner, seen)) {
            owner[j] = Some(i);
            return true;
        }
    }
    false
}

// An expected element that names itself (`name: nginx`) is compared with the actual element of
// that name, so the learner sees `containers[name=nginx].image` rather than the whole array.
fn named_candidate<'a>(element: &'a Expectation, items: &'a [Value]) -> Option<(usize, &'a str)> {
    let entries = match element {
        Expectation::Map(entries) => entries,
        Expectation::Described(inner, _) => match inner.as_ref() {
            Expectation::Map(entries) => entries,
            _ => return None,
        },
        _ => return None,
    };
    let name = entries.iter().find_map(|(k, n)| match (k.as_str(), n) {
        ("name", Expectation::Equal(Value::String(s))) => Some(s.as_str()),
        _ => None,
    })?;
    let j = items
        .iter()
        .position(|item| item.get("name").and_then(Value::as_str) == Some(name))?;
    Some((j, name))
}

fn length(value: &Value) -> Option<usize> {
    match value {
        Value::Array(a) => Some(a.len()),
        Value::String(s) => Some(s.chars().count()),
        Value::Object(m) => Some(m.len()),
        _ => None,
    }
}

fn as_text(value: &Value) -> Option<std::borrow::Cow<'_, str>> {
    match value {
        Value::String(s) => Some(std::borrow::Cow::Borrowed(s)),
        Value::Number(n) => Some(std::borrow::Cow::Owned(n.to_string())),
        Value::Bool(b) => Some(std::borrow::Cow::Owned(b.to_string())),
        _ => None,
    }
}

// Whether a simple operator holds (the structural ones report per element in `check_op`).
fn check_op_holds(op: &Op, actual: Option<&Value>, values: Option<&Values>) -> bool {
    let mut report = Mismatches::counting(1).for_reader(values);
    check_op(op, actual, &mut report);
    report.count == 0
}

fn check_op<'a>(op: &'a Op, actual: Option<&'a Value>, r: &mut Mismatches<'a>) {
    match op {
        Op::Len(inner) => match present(actual).and_then(length) {
            Some(n) => {
                if !r.holds(inner, Some(&Value::from(n))) {
                    r.fail(|| (describe::op_words(op), Shown::whole(describe::length(n))));
                }
            }
            None => r.fail(|| (describe::op_words(op), values::found(actual))),
        },
        Op::Not(inner) => {
            if r.holds(inner, actual) {
                r.fail(|| (describe::op_words(op), values::found(actual)));
            }
        }
        Op::Some(inner) => {
            let found = match present(actual) {
                Some(Value::Array(items)) => items.iter().any(|item| r.holds(inner, Some(item))),
                _ => false,
            };
            if !found {
                r.fail(|| (describe::op_words(op), values::found(actual)));
            }
        }
        Op::Every(_) | Op::None(_) | Op::Exact(_) => check_elements(op, actual, r),
        Op::Count { pattern, is } => check_count(op, pattern, is, actual, r),
        Op::And(nodes) => {
            for node in nodes {
                check(node, actual, r);
                if r.done() {
                    return;
                }
            }
        }
        Op::Templated { name, operand, .. } => match rendered_op(name, operand, r.values) {
            Ok(built) => check_leaf(&built, actual, r),
            Err(message) => r.fail(|| (Text::same(message), values::found(actual))),
        },
        leaf => check_leaf(leaf, actual, r),
    }
}

// `$every`, `$none` and `$exact`: each element is reported at its own path.
fn check_elements<'a>(op: &'a Op, actual: Option<&'a Value>, r: &mut Mismatches<'a>) {
    let items = match present(actual) {
        None if !matches!(op, Op::Exact(_)) => return,
        Some(Value::Array(items)) => items,
        _ => return r.fail(|| (describe::op_words(op), values::found(actual))),
    };
    match op {
        Op::Every(inner) => {
            for (i, item) in items.iter().enumerate() {
                r.push_element(i, item);
                check(inner, Some(item), r);
                r.pop();
                if r.done() {
                    return;
                }
            }
        }
        Op::None(inner) => {
            for (i, item) in items.iter().enumerate() {
                if r.holds(inner, Some(item)) {
                    r.push_element(i, item);
                    r.fail(|| (describe::op_words(op), values::found(Some(item))));
                    r.pop();
                    if r.done() {
                        return;
                    }
                }
            }
        }
        Op::Exact(nodes) if items.len() == nodes.len() => {
            for (i, (node, item)) in nodes.iter().zip(items).enumerate() {
                r.push_element(i, item);
                check(node, Some(item), r);
                r.pop();
                if r.done() {
                    return;
                }
            }
        }
        _ => r.fail(|| (describe::op_words(op), values::found(actual))),
    }
}

// `$count`: the elements matching `pattern`, their number matched against `is`. A missing list
// has no elements; a value that is no list fails.
fn check_count<'a>(
    op: &'a Op,
    pattern: &Expectation,
    is: &Expectation,
    actual: Option<&'a Value>,
    r: &mut Mismatches<'a>,
) {
    let items: &[Value] = match present(actual) {
        None => &[],
        Some(Value::Array(items)) => items,
        Some(_) => return r.fail(|| (describe::op_words(op), values::found(actual))),
    };
    let n = items
        .iter()
        .filter(|item| r.holds(pattern, Some(item)))
        .count();
    if !r.holds(is, Some(&Value::from(n))) {
        let of = items.len();
        r.fail(|| {
            (
                describe::op_words(op),
                Shown::whole(Text {
                    en: format!("{n} matching (of {of} elements)"),
                    zh: format!("{n} 个匹配（共 {of} 个元素）"),
                }),
            )
        });
    }
}

// The operators that compare one value: never borrowed by the report beyond the call.
fn check_leaf(op: &Op, actual: Option<&Value>, r: &mut Mismatches<'_>) {
    let ok = match op {
        Op::Eq(v) => {
            if !eq_opt(actual, v) {
                r.fail(|| unequal(v, actual));
            }
            return;
        }
        Op::Ne(v) => !eq_opt(actual, v),
        Op::Cmp(cmp, operand) => present(actual)
            .and_then(|a| operand.compare(a))
            .is_some_and(|o| cmp.holds(o)),
        Op::Exists(want) => present(actual).is_some() == *want,
        Op::Regex(re, _) => present(actual)
            .and_then(as_text)
            .is_some_and(|s| re.is_match(&s)),
        Op::Glob(re, _) => actual
            .and_then(Value::as_str)
            .is_some_and(|s| re.is_match(s)),
        Op::In(values) => values.iter().any(|v| eq_opt(actual, v)),
        Op::Contains(needle) => actual
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains(needle.as_str())),
        // Structural operators are checked by `check_op`.
        _ => true,
    };
    if !ok {
        r.fail(|| (describe::op_words(op), values::found(actual)));
    }
}
