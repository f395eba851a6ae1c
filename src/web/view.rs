//! What templates show: plain view structs built from the engine's reports in one language, so
//! templates only print fields.

use super::assets::{AssetUrls, urls};
use super::ui_strings::{Ui, state_label};
use crate::checks::Verdict;
use crate::engine::{
    Awaiting, CheckReport, Engine, FailureCause, Health, KeptReason, ObjectKey, ObstacleKind,
    ResetReport, SetupAction, SetupReport, StepReport, StepState, StepStatus,
};
use crate::i18n::Lang;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The parts of every page around its content: language, cluster banner, CSRF token, assets.
#[derive(Debug)]
pub struct Chrome {
    /// The page's language code (`en`, `zh`).
    pub lang: &'static str,
    /// `<html lang>`.
    pub html_lang: &'static str,
    /// `unknown`, `reachable`, `unreachable`, or `none` (error pages: no banner).
    pub cluster_state: &'static str,
    /// Server version when reachable.
    pub cluster_version: String,
    /// Kubeconfig context when known.
    pub cluster_context: String,
    /// Why the cluster is unreachable.
    pub cluster_message: String,
    /// The CSRF token for forms (empty on error pages, which have none).
    pub csrf: String,
    /// Versioned asset URLs.
    pub assets: &'static AssetUrls,
    /// The page's own GET path, which the language toggle links to.
    pub here: String,
    /// Whether this reader is offered a browser terminal (lab pages show its panel).
    pub terminal: bool,
}

impl Chrome {
    /// Chrome for a page, from the engine's cached health (never calls the cluster).
    pub fn new(engine: &Engine, lang: Lang, t: &'static Ui, csrf: String, here: String) -> Chrome {
        let (cluster_state, cluster_version, cluster_message) = match engine.health() {
            Health::Unknown => ("unknown", String::new(), String::new()),
            Health::Reachable { version } => ("reachable", version, String::new()),
            Health::Unreachable { message } => ("unreachable", String::new(), message),
        };
        Chrome {
            lang: lang.code(),
            html_lang: t.html_lang,
            cluster_state,
            cluster_version,
            cluster_context: engine.context().unwrap_or_default().to_owned(),
            cluster_message,
            csrf,
            assets: urls(),
            here,
            terminal: engine.terminal_available(),
        }
    }

    /// Chrome without cluster state or token (error pages built outside a handler).
    pub fn bare(lang: Lang) -> Chrome {
        Chrome {
            lang: lang.code(),
            html_lang: super::ui_strings::ui(lang).html_lang,
            cluster_state: "none",
            cluster_version: String::new(),
            cluster_context: String::new(),
            cluster_message: String::new(),
            csrf: String::new(),
            assets: urls(),
            here: "/".to_owned(),
            terminal: false,
        }
    }
}

/// Something that went wrong, for a learner.
#[derive(Debug, Clone)]
pub struct ProblemView {
    /// Headline.
    pub title: String,
    /// Details (may be empty).
    pub detail: String,
    /// Show how to start a cluster.
    pub cluster_help: bool,
}

/// The result panel of one step.
#[derive(Debug, Clone)]
pub struct ResultView {
    /// CSS state: `passed`, `failed`, `pending`, `error`, `info`.
    pub class: &'static str,
    /// Headline.
    pub heading: String,
    /// After a check.
    pub check: Option<CheckView>,
    /// After a set-up.
    pub setup: Option<SetupView>,
    /// When the action failed as a whole.
    pub problem: Option<ProblemView>,
    /// The step's new badge (after a check), for the out-of-band swap.
    pub badge: Option<Badge>,
}

/// A step's status badge.
#[derive(Debug, Clone)]
pub struct Badge {
    /// The state (its `as_str` is the CSS class suffix and the script's state name).
    pub state: StepState,
    /// Localized text.
    pub label: &'static str,
}

impl Badge {
    /// The badge of a state in `t`'s language.
    pub fn new(t: &'static Ui, state: StepState) -> Badge {
        Badge {
            state,
            label: state_label(t, state),
        }
    }
}

/// A check's verdicts.
#[derive(Debug, Clone)]
pub struct CheckView {
    /// When (RFC 3339).
    pub checked_at: String,
    /// The same, readable (`2024-05-01 10:30:00 UTC`); the script shows it in local time.
    pub checked_at_text: String,
    /// One per check.
    pub items: Vec<CheckItem>,
    /// Why every check holds but the step does not count yet (empty otherwise).
    pub awaiting: String,
    /// kubelab re-checks by itself on a timer (commands in containers).
    pub rechecks: bool,
}

