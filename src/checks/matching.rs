//! Partial-object matching: expectations (`expect`, `pending.when`, `count`) compiled once into a
//! tree of matchers, then run against objects either as a yes/no test, a mismatch count, or with
//! full per-path diagnostics for the learner.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::{LazyLock, Mutex, PoisonError};

use regex::Regex;
use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::path::{self, Segment};
use super::quantity::Quantity;
use super::verdict::Diagnostic;

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
];

/// A compiled expectation.
#[derive(Debug)]
pub enum Node {
    /// A scalar that must be equal (numbers numerically).
    Equal(Value),
    /// `null`: the key must be missing or null.
    Null,
    /// A partial map: every listed key must match.
    Map(Vec<(String, Node)>),
    /// Each expected element must be matched by a distinct actual element.
    Array(Vec<Node>),
    /// An operator map: every operator must hold.
    Ops(Vec<Op>),
}

impl Node {
    /// The expectation as the lab author wrote it (for messages; nothing is kept twice).
    pub fn to_json(&self) -> Value {
        match self {
            Node::Equal(v) => v.clone(),
            Node::Null => Value::Null,
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, n)| (k.clone(), n.to_json()))
                    .collect(),
            ),
            Node::Array(nodes) => Value::Array(nodes.iter().map(Node::to_json).collect()),
            Node::Ops(ops) => Value::Object(ops.iter().map(Op::to_json).collect()),
        }
    }
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
    fn symbol(self) -> &'static str {
        match self {
            Cmp::Gt => ">",
            Cmp::Gte => ">=",
            Cmp::Lt => "<",
            Cmp::Lte => "<=",
        }
    }

    fn operator(self) -> &'static str {
        match self {
            Cmp::Gt => "$gt",
            Cmp::Gte => "$gte",
            Cmp::Lt => "$lt",
            Cmp::Lte => "$lte",
        }
    }

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

    fn show(&self) -> String {
        match &self.source {
            Value::String(s) => s.clone(),
            other => path::show(other),
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
    Len(Box<Node>),
    /// `$not`: the inner expectation does not match.
    Not(Box<Node>),
    /// `$every`: every element matches (an empty or missing array passes).
    Every(Box<Node>),
    /// `$some`: at least one element matches.
    Some(Box<Node>),
    /// `$none`: no element matches.
    None(Box<Node>),
    /// `$exact`: exactly these elements in this order.
    Exact(Vec<Node>),
}

impl Op {
    fn to_json(&self) -> (String, Value) {
        let (key, value) = match self {
            Op::Eq(v) => ("$eq", v.clone()),
            Op::Ne(v) => ("$ne", v.clone()),
            Op::Cmp(cmp, operand) => (cmp.operator(), operand.source.clone()),
            Op::Exists(b) => ("$exists", Value::Bool(*b)),
            Op::Regex(_, src) => ("$regex", Value::String(src.clone())),
            Op::Glob(_, src) => ("$glob", Value::String(src.clone())),
            Op::In(values) => ("$in", Value::Array(values.clone())),
            Op::Contains(s) => ("$contains", Value::String(s.clone())),
            Op::Len(inner) => ("$len", inner.to_json()),
            Op::Not(inner) => ("$not", inner.to_json()),
            Op::Every(inner) => ("$every", inner.to_json()),
            Op::Some(inner) => ("$some", inner.to_json()),
            Op::None(inner) => ("$none", inner.to_json()),
            Op::Exact(nodes) => (
                "$exact",
                Value::Array(nodes.iter().map(Node::to_json).collect()),
            ),
        };
        (key.to_owned(), value)
    }
}

/// Compiles an expectation, appending every problem (with its location) to `errors`.
pub fn compile<'v>(value: &'v Value, loc: &mut Vec<Segment<'v>>, errors: &mut Vec<String>) -> Node {
    match value {
        Value::Null => Node::Null,
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
            Node::Array(nodes)
        }
        Value::Object(map) => {
            let operators = map.keys().filter(|k| k.starts_with('$')).count();
            if operators > 0 && operators < map.len() {
                let op = map.keys().find(|k| k.starts_with('$')).map(String::as_str);
                let plain = map.keys().find(|k| !k.starts_with('$')).map(String::as_str);
                errors.push(located(
                    loc,
                    &format!(
                        "mixes operators (`{}`) with plain keys (`{}`); an operator map may only hold operators",
                        op.unwrap_or_default(),
                        plain.unwrap_or_default()
                    ),
                ));
            }
            if operators > 0 {
                let ops = map
                    .iter()
                    .filter(|(k, _)| k.starts_with('$'))
                    .filter_map(|(k, v)| compile_op(k, v, loc, errors))
                    .collect();
                Node::Ops(ops)
            } else {
                let entries = map
                    .iter()
                    .map(|(k, v)| {
                        loc.push(Segment::Key(k));
                        let node = compile(v, loc, errors);
                        loc.pop();
                        (k.clone(), node)
                    })
                    .collect();
                Node::Map(entries)
            }
        }
        scalar => Node::Equal(scalar.clone()),
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

fn compile_op<'v>(
    op: &'v str,
    operand: &'v Value,
    loc: &mut Vec<Segment<'v>>,
    errors: &mut Vec<String>,
) -> Option<Op> {
    let mut fail = |message: String| {
        errors.push(located(loc, &message));
        None
    };
    let nested = |loc: &mut Vec<Segment<'v>>, errors: &mut Vec<String>| {
        loc.push(Segment::Key(op));
        let node = compile(operand, loc, errors);
        loc.pop();
        Box::new(node)
    };
    match op {
        "$eq" => Some(Op::Eq(operand.clone())),
        "$ne" => Some(Op::Ne(operand.clone())),
        "$gt" | "$gte" | "$lt" | "$lte" => {
            let cmp = match op {
                "$gt" => Cmp::Gt,
                "$gte" => Cmp::Gte,
                "$lt" => Cmp::Lt,
                _ => Cmp::Lte,
            };
            match Operand::parse(operand) {
                Some(parsed) => Some(Op::Cmp(cmp, parsed)),
                None => fail(format!(
                    "`{op}` needs a number, a quantity such as \"500m\" or an RFC 3339 timestamp, not {}",
                    path::show(operand)
                )),
            }
        }
        "$exists" => match operand {
            Value::Bool(b) => Some(Op::Exists(*b)),
            other => fail(format!(
                "`$exists` needs true or false, not {}",
                path::show(other)
            )),
        },
        "$regex" => match operand {
            Value::String(src) => match cached_regex(src) {
                Ok(re) => Some(Op::Regex(re, src.clone())),
                Err(e) => fail(format!(
                    "`$regex` {} does not compile: {}",
                    path::show(operand),
                    regex_error(&e)
                )),
            },
            other => fail(format!(
                "`$regex` needs a string, not {}",
                path::show(other)
            )),
        },
        "$glob" => match operand {
            Value::String(src) => match glob_regex(src) {
                Ok(re) => Some(Op::Glob(re, src.clone())),
                Err(e) => fail(format!(
                    "`$glob` {} is too large: {}",
                    path::show(operand),
                    regex_error(&e)
                )),
            },
            other => fail(format!(
                "`$glob` needs a string pattern, not {}",
                path::show(other)
            )),
        },
        "$in" => match operand {
            Value::Array(items) => Some(Op::In(items.clone())),
            other => fail(format!(
                "`$in` needs an array of values, not {}",
                path::show(other)
            )),
        },
        "$contains" => match operand {
            Value::String(s) => Some(Op::Contains(s.clone())),
            other => fail(format!(
                "`$contains` needs a string, not {}",
                path::show(other)
            )),
        },
        "$len" => match operand {
            Value::Number(n) if n.as_u64().is_some() => {
                Some(Op::Len(Box::new(Node::Equal(operand.clone()))))
            }
            Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.starts_with('$')) => {
                Some(Op::Len(nested(loc, errors)))
            }
            other => fail(format!(
                "`$len` needs a whole number or an operator map such as {{$gte: 1}}, not {}",
                path::show(other)
            )),
        },
        "$not" => Some(Op::Not(nested(loc, errors))),
        "$every" => Some(Op::Every(nested(loc, errors))),
        "$some" => Some(Op::Some(nested(loc, errors))),
        "$none" => Some(Op::None(nested(loc, errors))),
        "$exact" => match operand {
            Value::Array(items) => {
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
                Some(Op::Exact(nodes))
            }
            other => fail(format!(
                "`$exact` needs an array of elements, not {}",
                path::show(other)
            )),
        },
        unknown => {
            let hint = closest_operator(unknown)
                .map(|k| format!(" (did you mean `{k}`?)"))
                .unwrap_or_default();
            fail(format!(
                "unknown operator `{unknown}`{hint}; the operators are {}",
                OPERATORS
                    .iter()
                    .map(|o| format!("`{o}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        }
    }
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

// Checks are evaluated over and over (every watch event) while the labs' patterns are few:
// compiled regexes are kept, up to a bound, so a pattern is compiled once per process.
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
    cached_regex(&re)
}

fn closest_operator(unknown: &str) -> Option<&'static str> {
    OPERATORS
        .iter()
        .map(|op| (edit_distance(unknown, op), *op))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d)
        .map(|(_, op)| op)
}

fn edit_distance(a: &str, b: &str) -> usize {
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

/// Where mismatches go: counted only (fast), or recorded as diagnostics with their paths.
pub struct Report<'a> {
    path: Vec<Segment<'a>>,
    diagnostics: Option<Vec<Diagnostic>>,
    mismatches: usize,
    limit: usize,
}

impl<'a> Report<'a> {
    /// Counts mismatches, giving up once `limit` is reached (1 = a yes/no test).
    pub fn counting(limit: usize) -> Report<'a> {
        Report {
            path: Vec::new(),
            diagnostics: None,
            mismatches: 0,
            limit,
        }
    }

    /// Records every mismatch as a diagnostic.
    pub fn collecting() -> Report<'a> {
        Report {
            path: Vec::new(),
            diagnostics: Some(Vec::new()),
            mismatches: 0,
            limit: usize::MAX,
        }
    }

    /// Mismatches so far.
    pub fn mismatches(&self) -> usize {
        self.mismatches
    }

    /// The diagnostics recorded (empty when only counting).
    pub fn into_diagnostics(self) -> Vec<Diagnostic> {
        self.diagnostics.unwrap_or_default()
    }

    fn done(&self) -> bool {
        self.mismatches >= self.limit
    }

    fn fail(&mut self, expected: impl FnOnce() -> String, actual: impl FnOnce() -> String) {
        self.mismatches += 1;
        if let Some(diagnostics) = &mut self.diagnostics {
            diagnostics.push(Diagnostic {
                path: path::render(&self.path),
                expected: expected(),
                actual: actual(),
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

/// True when `actual` (None = missing) satisfies the expectation.
pub fn matches(node: &Node, actual: Option<&Value>) -> bool {
    let mut report = Report::counting(1);
    check(node, actual, &mut report);
    report.mismatches == 0
}

/// Runs the expectation against `actual`, recording mismatches in `report`.
pub fn check<'a>(node: &'a Node, actual: Option<&'a Value>, r: &mut Report<'a>) {
    match node {
        Node::Null => {
            if present(actual).is_some() {
                r.fail(|| "missing".to_owned(), || path::show_actual(actual));
            }
        }
        Node::Equal(expected) => {
            if !eq_opt(actual, expected) {
                r.fail(|| path::show(expected), || path::show_actual(actual));
            }
        }
        Node::Map(entries) => match present(actual) {
            None => check_entries(entries, None, r),
            Some(Value::Object(map)) => check_entries(entries, Some(map), r),
            Some(other) => r.fail(
                || format!("a map like {}", path::show(&node.to_json())),
                || path::show(other),
            ),
        },
        Node::Array(elements) => match present(actual) {
            None => check_array(elements, &[], actual, r),
            Some(Value::Array(items)) => check_array(elements, items, actual, r),
            Some(other) => r.fail(
                || {
                    format!(
                        "an array with elements matching {}",
                        path::show(&node.to_json())
                    )
                },
                || path::show(other),
            ),
        },
        Node::Ops(ops) => {
            for op in ops {
                check_op(op, actual, r);
                if r.done() {
                    return;
                }
            }
        }
    }
}

fn check_entries<'a>(
    entries: &'a [(String, Node)],
    map: Option<&'a Map<String, Value>>,
    r: &mut Report<'a>,
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
    elements: &'a [Node],
    items: &'a [Value],
    whole: Option<&'a Value>,
    r: &mut Report<'a>,
) {
    if elements.is_empty() {
        return;
    }
    // The common case, one expected element, needs no assignment bookkeeping.
    if let [element] = elements {
        if !items.iter().any(|item| matches(element, Some(item))) {
            report_unmatched(element, items, whole, r);
        }
        return;
    }
    let compatible: Vec<Vec<usize>> = elements
        .iter()
        .map(|e| {
            (0..items.len())
                .filter(|&j| matches(e, Some(&items[j])))
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
    element: &'a Node,
    items: &'a [Value],
    whole: Option<&'a Value>,
    r: &mut Report<'a>,
) {
    if let Some((j, name)) = named_candidate(element, items) {
        let before = r.mismatches;
        r.push(Segment::Named(name));
        check(element, Some(&items[j]), r);
        r.pop();
        if r.mismatches > before {
            return;
        }
    }
    r.fail(
        || format!("an element matching {}", path::show(&element.to_json())),
        || path::show_actual(whole),
    );
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
fn named_candidate<'a>(element: &'a Node, items: &'a [Value]) -> Option<(usize, &'a str)> {
    let Node::Map(entries) = element else {
        return None;
    };
    let name = entries.iter().find_map(|(k, n)| match (k.as_str(), n) {
        ("name", Node::Equal(Value::String(s))) => Some(s.as_str()),
        _ => None,
    })?;
    let j = items
        .iter()
        .position(|item| item.get("name").and_then(Value::as_str) == Some(name))?;
    Some((j, name))
}

/// A beginner-readable description of what an expectation wants.
pub fn describe(node: &Node) -> String {
    match node {
        Node::Equal(v) => path::show(v),
        Node::Null => "missing".to_owned(),
        Node::Map(_) => format!("like {}", path::show(&node.to_json())),
        Node::Array(_) => format!("with elements matching {}", path::show(&node.to_json())),
        Node::Ops(ops) => ops
            .iter()
            .map(describe_op)
            .collect::<Vec<_>>()
            .join(" and "),
    }
}

fn describe_op(op: &Op) -> String {
    match op {
        Op::Eq(v) => path::show(v),
        Op::Ne(v) => format!("not {}", path::show(v)),
        Op::Cmp(cmp, operand) => format!("{} {}", cmp.symbol(), operand.show()),
        Op::Exists(true) => "present".to_owned(),
        Op::Exists(false) => "missing".to_owned(),
        Op::Regex(_, src) => format!("matching /{src}/"),
        Op::Glob(_, src) => format!("like {}", path::show(&Value::String(src.clone()))),
        Op::In(values) => format!("one of {}", path::show(&Value::Array(values.clone()))),
        Op::Contains(s) => format!("containing {}", path::show(&Value::String(s.clone()))),
        Op::Len(inner) => format!("length {}", describe(inner)),
        Op::Not(inner) => format!("not {}", describe(inner)),
        Op::Every(inner) => format!("every element {}", element_description(inner)),
        Op::Some(inner) => format!("an element matching {}", path::show(&inner.to_json())),
        Op::None(inner) => format!("no element matching {}", path::show(&inner.to_json())),
        Op::Exact(nodes) => format!(
            "exactly {}",
            path::show(&Value::Array(nodes.iter().map(Node::to_json).collect()))
        ),
    }
}

fn element_description(inner: &Node) -> String {
    match inner {
        Node::Equal(v) => format!("equal to {}", path::show(v)),
        other => describe(other),
    }
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

fn check_op<'a>(op: &'a Op, actual: Option<&'a Value>, r: &mut Report<'a>) {
    let expected = || describe_op(op);
    let shown = || path::show_actual(actual);
    let ok = match op {
        Op::Eq(v) => eq_opt(actual, v),
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
        Op::Len(inner) => match present(actual).and_then(length) {
            Some(n) => {
                if !matches(inner, Some(&Value::from(n))) {
                    r.fail(expected, || format!("length {n}"));
                }
                return;
            }
            None => false,
        },
        Op::Not(inner) => !matches(inner, actual),
        Op::Every(inner) => {
            match present(actual) {
                None => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        r.push_element(i, item);
                        check(inner, Some(item), r);
                        r.pop();
                        if r.done() {
                            return;
                        }
                    }
                }
                Some(_) => r.fail(expected, shown),
            }
            return;
        }
        Op::Some(inner) => match present(actual) {
            Some(Value::Array(items)) => items.iter().any(|item| matches(inner, Some(item))),
            _ => false,
        },
        Op::None(inner) => {
            match present(actual) {
                None => {}
                Some(Value::Array(items)) => {
                    for (i, item) in items.iter().enumerate() {
                        if matches(inner, Some(item)) {
                            r.push_element(i, item);
                            r.fail(expected, || path::show(item));
                            r.pop();
                            if r.done() {
                                return;
                            }
                        }
                    }
                }
                Some(_) => r.fail(expected, shown),
            }
            return;
        }
        Op::Exact(nodes) => match present(actual) {
            Some(Value::Array(items)) if items.len() == nodes.len() => {
                for (i, (node, item)) in nodes.iter().zip(items).enumerate() {
                    r.push_element(i, item);
                    check(node, Some(item), r);
                    r.pop();
                    if r.done() {
                        return;
                    }
                }
                return;
            }
            _ => false,
        },
    };
    if !ok {
        r.fail(expected, shown);
    }
}
