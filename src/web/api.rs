//! The JSON API (for scripts and curl) and the health endpoints. Browsers from other sites are
//! refused instead of carrying a CSRF token: see [`same_site_only`].

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::error::WebError;
use super::extract::{JsonRequest, OptionalJsonBody, Path};
use super::learner::LearnerEngine;
use crate::engine::{
    Engine, FailureCause, Health, LabProgress, ObjectKey, ResetReport, StepReport, StepState,
};
use crate::i18n::Text;
use crate::labs::{Lab, Values};
use crate::store::StepRecord;

/// Refuses state-changing API requests a browser sends from another site: `Sec-Fetch-Site:
/// cross-site`, or an `Origin` whose host is not this server's (403); and bodies that are not
/// JSON (415), since only those could come from a plain cross-site form.
pub async fn same_site_only(request: Request, next: Next) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) {
        return next.run(request).await;
    }
    if let Err(e) = judge(request.headers()) {
        return e.into_response();
    }
    next.run(request).await
}

fn judge(headers: &HeaderMap) -> Result<(), WebError> {
    let get = |name: header::HeaderName| headers.get(name).and_then(|v| v.to_str().ok());
    if get(header::HeaderName::from_static("sec-fetch-site")) == Some("cross-site") {
        return Err(WebError::CrossSite(
            "the request comes from a page on another site".into(),
        ));
    }
    if let Some(origin) = get(header::ORIGIN) {
        let origin_host = origin
            .split_once("://")
            .map(|(_, rest)| rest.trim_end_matches('/'));
        if origin_host.is_none() || origin_host != get(header::HOST) {
            return Err(WebError::CrossSite(format!(
                "the request's Origin {origin:?} is not this server"
            )));
        }
    }
    let has_body = get(header::CONTENT_LENGTH).is_some_and(|l| l.trim() != "0")
        || headers.contains_key(header::TRANSFER_ENCODING);
    match get(header::CONTENT_TYPE) {
        Some(ct) => {
            let essence = ct.split(';').next().unwrap_or("").trim();
            if !essence.eq_ignore_ascii_case("application/json") {
                return Err(WebError::UnsupportedMediaType(format!(
                    "send no body, or Content-Type: application/json (got {essence:?})"
                )));
            }
        }
        None if has_body => {
            return Err(WebError::UnsupportedMediaType(
                "a request body needs Content-Type: application/json".into(),
            ));
        }
        None => {}
    }
    Ok(())
}

/// A lab in `GET /api/labs`.
#[derive(Debug, Serialize)]
pub struct LabSummary {
    /// Lab id (used in URLs).
    pub id: String,
    /// Position on the home page.
    pub order: u32,
    /// Title (en, zh).
    pub title: Text,
    /// Summary (en, zh).
    pub summary: Text,
    /// Number of steps.
    pub steps: usize,
    /// Steps done (passed, even if one regressed since).
    pub done: usize,
    /// Steps done once whose checks do not hold any more.
    pub regressed: usize,
    /// The lab's page.
    pub url: String,
}

/// `GET /api/labs` body.
#[derive(Debug, Serialize)]
pub struct LabList {
    /// Every lab, in order.
    pub labs: Vec<LabSummary>,
}

/// `GET /api/labs`: every lab with the learner's progress.
pub async fn labs(learner: LearnerEngine) -> Result<Json<LabList>, WebError> {
    let progress = learner.engine.all_progress().await?;
    let labs = learner
        .labs()
        .into_iter()
        .map(|lab| LabSummary {
            id: lab.id.clone(),
            order: lab.order,
            title: lab.title.clone(),
            summary: lab.summary.clone(),
            steps: lab.steps.len(),
            done: progress.get(&lab.id).map_or(0, LabProgress::done),
            regressed: progress.get(&lab.id).map_or(0, LabProgress::regressed),
            url: format!("/labs/{}", lab.id),
        })
        .collect();
    Ok(Json(LabList { labs }))
}

/// A check in `GET /api/labs/{lab}`.
#[derive(Debug, Serialize)]
pub struct CheckInfo {
    /// Check id.
    pub id: String,
    /// What it checks.
    pub title: Text,
}

