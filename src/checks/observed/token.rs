//! Token questions: the learner pastes a token (`kubectl create token …`), kubelab verifies it
//! with a TokenReview at once and remembers only what the review said ([`TokenReviewed`]) —
//! never the token. The verdict is judged from that: whose token it is, its audience, how long
//! it is valid.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::super::values::{cjk, code, text};
use super::super::verdict::{Diagnostic, Verdict};
use crate::i18n::Text;

/// Longest token answer accepted, in characters (ServiceAccount tokens are ~900–1,500).
pub const MAX_TOKEN_CHARS: usize = 4096;

/// The shortest token the API server issues (a TokenRequest under 10 minutes is refused).
const MIN_EXPIRATION: i64 = 600;

/// What a pasted token must be, as a lab author writes it (`answer: {token: …}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSpec {
    /// Whose token it must be: `reader` (in the lab's namespace) or `namespace:reader`.
    #[serde(rename = "serviceAccount")]
    pub service_account: String,
    /// The audiences the token is reviewed for (`kubectl create token --audience`); none: the
    /// API server's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub audiences: Vec<String>,
    /// How long the token is valid from its issue (`--duration`), e.g. `{min: 10m, max: 1h}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<DurationRange>,
}

/// A range of durations written like `kubectl`'s (`90s`, `10m`, `1h`, `1h30m`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DurationRange {
    /// At least this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<String>,
    /// At most this long.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<String>,
}

/// What kubelab keeps of a pasted token: the TokenReview's answer and the claims it carries
/// (read, not verified: the review is the verification) — never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenReviewed {
    /// `status.authenticated`.
    pub authenticated: bool,
    /// `status.user.username` when authenticated.
    #[serde(default)]
    pub username: String,
    /// `status.audiences`.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// `status.error`.
    #[serde(default)]
    pub error: String,
    /// The payload's claims, when the text is shaped like a JWT.
    #[serde(default)]
    pub claims: Option<TokenClaims>,
    /// When the review was made (Unix seconds).
    pub reviewed_at: i64,
}

/// The claims of a token that matter to a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct TokenClaims {
    /// `aud`.
    #[serde(default)]
    pub aud: Vec<String>,
    /// `iat` (Unix seconds).
    #[serde(default)]
    pub iat: Option<i64>,
    /// `exp` (Unix seconds).
    #[serde(default)]
    pub exp: Option<i64>,
    /// `sub`.
    #[serde(default)]
    pub sub: String,
}

/// The key under which a review is remembered in place of the learner's answer.
const REMEMBERED: &str = "tokenReview";

/// The pasted text as a token: surrounding whitespace and a `Bearer ` prefix left out.
pub fn pasted(answer: &str) -> &str {
    let answer = answer.trim();
    answer
        .strip_prefix("Bearer ")
        .map_or(answer, str::trim_start)
}

/// The claims of a JWT-shaped token (three base64url parts), read without verifying it.
pub fn claims(token: &str) -> Option<TokenClaims> {
    let mut parts = token.split('.');
    let (_header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let json: Value = serde_json::from_slice(&bytes).ok()?;
    let aud = match &json["aud"] {
        Value::String(a) => vec![a.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    };
    Some(TokenClaims {
        aud,
        iat: json["iat"].as_i64(),
        exp: json["exp"].as_i64(),
        sub: json["sub"].as_str().unwrap_or_default().to_owned(),
    })
}

/// A review as the text kept in place of the learner's answer.
pub fn remember(reviewed: &TokenReviewed) -> String {
    serde_json::json!({ REMEMBERED: reviewed }).to_string()
}

/// The review kept for a token question; `None` when `kept` is not one (nothing reviewed).
pub fn recall(kept: &str) -> Option<TokenReviewed> {
    let mut value: Value = serde_json::from_str(kept).ok()?;
    serde_json::from_value(value.get_mut(REMEMBERED)?.take()).ok()
}

/// `90s`, `10m`, `1h`, `1h30m` in seconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut digits = String::new();
    let mut any = false;
    for c in text.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return None,
        };
        let n: i64 = digits.parse().ok()?;
        total = total.checked_add(n.checked_mul(unit)?)?;
        digits.clear();
        any = true;
    }
    (any && digits.is_empty()).then_some(total)
}

