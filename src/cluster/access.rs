//! Reviews the API server computes instead of storing: SubjectAccessReview ("may this subject do
//! this?") and TokenReview ("whose token is this?"). Both are created (201) and never stored;
//! the token goes to the API server only and is never logged or kept.

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use k8s_openapi::api::authorization::v1::{
    ResourceAttributes, SubjectAccessReview, SubjectAccessReviewSpec,
};
use kube::api::{Api, PostParams};

use super::error::from_kube;
use super::{Cluster, ClusterError, bounded};
use crate::checks::{AccessOutcome, AccessRequest};

/// What a TokenReview answered (the token itself is not part of it).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TokenAnswer {
    /// `status.authenticated` (absent on failure: false).
    pub authenticated: bool,
    /// `status.user.username`.
    pub username: String,
    /// `status.audiences`.
    pub audiences: Vec<String>,
    /// `status.error`.
    pub error: String,
}

fn some_text(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

impl Cluster {
    /// Asks the API server whether `question`'s subject may do what it says.
    pub async fn access_review(
        &self,
        question: &AccessRequest,
    ) -> Result<AccessOutcome, ClusterError> {
        let (client, server) = self.client()?;
        let review = SubjectAccessReview {
            spec: SubjectAccessReviewSpec {
                user: some_text(&question.user),
                groups: (!question.groups.is_empty()).then(|| question.groups.clone()),
                resource_attributes: Some(ResourceAttributes {
                    verb: some_text(&question.verb),
                    group: some_text(&question.group),
                    resource: some_text(&question.resource),
                    subresource: some_text(&question.subresource),
                    name: some_text(&question.name),
                    namespace: some_text(&question.namespace),
                    ..ResourceAttributes::default()
                }),
                ..SubjectAccessReviewSpec::default()
            },
            ..SubjectAccessReview::default()
        };
        let api: Api<SubjectAccessReview> = Api::all(client.clone());
        bounded(self.call_timeout, &server, async {
            let answered = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| from_kube(e, &server))?;
            let status = answered.status.unwrap_or_default();
            Ok(AccessOutcome {
                allowed: status.allowed,
                denied: status.denied.unwrap_or(false),
                reason: status.reason.unwrap_or_default(),
                evaluation_error: status.evaluation_error.unwrap_or_default(),
            })
        })
        .await
    }

    /// Asks the API server whose `token` is, for `audiences` (none: the API server's own).
    pub async fn token_review(
        &self,
        token: &str,
        audiences: &[String],
    ) -> Result<TokenAnswer, ClusterError> {
        let (client, server) = self.client()?;
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: token.to_owned(),
                audiences: (!audiences.is_empty()).then(|| audiences.to_vec()),
            },
            ..TokenReview::default()
        };
        let api: Api<TokenReview> = Api::all(client.clone());
        bounded(self.call_timeout, &server, async {
            let answered = api
                .create(&PostParams::default(), &review)
                .await
                .map_err(|e| from_kube(e, &server))?;
            let status = answered.status.unwrap_or_default();
            let user = status.user.unwrap_or_default();
            Ok(TokenAnswer {
                authenticated: status.authenticated.unwrap_or(false),
                username: user.username.unwrap_or_default(),
                audiences: status.audiences.unwrap_or_default(),
                error: status.error.unwrap_or_default(),
            })
        })
        .await
    }
}
