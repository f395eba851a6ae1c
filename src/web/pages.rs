//! The HTML pages: the chapter list, a lab with its steps, and the Set up / Check / Reset forms
//! (htmx fragments when JavaScript runs, whole pages when it does not).

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::api::ANSWER_FIELD_PREFIX;
use super::csrf::CsrfToken;
use super::error::WebError;
use super::extract::{FormFields, Path, is_htmx};
use super::lang::UiLang;
use super::learner::{LearnerEngine, Refusal};
use super::ui_strings::{Ui, Ws, ui, ws};
use super::view::{
    Badge, Chrome, ProblemView, QuestionView, RecapRow, ResetView, ResultView, duration_text,
    parse_key_field, rfc3339, seconds_between, seconds_since, with_copy_buttons,
};
use super::workshop::{JoinPage, WorkshopBanner};
use crate::engine::{
    Engine, EngineError, LabProgress, ObjectKey, ResetReport, SetupReport, StepProgress,
};
use crate::i18n::Lang;
use crate::labs::{Lab, Step, Values};

/// Form field naming an object the learner confirmed Set up may replace.
pub const REPLACE_FIELD: &str = "replace";
/// Form field naming an object of their own the learner asked Reset to delete too.
pub const DELETE_FIELD: &str = "delete";

/// One chapter on the home page.
#[derive(Debug)]
pub struct LabCard {
    /// 1-based position.
    pub number: usize,
    /// Lab id.
    pub id: String,
    pub title: String,
    pub summary: String,
    /// Steps done.
    pub done: usize,
    /// Steps in all.
    pub total: usize,
    /// `complete`, `started` or `new`.
    pub state: &'static str,
}

/// `GET /`.
#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
pub struct HomePage {
    c: Chrome,
    t: &'static Ui,
    w: &'static Ws,
    labs: Vec<LabCard>,
    workshop: Option<WorkshopBanner>,
}

/// The lab shown on its page.
#[derive(Debug)]
pub struct LabHead {
    /// Lab id.
    pub id: String,
    /// 1-based chapter number.
    pub number: usize,
    pub title: String,
    pub summary: String,
    /// Sanitized introduction HTML (may be empty).
    pub intro_html: String,
    /// The lab's namespace.
    pub namespace: String,
    /// Steps done.
    pub done: usize,
    /// Steps in all.
    pub total: usize,
    /// Every step is done (the celebration panel shows).
    pub complete: bool,
    /// Time from the first step's start to the last pass, when complete.
    pub total_time: String,
    /// The next chapter, when there is one: (id, title).
    pub next: Option<(String, String)>,
    /// The live stream's URL.
    pub events_url: String,
}

/// One step on the lab page.
#[derive(Debug)]
pub struct StepView {
    /// 1-based.
    pub number: usize,
    /// Step id.
    pub id: String,
    pub title: String,
    /// Sanitized HTML with copy buttons.
    pub html: String,
    /// The step's life-cycle state and its label.
    pub badge: Badge,
    /// The step has manifests (shows **Set up**).
    pub has_setup: bool,
    /// The Check button's label (**Mark as done** for a step without checks).
    pub check_label: &'static str,
    /// What will be checked (shown while the step has no report).
    pub will_check: Vec<String>,
    /// Hints, in order.
    pub hints: Vec<String>,
    /// The result panel's content, after an action without JavaScript.
    pub result: Option<ResultView>,
    /// Questions answered with Check.
    pub questions: Vec<QuestionView>,
    /// Unfolded: the current step, or the one an action just answered.
    pub open: bool,
    /// The first step not done yet.
    pub current: bool,
    /// When the learner started it (RFC 3339, empty if not yet).
    pub started_at: String,
    /// Time on the step so far (not done) ...
    pub elapsed: String,
    /// ... or how long it took (done).
    pub took: String,
    /// Seconds stuck on the step before a hint is offered.
    pub hint_after: u64,
}

/// Who a page is rendered for: the interface strings, the language, and what the lab text's
/// placeholders stand for.
#[derive(Clone, Copy)]
struct Reader<'a> {
    t: &'static Ui,
    lang: Lang,
    values: &'a Values,
}

/// Seconds a learner may be stuck on a step before its first hint is offered.
pub const DEFAULT_HINT_AFTER_SECS: u64 = 180;

