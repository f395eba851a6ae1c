//! Workshop mode on the instructor's side: sign-in, the workshop list and create form, one
//! workshop's learners × steps grid (polled by htmx), its actions (reset a learner, extend, end),
//! and the same as JSON under `/api/instructor/...`.
//!
//! Every handler takes the [`Instructor`] extractor: `Authorization: Bearer <token>` or the
//! encrypted `kubelab_instructor` cookie set by the sign-in form, checked against the stored hash on
//! every request. Without a credential: 401 (pages show the sign-in form); a wrong one: 403
//! after [`FAILED_SIGN_IN_DELAY`].

use std::time::Duration;

use super::isolation::IsolationNote;
use askama::Template;
use askama_web::WebTemplate;
use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::PrivateCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::csrf::CsrfToken;
use super::error::WebError;
use super::extract::{Form, FormFields, JsonBody, JsonRequest, OptionalJsonBody, Path, is_api};
use super::lang::{UiLang, negotiate};
use super::ui_strings::{Ui, Ws, state_label, ui, ws};
use super::view::Chrome;
use crate::engine::{ApiReach, Engine, EngineError, Grid, StepState, WorkshopRequest};
use crate::i18n::Lang;
use crate::labs::Mode;
use crate::store::Workshop;

/// Name of the encrypted cookie holding the instructor's token after signing in.
pub const INSTRUCTOR_COOKIE: &str = "kubelab_instructor";
/// How long a wrong instructor token waits before its 403, to slow down guessing.
pub const FAILED_SIGN_IN_DELAY: Duration = Duration::from_millis(500);
/// Seconds between grid refreshes on the workshop page.
pub const GRID_REFRESH_SECS: u64 = 5;

/// A request carrying the instructor credential.
#[derive(Debug, Clone, Copy)]
pub struct Instructor;

fn bearer(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned())
}

impl FromRequestParts<AppState> for Instructor {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !state.workshop {
            return Err(WebError::NotFound(parts.uri.path().to_owned()).into_response());
        }
        let lang = negotiate(&parts.headers);
        let w = ws(lang);
        // A page without a good credential is the sign-in form, with why.
        let sign_in = |error: WebError| {
            if is_api(parts) {
                return error.into_response();
            }
            let csrf = parts
                .extensions
                .get::<CsrfToken>()
                .map(|c| c.0.clone())
                .unwrap_or_default();
            // No credential yet is not a mistake: the form, without an error, until an attempt.
            let problem = match &error {
                WebError::Unauthorized(_) => None,
                other => Some(other.to_string()),
            };
            let page = LoginPage::new(&state.engine, lang, csrf, problem);
            (error.status(), page).into_response()
        };
        let token = bearer(&parts.headers).or_else(|| {
            PrivateCookieJar::<Key>::from_headers(&parts.headers, state.cookie_key.clone())
                .get(INSTRUCTOR_COOKIE)
                .map(|c| c.value().to_owned())
        });
        let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 256) else {
            return Err(sign_in(WebError::Unauthorized(
                w.need_instructor.to_owned(),
            )));
        };
        match state.engine.instructor_allowed(&token).await {
            Ok(true) => Ok(Instructor),
            Ok(false) => {
                tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
                Err(sign_in(WebError::Forbidden(w.wrong_token.to_owned())))
            }
            Err(e) => Err(WebError::from(e).into_response()),
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
    State(engine): State<Engine>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
) -> LoginPage {
    LoginPage::new(&engine, lang, csrf, None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    /// The instructor token.
    #[serde(default)]
    pub token: String,
}

/// `POST /instructor/login`: sets the encrypted instructor cookie and goes to `/instructor`; a
/// wrong token gets 403 with the form again, after a delay.
pub async fn login(
    State(engine): State<Engine>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    jar: PrivateCookieJar,
    Form(form): Form<LoginForm>,
) -> Result<Response, WebError> {
    let token = form.token.trim().to_owned();
    let allowed =
        !token.is_empty() && token.len() <= 256 && engine.instructor_allowed(&token).await?;
    if !allowed {
        tokio::time::sleep(FAILED_SIGN_IN_DELAY).await;
        let reason = ws(lang).wrong_token.to_owned();
        let page = LoginPage::new(&engine, lang, csrf, Some(reason));
        return Ok((StatusCode::FORBIDDEN, page).into_response());
    }
    let cookie = Cookie::build((INSTRUCTOR_COOKIE, token))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .build();
    Ok((jar.add(cookie), Redirect::to("/instructor")).into_response())
}

/// A workshop in the list.
#[derive(Debug)]
pub struct WorkshopRow {
    pub workshop: Workshop,
    pub running: bool,
}

/// A lab the create form offers.
#[derive(Debug)]
pub struct LabChoice {
    /// Lab id.
    pub id: String,
    pub title: String,
    /// Ticked in the form.
    pub checked: bool,
}

/// What the instructor pages say about the API server named in learner kubeconfigs.
#[derive(Debug)]
pub struct ReachNote {
    /// The URL learner kubeconfigs name (empty when no cluster is configured).
    pub server: String,
    /// Why learners' kubeconfigs will not reach it, when so: the warning banner's reason.
    pub warning: Option<&'static str>,
}

impl ReachNote {
    fn new(reach: &ApiReach, w: &Ws) -> ReachNote {
        ReachNote {
            server: reach.server().unwrap_or_default().to_owned(),
            warning: match reach {
                ApiReach::InCluster { .. } => Some(w.reach_in_cluster),
                ApiReach::Loopback { .. } => Some(w.reach_loopback),
                ApiReach::Public { .. } | ApiReach::Direct { .. } | ApiReach::Unknown => None,
            },
        }
    }
}

/// `GET /instructor`.
#[derive(Template, WebTemplate)]
#[template(path = "instructor.html")]
pub struct ListPage {
    c: Chrome,
    t: &'static Ui,
    w: &'static Ws,
    reach: ReachNote,
    isolation: IsolationNote,
    workshops: Vec<WorkshopRow>,
    labs: Vec<LabChoice>,
    problem: Option<String>,
    typed: Typed,
}

/// What the create form shows in its fields: the defaults, or what the instructor typed when
/// the workshop was refused (so nothing typed is lost).
#[derive(Debug, Clone)]
pub struct Typed {
    /// The workshop's name.
    pub name: String,
    /// Its capacity, as typed.
    pub capacity: String,
    /// Its hours, as typed.
    pub hours: String,
    /// The labs ticked.
    pub labs: Vec<String>,
}

impl Default for Typed {
    fn default() -> Typed {
        Typed {
            name: String::new(),
            capacity: "30".into(),
            hours: "3".into(),
            labs: Vec::new(),
        }
    }
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
    reach: &ApiReach,
    lang: Lang,
    csrf: String,
    problem: Option<String>,
    typed: Typed,
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
            checked: typed.labs.contains(&l.id),
        })
        .collect();
    Ok(ListPage {
        c: Chrome::new(engine, lang, t, csrf, "/instructor".to_owned()),
        t,
        w: ws(lang),
        reach: ReachNote::new(reach, ws(lang)),
        isolation: IsolationNote::new(engine, lang),
        workshops,
        labs,
        problem,
        typed,
    })
}