/// Seconds as `kubectl` writes a duration: `1h`, `10m`, `1h30m`, `45s`.
pub fn show_duration(seconds: i64) -> String {
    let (h, m, s) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    let mut out = String::new();
    for (n, unit) in [(h, "h"), (m, "m"), (s, "s")] {
        if n != 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() { "0s".to_owned() } else { out }
}

/// Mistakes in a token question as written, each a sentence for `kubelab validate`.
pub fn problems(spec: &TokenSpec) -> Vec<String> {
    let mut out = Vec::new();
    let (ns, name) = owner(spec);
    if name.trim().is_empty() || ns.is_some_and(|ns| ns.trim().is_empty()) {
        out.push(format!(
            "`answer.token.serviceAccount` {:?} is not a ServiceAccount; write `reader` (in the lab's namespace) or `namespace:reader`.",
            spec.service_account
        ));
    }
    if spec.audiences.iter().any(|a| a.trim().is_empty()) {
        out.push("`answer.token.audiences` holds an empty audience.".to_owned());
    }
    let Some(range) = &spec.duration else {
        return out;
    };
    let mut bound = |field: &str, value: &Option<String>| -> Option<i64> {
        let text = value.as_deref()?;
        let parsed = parse_duration(text);
        if parsed.is_none() {
            out.push(format!(
                "`answer.token.duration.{field}` {text:?} is not a duration; write it like `kubectl create token --duration` takes it: `10m`, `1h`, `1h30m`."
            ));
        }
        parsed
    };
    let (min, max) = (bound("min", &range.min), bound("max", &range.max));
    if range.min.is_none() && range.max.is_none() {
        out.push("`answer.token.duration` needs `min`, `max` or both.".to_owned());
    }
    if let (Some(min), Some(max)) = (min, max)
        && min > max
    {
        out.push("`answer.token.duration.min` is longer than its `max`.".to_owned());
    }
    if max.is_some_and(|max| max < MIN_EXPIRATION) {
        out.push(
            "`answer.token.duration.max` is under 10 minutes, and the API server issues no token that short: no answer could be right.".to_owned(),
        );
    }
    out
}

/// The namespace (None: the lab's) and name of the ServiceAccount the token must belong to.
fn owner(spec: &TokenSpec) -> (Option<&str>, &str) {
    match spec.service_account.split_once(':') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, spec.service_account.as_str()),
    }
}

/// What a workshop does not allow: a token question about another namespace's ServiceAccount.
pub fn outside_namespace(spec: &TokenSpec, lab_namespace: &str) -> Vec<String> {
    match owner(spec) {
        (Some(ns), _) if ns != lab_namespace => vec![format!(
            "it asks for a token of a ServiceAccount of namespace `{ns}`, but a workshop learner has only their own namespace's"
        )],
        _ => Vec::new(),
    }
}

/// Judges a reviewed token against the question. `home` is the reader's namespace for the
/// lab; `confined` (a workshop) keeps other namespaces' names out of the verdict.
pub fn evaluate(spec: &TokenSpec, home: &str, reviewed: &TokenReviewed, confined: bool) -> Verdict {
    let (ns, name) = owner(spec);
    let ns = ns.unwrap_or(home);
    let wanted = format!("system:serviceaccount:{ns}:{name}");
    let whose = text(
        format!(
            "a token of ServiceAccount {} in namespace {}",
            code(name),
            code(ns)
        ),
        cjk(&[
            "命名空间 ",
            &code(ns),
            " 中 ServiceAccount ",
            &code(name),
            " 的令牌",
        ]),
    );
    let failed = |expected: Text, actual: Text| Verdict::Failed {
        diagnostics: vec![Diagnostic::new("token", expected, actual)],
        closest: None,
    };
    if !reviewed.authenticated {
        return refused(spec, reviewed, whose, failed);
    }
    if reviewed.username != wanted {
        return failed(whose, someone_else(&reviewed.username, home, confined));
    }
    if let Some(verdict) = lifetime(spec, reviewed, failed) {
        return verdict;
    }
    Verdict::Passed
}