/// One check's verdict.
#[derive(Debug, Clone)]
pub struct CheckItem {
    /// What is checked.
    pub title: String,
    /// `passed`, `failed`, `todo` (failing before the learner pressed Check), `pending`, `error`.
    pub class: &'static str,
    /// Localized verdict.
    pub label: &'static str,
    /// The author's explanation (failed/pending) or the error message.
    pub reason: String,
    /// The closest object, for selector checks.
    pub closest: String,
    /// Per-field rows.
    pub rows: Vec<DiagRow>,
}

/// One diagnostic row, in the page's language.
#[derive(Debug, Clone)]
pub struct DiagRow {
    /// Field path (or "(the object)").
    pub path: String,
    /// Expected: words with code (values, names, patterns) marked.
    pub expected: Vec<Span>,
    /// Found, the same way.
    pub actual: Vec<Span>,
    /// The whole found value when `actual` shows only part of it (empty otherwise).
    pub actual_full: String,
    /// The label that unfolds `actual_full`.
    pub full_label: &'static str,
}

/// A piece of diagnostic text: plain words, or code (shown in `<code>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    /// True for code.
    pub code: bool,
}

/// Splits diagnostic text into words and code spans, as Markdown reads backticks: a run of
/// backticks opens a span that the next run of the same length closes (one space padding both
/// sides is dropped); a run without a match is literal text.
pub fn spans(text: &str) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    let mut plain = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('`') {
        let run = rest[open..].chars().take_while(|c| *c == '`').count();
        let after = &rest[open + run..];
        let Some(close) = closing(after, run) else {
            plain.push_str(&rest[..open + run]);
            rest = after;
            continue;
        };
        plain.push_str(&rest[..open]);
        if !plain.is_empty() {
            out.push(Span {
                text: std::mem::take(&mut plain),
                code: false,
            });
        }
        let inner = &after[..close];
        let inner = match inner.strip_prefix(' ').and_then(|i| i.strip_suffix(' ')) {
            Some(trimmed) if !trimmed.trim().is_empty() => trimmed,
            _ => inner,
        };
        out.push(Span {
            text: inner.to_owned(),
            code: true,
        });
        rest = &after[close + run..];
    }
    plain.push_str(rest);
    if !plain.is_empty() {
        out.push(Span {
            text: plain,
            code: false,
        });
    }
    out
}

// Where a run of exactly `run` backticks starts in `text`.
fn closing(text: &str, run: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let len = bytes[i..].iter().take_while(|b| **b == b'`').count();
            if len == run {
                return Some(i);
            }
            i += len;
        } else {
            i += 1;
        }
    }
    None
}

/// A set-up's outcome.
#[derive(Debug, Clone)]
pub struct SetupView {
    /// Objects set up.
    pub objects: Vec<SetupRow>,
    /// Objects in the way, with the Replace offer.
    pub in_the_way: Vec<ObstacleView>,
    /// The refused object, if any.
    pub error: Option<SetupErrorView>,
    /// Where the Replace form posts (the step's Set up).
    pub action: String,
    /// The CSRF token for the Replace form without JavaScript (htmx sends it as a header).
    pub csrf: String,
}

/// One object set up.
#[derive(Debug, Clone)]
pub struct SetupRow {
    /// `Kind namespace/name`.
    pub object: String,
    /// `created`, `configured`, `unchanged`, `replaced`, `yours`.
    pub class: &'static str,
    /// Localized action.
    pub label: &'static str,
}

/// An object in the way of Set up.
#[derive(Debug, Clone)]
pub struct ObstacleView {
    /// `Kind namespace/name`.
    pub object: String,
    /// The object's key as the Replace form sends it (`apiVersion|kind|namespace|name`).
    pub key: String,
    /// What is in the way, in plain words.
    pub explanation: &'static str,
    /// Said after the fields (may be empty).
    pub after: &'static str,
    /// The fields that differ or were added by someone else.
    pub fields: Vec<String>,
    /// The API server's own words, when it refused (shown folded).
    pub message: String,
}

/// The object the API server refused.
#[derive(Debug, Clone)]
pub struct SetupErrorView {
    /// `Kind namespace/name`.
    pub object: String,
    /// Manifest file.
    pub file: String,
    /// The API server's message.
    pub message: String,
}

