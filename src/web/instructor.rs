//! Workshop mode on the instructor's side: sign-in, the workshop list and create form, one
//! workshop's learners × steps grid (polled by htmx), its actions (reset a learner, extend, end),
//! and the same as JSON under `/api/instructor/...`.
//!
//! Every handler takes the [`Instructor`] extractor: `Authorization: Bearer <token>` or the
//! encrypted `kubelab_instructor` cookie set by the sign-in form, checked against the stored hash on
//! every request. Without a credential: 401 (pages show the sign-in form); a wrong one: 403
//! after [`FAILED_SIGN_IN_DELAY`].

use std::time::Duration;

use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{Form, FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::{Deserialize, Serialize};

use super::WebState;
use super::csrf::CsrfToken;
use super::error::{PageError, WebError};
use super::i18n::{Ui, Ws, state_label, ui, ws};
use super::lang::{UiLang, negotiate};
use super::view::Chrome;
use super::workshop::is_api;
use crate::engine::{Engine, Grid, StepState, WorkshopRequest};
use crate::i18n::Lang;
use crate::labs::Mode;
use crate::store::Workshop;

/// Name of the signed cookie holding the instructor's token after signing in.
pub const INSTRUCTOR_COOKIE: &str = "kubelab_instructor";
/// How long a wrong instructor token waits before its 403, to slow down guessing.
pub const FAILED_SIGN_IN_DELAY: Duration = Duration::from_millis(500);
/// Seconds between grid refreshes on the workshop page.
pub const GRID_REFRESH_SECS: u64 = 5;

/// A request carrying the instructor credential.
#[derive(Debug, Clone, Copy)]
pub struct Instructor;

/// Why a request is not the instructor's.
pub struct NotInstructor {
    error: WebError,
    api: bool,
    lang: Lang,
    login: Option<LoginPage>,
}

impl IntoResponse for NotInstructor {
    fn into_response(self) -> Response {
        if self.api {
            return self.error.into_response();
        }
        match self.login {
            Some(page) => (self.error.status(), page).into_response(),
            None => PageError::new(self.error, self.lang, false).into_response(),
        }
    }
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

impl FromRequestParts<WebState> for Instructor {
    type Rejection = NotInstructor;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let api = is_api(parts);
        let lang = negotiate(&parts.headers);
        let w = ws(lang);
        let refuse = |error: WebError, sign_in: bool| {
            let login = (sign_in && !api).then(|| {
                let csrf = parts
                    .extensions
                    .get::<CsrfToken>()
                    .map(|c| c.0.clone())
                    .unwrap_or_default();
                LoginPage::new(&state.engine, lang, csrf, Some(error.to_string()))
            });
            NotInstructor {
                error,
                api,
                lang,
                login,
            }
        };
        if !state.workshop {
            return Err(refuse(
                WebError::NotFound(parts.uri.path().to_owned()),
                false,
            ));
        }
        let token = bearer(&parts.headers).or_else(|| {
            PrivateCookieJar::from_headers(&parts.headers, state.key.clone())
                .get(INSTRUCTOR_COOKIE)
                .map(|c| c.value().to_owned())
        });
        let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 256) else {
            return Err(refuse(
                WebError::Unauthorized(w.need_instructor.to_owned()),
                true,
            ));
        };
        match state.engine.instructor_allowed(&token).await {
            Ok(true) => Ok(Instructor),
            Ok(false) => {
                tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
                Err(refuse(WebError::Forbidden(w.wrong_token.to_owned()), true))
            }
            Err(e) => Err(refuse(e.into(), false)),
        }
    }
}

/// `GET /instructor/login` (and any instructor page without a credential).
#[derive(Template, WebTemplate)]
#[template(path = "instructor_login.html")]
pub struct LoginPage {
    c: Chrome,
    t: &'static Ui,
    w: &'static Ws,
    problem: Option<String>,
}

impl LoginPage {
    fn new(engine: &Engine, lang: Lang, csrf: String, problem: Option<String>) -> LoginPage {
        let t = ui(lang);
        LoginPage {
            c: Chrome::new(engine, lang, t, csrf, "/instructor/login".to_owned()),
            t,
            w: ws(lang),
            problem,
        }
    }
}