/// A manifest object in `GET /api/labs/{lab}`.
#[derive(Debug, Serialize)]
pub struct ManifestInfo {
    pub file: String,
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub kind: String,
    pub name: String,
    /// Namespace when the file sets one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A step in `GET /api/labs/{lab}`.
#[derive(Debug, Serialize)]
pub struct StepInfo {
    /// Step id.
    pub id: String,
    pub title: Text,
    /// `not-started`, `in-progress`, `passed` or `regressed`.
    pub state: StepState,
    /// A confirmation step (passes when the learner presses Check and every check holds).
    pub confirm: bool,
    /// What Set up applies (empty: no Set up).
    pub manifests: Vec<ManifestInfo>,
    /// The checks' titles.
    pub checks: Vec<CheckInfo>,
    /// Number of hints.
    pub hints: usize,
    /// What is stored about the step (start, first sign of the learner's work, last verdict,
    /// first pass, attempts).
    pub progress: StepRecord,
    /// The step's last evaluation, once started.
    pub report: Option<StepReport>,
}

/// `GET /api/labs/{lab}` body.
#[derive(Debug, Serialize)]
pub struct LabDetail {
    /// Lab id.
    pub id: String,
    pub order: u32,
    pub title: Text,
    pub summary: Text,
    pub namespace: String,
    /// Steps done (passed, even if one regressed since).
    pub done: usize,
    /// Steps done once whose checks do not hold any more.
    pub regressed: usize,
    pub steps: Vec<StepInfo>,
}

/// The lab as `values`' reader sees it (check titles with their namespace).
fn detail(lab: &Lab, progress: LabProgress, values: &Values) -> LabDetail {
    let done = progress.done();
    let regressed = progress.regressed();
    let steps: Vec<StepInfo> = lab
        .steps
        .iter()
        .zip(progress.steps)
        .map(|(s, p)| StepInfo {
            id: s.id.clone(),
            title: s.title.clone(),
            state: p.state,
            confirm: s.confirm,
            manifests: s
                .manifests
                .iter()
                .map(|m| ManifestInfo {
                    file: m.file.clone(),
                    api_version: m.api_version.clone(),
                    kind: m.kind.clone(),
                    name: m.name.clone(),
                    namespace: m.namespace.clone(),
                })
                .collect(),
            checks: s
                .checks
                .iter()
                .map(|c| CheckInfo {
                    id: c.id.clone(),
                    title: values.text(&c.title),
                })
                .collect(),
            hints: s.hints.len(),
            progress: p.record,
            report: p.report,
        })
        .collect();
    LabDetail {
        id: lab.id.clone(),
        order: lab.order,
        title: lab.title.clone(),
        summary: lab.summary.clone(),
        namespace: values.namespace.clone(),
        done,
        regressed,
        steps,
    }
}

/// `GET /api/labs/{lab}`: the lab, its steps, their checks and progress.
pub async fn lab(
    learner: LearnerEngine,
    Path(lab_id): Path<String>,
) -> Result<Json<LabDetail>, WebError> {
    let lab = learner.lab_or_404(&lab_id)?;
    let progress = learner.engine.lab_progress(&lab_id).await?;
    let values = learner.engine.placeholders(lab).await;
    Ok(Json(detail(lab, progress, &values)))
}

/// The optional body of `POST /api/labs/{lab}/steps/{step}/setup`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    /// Objects reported in the way that the caller confirms replacing (deleted, then the lab's
    /// created).
    #[serde(default)]
    pub replace: Vec<ObjectKey>,
}

impl JsonRequest for SetupBody {
    const WHAT: &'static str = "a set-up request";
}

/// `POST /api/labs/{lab}/steps/{step}/setup`: the set-up report — 200 when everything is in
/// place, 409 (same body) when objects are in the way or one is still being deleted, 403 when
/// kubelab refused one (it cannot go in a workshop), 502 when the API server refused one.
pub async fn setup(
    learner: LearnerEngine,
    Path((lab, step)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody<SetupBody>,
) -> Result<Response, WebError> {
    let report = learner
        .engine
        .setup_replacing(&lab, &step, &body.replace)
        .await?;
    let status = if !report.in_the_way.is_empty() {
        StatusCode::CONFLICT
    } else if let Some(failure) = &report.error {
        match failure.cause {
            FailureCause::ApiServer => StatusCode::BAD_GATEWAY,
            FailureCause::Kubelab => StatusCode::FORBIDDEN,
            FailureCause::Busy => StatusCode::CONFLICT,
        }
    } else {
        StatusCode::OK
    };
    Ok((status, Json(report)).into_response())
}

/// Form fields carrying answers are named `answer.<check-id>`.
pub const ANSWER_FIELD_PREFIX: &str = "answer.";

/// The optional body of `POST /api/labs/{lab}/steps/{step}/check`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// Answers to the step's questions, by check id.
    #[serde(default)]
    pub answers: BTreeMap<String, String>,
}