/// A reset's outcome.
#[derive(Debug, Clone)]
pub struct ResetView {
    /// Objects deleted.
    pub deleted: Vec<String>,
    /// Objects kept, with why.
    pub kept: Vec<(String, String)>,
    /// The learner's own objects, which the page offers to delete: (form key, `Kind ns/name`).
    pub yours: Vec<(String, String)>,
}

/// An object's key as forms carry it: `apiVersion|kind|namespace|name` (namespace may be
/// empty). `|` appears in none of the four.
pub fn key_field(key: &ObjectKey) -> String {
    format!(
        "{}|{}|{}|{}",
        key.api_version,
        key.kind,
        key.namespace.as_deref().unwrap_or(""),
        key.name
    )
}

/// The key a form field names (see [`key_field`]).
pub fn parse_key_field(field: &str) -> Option<ObjectKey> {
    let mut parts = field.split('|');
    let (api_version, kind, namespace, name) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || api_version.is_empty() || kind.is_empty() || name.is_empty() {
        return None;
    }
    Some(ObjectKey {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        namespace: Some(namespace.to_owned()).filter(|ns| !ns.is_empty()),
        name: name.to_owned(),
    })
}

fn verdict_class(v: &Verdict) -> &'static str {
    match v {
        Verdict::Passed => "passed",
        Verdict::Failed { .. } => "failed",
        Verdict::Pending { .. } => "pending",
        Verdict::Error { .. } => "error",
    }
}

fn check_item(t: &'static Ui, lang: Lang, r: &CheckReport, asked: bool) -> CheckItem {
    let class = match verdict_class(&r.verdict) {
        // A failure before the learner asked is something still to do, not a mistake.
        "failed" if !asked => "todo",
        class => class,
    };
    let label = match class {
        "passed" => t.verdict_passed,
        "failed" => t.verdict_failed,
        "todo" => t.verdict_todo,
        "pending" => t.verdict_pending,
        _ => t.verdict_error,
    };
    let full_label = t.show_whole_value;
    let rows = |diags: &[crate::checks::Diagnostic]| {
        diags
            .iter()
            .map(|d| DiagRow {
                path: if d.path.is_empty() {
                    t.whole_object.to_owned()
                } else {
                    d.path.clone()
                },
                expected: spans(d.expected.get(lang)),
                actual: spans(d.actual.get(lang)),
                actual_full: d.actual_full.clone().unwrap_or_default(),
                full_label,
            })
            .collect()
    };
    let (reason, closest, rows) = match &r.verdict {
        Verdict::Passed => (String::new(), String::new(), Vec::new()),
        Verdict::Failed {
            diagnostics,
            closest,
        } => (
            r.reason.get(lang).to_owned(),
            closest.clone().unwrap_or_default(),
            rows(diagnostics),
        ),
        // An unanswered question waits for the learner; it never shows the wrong-answer text.
        Verdict::Pending { .. } if r.unanswered => {
            (t.question_unanswered.to_owned(), String::new(), Vec::new())
        }
        Verdict::Pending { diagnostics } => (
            r.pending_reason
                .as_ref()
                .map_or(t.pending_generic, |p| p.get(lang))
                .to_owned(),
            String::new(),
            rows(diagnostics),
        ),
        Verdict::Error { message } => (message.clone(), String::new(), Vec::new()),
    };
    CheckItem {
        title: r.title.get(lang).to_owned(),
        class,
        label,
        reason,
        closest,
        rows,
    }
}

impl ResultView {
    /// The panel after **Check**, or a live evaluation: its colour and heading follow the step's
    /// life cycle — a failure before the learner pressed Check is "still to do", not red.
    pub fn from_check(t: &'static Ui, lang: Lang, report: &StepReport) -> ResultView {
        let asked = report.attempts > 0;
        let (class, heading) = match (report.state, report.status) {
            (StepState::Passed, _) => ("passed", t.result_passed),
            (StepState::Regressed, _) => ("failed", t.result_regressed),
            (_, StepStatus::Passed) => ("info", t.result_passed),
            (_, StepStatus::Failed) if asked => ("failed", t.result_failed),
            (_, StepStatus::Failed) => ("todo", t.result_todo),
            (_, StepStatus::Pending) => ("pending", t.result_pending),
            (_, StepStatus::Error) => ("error", t.result_error),
        };
        let awaiting = match report.awaiting {
            Some(Awaiting::LearnerWork) => t.result_await_work,
            Some(Awaiting::Confirmation) => t.result_await_confirm,
            None => "",
        };
        let asked = asked || report.state == StepState::Regressed;
        ResultView {
            class,
            heading: if report.checks.is_empty() {
                t.no_checks.to_owned()
            } else {
                heading.to_owned()
            },
            check: Some(CheckView {
                checked_at: rfc3339(report.checked_at),
                checked_at_text: readable_time(&rfc3339(report.checked_at)),
                items: report
                    .checks
                    .iter()
                    .map(|r| check_item(t, lang, r, asked))
                    .collect(),
                awaiting: awaiting.to_owned(),
                rechecks: report.recheck_in.is_some(),
            }),
            setup: None,
            problem: None,
            badge: Some(Badge::new(t, report.state)),
        }
    }

