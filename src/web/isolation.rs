//! What the instructor pages say about learner isolation: a warning while the cluster serves no
//! ValidatingAdmissionPolicy, so that kubelab's sweep stands in for the API server's refusal of
//! `externalIPs` Services and service-account-token Secrets.

use crate::cluster::AdmissionGuard;
use crate::engine::{Engine, SWEEP_EVERY};
use crate::i18n::Lang;

/// The isolation warning banner, when there is one to show.
#[derive(Debug, Default)]
pub struct IsolationNote {
    /// The banner's heading (`None`: no banner).
    pub title: Option<&'static str>,
    /// Why the cluster does not refuse those objects.
    pub why: String,
    /// What kubelab does instead, and how to get the refusal.
    pub instead: String,
}

impl IsolationNote {
    /// The note for `engine`'s current guard, in `lang`.
    pub fn new(engine: &Engine, lang: Lang) -> IsolationNote {
        let Some(AdmissionGuard::Sweep { why }) = engine.admission_guard() else {
            return IsolationNote::default();
        };
        let seconds = SWEEP_EVERY.as_secs();
        match lang {
            Lang::En => IsolationNote {
                title: Some("Learner namespaces are not protected by admission policies"),
                why: format!(
                    "The API server accepts Services with spec.externalIPs and kubernetes.io/service-account-token Secrets in learner namespaces: {why}."
                ),
                instead: format!(
                    "kubelab deletes such objects within about {seconds} seconds of their creation instead (deleting the Secret revokes its token). On Kubernetes 1.30 or later (colima's k3s) the API server refuses them."
                ),
            },
            Lang::Zh => IsolationNote {
                title: Some("学员命名空间没有准入策略保护"),
                why: format!(
                    "API Server 会接受学员命名空间中带 spec.externalIPs 的 Service 和 kubernetes.io/service-account-token 类型的 Secret：{why}。"
                ),
                instead: format!(
                    "kubelab 会在这类对象创建后约 {seconds} 秒内删除它们（删除 Secret 即吊销其令牌）。在 Kubernetes 1.30 及以上（colima 的 k3s）上，API Server 会直接拒绝它们。"
                ),
            },
        }
    }
}