impl JsonRequest for CheckBody {
    const WHAT: &'static str = "a check request";
}

/// `POST /api/labs/{lab}/steps/{step}/check`: the step report (verdicts and diagnostics).
/// Takes no body, or `{"answers": {"<check-id>": "..."}}`.
pub async fn check(
    learner: LearnerEngine,
    Path((lab, step)): Path<(String, String)>,
    OptionalJsonBody(body): OptionalJsonBody<CheckBody>,
) -> Result<Json<StepReport>, WebError> {
    Ok(Json(
        learner.engine.check(&lab, &step, &body.answers).await?,
    ))
}

/// `POST /api/labs/{lab}/steps/{step}/start` body.
#[derive(Debug, Serialize)]
pub struct Started {
    pub lab: String,
    pub step: String,
    /// When the learner started the step (the first start counts).
    #[serde(with = "time::serde::rfc3339")]
    pub started_at: time::OffsetDateTime,
}

/// `POST /api/labs/{lab}/steps/{step}/start`: records that the learner started the step (the
/// first time only) and says when.
pub async fn start(
    learner: LearnerEngine,
    Path((lab, step)): Path<(String, String)>,
) -> Result<Json<Started>, WebError> {
    let started_at = learner.engine.start_step(&lab, &step).await?;
    Ok(Json(Started {
        lab,
        step,
        started_at,
    }))
}

/// The optional body of `POST /api/labs/{lab}/reset`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetBody {
    /// The caller's own objects (as a previous reset listed them under `kept` with `why:
    /// yours`) to delete as well.
    #[serde(default)]
    pub delete: Vec<ObjectKey>,
}

impl JsonRequest for ResetBody {
    const WHAT: &'static str = "a reset request";
}

/// `POST /api/labs/{lab}/reset`: what was deleted and kept.
pub async fn reset(
    learner: LearnerEngine,
    Path(lab): Path<String>,
    OptionalJsonBody(body): OptionalJsonBody<ResetBody>,
) -> Result<Json<ResetReport>, WebError> {
    Ok(Json(learner.engine.reset_with(&lab, &body.delete).await?))
}

/// `/api/...` that matches nothing.
pub async fn not_found(uri: axum::http::Uri) -> WebError {
    WebError::NotFound(uri.path().to_owned())
}

/// `GET /healthz`: the process is up.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz` body.
#[derive(Debug, Serialize)]
pub struct Readiness {
    /// Number of labs loaded.
    pub labs: usize,
    /// `ok`, or the database error.
    pub database: String,
    /// The cached cluster health (reported, never a reason to fail).
    pub cluster: Health,
}

/// `GET /readyz`: 200 when the labs are loaded and the database answers, 503 otherwise.
pub async fn readyz(State(engine): State<Engine>) -> Response {
    let (status, database) = match engine.store().ping().await {
        Ok(()) => (StatusCode::OK, "ok".to_owned()),
        Err(e) => {
            tracing::error!(error = %e, "readiness: the progress database does not answer");
            (StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    };
    let body = Readiness {
        labs: engine.catalog().labs.len(),
        database,
        cluster: engine.health(),
    };
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn h(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut m = HeaderMap::new();
        for (k, v) in pairs {
            m.insert(
                header::HeaderName::from_static(k),
                HeaderValue::from_static(v),
            );
        }
        m
    }

    #[test]
    fn curl_passes_and_cross_site_browsers_do_not() {
        assert!(judge(&h(&[("host", "127.0.0.1:8080")])).is_ok());
        assert!(
            judge(&h(&[
                ("host", "127.0.0.1:8080"),
                ("content-type", "application/json"),
                ("content-length", "2")
            ]))
            .is_ok()
        );
        assert!(
            judge(&h(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080")
            ]))
            .is_ok()
        );
        assert!(matches!(
            judge(&h(&[("host", "a:1"), ("origin", "http://evil.example")])),
            Err(WebError::CrossSite(_))
        ));
        assert!(matches!(
            judge(&h(&[("sec-fetch-site", "cross-site")])),
            Err(WebError::CrossSite(_))
        ));
        assert!(matches!(
            judge(&h(&[
                ("content-type", "text/plain"),
                ("content-length", "3")
            ])),
            Err(WebError::UnsupportedMediaType(_))
        ));
        assert!(matches!(
            judge(&h(&[("content-length", "3")])),
            Err(WebError::UnsupportedMediaType(_))
        ));
    }
}