    /// The panel after **Set up**.
    pub fn from_setup(t: &'static Ui, report: &SetupReport) -> ResultView {
        let objects = report
            .applied
            .iter()
            .map(|a| {
                let (class, label) = match a.action {
                    SetupAction::Created => ("created", t.action_created),
                    SetupAction::Configured => ("configured", t.action_configured),
                    SetupAction::Unchanged => ("unchanged", t.action_unchanged),
                    SetupAction::Replaced => ("replaced", t.action_replaced),
                    SetupAction::Yours => ("yours", t.action_yours),
                };
                SetupRow {
                    object: a.key.to_string(),
                    class,
                    label,
                }
            })
            .collect();
        let in_the_way: Vec<ObstacleView> = report
            .in_the_way
            .iter()
            .map(|o| {
                let (explanation, after) = match o.why {
                    ObstacleKind::Yours => (t.obstacle_yours, t.obstacle_yours_after),
                    ObstacleKind::Immutable => (t.obstacle_immutable, ""),
                    ObstacleKind::Merged => (t.obstacle_merged, ""),
                };
                ObstacleView {
                    object: o.key.to_string(),
                    key: key_field(&o.key),
                    explanation,
                    after,
                    fields: o.fields.clone(),
                    message: o.message.clone().unwrap_or_default(),
                }
            })
            .collect();
        let error = report.error.as_ref().map(|e| SetupErrorView {
            object: e.object.clone(),
            file: e.file.clone(),
            message: e.message.clone(),
        });
        let (class, heading) = if !in_the_way.is_empty() {
            ("failed", t.setup_in_the_way)
        } else if let Some(failure) = &report.error {
            let heading = match failure.cause {
                FailureCause::ApiServer => t.setup_refused,
                FailureCause::Kubelab => t.setup_refused_by_kubelab,
                FailureCause::Busy => t.setup_busy,
            };
            ("failed", heading)
        } else {
            ("info", t.setup_done)
        };
        ResultView {
            class,
            heading: heading.to_owned(),
            check: None,
            setup: Some(SetupView {
                objects,
                in_the_way,
                error,
                action: format!("/labs/{}/steps/{}/setup", report.lab, report.step),
                csrf: String::new(),
            }),
            problem: None,
            badge: None,
        }
    }

    /// The panel when the action failed as a whole (no cluster...).
    pub fn from_problem(problem: ProblemView) -> ResultView {
        ResultView {
            class: "error",
            heading: problem.title.clone(),
            check: None,
            setup: None,
            problem: Some(problem),
            badge: None,
        }
    }
}

impl ResetView {
    /// From the engine's report, in `t`'s language (`lab_title` names another chapter).
    pub fn new(
        t: &'static Ui,
        report: &ResetReport,
        lab_title: impl Fn(&str) -> String,
    ) -> ResetView {
        ResetView {
            deleted: report.deleted.iter().map(ToString::to_string).collect(),
            kept: report
                .kept
                .iter()
                .map(|k| {
                    let why = match k.why {
                        KeptReason::Yours => t.kept_yours.to_owned(),
                        KeptReason::UsedByLab => format!(
                            "{} {}",
                            t.kept_used_by,
                            lab_title(k.lab.as_deref().unwrap_or_default())
                        ),
                        KeptReason::NotCreatedByKubelab => t.kept_not_ours.to_owned(),
                        KeptReason::LearnerNamespace => t.kept_learner_namespace.to_owned(),
                    };
                    (k.key.to_string(), why)
                })
                .collect(),
            yours: report
                .yours()
                .map(|k| (key_field(k), k.to_string()))
                .collect(),
        }
    }
}

