//! The phrases of diagnostics about objects as a whole, in English and Chinese: what was looked
//! for, where, and what was found (`Pod `busybox` to exist` / `not found in namespace `fly-k8s``).

use serde_json::Value;

use super::spec::Find;
use super::values::{cjk, code, text};
use crate::i18n::Text;

/// How many objects a diagnostic names before it says "and N more".
pub const NAMED: usize = 3;

/// True when the object is being deleted (`metadata.deletionTimestamp` set): kubectl shows it
/// as `Terminating`, and it never counts as present.
pub fn terminating(object: &Value) -> bool {
    object
        .pointer("/metadata/deletionTimestamp")
        .is_some_and(|t| !t.is_null())
}

/// `namespace/name` of an object (`name` for cluster-scoped objects).
pub fn object_id(object: &Value) -> String {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)");
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    }
}

/// What `find` looks for: `Pod `busybox``, `a Pod matching `app=nginx``, `a Pod`.
pub fn looked_for(find: Option<&Find>) -> Text {
    let Some(find) = find else {
        return text("an object", "对象");
    };
    let kind = &find.kind;
    match (&find.name, &find.selector) {
        (Some(name), _) => Text::same(format!("{kind} {}", code(name))),
        (None, Some(selector)) => text(
            format!("{} matching {}", a(kind), code(selector)),
            format!("匹配 {} 的 {kind}", code(selector)),
        ),
        (None, None) => text(a(kind), kind.clone()),
    }
}

/// A kind with its English indefinite article: `a Pod`, `an EndpointSlice`, `an Ingress`.
pub fn a(kind: &str) -> String {
    let vowel = kind
        .chars()
        .next()
        .is_some_and(|c| "AEIOUaeiou".contains(c));
    if vowel {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

/// Expected of a check that found nothing: `Pod `busybox` to exist`.
pub fn to_exist(find: Option<&Find>) -> Text {
    let what = looked_for(find);
    text(format!("{} to exist", what.en), format!("{} 存在", what.zh))
}

/// Found of a check that found nothing: `not found in namespace `fly-k8s``, or `not found`
/// for cluster-scoped kinds.
pub fn not_found(namespace: Option<&str>) -> Text {
    match namespace {
        Some(ns) => text(
            format!("not found in namespace {}", code(ns)),
            format!("在命名空间 {} 中未找到", code(ns)),
        ),
        None => text("not found", "未找到"),
    }
}

/// Expected of an `absent` check: `no Pod `load-generator``.
pub fn none_of(find: Option<&Find>) -> Text {
    let Some(find) = find else {
        return text("no such object", "没有这样的对象");
    };
    let kind = &find.kind;
    match (&find.name, &find.selector) {
        (Some(name), _) => text(
            format!("no {kind} {}", code(name)),
            format!("没有 {kind} {}", code(name)),
        ),
        (None, Some(selector)) => text(
            format!("no {kind} matching {}", code(selector)),
            format!("没有匹配 {} 的 {kind}", code(selector)),
        ),
        (None, None) => text(format!("no {kind}"), format!("没有 {kind}")),
    }
}

/// Objects by `namespace/name`, the first few named: `` `a`, `b`, `c` and 4 more ``.
pub fn objects(objects: &[&Value]) -> Text {
    let ids: Vec<String> = objects
        .iter()
        .take(NAMED)
        .map(|o| code(&object_id(o)))
        .collect();
    let more = objects.len().saturating_sub(NAMED);
    let (en_more, zh_more) = if more > 0 {
        (format!(" and {more} more"), format!(" 及另外 {more} 个"))
    } else {
        (String::new(), String::new())
    };
    let en = match ids.as_slice() {
        [init @ .., last] if more == 0 && !init.is_empty() => {
            format!("{} and {last}", init.join(", "))
        }
        _ => ids.join(", "),
    };
    text(
        format!("{en}{en_more}"),
        format!("{}{zh_more}", ids.join("、")),
    )
}

/// Objects being deleted: `` `default/web-1` being deleted (Terminating) ``.
pub fn being_deleted(deleting: &[&Value]) -> Text {
    let named = objects(deleting);
    text(
        format!("{} being deleted (Terminating)", named.en),
        cjk(&[&named.zh, "正在删除（Terminating）"]),
    )
}

/// Expected of a `count`: `matching objects: at least 3`.
pub fn count_expected(wanted: &Text) -> Text {
    text(
        format!("matching objects: {}", wanted.en),
        format!("匹配的对象数：{}", wanted.zh),
    )
}

/// Found of a `count`: `2 matching (of 4 found)`, `2 matching (of 4 found, 1 being deleted)`.
pub fn count_found(matching: usize, found: usize, deleting: usize) -> Text {
    if deleting == 0 {
        text(
            format!("{matching} matching (of {found} found)"),
            format!("{matching} 个匹配（共找到 {found} 个）"),
        )
    } else {
        text(
            format!("{matching} matching (of {found} found, {deleting} being deleted)"),
            format!("{matching} 个匹配（共找到 {found} 个，其中 {deleting} 个正在删除）"),
        )
    }
}

/// Found of a CEL expression that gave `false`.
pub fn not_the_case() -> Text {
    text("not the case", "不成立")
}