/// `GET /instructor/login`.
pub async fn login_page(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
) -> Result<LoginPage, PageError> {
    if !state.workshop {
        return Err(PageError::new(
            WebError::NotFound("/instructor/login".into()),
            lang,
            false,
        ));
    }
    Ok(LoginPage::new(&state.engine, lang, csrf, None))
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The instructor token.
    #[serde(default)]
    pub token: String,
}

/// `POST /instructor/login`: sets the signed instructor cookie and goes to `/instructor`; a
/// wrong token gets 403 with the form again, after a delay.
pub async fn login(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let page_error = |e: WebError| PageError::new(e, lang, false);
    if !state.workshop {
        return Err(page_error(WebError::NotFound("/instructor/login".into())));
    }
    let Form(form) = form.map_err(|e| page_error(WebError::BadRequest(e.body_text())))?;
    let token = form.token.trim().to_owned();
    let allowed = !token.is_empty()
        && token.len() <= 256
        && state
            .engine
            .instructor_allowed(&token)
            .await
            .map_err(|e| page_error(e.into()))?;
    if !allowed {
        tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
        let reason = ws(lang).wrong_token.to_owned();
        let page = LoginPage::new(&state.engine, lang, csrf, Some(reason));
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    let cookie = Cookie::build((INSTRUCTOR_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    let jar = PrivateCookieJar::from_headers(&headers, state.key.clone());
    Ok((jar.add(cookie), Redirect::to("/instructor")).into_response())
}

/// A workshop in the list.
#[derive(Debug)]
pub struct WorkshopRow {
    /// The workshop.
    pub workshop: Workshop,
    /// Still running.
    pub running: bool,
}

/// A lab the create form offers.
#[derive(Debug)]
pub struct LabChoice {
    /// Lab id.
    pub id: String,
    /// Title.
    pub title: String,
}

/// `GET /instructor`.
#[derive(Template, WebTemplate)]
#[template(path = "instructor.html")]
pub struct ListPage {
    c: Chrome,
    t: &'static Ui,
    w: &'static Ws,
    workshops: Vec<WorkshopRow>,
    labs: Vec<LabChoice>,
    problem: Option<String>,
}

fn running(w: &Workshop) -> bool {
    w.ended_at.is_none()
        && time::OffsetDateTime::parse(
            &w.expires_at,
            &time::format_description::well_known::Rfc3339,
        )
        .is_ok_and(|t| t > time::OffsetDateTime::now_utc())
}

async fn list_page(
    engine: &Engine,
    lang: Lang,
    csrf: String,
    problem: Option<String>,
) -> Result<ListPage, WebError> {
    let t = ui(lang);
    let workshops = engine
        .workshops()
        .await?
        .into_iter()
        .map(|workshop| WorkshopRow {
            running: running(&workshop),
            workshop,
        })
        .collect();
    let labs = engine
        .catalog()
        .labs
        .iter()
        .filter(|l| l.modes.contains(&Mode::Workshop))
        .map(|l| LabChoice {
            id: l.id.clone(),
            title: l.title.get(lang).to_owned(),
        })
        .collect();
    Ok(ListPage {
        c: Chrome::new(engine, lang, t, csrf, "/instructor".to_owned()),
        t,
        w: ws(lang),
        workshops,
        labs,
        problem,
    })
}

/// `GET /instructor`: the workshops and the create form.
pub async fn list(
    _: Instructor,
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
) -> Result<ListPage, PageError> {
    list_page(&state.engine, lang, csrf, None)
        .await
        .map_err(|e| PageError::new(e, lang, false))
}

/// `POST /instructor/workshops`: fields `name`, `lab` (repeated), `capacity`, `hours`.
pub async fn create(
    _: Instructor,
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Result<Response, PageError> {
    let page_error = |e: WebError| PageError::new(e, lang, false);
    let Form(fields) = form.map_err(|e| page_error(WebError::BadRequest(e.body_text())))?;
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let request = WorkshopRequest {
        name: field("name"),
        labs: fields
            .iter()
            .filter(|(n, _)| n == "lab")
            .map(|(_, v)| v.clone())
            .collect(),
        capacity: field("capacity").parse().unwrap_or(0),
        duration: Duration::from_secs(
            field("hours")
                .parse::<u64>()
                .unwrap_or(0)
                .saturating_mul(3600),
        ),
    };
    match state.engine.create_workshop(request).await {
        Ok(w) => Ok(Redirect::to(&format!("/instructor/workshops/{}", w.id)).into_response()),
        Err(crate::engine::EngineError::BadRequest(message)) => {
            let page = list_page(&state.engine, lang, csrf, Some(message))
                .await
                .map_err(page_error)?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(page_error(e.into())),
    }
}

/// A column of the grid.
#[derive(Debug)]
pub struct GridColumn {
    /// The lab's title.
    pub lab: String,
    /// The step's number in its lab.
    pub number: usize,
    /// The step's title.
    pub title: String,
}

/// A cell of the grid.
#[derive(Debug)]
pub struct CellView {
    /// The learner's state in the step (`as_str` is the CSS class suffix).
    pub state: StepState,
    /// Its label.
    pub label: &'static str,
    /// Minutes on the step, when started and not done.
    pub minutes: String,
}

/// A learner's row.
#[derive(Debug)]
pub struct RowView {
    /// Learner id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Namespace.
    pub namespace: String,
    /// Cells, one per column.
    pub cells: Vec<CellView>,
}

/// The grid as the page shows it.
#[derive(Debug)]
pub struct GridView {
    /// Workshop id.
    pub id: String,
    /// Still running (actions and polling).
    pub running: bool,
    /// Columns.
    pub columns: Vec<GridColumn>,
    /// Rows.
    pub rows: Vec<RowView>,
    /// The workshop's labs: (id, title).
    pub labs: Vec<(String, String)>,
    /// CSRF token for the row forms.
    pub csrf: String,
    /// Seconds between refreshes.
    pub refresh: u64,
}

fn grid_view(engine: &Engine, grid: &Grid, lang: Lang, csrf: String) -> GridView {
    let w = ws(lang);
    let catalog = engine.catalog();
    let columns = grid
        .steps
        .iter()
        .map(|(lab, step)| {
            let l = catalog.lab(lab);
            let number = l
                .and_then(|l| l.steps.iter().position(|s| &s.id == step))
                .map_or(0, |i| i + 1);
            GridColumn {
                lab: l.map_or_else(|| lab.clone(), |l| l.title.get(lang).to_owned()),
                number,
                title: l
                    .and_then(|l| l.step(step))
                    .map_or_else(|| step.clone(), |s| s.title.get(lang).to_owned()),
            }
        })
        .collect();
    let rows = grid
        .learners
        .iter()
        .map(|row| RowView {
            id: row.learner.id.clone(),
            name: row.learner.display_name.clone(),
            namespace: row.learner.namespace.clone(),
            cells: row
                .cells
                .iter()
                .map(|cell| CellView {
                    label: state_label(ui(lang), cell.state),
                    state: cell.state,
                    minutes: cell
                        .stuck_minutes
                        .map(|m| format!("{m} {}", w.minutes))
                        .unwrap_or_default(),
                })
                .collect(),
        })
        .collect();
    GridView {
        id: grid.workshop.id.clone(),
        running: running(&grid.workshop),
        columns,
        rows,
        labs: grid
            .workshop
            .labs
            .iter()
            .map(|id| {
                let title = catalog
                    .lab(id)
                    .map_or_else(|| id.clone(), |l| l.title.get(lang).to_owned());
                (id.clone(), title)
            })
            .collect(),
        csrf,
        refresh: GRID_REFRESH_SECS,
    }
}

/// The address learners open to join, from the request's `Host`.
fn join_url(headers: &HeaderMap, code: &str) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!(
        "{}://{host}/join/{code}",
        if https { "https" } else { "http" }
    )
}

/// `GET /instructor/workshops/{id}`.
#[derive(Template, WebTemplate)]
#[template(path = "instructor_workshop.html")]
pub struct WorkshopPage {
    c: Chrome,
    t: &'static Ui,
    w: &'static Ws,
    workshop: Workshop,
    join_url: String,
    grid: GridView,
}

/// `GET /instructor/workshops/{id}/grid`: the grid alone, for htmx polling.
#[derive(Template, WebTemplate)]
#[template(path = "instructor_grid.html")]
pub struct GridFragment {
    w: &'static Ws,
    grid: GridView,
}

fn bad_path(e: PathRejection) -> WebError {
    WebError::BadRequest(format!("malformed address: {}", e.body_text()))
}

/// `GET /instructor/workshops/{id}`: join code and link, the grid, the actions.
pub async fn workshop(
    _: Instructor,
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
) -> Result<WorkshopPage, PageError> {
    let page_error = |e: WebError| PageError::new(e, lang, false);
    let Path(id) = path.map_err(|e| page_error(bad_path(e)))?;
    let grid = state
        .engine
        .grid(&id)
        .await
        .map_err(|e| page_error(e.into()))?;
    let t = ui(lang);
    Ok(WorkshopPage {
        c: Chrome::new(
            &state.engine,
            lang,
            t,
            csrf.clone(),
            format!("/instructor/workshops/{id}"),
        ),
        t,
        w: ws(lang),
        join_url: join_url(&headers, &grid.workshop.code),
        grid: grid_view(&state.engine, &grid, lang, csrf),
        workshop: grid.workshop,
    })
}

/// `GET /instructor/workshops/{id}/grid`.
pub async fn grid_fragment(
    _: Instructor,
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    path: Result<Path<String>, PathRejection>,
) -> Result<GridFragment, PageError> {
    let Path(id) = path.map_err(|e| PageError::new(bad_path(e), lang, true))?;
    let grid = state
        .engine
        .grid(&id)
        .await
        .map_err(|e| PageError::new(e, lang, true))?;
    Ok(GridFragment {
        w: ws(lang),
        grid: grid_view(&state.engine, &grid, lang, csrf),
    })
}

fn back_to(id: &str) -> Response {
    Redirect::to(&format!("/instructor/workshops/{id}")).into_response()
}

/// `POST /instructor/workshops/{id}/extend`: one more hour.
pub async fn extend_page(
    _: Instructor,
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Path(id) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    state
        .engine
        .extend_workshop(&id, Duration::from_secs(3600))
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
    Ok(back_to(&id))
}

/// `POST /instructor/workshops/{id}/end`.
pub async fn end_page(
    _: Instructor,
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, PageError> {
    let Path(id) = path.map_err(|e| PageError::new(bad_path(e), lang, false))?;
    state
        .engine
        .end_workshop(&id)
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
    Ok(back_to(&id))
}

/// The reset form: `lab` empty for every lab.
#[derive(Debug, Default, Deserialize)]
pub struct ResetForm {
    /// One lab, or every lab when empty.
    #[serde(default)]
    pub lab: String,
}

/// `POST /instructor/workshops/{id}/learners/{learner}/reset`.
pub async fn reset_page(
    _: Instructor,
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    path: Result<Path<(String, String)>, PathRejection>,
    form: Result<Form<ResetForm>, FormRejection>,
) -> Result<Response, PageError> {
    let page_error = |e: WebError| PageError::new(e, lang, false);
    let Path((id, learner)) = path.map_err(|e| page_error(bad_path(e)))?;
    let Form(form) = form.map_err(|e| page_error(WebError::BadRequest(e.body_text())))?;
    let lab = Some(form.lab.trim()).filter(|l| !l.is_empty());
    state
        .engine
        .reset_learner(&id, &learner, lab)
        .await
        .map_err(|e| page_error(e.into()))?;
    Ok(back_to(&id))
}

/// A workshop in the instructor API, with its join link.
#[derive(Debug, Serialize)]
pub struct WorkshopInfo {
    /// The workshop.
    #[serde(flatten)]
    pub workshop: Workshop,
    /// Still running.
    pub running: bool,
    /// The address learners open to join.
    pub join_url: String,
}

fn info(headers: &HeaderMap, workshop: Workshop) -> WorkshopInfo {
    WorkshopInfo {
        running: running(&workshop),
        join_url: join_url(headers, &workshop.code),
        workshop,
    }
}

/// `GET /api/instructor/workshops` body.
#[derive(Debug, Serialize)]
pub struct WorkshopList {
    /// Every workshop, newest first.
    pub workshops: Vec<WorkshopInfo>,
}

/// `GET /api/instructor/workshops`.
pub async fn api_list(
    _: Instructor,
    State(state): State<WebState>,
    headers: HeaderMap,
) -> Result<Json<WorkshopList>, WebError> {
    let workshops = state
        .engine
        .workshops()
        .await?
        .into_iter()
        .map(|w| info(&headers, w))
        .collect();
    Ok(Json(WorkshopList { workshops }))
}

/// `POST /api/instructor/workshops` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    /// Name.
    pub name: String,
    /// Lab ids.
    pub labs: Vec<String>,
    /// Most learners.
    pub capacity: u32,
    /// Duration in hours.
    pub hours: u64,
}

fn json_body<T: for<'de> Deserialize<'de> + Default>(body: &Bytes) -> Result<T, WebError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body)
        .map_err(|e| WebError::BadRequest(format!("the body is not understood: {e}")))
}

/// `POST /api/instructor/workshops`: `{name, labs, capacity, hours}` → 201 with the workshop.
pub async fn api_create(
    _: Instructor,
    State(state): State<WebState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    let body: CreateBody = serde_json::from_slice(&body)
        .map_err(|e| WebError::BadRequest(format!("the body is not a workshop: {e}")))?;
    let workshop = state
        .engine
        .create_workshop(WorkshopRequest {
            name: body.name,
            labs: body.labs,
            capacity: body.capacity,
            duration: Duration::from_secs(body.hours.saturating_mul(3600)),
        })
        .await?;
    Ok((StatusCode::CREATED, Json(info(&headers, workshop))).into_response())
}

/// `GET /api/instructor/workshops/{id}/grid`: learners × steps.
pub async fn api_grid(
    _: Instructor,
    State(state): State<WebState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Grid>, WebError> {
    let Path(id) = path.map_err(bad_path)?;
    Ok(Json(state.engine.grid(&id).await?))
}

/// `POST .../extend` body (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// Hours to add (default 1, at most 24).
    #[serde(default)]
    pub hours: Option<u64>,
}

/// `POST /api/instructor/workshops/{id}/extend`: `{"hours": n}` optional → the workshop.
pub async fn api_extend(
    _: Instructor,
    State(state): State<WebState>,
    headers: HeaderMap,
    path: Result<Path<String>, PathRejection>,
    body: Bytes,
) -> Result<Json<WorkshopInfo>, WebError> {
    let Path(id) = path.map_err(bad_path)?;
    let body: ExtendBody = json_body(&body)?;
    let hours = body.hours.unwrap_or(1);
    if !(1..=24).contains(&hours) {
        return Err(WebError::BadRequest(
            "extend by 1 to 24 hours at a time".into(),
        ));
    }
    let workshop = state
        .engine
        .extend_workshop(&id, Duration::from_secs(hours.saturating_mul(3600)))
        .await?;
    Ok(Json(info(&headers, workshop)))
}

/// `POST /api/instructor/workshops/{id}/end` answer.
#[derive(Debug, Serialize)]
pub struct Ended {
    /// Workshop id.
    pub id: String,
    /// Namespaces deleted.
    pub deleted: usize,
}

/// `POST /api/instructor/workshops/{id}/end`: ends it and deletes its namespaces.
pub async fn api_end(
    _: Instructor,
    State(state): State<WebState>,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<Ended>, WebError> {
    let Path(id) = path.map_err(bad_path)?;
    let deleted = state.engine.end_workshop(&id).await?;
    Ok(Json(Ended { id, deleted }))
}

/// `POST .../learners/{learner}/reset` body (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// One lab (default: every lab of the workshop).
    #[serde(default)]
    pub lab: Option<String>,
}

/// `POST /api/instructor/workshops/{id}/learners/{learner}/reset` answer.
#[derive(Debug, Serialize)]
pub struct LearnerReset {
    /// Workshop id.
    pub workshop: String,
    /// Learner id.
    pub learner: String,
    /// The lab reset, or null for all.
    pub lab: Option<String>,
}

/// `POST /api/instructor/workshops/{id}/learners/{learner}/reset`: `{"lab": "..."}` optional.
pub async fn api_reset(
    _: Instructor,
    State(state): State<WebState>,
    path: Result<Path<(String, String)>, PathRejection>,
    body: Bytes,
) -> Result<Json<LearnerReset>, WebError> {
    let Path((id, learner)) = path.map_err(bad_path)?;
    let body: ResetBody = json_body(&body)?;
    state
        .engine
        .reset_learner(&id, &learner, body.lab.as_deref())
        .await?;
    Ok(Json(LearnerReset {
        workshop: id,
        learner,
        lab: body.lab,
    }))
}
