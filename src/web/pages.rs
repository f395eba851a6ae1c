//! The HTML pages: the chapter list, a lab with its steps, and the Set up / Check / Reset forms
//! (htmx fragments when JavaScript runs, whole pages when it does not).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};

use super::WebState;
use super::csrf::CsrfToken;
use super::error::{PageError, WebError};
use super::i18n::{Ui, ui};
use super::lang::UiLang;
use super::view::{
    Badge, Chrome, ResetView, ResultView, done_count, state_label, step_state, with_copy_buttons,
};
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
    labs: Vec<LabCard>,
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
}

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
) -> Result<HomePage, PageError> {
    let t = ui(lang);
    let engine = &state.engine;
    let progress = engine
        .all_progress()
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
    let labs = engine
        .catalog()
        .labs
        .iter()
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
        labs,
    })
}

/// Builds the lab page, with an optional result in one step's panel and notices at the top.
async fn lab_page(
    state: &WebState,
    lang: Lang,
    csrf: String,
    lab_id: &str,
    result: Option<(&str, ResultView)>,
    reset: Option<ResetView>,
    notice: Option<ResultView>,
) -> Result<LabPage, WebError> {
    let t = ui(lang);
    let engine = &state.engine;
    let (number, lab) = engine
        .catalog()
        .labs
        .iter()
        .enumerate()
        .find(|(_, l)| l.id == lab_id)
        .ok_or_else(|| WebError::UnknownLab(lab_id.to_owned()))?;
    let progress = engine.lab_progress(lab_id).await?;
    let mut result = result;
    let steps: Vec<StepView> = lab
        .steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let state = step_state(progress.get(&s.id));
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
            };
            if result.as_ref().is_some_and(|(id, _)| *id == s.id)
                && let Some((_, r)) = result.take()
            {
                if let Some(Badge { state, label }) = &r.badge {
                    view.state = state;
                    view.state_label = label;
                }
                view.result = Some(r);
            }
            view
        })
        .collect();
    let done = steps.iter().filter(|s| s.state == "done").count();
    Ok(LabPage {
        c: Chrome::new(engine, lang, t, csrf, format!("/labs/{}", lab.id)),
        t,
        lab: LabHead {
            id: lab.id.clone(),
            number: number + 1,
            title: lab.title.get(lang).to_owned(),
            summary: lab.summary.get(lang).to_owned(),
            intro_html: with_copy_buttons(lab.intro_html.get(lang), t),
            namespace: lab.namespace.clone(),
            done,
            total: steps.len(),
        },
        steps,
        reset,
        notice,
    })
}

/// `GET /labs/{lab}`.
pub async fn lab(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    path: Result<Path<String>, PathRejection>,
) -> Result<LabPage, PageError> {
    let Path(lab_id) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    lab_page(&state, lang, csrf, &lab_id, None, None, None)
        .await
        .map_err(|e| PageError::new(e, lang, false))
}

/// `GET /labs/{lab}/steps/{step}`: the step's place on its lab page.
pub async fn step(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Redirect, PageError> {
    let Path((lab_id, step_id)) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    let lab = state
        .engine
        .catalog()
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

async fn step_action(
    state: WebState,
    lang: Lang,
    csrf: String,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
    action: Action,
) -> Result<Response, PageError> {
    let htmx = is_htmx(&headers);
    let t = ui(lang);
    let Path((lab_id, step_id)) = path.map_err(|e| PageError::new(bad_path(e), lang, htmx))?;
    let engine = &state.engine;
    let outcome = match action {
        Action::Setup => engine
            .setup(&lab_id, &step_id)
            .await
            .map(|report| ResultView::from_setup(t, &report)),
        Action::Check => engine
            .check(&lab_id, &step_id, &Default::default())
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
            &state,
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
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, PageError> {
    step_action(state, lang, csrf, headers, path, Action::Setup).await
}

/// `POST /labs/{lab}/steps/{step}/check`.
pub async fn check(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, PageError> {
    step_action(state, lang, csrf, headers, path, Action::Check).await
}

/// `POST /labs/{lab}/reset`: the lab page again, with what was deleted (or why not) on top.
pub async fn reset(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let t = ui(lang);
    let Path(lab_id) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    let (status, reset, notice) = match state.engine.reset(&lab_id).await {
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
    let page = lab_page(&state, lang, csrf, &lab_id, None, reset, notice)
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
