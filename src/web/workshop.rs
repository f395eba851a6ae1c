//! Workshop mode on the learner's side: joining with a code, the learner's banner on the home
//! page, and the learner's own kubeconfig. Who a request acts for is [`super::learner`]'s.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::csrf::CsrfToken;
use super::error::WebError;
use super::extract::{Form, Path};
use super::lang::UiLang;
use super::learner::{LearnerEngine, SESSION_COOKIE, Session, current_session, session_token};
use super::ui_strings::{Ui, Ws, ui, ws};
use super::view::Chrome;
use crate::engine::{Engine, EngineError};
use crate::i18n::Lang;

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
    /// Why the learner's earlier session is over (their workshop ended).
    notice: Option<String>,
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
            notice: None,
        }
    }

    /// The join form for a browser without a running session; when its cookie belongs to a
    /// workshop that has ended, the form says so first.
    pub async fn for_visitor(
        engine: &Engine,
        lang: Lang,
        csrf: String,
        code: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<JoinPage, EngineError> {
        let mut page = JoinPage::new(engine, lang, csrf, code);
        if let Some(token) = session_token(headers)
            && let Some(workshop) = engine.ended_workshop_of(&token).await?
        {
            page.notice = Some(ws(lang).workshop_over.replace("{name}", &workshop.name));
        }
        Ok(page)
    }
}

/// `GET /join/{code}`: the join form; a browser that already has a session goes home.
pub async fn join_page(
    State(engine): State<Engine>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Response, WebError> {
    if current_session(&engine, &headers).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let code: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    Ok(
        JoinPage::for_visitor(&engine, lang, csrf, Some(&code), &headers)
            .await?
            .into_response(),
    )
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
    State(engine): State<Engine>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Path(code): Path<String>,
    Form(form): Form<JoinForm>,
) -> Result<Response, WebError> {
    join_now(&engine, lang, csrf, &headers, JoinForm { code, ..form }).await
}

/// `POST /join`: the home page's form, with the code as a field.
pub async fn join(
    State(engine): State<Engine>,
    UiLang(lang): UiLang,
    CsrfToken(csrf): CsrfToken,
    headers: HeaderMap,
    Form(form): Form<JoinForm>,
) -> Result<Response, WebError> {
    join_now(&engine, lang, csrf, &headers, form).await
}

async fn join_now(
    engine: &Engine,
    lang: Lang,
    csrf: String,
    headers: &HeaderMap,
    form: JoinForm,
) -> Result<Response, WebError> {
    // Joining again from a browser that has a session resumes it.
    if current_session(engine, headers).await?.is_some() {
        return Ok(Redirect::to("/").into_response());
    }
    let code = form.code.trim().to_ascii_uppercase();
    match engine.join(&code, &form.name).await {
        Ok(joined) => {
            let cookie = Cookie::build((SESSION_COOKIE, joined.session))
                .path("/")
                .http_only(true)
                .same_site(SameSite::Lax)
                .max_age(cookie_lifetime(&joined.workshop.expires_at))
                .build();
            Ok((CookieJar::new().add(cookie), Redirect::to("/")).into_response())
        }
        // Refusals the learner can act on are shown on the form, with what they typed kept.
        Err(
            e @ (EngineError::BadRequest(_)
            | EngineError::WorkshopClosed(_)
            | EngineError::UnknownWorkshop(_)),
        ) => {
            let e = WebError::from(e);
            let mut page = JoinPage::new(engine, lang, csrf, Some(&code));
            page.name = form.name.chars().take(40).collect();
            page.problem = Some(e.to_string());
            Ok((e.status(), page).into_response())
        }
        Err(e) => Err(e.into()),
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
pub async fn kubeconfig(learner: LearnerEngine) -> Result<Response, WebError> {
    let Some(session) = &learner.session else {
        return Err(WebError::NotFound("/kubeconfig".into()));
    };
    let config = learner
        .engine
        .learner_kubeconfig(&session.workshop, &session.learner)
        .await?;
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