/// `GET /labs/{lab}`.
#[derive(Template, WebTemplate)]
#[template(path = "lab.html")]
pub struct LabPage {
    c: Chrome,
    t: &'static Ui,
    lab: LabHead,
    steps: Vec<StepView>,
    reset: Option<ResetView>,
    notice: Option<ResultView>,
    recap: Vec<RecapRow>,
}

/// The result panel alone, for htmx.
#[derive(Template)]
#[template(path = "result_fragment.html")]
struct ResultFragment {
    t: &'static Ui,
    step_id: String,
    r: ResultView,
}

/// `GET /`: the chapters in order with the learner's progress.
pub async fn home(
    State(engine): State<Engine>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    learner: Result<LearnerEngine, Refusal>,
) -> Result<Response, WebError> {
    let learner = match learner {
        Ok(learner) => learner,
        // In workshop mode, a browser without a session is asked to join one.
        Err(Refusal::NoSession { .. }) => {
            return Ok(JoinPage::for_visitor(&engine, lang, csrf, None, &headers)
                .await?
                .into_response());
        }
        Err(refusal) => return Ok(refusal.into_response()),
    };
    let t = ui(lang);
    let engine = &learner.engine;
    let progress = engine.all_progress().await?;
    let labs = learner
        .labs()
        .into_iter()
        .enumerate()
        .map(|(i, lab)| {
            let total = lab.steps.len();
            let done = progress.get(&lab.id).map_or(0, LabProgress::done);
            let started = progress.get(&lab.id).is_some_and(LabProgress::started);
            LabCard {
                number: i + 1,
                id: lab.id.clone(),
                title: lab.title.get(lang).to_owned(),
                summary: lab.summary.get(lang).to_owned(),
                done,
                total,
                state: if total > 0 && done == total {
                    "complete"
                } else if started {
                    "started"
                } else {
                    "new"
                },
            }
        })
        .collect();
    Ok(HomePage {
        c: Chrome::new(engine, lang, t, csrf, "/".to_owned()),
        t,
        w: ws(lang),
        labs,
        workshop: learner.session.as_ref().map(WorkshopBanner::new),
    }
    .into_response())
}

/// What a form left for the page it redirects to (kept in the store for one view).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Notice {
    /// A set-up's report, shown in its step's panel.
    Setup { step: String, report: SetupReport },
    /// A Check: its step is unfolded (its panel shows the stored report).
    Checked { step: String },
    /// A reset's report, shown at the top.
    Reset { report: ResetReport },
    /// An action that failed as a whole (no cluster...), in its step's panel or at the top.
    Problem {
        /// Step id, when the action was a step's.
        step: Option<String>,
        /// The error as the web layer classified it.
        title: String,
        detail: String,
        /// Show how to start a cluster.
        cluster_help: bool,
    },
}

impl Notice {
    fn step(&self) -> Option<&str> {
        match self {
            Notice::Setup { step, .. } | Notice::Checked { step } => Some(step),
            Notice::Problem { step, .. } => step.as_deref(),
            Notice::Reset { .. } => None,
        }
    }

    fn problem(step: Option<&str>, e: &WebError, t: &'static Ui) -> Notice {
        let problem = e.problem(t);
        Notice::Problem {
            step: step.map(str::to_owned),
            title: problem.title,
            detail: problem.detail,
            cluster_help: problem.cluster_help,
        }
    }

    fn problem_view(&self) -> Option<ProblemView> {
        match self {
            Notice::Problem {
                title,
                detail,
                cluster_help,
                ..
            } => Some(ProblemView {
                title: title.clone(),
                detail: detail.clone(),
                cluster_help: *cluster_help,
            }),
            _ => None,
        }
    }

    /// What the notice shows in its step's result panel (a Check's shows the stored report).
    fn step_result(&self, t: &'static Ui, csrf: &str) -> Option<ResultView> {
        match self {
            Notice::Setup { report, .. } => {
                let mut result = ResultView::from_setup(t, report);
                if let Some(setup) = result.setup.as_mut() {
                    csrf.clone_into(&mut setup.csrf);
                }
                Some(result)
            }
            Notice::Problem { .. } => self.problem_view().map(ResultView::from_problem),
            Notice::Checked { .. } | Notice::Reset { .. } => None,
        }
    }
}

