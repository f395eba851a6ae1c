//! The HTML pages: the chapter list, a lab with its steps, and the Set up / Check / Reset forms
//! (htmx fragments when JavaScript runs, whole pages when it does not).

use std::collections::BTreeMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::api::ANSWER_FIELD_PREFIX;
use super::csrf::CsrfToken;
use super::error::{PageError, WebError};
use super::i18n::{Ui, Ws, ui, ws};
use super::lang::UiLang;
use super::view::{
    Badge, Chrome, ProblemView, QuestionView, RecapRow, ResetView, ResultView, duration_text,
    parse_key_field, rfc3339, seconds_between, seconds_since, with_copy_buttons,
};
use super::workshop::{JoinPage, LearnerEngine, Refusal, WorkshopBanner};
use crate::engine::{
    Engine, EngineError, LabProgress, ObjectKey, ResetReport, SetupReport, StepProgress,
};
use crate::i18n::Lang;
use crate::labs::Step;

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
    /// Title.
    pub title: String,
    /// Summary.
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
    /// Title.
    pub title: String,
    /// Summary.
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
    /// Title.
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

fn is_htmx(headers: &HeaderMap) -> bool {
    headers.get("hx-request").is_some()
}

fn bad_path(e: PathRejection) -> WebError {
    WebError::BadRequest(format!("malformed address: {}", e.body_text()))
}