/// A question of a step: a labelled text field sent with **Check**.
#[derive(Debug, Clone)]
pub struct QuestionView {
    /// The check's id (the field is `answer.<id>`).
    pub id: String,
    /// The question, in the page's language.
    pub text: String,
    /// The learner's remembered answer (never a token: those are not kept).
    pub value: String,
    /// A token question: a password field that is never filled in again.
    pub secret: bool,
    /// The longest answer accepted.
    pub max_chars: usize,
}

/// One step in the "what you did" summary.
#[derive(Debug, Clone)]
pub struct RecapRow {
    /// 1-based.
    pub number: usize,
    /// Step id.
    pub id: String,
    pub title: String,
    /// Done at least once.
    pub done: bool,
    /// How long it took (empty when not done or unknown).
    pub took: String,
}

/// One object of the live panel.
#[derive(Debug, Clone)]
pub struct LiveObjectRow {
    pub kind: String,
    pub name: String,
    /// Namespace (empty for cluster-scoped objects), shown on hover.
    pub namespace: String,
    /// kubectl-like status.
    pub status: String,
    /// RFC 3339 creation time (empty if unknown), for the script to keep the age current.
    pub created: String,
    /// Age now (`5m`, `2h`), like kubectl's AGE column.
    pub age: String,
}

/// A time as RFC 3339 text.
pub fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

/// Parses an RFC 3339 time.
pub fn parse_time(rfc3339: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(rfc3339, &Rfc3339).ok()
}

/// Seconds from `from` to `to`, when `to` is not earlier.
pub fn seconds_between(from: OffsetDateTime, to: OffsetDateTime) -> Option<i64> {
    let secs = (to - from).whole_seconds();
    (secs >= 0).then_some(secs)
}

/// Seconds since `t` (0 for a time in the future).
pub fn seconds_since(t: OffsetDateTime) -> i64 {
    (OffsetDateTime::now_utc() - t).whole_seconds().max(0)
}

/// Seconds since an RFC 3339 time (a Kubernetes timestamp), when it parses.
pub fn seconds_since_text(rfc3339: &str) -> Option<i64> {
    parse_time(rfc3339).map(seconds_since)
}

/// A duration for people: `35 s`, `4 min 12 s`, `1 h 3 min` (units from `t`).
pub fn duration_text(t: &Ui, secs: i64) -> String {
    let secs = secs.max(0);
    let (h, m, s) = (secs / 3600, secs % 3600 / 60, secs % 60);
    let sep = if t.html_lang.starts_with("zh") {
        ""
    } else {
        " "
    };
    let part = |n: i64, unit: &str| format!("{n}{sep}{unit}");
    if h > 0 {
        format!("{} {}", part(h, t.unit_h), part(m, t.unit_min))
    } else if m > 0 {
        format!("{} {}", part(m, t.unit_min), part(s, t.unit_s))
    } else {
        part(s, t.unit_s)
    }
}