/// Builds the lab page, with what a form left for it (a notice) in its step's panel or on top.
async fn lab_page(
    learner: &LearnerEngine,
    lang: Lang,
    csrf: String,
    lab_id: &str,
    notice: Option<Notice>,
) -> Result<LabPage, WebError> {
    let t = ui(lang);
    let engine = &learner.engine;
    let labs = learner.labs();
    let (number, lab) = labs
        .iter()
        .copied()
        .enumerate()
        .find(|(_, l)| l.id == lab_id)
        .ok_or_else(|| EngineError::UnknownLab(lab_id.to_owned()))?;
    let progress = engine.lab_progress(lab_id).await?;
    let values = engine.placeholders(lab).await;
    let reader = Reader {
        t,
        lang,
        values: &values,
    };
    let mut steps: Vec<StepView> = Vec::with_capacity(lab.steps.len());
    for (i, (s, p)) in lab.steps.iter().zip(&progress.steps).enumerate() {
        steps.push(step_view(engine, reader, lab_id, i, s, p).await?);
    }
    open_steps(&mut steps, &progress, notice.as_ref(), t, &csrf);
    let (reset, top_problem) = match &notice {
        Some(Notice::Reset { report }) => (Some(reset_view(engine, t, lang, report)), None),
        Some(n @ Notice::Problem { step: None, .. }) => {
            (None, n.problem_view().map(ResultView::from_problem))
        }
        _ => (None, None),
    };
    let recap = steps.iter().map(RecapRow::from).collect();
    let next = labs.get(number + 1).copied();
    Ok(LabPage {
        c: Chrome::new(engine, lang, t, csrf, format!("/labs/{}", lab.id)),
        t,
        lab: lab_head(reader, (number, lab), &progress, next),
        steps,
        reset,
        notice: top_problem,
        recap,
    })
}

/// Unfolds the current step and the one a notice is about, which shows it in its panel.
fn open_steps(
    steps: &mut [StepView],
    progress: &LabProgress,
    notice: Option<&Notice>,
    t: &'static Ui,
    csrf: &str,
) {
    let current = progress.current().map(|s| s.id.as_str());
    let noticed = notice.and_then(Notice::step);
    for view in steps {
        view.current = current == Some(view.id.as_str());
        let is_noticed = noticed == Some(view.id.as_str());
        view.open = view.current || is_noticed;
        if is_noticed && let Some(result) = notice.and_then(|n| n.step_result(t, csrf)) {
            view.result = Some(result);
        }
    }
}

/// The top of the lab page: title, introduction, namespace, progress, the next chapter.
fn lab_head(
    reader: Reader<'_>,
    (index, lab): (usize, &Lab),
    progress: &LabProgress,
    next: Option<&Lab>,
) -> LabHead {
    let Reader { t, lang, values } = reader;
    let complete = progress.complete();
    LabHead {
        id: lab.id.clone(),
        number: index + 1,
        title: lab.title.get(lang).to_owned(),
        summary: lab.summary.get(lang).to_owned(),
        intro_html: with_copy_buttons(&values.render_html(lab.intro_html.get(lang)), t),
        namespace: values.namespace.clone(),
        done: progress.done(),
        total: progress.steps.len(),
        complete,
        total_time: if complete {
            total_time(t, progress)
        } else {
            String::new()
        },
        next: next.map(|n| (n.id.clone(), n.title.get(lang).to_owned())),
        events_url: format!("/labs/{}/events", lab.id),
    }
}

/// From the first step's start to the last pass (empty when unknown).
fn total_time(t: &'static Ui, progress: &LabProgress) -> String {
    let first_start = progress.steps.first().and_then(|s| s.record.started_at);
    let last_pass = progress
        .steps
        .iter()
        .filter_map(|s| s.record.passed_at)
        .max();
    first_start
        .zip(last_pass)
        .and_then(|(from, to)| seconds_between(from, to))
        .map(|secs| duration_text(t, secs))
        .unwrap_or_default()
}

/// A reset's report, naming other chapters by their titles.
fn reset_view(engine: &Engine, t: &'static Ui, lang: Lang, report: &ResetReport) -> ResetView {
    ResetView::new(t, report, |id| {
        engine
            .catalog()
            .lab(id)
            .map_or_else(|| id.to_owned(), |l| l.title.get(lang).to_owned())
    })
}

impl From<&StepView> for RecapRow {
    fn from(s: &StepView) -> RecapRow {
        RecapRow {
            number: s.number,
            id: s.id.clone(),
            title: s.title.clone(),
            done: s.badge.state.is_done(),
            took: s.took.clone(),
        }
    }
}

