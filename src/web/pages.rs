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

use super::WebState;
use super::api::{ANSWER_FIELD_PREFIX, checked_answers};
use super::csrf::CsrfToken;
use super::error::{PageError, WebError};
use super::i18n::{Ui, Ws, ui, ws};
use super::lang::UiLang;
use super::view::{
    Badge, Chrome, QuestionView, RecapRow, ResetView, ResultView, done_count, duration_text,
    seconds_between, seconds_since, state_label, step_state, with_copy_buttons,
};
use super::workshop::{JoinPage, LearnerEngine, Refusal, WorkshopBanner};
use crate::engine::EngineError;
use crate::i18n::Lang;

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
    /// Badge state (`done`, `failed`, `pending`, `error`, `not-checked`).
    pub state: &'static str,
    /// Badge text.
    pub state_label: &'static str,
    /// The step has manifests (shows **Set up**).
    pub has_setup: bool,
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
            let done = done_count(
                lab.steps.iter().map(|s| s.id.as_str()),
                progress.get(&lab.id),
            );
            let started = progress.get(&lab.id).is_some_and(|p| !p.is_empty());
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

/// Builds the lab page, with an optional result in one step's panel and notices at the top.
async fn lab_page(
    learner: &LearnerEngine,
    lang: Lang,
    csrf: String,
    lab_id: &str,
    result: Option<(&str, ResultView)>,
    reset: Option<ResetView>,
    notice: Option<ResultView>,
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
    let starts = engine.step_starts(lab_id).await?;
    let current = lab
        .steps
        .iter()
        .position(|s| step_state(progress.get(&s.id)) != "done");
    let mut result = result;
    let mut steps: Vec<StepView> = Vec::with_capacity(lab.steps.len());
    for (i, s) in lab.steps.iter().enumerate() {
        let state = step_state(progress.get(&s.id));
        let has_questions = s.checks.iter().any(|c| c.question.is_some());
        let answers = if has_questions {
            engine.answers(lab_id, &s.id).await?
        } else {
            BTreeMap::new()
        };
        let started_at = starts.get(&s.id).cloned().unwrap_or_default();
        let passed_at = progress.get(&s.id).and_then(|r| r.passed_at.as_deref());
        let took = passed_at
            .and_then(|p| seconds_between(&started_at, p))
            .map(|secs| duration_text(t, secs))
            .unwrap_or_default();
        let elapsed = if state == "done" {
            String::new()
        } else {
            seconds_since(&started_at)
                .map(|secs| duration_text(t, secs))
                .unwrap_or_default()
        };
        let mut view = StepView {
            number: i + 1,
            id: s.id.clone(),
            title: s.title.get(lang).to_owned(),
            html: with_copy_buttons(s.html.get(lang), t),
            state,
            state_label: state_label(t, state),
            has_setup: !s.manifests.is_empty(),
            hints: s.hints.iter().map(|h| h.get(lang).to_owned()).collect(),
            result: None,
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
            open: current == Some(i),
            current: current == Some(i),
            started_at,
            elapsed,
            took,
            hint_after: s.hint_after_seconds.unwrap_or(DEFAULT_HINT_AFTER_SECS),
        };
        if result.as_ref().is_some_and(|(id, _)| *id == s.id)
            && let Some((_, r)) = result.take()
        {
            if let Some(Badge { state, label }) = &r.badge {
                view.state = state;
                view.state_label = label;
            }
            view.result = Some(r);
            view.open = true;
        }
        steps.push(view);
    }
    let done = steps.iter().filter(|s| s.state == "done").count();
    let complete = !steps.is_empty() && done == steps.len();
    let total_time = if complete {
        let first_start = lab
            .steps
            .first()
            .and_then(|s| starts.get(&s.id))
            .map(String::as_str);
        let last_pass = progress
            .values()
            .filter_map(|r| r.passed_at.as_deref())
            .max();
        match (first_start, last_pass) {
            (Some(from), Some(to)) => seconds_between(from, to)
                .map(|secs| duration_text(t, secs))
                .unwrap_or_default(),
            _ => String::new(),
        }
    } else {
        String::new()
    };
    let recap = steps
        .iter()
        .map(|s| RecapRow {
            number: s.number,
            id: s.id.clone(),
            title: s.title.clone(),
            done: s.state == "done",
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
        notice,
        recap,
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
    // Opening the lab starts its current step (for `since: step` checks and the step timer).
    learner
        .engine
        .open_lab(&lab_id)
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
    lab_page(&learner, lang, csrf, &lab_id, None, None, None)
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

/// Which button was pressed.
#[derive(Debug, Clone, Copy)]
enum Action {
    Setup,
    Check,
}

/// The answers in a Check form (`answer.<check-id>` fields); no form at all means none.
fn form_answers(
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<BTreeMap<String, String>, WebError> {
    let fields = match form {
        Ok(Form(fields)) => fields,
        Err(FormRejection::InvalidFormContentType(_)) => Vec::new(),
        Err(e) => return Err(WebError::BadRequest(e.body_text())),
    };
    Ok(fields
        .into_iter()
        .filter_map(|(name, value)| {
            name.strip_prefix(ANSWER_FIELD_PREFIX)
                .map(|id| (id.to_owned(), value))
        })
        .collect())
}

#[allow(clippy::too_many_arguments)]
async fn step_action(
    learner: LearnerEngine,
    lang: Lang,
    csrf: String,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    action: Action,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let htmx = is_htmx(&headers);
    let t = ui(lang);
    let Path((lab_id, step_id)) = path.map_err(|e| PageError::new(bad_path(e), lang, htmx))?;
    let engine = &learner.engine;
    let answers = match action {
        Action::Check => form_answers(form)
            .and_then(|raw| checked_answers(engine, &lab_id, &step_id, raw))
            .map_err(|e| PageError::new(e, lang, htmx))?,
        Action::Setup => BTreeMap::new(),
    };
    let outcome = match action {
        Action::Setup => engine
            .setup(&lab_id, &step_id)
            .await
            .map(|report| ResultView::from_setup(t, &report)),
        Action::Check => engine
            .check(&lab_id, &step_id, &answers)
            .await
            .map(|report| ResultView::from_check(t, lang, &report)),
    };
    let (status, view) = match outcome {
        Ok(view) => (StatusCode::OK, view),
        Err(e @ (EngineError::UnknownLab(_) | EngineError::UnknownStep { .. })) => {
            return Err(PageError::new(e, lang, htmx));
        }
        Err(e) => {
            let e = WebError::from(e);
            (e.status(), ResultView::from_problem(e.problem(t)))
        }
    };
    let html = if htmx {
        ResultFragment {
            t,
            step_id: step_id.clone(),
            r: view,
        }
        .render()
        .map_err(|e| PageError::new(e, lang, htmx))?
    } else {
        lab_page(
            &learner,
            lang,
            csrf,
            &lab_id,
            Some((&step_id, view)),
            None,
            None,
        )
        .await
        .map_err(|e| PageError::new(e, lang, htmx))?
        .render()
        .map_err(|e| PageError::new(e, lang, htmx))?
    };
    Ok((status, [(header::CACHE_CONTROL, "no-store")], Html(html)).into_response())
}

/// `POST /labs/{lab}/steps/{step}/setup`.
pub async fn setup(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, PageError> {
    step_action(
        learner,
        lang,
        csrf,
        headers,
        path,
        Action::Setup,
        Ok(Form(Vec::new())),
    )
    .await
}

/// `POST /labs/{lab}/steps/{step}/check`.
pub async fn check(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    step_action(learner, lang, csrf, headers, path, Action::Check, form).await
}

/// `POST /labs/{lab}/reset`: the lab page again, with what was deleted (or why not) on top.
pub async fn reset(
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let t = ui(lang);
    let Path(lab_id) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    let (status, reset, notice) = match learner.engine.reset(&lab_id).await {
        Ok(report) => (StatusCode::OK, Some(ResetView::new(&report)), None),
        Err(e @ EngineError::UnknownLab(_)) => return Err(PageError::new(e, lang, false)),
        Err(e) => {
            let e = WebError::from(e);
            (
                e.status(),
                None,
                Some(ResultView::from_problem(e.problem(t))),
            )
        }
    };
    let page = lab_page(&learner, lang, csrf, &lab_id, None, reset, notice)
        .await
        .map_err(|e| PageError::new(e, lang, false))?
        .render()
        .map_err(|e| PageError::new(e, lang, false))?;
    Ok((status, [(header::CACHE_CONTROL, "no-store")], Html(page)).into_response())
}

/// Anything else that is not under `/api/`: the 404 page.
pub async fn not_found(UiLang(lang): UiLang, uri: axum::http::Uri) -> PageError {
    PageError::new(WebError::NotFound(uri.path().to_owned()), lang, false)
}