/// kubectl's AGE column: `45s`, `12m`, `5h`, `3d`.
pub fn age_text(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

/// `2024-05-01T10:30:00.123Z` as `2024-05-01 10:30:00 UTC` (unchanged if not of that shape).
pub fn readable_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..19)) {
        (Some(date), Some(time)) if rfc3339.ends_with('Z') => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// Gives every code block of sanitized step HTML a localized copy button, hidden until the
/// script runs (copying needs it). The labs' Markdown renderer already puts a
/// `<button class="copy" data-copy>` before each block; that button is localized in place.
/// HTML from elsewhere gets `<pre>` wrapped with one.
pub fn with_copy_buttons(html: &str, t: &'static Ui) -> String {
    let attrs = format!(
        "hidden aria-label=\"{copy}\" data-copied=\"{copied}\" data-failed=\"{failed}\">{copy}</button>",
        copy = t.copy,
        copied = t.copied,
        failed = t.copy_failed
    );
    if html.contains("data-copy") {
        return html.replace(
            "data-copy aria-label=\"Copy\">Copy</button>",
            &format!("data-copy {attrs}"),
        );
    }
    let button = format!(
        "<div class=\"code-block\"><button type=\"button\" class=\"copy\" data-copy {attrs}<pre"
    );
    // The HTML is sanitized, so a literal `<pre` can only be the start of a tag.
    html.replace("<pre>", &format!("{button}>"))
        .replace("<pre ", &format!("{button} "))
        .replace("</pre>", "</pre></div>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;
    use crate::web::ui_strings::ui;

    #[test]
    fn code_blocks_get_a_copy_button() {
        let html = with_copy_buttons(
            "<p>Run:</p><pre><code>kubectl get pods</code></pre>",
            ui(Lang::En),
        );
        assert!(html.contains(
            "<div class=\"code-block\"><button type=\"button\" class=\"copy\" data-copy hidden"
        ));
        assert!(html.contains("<pre><code>kubectl get pods</code></pre></div>"));
    }

    #[test]
    fn the_renderers_copy_buttons_are_localized_not_doubled() {
        let rendered = "<div class=\"code-block\"><button type=\"button\" class=\"copy\" data-copy aria-label=\"Copy\">Copy</button><pre><code>ls</code></pre></div>";
        let html = with_copy_buttons(rendered, ui(Lang::Zh));
        assert_eq!(html.matches("<button").count(), 1);
        assert!(html.contains("data-copy hidden aria-label=\"复制\""));
        assert!(html.contains(">复制</button>"));
    }

    #[test]
    fn times_are_readable() {
        assert_eq!(
            readable_time("2026-11-29T09:23:17.007386116Z"),
            "2026-11-29 09:23:17 UTC"
        );
        assert_eq!(readable_time("soon"), "soon");
    }

    #[test]
    fn durations_and_ages_read_like_people_and_kubectl_write_them() {
        let en = ui(Lang::En);
        assert_eq!(duration_text(en, 35), "35 s");
        assert_eq!(duration_text(en, 252), "4 min 12 s");
        assert_eq!(duration_text(en, 3780), "1 h 3 min");
        assert_eq!(duration_text(ui(Lang::Zh), 252), "4分 12秒");
        let t = |s: &str| parse_time(s).unwrap();
        assert_eq!(
            seconds_between(t("2024-01-01T00:00:00Z"), t("2024-01-01T00:04:12.5Z")),
            Some(252)
        );
        assert_eq!(
            seconds_between(t("2024-01-01T00:01:00Z"), t("2024-01-01T00:00:00Z")),
            None
        );
        assert_eq!(age_text(45), "45s");
        assert_eq!(age_text(600), "10m");
        assert_eq!(age_text(3 * 86400), "3d");
    }

    fn span(text: &str, code: bool) -> Span {
        Span {
            text: text.to_owned(),
            code,
        }
    }

    #[test]
    fn diagnostic_text_splits_into_words_and_code() {
        assert_eq!(
            spans("text matching the pattern `^nginx:1\\.2`"),
            vec![
                span("text matching the pattern ", false),
                span("^nginx:1\\.2", true)
            ]
        );
        assert_eq!(spans("`\"busybox\"`"), vec![span("\"busybox\"", true)]);
        assert_eq!(spans("present"), vec![span("present", false)]);
        // Longer fences hold backticks; a lone backtick is text.
        assert_eq!(
            spans("`` `x` `` and a ` alone"),
            vec![span("`x`", true), span(" and a ` alone", false)]
        );
        assert_eq!(
            spans("匹配模式 `a`b` 的文本"),
            vec![
                span("匹配模式 ", false),
                span("a", true),
                span("b` 的文本", false)
            ]
        );
    }

    #[test]
    fn diagnostics_show_in_the_pages_language_with_the_whole_value() {
        use crate::checks::Diagnostic;
        use crate::i18n::Text;
        let diagnostic = Diagnostic {
            path: "data.fly-name".into(),
            expected: Text {
                en: "text containing `\"kubelab\"`".into(),
                zh: "包含 `\"kubelab\"` 的文本".into(),
            },
            actual: Text::same("`\"fly…\"`"),
            actual_full: Some("fly\nand more".into()),
        };
        let report = CheckReport {
            id: "c".into(),
            title: Text::same("t"),
            reason: Text::same("r"),
            verdict: Verdict::Failed {
                diagnostics: vec![diagnostic],
                closest: None,
            },
            pending_reason: None,
            unanswered: false,
        };
        let item = check_item(ui(Lang::Zh), Lang::Zh, &report, true);
        assert_eq!(
            item.rows[0].expected,
            vec![
                span("包含 ", false),
                span("\"kubelab\"", true),
                span(" 的文本", false)
            ]
        );
        assert_eq!(item.rows[0].actual, vec![span("\"fly…\"", true)]);
        assert_eq!(item.rows[0].actual_full, "fly\nand more");
        assert_eq!(item.rows[0].full_label, "查看完整的值");
        let item = check_item(ui(Lang::En), Lang::En, &report, true);
        assert_eq!(item.rows[0].expected[0], span("text containing ", false));
    }
}