/// One step of the lab page from its progress: a step not started shows what will be checked,
/// a started one its last report.
async fn step_view(
    engine: &Engine,
    reader: Reader<'_>,
    lab_id: &str,
    index: usize,
    s: &Step,
    progress: &StepProgress,
) -> Result<StepView, WebError> {
    let Reader { t, lang, values } = reader;
    let has_questions = s.checks.iter().any(|c| c.question.is_some());
    let answers = if has_questions {
        engine.answers(lab_id, &s.id).await?
    } else {
        BTreeMap::new()
    };
    let record = &progress.record;
    let took = record
        .started_at
        .zip(record.passed_at)
        .and_then(|(from, to)| seconds_between(from, to))
        .map(|secs| duration_text(t, secs))
        .unwrap_or_default();
    let elapsed = match record.started_at {
        Some(started) if !progress.state.is_done() => duration_text(t, seconds_since(started)),
        _ => String::new(),
    };
    Ok(StepView {
        number: index + 1,
        id: s.id.clone(),
        title: s.title.get(lang).to_owned(),
        html: with_copy_buttons(&values.render_html(s.html.get(lang)), t),
        badge: Badge::new(t, progress.state),
        has_setup: !s.manifests.is_empty(),
        check_label: if s.checks.is_empty() {
            t.mark_done
        } else {
            t.check
        },
        will_check: s
            .checks
            .iter()
            .map(|c| values.render(c.title.get(lang)).into_owned())
            .collect(),
        hints: s
            .hints
            .iter()
            .map(|h| values.render(h.get(lang)).into_owned())
            .collect(),
        result: progress
            .report
            .as_ref()
            .map(|r| ResultView::from_check(t, lang, r)),
        questions: s
            .checks
            .iter()
            .filter_map(|c| {
                c.question.as_ref().map(|q| {
                    let secret = crate::checks::token_of(c).is_some();
                    QuestionView {
                        id: c.id.clone(),
                        text: values.render(q.get(lang)).into_owned(),
                        value: answers
                            .get(&c.id)
                            .filter(|_| !secret)
                            .cloned()
                            .unwrap_or_default(),
                        secret,
                        max_chars: if secret {
                            crate::checks::MAX_TOKEN_CHARS
                        } else {
                            crate::engine::MAX_ANSWER_CHARS
                        },
                    }
                })
            })
            .collect(),
        open: false,
        current: false,
        started_at: record.started_at.map(rfc3339).unwrap_or_default(),
        elapsed,
        took,
        hint_after: s.hint_after_seconds.unwrap_or(DEFAULT_HINT_AFTER_SECS),
    })
}

/// `GET /labs/{lab}`.
pub async fn lab(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    Path(lab_id): Path<String>,
) -> Result<LabPage, WebError> {
    let engine = &learner.engine;
    // Opening the lab starts its current step (for `since: step` checks and the step timer).
    engine.open_lab(&lab_id).await?;
    let notice = engine
        .take_notice(&lab_id)
        .await?
        .and_then(|json| serde_json::from_str::<Notice>(&json).ok());
    lab_page(&learner, lang, csrf, &lab_id, notice).await
}

/// `GET /labs/{lab}/steps/{step}`: the step's place on its lab page.
pub async fn step(
    learner: LearnerEngine,
    Path((lab_id, step_id)): Path<(String, String)>,
) -> Result<Redirect, WebError> {
    if learner.lab_or_404(&lab_id)?.step(&step_id).is_none() {
        return Err(EngineError::UnknownStep {
            lab: lab_id,
            step: step_id,
        }
        .into());
    }
    Ok(Redirect::to(&format!("/labs/{lab_id}#step-{step_id}")))
}

/// The fields of a step's form: `answer.<check-id>` answers and `replace` object keys.
#[derive(Debug, Default)]
struct StepForm {
    answers: BTreeMap<String, String>,
    replace: Vec<ObjectKey>,
}

impl TryFrom<FormFields> for StepForm {
    type Error = WebError;

    fn try_from(FormFields(fields): FormFields) -> Result<StepForm, WebError> {
        let mut out = StepForm::default();
        for (name, value) in fields {
            if let Some(id) = name.strip_prefix(ANSWER_FIELD_PREFIX) {
                out.answers.insert(id.to_owned(), value);
            } else if name == REPLACE_FIELD {
                let key = parse_key_field(&value).ok_or_else(|| {
                    WebError::BadRequest(format!("{value:?} does not name an object"))
                })?;
                out.replace.push(key);
            }
        }
        Ok(out)
    }
}