// Why the cluster did not accept the token, in words the learner can act on.
fn refused(
    spec: &TokenSpec,
    reviewed: &TokenReviewed,
    whose: Text,
    failed: impl Fn(Text, Text) -> Verdict,
) -> Verdict {
    let said = code(reviewed.error.trim());
    let Some(claims) = &reviewed.claims else {
        return failed(
            whose,
            text(
                "not a ServiceAccount token: a token is three parts separated by dots, the whole line `kubectl create token` prints",
                "不是 ServiceAccount 令牌：令牌由三段用点分隔的文字组成，就是 `kubectl create token` 输出的那一整行",
            ),
        );
    };
    let expired = reviewed.error.contains("token has expired");
    if let Some(exp) = claims
        .exp
        .filter(|exp| *exp <= reviewed.reviewed_at || expired)
    {
        let at = clock(exp);
        return failed(
            text("a token that has not expired", "尚未过期的令牌"),
            text(
                format!("expired at {at}; create a new one"),
                format!("已于 {at} 过期，请重新创建"),
            ),
        );
    }
    let audience_refused = reviewed
        .error
        .contains("is invalid for the target audiences")
        || (!spec.audiences.is_empty() && !claims.aud.iter().any(|a| spec.audiences.contains(a)));
    if audience_refused {
        let has: Vec<String> = claims.aud.iter().map(|a| code(a)).collect();
        let expected = match spec.audiences.first() {
            Some(first) => {
                let all: Vec<String> = spec.audiences.iter().map(|a| code(a)).collect();
                text(
                    format!(
                        "a token for audience {} (`kubectl create token … --audience {first}`)",
                        all.join(" or ")
                    ),
                    cjk(&[
                        "受众为 ",
                        &all.join(" 或 "),
                        " 的令牌（`kubectl create token … --audience ",
                        first,
                        "`）",
                    ]),
                )
            }
            None => text(
                "a token for the API server itself (created without `--audience`)",
                "给 API 服务器本身用的令牌（创建时不加 `--audience`）",
            ),
        };
        return failed(
            expected,
            text(
                format!("a token for audience {}", has.join(", ")),
                cjk(&["受众为 ", &has.join("、"), " 的令牌"]),
            ),
        );
    }
    if reviewed.error.contains("not found") {
        return failed(
            text(
                "a token whose ServiceAccount still exists",
                "所属 ServiceAccount 仍然存在的令牌",
            ),
            text(
                format!("its ServiceAccount no longer exists ({said})"),
                cjk(&["它所属的 ServiceAccount 已不存在（", &said, "）"]),
            ),
        );
    }
    failed(
        whose,
        text(
            format!("not accepted by the cluster ({said})"),
            cjk(&["集群不接受这个令牌（", &said, "）"]),
        ),
    )
}

// Whose token it is instead, without naming another workshop learner's namespace.
fn someone_else(username: &str, home: &str, confined: bool) -> Text {
    let sa = username
        .strip_prefix("system:serviceaccount:")
        .and_then(|rest| rest.split_once(':'));
    match sa {
        Some((ns, name)) if ns == home || !confined => text(
            format!(
                "a token of ServiceAccount {} in namespace {}",
                code(name),
                code(ns)
            ),
            cjk(&[
                "命名空间 ",
                &code(ns),
                " 中 ServiceAccount ",
                &code(name),
                " 的令牌",
            ]),
        ),
        Some(_) => text(
            "a token of a ServiceAccount in another namespace",
            "其他命名空间中某个 ServiceAccount 的令牌",
        ),
        None if confined => text("a token of another user", "其他用户的令牌"),
        None => text(
            format!("a token of user {}", code(username)),
            cjk(&["用户 ", &code(username), " 的令牌"]),
        ),
    }
}

// The token's validity from issue to expiry against `duration`, when asked for.
fn lifetime(
    spec: &TokenSpec,
    reviewed: &TokenReviewed,
    failed: impl Fn(Text, Text) -> Verdict,
) -> Option<Verdict> {
    let range = spec.duration.as_ref()?;
    let min = range.min.as_deref().and_then(parse_duration);
    let max = range.max.as_deref().and_then(parse_duration);
    let claims = reviewed.claims.as_ref();
    let valid = claims.and_then(|c| Some(c.exp? - c.iat?));
    if valid.is_some_and(|v| min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)) {
        return None;
    }
    let span = |s: Option<i64>| s.map(show_duration).map(|d| code(&d));
    let (en, zh) = match (span(min), span(max)) {
        (Some(a), Some(b)) => (format!("between {a} and {b}"), format!("{a} 到 {b} 之间")),
        (Some(a), None) => (format!("at least {a}"), format!("至少 {a}")),
        (None, Some(b)) => (format!("at most {b}"), format!("至多 {b}")),
        (None, None) => (String::new(), String::new()),
    };
    let expected = text(
        format!("a token valid for {en} (`kubectl create token … --duration`)"),
        cjk(&[
            "有效期",
            &zh,
            "的令牌（`kubectl create token … --duration`）",
        ]),
    );
    let actual = match (valid, claims.and_then(|c| c.exp)) {
        (Some(v), Some(exp)) => {
            let (d, at) = (code(&show_duration(v)), clock(exp));
            text(
                format!("valid for {d} (until {at})"),
                cjk(&["有效期 ", &d, "（到 ", &at, " 为止）"]),
            )
        }
        _ => text("a token without an expiry time", "没有过期时间的令牌"),
    };
    Some(failed(expected, actual))
}

// A Unix time as the learner's panel shows times: `09:12:03 UTC`.
fn clock(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!("{:02}:{:02}:{:02} UTC", t.hour(), t.minute(), t.second())
}

#[cfg(test)]
mod tests;
