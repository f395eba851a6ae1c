//! Workshop mode on the learner's side: the [`LearnerEngine`] extractor every page, API and live
//! handler goes through (the plain engine on a laptop, the learner's confined engine in a
//! workshop), joining with a code, and the learner's own kubeconfig.
//!
//! The session cookie carries the raw session token (256 random bits; the store keeps only its
//! hash), so it survives restarts and works across replicas, which a cookie signed with a
//! per-process key would not.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::Form;
use axum::extract::rejection::FormRejection;
use axum::extract::{FromRequestParts, OriginalUri, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::WebState;
use super::csrf::CsrfToken;
use super::error::{PageError, WebError};
use super::i18n::{Ui, Ws, ui, ws};
use super::lang::{UiLang, negotiate};
use super::view::Chrome;
use crate::engine::{Engine, EngineError};
use crate::i18n::Lang;
use crate::labs::Lab;
use crate::store::{LearnerRecord, Workshop};

/// Name of the cookie holding a workshop learner's session token.
pub const SESSION_COOKIE: &str = "kubelab_session";

/// A workshop learner's session: the workshop and who they are in it.
#[derive(Debug, Clone)]
pub struct Session {
    /// The workshop (running).
    pub workshop: Workshop,
    /// The learner.
    pub learner: LearnerRecord,
}

/// The engine a request acts through. On a laptop it is the plain engine; in workshop mode it is
/// the engine confined to the learner behind the session cookie, and a route naming a `{lab}`
/// the workshop does not offer is refused (404) before the handler runs.
#[derive(Clone)]
pub struct LearnerEngine {
    /// The engine, acting for this learner only.
    pub engine: Engine,
    /// The workshop session (`None` on a laptop).
    pub session: Option<Session>,
}

impl LearnerEngine {
    /// The laptop's single learner.
    pub fn local(engine: Engine) -> LearnerEngine {
        LearnerEngine {
            engine,
            session: None,
        }
    }

    /// A workshop learner's engine.
    pub fn for_session(engine: &Engine, session: Session) -> LearnerEngine {
        LearnerEngine {
            engine: engine.for_record(&session.learner),
            session: Some(session),
        }
    }

    /// Whether this learner may open `lab` (every lab on a laptop).
    pub fn offers(&self, lab: &str) -> bool {
        match &self.session {
            None => true,
            Some(s) => s.workshop.labs.iter().any(|l| l == lab),
        }
    }

    /// The labs this learner sees, in chapter order.
    pub fn labs(&self) -> Vec<&Lab> {
        self.engine
            .catalog()
            .labs
            .iter()
            .filter(|l| self.offers(&l.id))
            .collect()
    }

    /// The lab, if it exists and this learner may open it.
    pub fn lab(&self, lab: &str) -> Option<&Lab> {
        self.engine.catalog().lab(lab).filter(|_| self.offers(lab))
    }
}

/// Why a request could not get a [`LearnerEngine`].
#[derive(Debug)]
pub enum Refusal {
    /// Workshop mode without a valid session: pages go to the join form, the API answers 401.
    NoSession {
        /// The request is for the JSON API.
        api: bool,
        /// The request's language.
        lang: Lang,
    },
    /// Anything else (a lab the workshop does not offer, the database failing).
    Error {
        /// What went wrong.
        error: WebError,
        /// The request is for the JSON API.
        api: bool,
        /// The request's language.
        lang: Lang,
        /// An htmx request (gets a fragment).
        htmx: bool,
    },
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NoSession { api: true, lang } => {
                WebError::Unauthorized(ws(lang).no_session.to_owned()).into_response()
            }
            Refusal::NoSession { api: false, .. } => Redirect::to("/").into_response(),
            Refusal::Error {
                error, api: true, ..
            } => error.into_response(),
            Refusal::Error {
                error, lang, htmx, ..
            } => PageError::new(error, lang, htmx).into_response(),
        }
    }
}

/// Whether the request is for the JSON API (nested routers see a shortened path, so the
/// original one is read).
pub fn is_api(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0)
        .path()
        .starts_with("/api/")
}

/// The session token in the request's cookie, if any.
pub fn session_token(headers: &HeaderMap) -> Option<String> {
    CookieJar::from_headers(headers)
        .get(SESSION_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| !t.is_empty() && t.len() <= 128)
}

/// The running workshop session behind the request's cookie, if any.
pub async fn current_session(
    engine: &Engine,
    headers: &HeaderMap,
) -> Result<Option<Session>, EngineError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    Ok(engine
        .session(&token)
        .await?
        .map(|(workshop, learner)| Session { workshop, learner }))
}

impl FromRequestParts<WebState> for LearnerEngine {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &WebState,
    ) -> Result<Self, Self::Rejection> {
        let api = is_api(parts);
        let lang = negotiate(&parts.headers);
        let htmx = parts.headers.contains_key("hx-request");
        let refuse = |error: WebError| Refusal::Error {
            error,
            api,
            lang,
            htmx,
        };
        if !state.workshop {
            return Ok(LearnerEngine::local(state.engine.clone()));
        }
        let session = current_session(&state.engine, &parts.headers)
            .await
            .map_err(|e| refuse(e.into()))?
            .ok_or(Refusal::NoSession { api, lang })?;
        let learner = LearnerEngine::for_session(&state.engine, session);
        // Every route naming a lab is checked here, so no handler can serve another lab.
        if let Ok(Path(params)) =
            Path::<HashMap<String, String>>::from_request_parts(parts, state).await
            && let Some(lab) = params.get("lab")
            && !learner.offers(lab)
        {
            return Err(refuse(WebError::UnknownLab(lab.clone())));
        }
        Ok(learner)
    }
}