/// Which button was pressed.
#[derive(Debug, Clone, Copy)]
enum Action {
    Setup,
    Check,
}

/// Set up or Check from a page: htmx gets the result panel; a plain form is redirected (303)
/// to the lab page, which shows the result (so the address can be reloaded). An unknown lab
/// or step is the 404 page; any other failure shows in the step's panel.
async fn step_action(
    learner: LearnerEngine,
    lang: Lang,
    headers: HeaderMap,
    (lab_id, step_id): (String, String),
    action: Action,
    form: FormFields,
) -> Result<Response, WebError> {
    let htmx = is_htmx(&headers);
    let t = ui(lang);
    let engine = &learner.engine;
    let form = StepForm::try_from(form)?;
    let outcome = match action {
        Action::Setup => engine
            .setup_replacing(&lab_id, &step_id, &form.replace)
            .await
            .map(|report| {
                let view = ResultView::from_setup(t, &report);
                let notice = Notice::Setup {
                    step: step_id.clone(),
                    report,
                };
                (view, notice)
            }),
        Action::Check => engine
            .check(&lab_id, &step_id, &form.answers)
            .await
            .map(|report| {
                let notice = Notice::Checked {
                    step: step_id.clone(),
                };
                (ResultView::from_check(t, lang, &report), notice)
            }),
    };
    let (status, view, notice, failure) = match outcome {
        Ok((view, notice)) => (StatusCode::OK, view, notice, None),
        Err(e @ (EngineError::UnknownLab(_) | EngineError::UnknownStep { .. })) => {
            return Err(e.into());
        }
        Err(e) => {
            let e = WebError::from(e);
            let notice = Notice::problem(Some(&step_id), &e, t);
            (
                e.status(),
                ResultView::from_problem(e.problem(t)),
                notice,
                Some(e),
            )
        }
    };
    let response = if htmx {
        let html = ResultFragment {
            t,
            step_id: step_id.clone(),
            r: view,
        }
        .render()?;
        (status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response()
    } else {
        leave_notice(engine, &lab_id, &notice).await?;
        Redirect::to(&format!("/labs/{lab_id}#step-{step_id}")).into_response()
    };
    Ok(match failure {
        Some(e) => e.shown_in(response),
        None => response,
    })
}

async fn leave_notice(engine: &Engine, lab_id: &str, notice: &Notice) -> Result<(), WebError> {
    let json = serde_json::to_string(notice).map_err(|e| WebError::Internal(e.to_string()))?;
    Ok(engine.leave_notice(lab_id, &json).await?)
}

/// `POST /labs/{lab}/steps/{step}/setup` (`replace` fields: the objects the learner confirmed
/// replacing).
pub async fn setup(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    headers: HeaderMap,
    Path(ids): Path<(String, String)>,
    form: FormFields,
) -> Result<Response, WebError> {
    step_action(learner, lang, headers, ids, Action::Setup, form).await
}

/// `POST /labs/{lab}/steps/{step}/check` (`answer.<check-id>` fields: answers to questions).
pub async fn check(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    headers: HeaderMap,
    Path(ids): Path<(String, String)>,
    form: FormFields,
) -> Result<Response, WebError> {
    step_action(learner, lang, headers, ids, Action::Check, form).await
}

/// `POST /labs/{lab}/reset` (`delete` fields: the learner's own objects they chose to delete
/// too): redirects (303) to the lab page, which shows what was deleted and kept.
pub async fn reset(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    Path(lab_id): Path<String>,
    form: FormFields,
) -> Result<Response, WebError> {
    let also_delete: Vec<ObjectKey> = form.all(DELETE_FIELD).filter_map(parse_key_field).collect();
    let (notice, failure) = match learner.engine.reset_with(&lab_id, &also_delete).await {
        Ok(report) => (Notice::Reset { report }, None),
        Err(e @ EngineError::UnknownLab(_)) => return Err(e.into()),
        Err(e) => {
            let e = WebError::from(e);
            (Notice::problem(None, &e, ui(lang)), Some(e))
        }
    };
    leave_notice(&learner.engine, &lab_id, &notice).await?;
    let response = Redirect::to(&format!("/labs/{lab_id}")).into_response();
    Ok(match failure {
        Some(e) => e.shown_in(response),
        None => response,
    })
}

/// Anything else that is not under `/api/`: the 404 page.
pub async fn not_found(uri: axum::http::Uri) -> WebError {
    WebError::NotFound(uri.path().to_owned())
}
