//! Who a request acts for: the [`LearnerEngine`] extractor every page, API and live handler goes
//! through — the plain engine on a laptop, the engine confined to the learner behind the
//! session cookie in a workshop.
//!
//! The session cookie carries the raw session token (256 random bits; the store keeps only its
//! hash), so it survives restarts and works across replicas without any key.

use std::collections::HashMap;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::CookieJar;

use super::AppState;
use super::error::WebError;
use super::extract::is_api;
use super::lang::negotiate;
use super::ui_strings::ws;
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

    /// The lab, or the 404 for a lab that does not exist or this learner may not open.
    pub fn lab_or_404(&self, lab: &str) -> Result<&Lab, WebError> {
        self.lab(lab)
            .ok_or_else(|| EngineError::UnknownLab(lab.to_owned()).into())
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
    Error(WebError),
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NoSession { api: true, lang } => {
                WebError::Unauthorized(ws(lang).no_session.to_owned()).into_response()
            }
            Refusal::NoSession { api: false, .. } => Redirect::to("/").into_response(),
            Refusal::Error(error) => error.into_response(),
        }
    }
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

impl FromRequestParts<AppState> for LearnerEngine {
    type Rejection = Refusal;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        if !state.workshop {
            return Ok(LearnerEngine::local(state.engine.clone()));
        }
        let session = current_session(&state.engine, &parts.headers)
            .await
            .map_err(|e| Refusal::Error(e.into()))?
            .ok_or_else(|| Refusal::NoSession {
                api: is_api(parts),
                lang: negotiate(&parts.headers),
            })?;
        let learner = LearnerEngine::for_session(&state.engine, session);
        // Every route naming a lab is checked here, so no handler can serve another lab.
        if let Ok(axum::extract::Path(params)) =
            axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state).await
            && let Some(lab) = params.get("lab")
            && !learner.offers(lab)
        {
            return Err(Refusal::Error(EngineError::UnknownLab(lab.clone()).into()));
        }
        Ok(learner)
    }
}
