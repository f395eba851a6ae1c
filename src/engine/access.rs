//! Access and token questions on the cluster's side: the SubjectAccessReview an access check
//! asks (never outside a workshop learner's namespace), and the TokenReview of a pasted token —
//! after which only what the review said is kept, never the token.

use std::collections::BTreeMap;

use crate::checks::observed::{access, token};
use crate::checks::{AccessOutcome, AccessSpec, CheckSpec, TokenReviewed, Verdict};
use crate::cluster::ClusterError;
use crate::labs::{Lab, Step};

use super::{Engine, EngineError, now};

impl Engine {
    /// What the cluster answers to an access question for this reader; `None` when the
    /// question reaches outside a workshop learner's namespace (it is then never asked).
    pub(super) async fn access_outcome(
        &self,
        lab: &Lab,
        check: &CheckSpec,
        question: &AccessSpec,
    ) -> Option<Result<AccessOutcome, ClusterError>> {
        if self.outside_workshop_namespace(lab, check).is_some() {
            return None;
        }
        let request = access::request(question, self.namespace_for(lab));
        Some(self.inner.cluster.access_review(&request).await)
    }

    /// For a workshop learner, the verdict of a check that would reach outside their
    /// namespace (another namespace, the cluster scope), saying so.
    pub(super) fn outside_workshop_namespace(
        &self,
        lab: &Lab,
        check: &CheckSpec,
    ) -> Option<Verdict> {
        self.learner.namespace.as_ref()?;
        let reaches = crate::checks::outside_namespace(check, &lab.namespace);
        (!reaches.is_empty()).then(|| Verdict::Error {
            message: format!(
                "this check is not available in a workshop: {}",
                reaches.join("; ")
            ),
        })
    }

    /// Replaces each pasted token among `answers` by what its TokenReview said (see
    /// [`token::remember`]): the token goes to the API server and nowhere else.
    pub(super) async fn review_tokens(
        &self,
        step: &Step,
        answers: &mut BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        for check in &step.checks {
            let Some(wanted) = crate::checks::token_of(check) else {
                continue;
            };
            let Some(answer) = answers.get_mut(&check.id) else {
                continue;
            };
            if answer.trim().is_empty() {
                continue;
            }
            let pasted = token::pasted(answer);
            let said = self
                .inner
                .cluster
                .token_review(pasted, &wanted.audiences)
                .await?;
            let reviewed = TokenReviewed {
                authenticated: said.authenticated,
                username: said.username,
                audiences: said.audiences,
                error: said.error,
                claims: token::claims(pasted),
                reviewed_at: now().unix_timestamp(),
            };
            *answer = token::remember(&reviewed);
        }
        Ok(())
    }
}

/// The longest answer a check takes: a token question takes a token.
pub(super) fn answer_limit(check: &CheckSpec) -> usize {
    if crate::checks::token_of(check).is_some() {
        token::MAX_TOKEN_CHARS
    } else {
        super::MAX_ANSWER_CHARS
    }
}