/// `GET /`: the chapters in order with the learner's progress.
pub async fn home(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    learner: Result<LearnerEngine, Refusal>,
) -> Result<Response, PageError> {
    let learner = match learner {
        Ok(learner) => learner,
        // In workshop mode, a browser without a session is asked to join one.
        Err(Refusal::NoSession { .. }) => {
            return Ok(JoinPage::new(&state.engine, lang, csrf, None).into_response());
        }
        Err(refusal) => return Ok(refusal.into_response()),
    };
    let t = ui(lang);
    let engine = &learner.engine;
    let progress = engine
        .all_progress()
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
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
    Setup {
        /// Step id.
        step: String,
        /// The report.
        report: SetupReport,
    },
    /// A Check: its step is unfolded (its panel shows the stored report).
    Checked {
        /// Step id.
        step: String,
    },
    /// A reset's report, shown at the top.
    Reset {
        /// The report.
        report: ResetReport,
    },
    /// An action that failed as a whole (no cluster...), in its step's panel or at the top.
    Problem {
        /// Step id, when the action was a step's.
        step: Option<String>,
        /// The error as the web layer classified it.
        title: String,
        /// Details.
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
        .ok_or_else(|| WebError::UnknownLab(lab_id.to_owned()))?;
    let progress = engine.lab_progress(lab_id).await?;
    let current = progress.current().map(|s| s.id.clone());
    let noticed_step = notice.as_ref().and_then(Notice::step).map(str::to_owned);
    let mut steps: Vec<StepView> = Vec::with_capacity(lab.steps.len());
    for (i, (s, p)) in lab.steps.iter().zip(&progress.steps).enumerate() {
        let mut view = step_view(engine, t, lang, lab_id, i, s, p).await?;
        view.current = current.as_deref() == Some(s.id.as_str());
        view.open = view.current || noticed_step.as_deref() == Some(s.id.as_str());
        if noticed_step.as_deref() == Some(s.id.as_str()) {
            match &notice {
                Some(Notice::Setup { report, .. }) => {
                    let mut result = ResultView::from_setup(t, report);
                    if let Some(setup) = result.setup.as_mut() {
                        setup.csrf.clone_from(&csrf);
                    }
                    view.result = Some(result);
                }
                Some(n @ Notice::Problem { .. }) => {
                    view.result = n.problem_view().map(ResultView::from_problem);
                }
                _ => {}
            }
        }
        steps.push(view);
    }
    let (reset, top_problem) = match &notice {
        Some(Notice::Reset { report }) => (
            Some(ResetView::new(t, report, |id| {
                engine
                    .catalog()
                    .lab(id)
                    .map_or_else(|| id.to_owned(), |l| l.title.get(lang).to_owned())
            })),
            None,
        ),
        Some(n @ Notice::Problem { step: None, .. }) => {
            (None, n.problem_view().map(ResultView::from_problem))
        }
        _ => (None, None),
    };
    let done = progress.done();
    let complete = progress.complete();
    let total_time = if complete {
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
    } else {
        String::new()
    };
    let recap = steps
        .iter()
        .map(|s| RecapRow {
            number: s.number,
            id: s.id.clone(),
            title: s.title.clone(),
            done: s.badge.state.is_done(),
            took: s.took.clone(),
        })
        .collect();
    Ok(LabPage {
        c: Chrome::new(engine, lang, t, csrf, format!("/labs/{}", lab.id)),
        t,
        lab: LabHead {
            id: lab.id.clone(),
            number: number + 1,
            title: lab.title.get(lang).to_owned(),
            summary: lab.summary.get(lang).to_owned(),
            intro_html: with_copy_buttons(lab.intro_html.get(lang), t),
            namespace: engine
                .learner()
                .namespace
                .clone()
                .unwrap_or_else(|| lab.namespace.clone()),
            done,
            total: steps.len(),
            complete,
            total_time,
            next: labs
                .get(number + 1)
                .map(|n| (n.id.clone(), n.title.get(lang).to_owned())),
            events_url: format!("/labs/{}/events", lab.id),
        },
        steps,
        reset,
        notice: top_problem,
        recap,
    })
}

/// One step of the lab page from its progress: a step not started shows what will be checked,
/// a started one its last report.
async fn step_view(
    engine: &Engine,
    t: &'static Ui,
    lang: Lang,
    lab_id: &str,
    index: usize,
    s: &Step,
    progress: &StepProgress,
) -> Result<StepView, WebError> {
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
        html: with_copy_buttons(s.html.get(lang), t),
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
            .map(|c| c.title.get(lang).to_owned())
            .collect(),
        hints: s.hints.iter().map(|h| h.get(lang).to_owned()).collect(),
        result: progress
            .report
            .as_ref()
            .map(|r| ResultView::from_check(t, lang, r)),
        questions: s
            .checks
            .iter()
            .filter_map(|c| {
                c.question.as_ref().map(|q| QuestionView {
                    id: c.id.clone(),
                    text: q.get(lang).to_owned(),
                    value: answers.get(&c.id).cloned().unwrap_or_default(),
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
    path: Result<Path<String>, PathRejection>,
) -> Result<LabPage, PageError> {
    let Path(lab_id) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    let engine = &learner.engine;
    // Opening the lab starts its current step (for `since: step` checks and the step timer).
    engine
        .open_lab(&lab_id)
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
    let notice = engine
        .take_notice(&lab_id)
        .await
        .map_err(|e| PageError::new(e, lang, false))?
        .and_then(|json| serde_json::from_str::<Notice>(&json).ok());
    lab_page(&learner, lang, csrf, &lab_id, notice)
        .await
        .map_err(|e| PageError::new(e, lang, false))
}

/// `GET /labs/{lab}/steps/{step}`: the step's place on its lab page.
pub async fn step(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Redirect, PageError> {
    let Path((lab_id, step_id)) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    let lab = learner
        .lab(&lab_id)
        .ok_or_else(|| PageError::new(WebError::UnknownLab(lab_id.clone()), lang, false))?;
    if lab.step(&step_id).is_none() {
        return Err(PageError::new(
            WebError::UnknownStep {
                lab: lab_id,
                step: step_id,
            },
            lang,
            false,
        ));
    }
    Ok(Redirect::to(&format!("/labs/{lab_id}#step-{step_id}")))
}

/// The fields of a step's form: `answer.<check-id>` answers and `replace` object keys.
#[derive(Debug, Default)]
struct StepForm {
    answers: BTreeMap<String, String>,
    replace: Vec<ObjectKey>,
}

/// Reads a step form (no form at all means an empty one).
fn step_form(
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<StepForm, WebError> {
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(FormRejection::InvalidFormContentType(_)) => Vec::new(),
        Err(e) => return Err(WebError::BadRequest(e.body_text())),
    };
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

/// Which button was pressed.
#[derive(Debug, Clone, Copy)]
enum Action {
    Setup,
    Check,
}

/// Set up or Check from a page: htmx gets the result panel; a plain form is redirected (303)
/// to the lab page, which shows the result (so the address can be reloaded).
async fn step_action(
    learner: LearnerEngine,
    lang: Lang,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    action: Action,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let htmx = is_htmx(&headers);
    let t = ui(lang);
    let Path((lab_id, step_id)) = path.map_err(|e| PageError::new(bad_path(e), lang, htmx))?;
    let engine = &learner.engine;
    let form = step_form(form).map_err(|e| PageError::new(e, lang, htmx))?;
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
    let (status, view, notice) = match outcome {
        Ok((view, notice)) => (StatusCode::OK, view, notice),
        Err(e @ (EngineError::UnknownLab(_) | EngineError::UnknownStep { .. })) => {
            return Err(PageError::new(e, lang, htmx));
        }
        Err(e) => {
            let e = WebError::from(e);
            let notice = Notice::problem(Some(&step_id), &e, t);
            (e.status(), ResultView::from_problem(e.problem(t)), notice)
        }
    };
    if !htmx {
        leave_notice(engine, &lab_id, &notice, lang).await?;
        return Ok(Redirect::to(&format!("/labs/{lab_id}#step-{step_id}")).into_response());
    }
    let html = ResultFragment {
        t,
        step_id: step_id.clone(),
        r: view,
    }
    .render()
    .map_err(|e| PageError::new(e, lang, htmx))?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

async fn leave_notice(
    engine: &Engine,
    lab_id: &str,
    notice: &Notice,
    lang: Lang,
) -> Result<(), PageError> {
    let json = serde_json::to_string(notice)
        .map_err(|e| PageError::new(WebError::Internal(e.to_string()), lang, false))?;
    engine
        .leave_notice(lab_id, &json)
        .await
        .map_err(|e| PageError::new(e, lang, false))
}

/// `POST /labs/{lab}/steps/{step}/setup` (`replace` fields: the objects the learner confirmed
/// replacing).
pub async fn setup(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    step_action(learner, lang, headers, path, Action::Setup, form).await
}

/// `POST /labs/{lab}/steps/{step}/check`.
pub async fn check(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    step_action(learner, lang, headers, path, Action::Check, form).await
}

/// `POST /labs/{lab}/reset` (`delete` fields: the learner's own objects they chose to delete
/// too): redirects (303) to the lab page, which shows what was deleted and kept.
pub async fn reset(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    path: Result<Path<String>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let t = ui(lang);
    let Path(lab_id) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(FormRejection::InvalidFormContentType(_)) => Vec::new(),
        Err(e) => {
            return Err(PageError::new(
                WebError::BadRequest(e.body_text()),
                lang,
                false,
            ));
        }
    };
    let also_delete: Vec<ObjectKey> = fields
        .iter()
        .filter(|(name, _)| name == DELETE_FIELD)
        .filter_map(|(_, value)| parse_key_field(value))
        .collect();
    let notice = match learner.engine.reset_with(&lab_id, &also_delete).await {
        Ok(report) => Notice::Reset { report },
        Err(e @ EngineError::UnknownLab(_)) => return Err(PageError::new(e, lang, false)),
        Err(e) => Notice::problem(None, &WebError::from(e), t),
    };
    leave_notice(&learner.engine, &lab_id, &notice, lang).await?;
    Ok(Redirect::to(&format!("/labs/{lab_id}")).into_response())
}

/// Anything else that is not under `/api/`: the 404 page.
pub async fn not_found(UiLang(lang): UiLang, uri: axum::http::Uri) -> PageError {
    PageError::new(WebError::NotFound(uri.path().to_owned()), lang, false)
}