/// The learner's banner on the home page in workshop mode.
#[derive(Debug, Clone)]
pub struct WorkshopBanner {
    /// The workshop's name.
    pub name: String,
    /// The learner's display name.
    pub learner: String,
    /// Their namespace.
    pub namespace: String,
    /// When the workshop ends (RFC 3339).
    pub expires_at: String,
    /// The kubeconfig's file name.
    pub kubeconfig_file: String,
}

impl WorkshopBanner {
    /// The banner for a session.
    pub fn new(session: &Session) -> WorkshopBanner {
        WorkshopBanner {
            name: session.workshop.name.clone(),
            learner: session.learner.display_name.clone(),
            namespace: session.learner.namespace.clone(),
            expires_at: session.workshop.expires_at.clone(),
            kubeconfig_file: kubeconfig_file(&session.learner.namespace),
        }
    }
}

fn kubeconfig_file(namespace: &str) -> String {
    format!("kubelab-{namespace}.kubeconfig")
}

/// `GET /join/{code}` and, in workshop mode without a session, `GET /`.
#[derive(Template, WebTemplate)]
#[template(path = "join.html")]
pub struct JoinPage {
    c: Chrome,
    t: &'static Ui,
    w: &'static Ws,
    code: String,
    name: String,
    action: String,
    problem: Option<String>,
}

impl JoinPage {
    /// The join form, with `code` filled in when known.
    pub fn new(engine: &Engine, lang: Lang, csrf: String, code: Option<&str>) -> JoinPage {
        let t = ui(lang);
        let here = code.map_or_else(|| "/".to_owned(), |c| format!("/join/{c}"));
        JoinPage {
            c: Chrome::new(engine, lang, t, csrf, here),
            t,
            w: ws(lang),
            code: code.unwrap_or_default().to_owned(),
            name: String::new(),
            action: code.map_or_else(|| "/join".to_owned(), |c| format!("/join/{c}")),
            problem: None,
        }
    }
}

/// `GET /join/{code}`: the join form; a browser that already has a session goes home.
pub async fn join_page(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, PageError> {
    let session = current_session(&state.engine, &headers)
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
    if session.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let code: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    Ok(JoinPage::new(&state.engine, lang, csrf, Some(&code)).into_response())
}

/// The join form's fields.
#[derive(Debug, Deserialize)]
pub struct JoinForm {
    /// The join code (the `/join` form; `/join/{code}` has it in the path).
    #[serde(default)]
    pub code: String,
    /// The learner's display name.
    #[serde(default)]
    pub name: String,
}

/// `POST /join/{code}`.
pub async fn join_with_code(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Path(code): Path<String>,
    form: Result<Form<JoinForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(mut form) =
        form.map_err(|e| PageError::new(WebError::BadRequest(e.body_text()), lang, false))?;
    form.code = code;
    join_now(&state, lang, csrf, &headers, form).await
}

/// `POST /join`: the home page's form, with the code as a field.
pub async fn join(
    State(state): State<WebState>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    form: Result<Form<JoinForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) =
        form.map_err(|e| PageError::new(WebError::BadRequest(e.body_text()), lang, false))?;
    join_now(&state, lang, csrf, &headers, form).await
}

async fn join_now(
    state: &WebState,
    lang: Lang,
    csrf: String,
    headers: &HeaderMap,
    form: JoinForm,
) -> Result<Response, PageError> {
    // Joining again from a browser that has a session resumes it.
    if current_session(&state.engine, headers)
        .await
        .map_err(|e| PageError::new(e, lang, false))?
        .is_some()
    {
        return Ok(Redirect::to("/").into_response());
    }
    let code = form.code.trim().to_ascii_uppercase();
    match state.engine.join(&code, &form.name).await {
        Ok(joined) => {
            let cookie = Cookie::build((SESSION_COOKIE, joined.session))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .max_age(cookie_lifetime(&joined.workshop.expires_at))
                .build();
            Ok((CookieJar::new().add(cookie), Redirect::to("/")).into_response())
        }
        Err(EngineError::BadRequest(message)) => {
            let mut page = JoinPage::new(&state.engine, lang, csrf, Some(&code));
            page.name = form.name.chars().take(40).collect();
            page.problem = Some(message);
            Ok((StatusCode::BAD_REQUEST, page).into_response())
        }
        Err(e) => Err(PageError::new(e, lang, false)),
    }
}

/// Until a day after the workshop expires (it may be extended; the server checks anyway).
fn cookie_lifetime(expires_at: &str) -> time::Duration {
    let left = OffsetDateTime::parse(expires_at, &Rfc3339)
        .map(|t| t - OffsetDateTime::now_utc())
        .unwrap_or(time::Duration::ZERO);
    left.max(time::Duration::hours(1)) + time::Duration::hours(24)
}

/// `GET /kubeconfig`: the learner's kubeconfig, scoped to their namespace.
pub async fn kubeconfig(
    UiLang(lang): UiLang,
    learner: LearnerEngine,
) -> Result<Response, PageError> {
    let Some(session) = &learner.session else {
        return Err(PageError::new(
            WebError::NotFound("/kubeconfig".into()),
            lang,
            false,
        ));
    };
    let config = learner
        .engine
        .learner_kubeconfig(&session.workshop, &session.learner)
        .await
        .map_err(|e| PageError::new(e, lang, false))?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        kubeconfig_file(&session.learner.namespace)
    );
    let mut response = config.into_response();
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/yaml; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}