/// `GET /instructor`: the workshops and the create form.
pub async fn list(
    _: Instructor,
    State(engine): State<Engine>,
    State(reach): State<ApiReach>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
) -> Result<ListPage, WebError> {
    list_page(&engine, &reach, lang, csrf, None, Typed::default()).await
}

/// `POST /instructor/workshops`: fields `name`, `lab` (repeated), `capacity`, `hours`.
pub async fn create(
    _: Instructor,
    State(engine): State<Engine>,
    State(reach): State<ApiReach>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    form: FormFields,
) -> Result<Response, WebError> {
    let typed = Typed {
        name: form.first("name").chars().take(80).collect(),
        capacity: form.first("capacity").chars().take(6).collect(),
        hours: form.first("hours").chars().take(6).collect(),
        labs: form.all("lab").map(str::to_owned).collect(),
    };
    let request = WorkshopRequest {
        name: form.first("name"),
        labs: form.all("lab").map(str::to_owned).collect(),
        capacity: form.first("capacity").parse().unwrap_or(0),
        duration: Duration::from_secs(
            form.first("hours")
                .parse::<u64>()
                .unwrap_or(0)
                .saturating_mul(3600),
        ),
    };
    match engine.create_workshop(request).await {
        Ok(w) => Ok(Redirect::to(&format!("/instructor/workshops/{}", w.id)).into_response()),
        Err(EngineError::BadRequest(message)) => {
            let page = list_page(&engine, &reach, lang, csrf, Some(message), typed).await?;
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(e.into()),
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
    pub name: String,
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
    pub columns: Vec<GridColumn>,
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
    reach: ReachNote,
    isolation: IsolationNote,
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

/// `GET /instructor/workshops/{id}`: join code and link, the grid, the actions.
pub async fn workshop(
    _: Instructor,
    State(engine): State<Engine>,
    State(reach): State<ApiReach>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<WorkshopPage, WebError> {
    let grid = engine.grid(&id).await?;
    let t = ui(lang);
    Ok(WorkshopPage {
        c: Chrome::new(
            &engine,
            lang,
            t,
            csrf.clone(),
            format!("/instructor/workshops/{id}"),
        ),
        t,
        w: ws(lang),
        reach: ReachNote::new(&reach, ws(lang)),
        isolation: IsolationNote::new(&engine, lang),
        join_url: join_url(&headers, &grid.workshop.code),
        grid: grid_view(&engine, &grid, lang, csrf),
        workshop: grid.workshop,
    })
}

/// `GET /instructor/workshops/{id}/grid`.
pub async fn grid_fragment(
    _: Instructor,
    State(engine): State<Engine>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    Path(id): Path<String>,
) -> Result<GridFragment, WebError> {
    let grid = engine.grid(&id).await?;
    Ok(GridFragment {
        w: ws(lang),
        grid: grid_view(&engine, &grid, lang, csrf),
    })
}

fn back_to(id: &str) -> Response {
    Redirect::to(&format!("/instructor/workshops/{id}")).into_response()
}

/// `POST /instructor/workshops/{id}/extend`: one more hour.
pub async fn extend_page(
    _: Instructor,
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    engine
        .extend_workshop(&id, Duration::from_secs(3600))
        .await?;
    Ok(back_to(&id))
}

/// `POST /instructor/workshops/{id}/end`.
pub async fn end_page(
    _: Instructor,
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Response, WebError> {
    engine.end_workshop(&id).await?;
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
    State(engine): State<Engine>,
    Path((id, learner)): Path<(String, String)>,
    Form(form): Form<ResetForm>,
) -> Result<Response, WebError> {
    let lab = Some(form.lab.trim()).filter(|l| !l.is_empty());
    engine.reset_learner(&id, &learner, lab).await?;
    Ok(back_to(&id))
}

/// A workshop in the instructor API, with its join link.
#[derive(Debug, Serialize)]
pub struct WorkshopInfo {
    /// The workshop.
    #[serde(flatten)]
    pub workshop: Workshop,
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
    State(engine): State<Engine>,
    headers: HeaderMap,
) -> Result<Json<WorkshopList>, WebError> {
    let workshops = engine
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
    pub name: String,
    pub labs: Vec<String>,
    /// Most learners.
    pub capacity: u32,
    /// Duration in hours.
    pub hours: u64,
}

impl JsonRequest for CreateBody {
    const WHAT: &'static str = "a workshop";
}

/// `POST /api/instructor/workshops`: `{name, labs, capacity, hours}` → 201 with the workshop.
pub async fn api_create(
    _: Instructor,
    State(engine): State<Engine>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateBody>,
) -> Result<Response, WebError> {
    let workshop = engine
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
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<Grid>, WebError> {
    Ok(Json(engine.grid(&id).await?))
}

/// `POST .../extend` body (optional).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtendBody {
    /// Hours to add (default 1, at most 24).
    #[serde(default)]
    pub hours: Option<u64>,
}

impl JsonRequest for ExtendBody {
    const WHAT: &'static str = "understood";
}

/// `POST /api/instructor/workshops/{id}/extend`: `{"hours": n}` optional → the workshop.
pub async fn api_extend(
    _: Instructor,
    State(engine): State<Engine>,
    headers: HeaderMap,
    Path(id): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ExtendBody>,
) -> Result<Json<WorkshopInfo>, WebError> {
    let hours = body.hours.unwrap_or(1);
    if !(1..=24).contains(&hours) {
        return Err(WebError::BadRequest(
            "extend by 1 to 24 hours at a time".into(),
        ));
    }
    let workshop = engine
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
    State(engine): State<Engine>,
    Path(id): Path<String>,
) -> Result<Json<Ended>, WebError> {
    let deleted = engine.end_workshop(&id).await?;
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

impl JsonRequest for ResetBody {
    const WHAT: &'static str = "understood";
}

/// `POST /api/instructor/workshops/{id}/learners/{learner}/reset` answer.
#[derive(Debug, Serialize)]
pub struct LearnerReset {
    pub workshop: String,
    pub learner: String,
    /// The lab reset, or null for all.
    pub lab: Option<String>,
}

/// `POST /api/instructor/workshops/{id}/learners/{learner}/reset`: `{"lab": "..."}` optional.
pub async fn api_reset(
    _: Instructor,
    State(engine): State<Engine>,
    Path((id, learner)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody<ResetBody>,
) -> Result<Json<LearnerReset>, WebError> {
    engine
        .reset_learner(&id, &learner, body.lab.as_deref())
        .await?;
    Ok(Json(LearnerReset {
        workshop: id,
        learner,
        lab: body.lab,
    }))
}
