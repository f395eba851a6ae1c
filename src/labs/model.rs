//! The lab model: what `labs/<lab>/lab.yaml` says, plus the files it names, loaded.

use serde::{Deserialize, Serialize};

use super::placeholders::{Placeholder, uses};
use std::sync::Arc;

use crate::checks::{CheckSpec, CompiledCheck};
use crate::i18n::{Lang, Text};

/// `lab.yaml` as the author writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabFile {
    /// Position on the home page (the source document's chapter order).
    pub order: u32,
    /// The chapter's title.
    pub title: Text,
    /// One or two sentences for the home page.
    pub summary: Text,
    /// The namespace the lab works in; checks and manifests without a namespace use it.
    #[serde(default = "default_namespace")]
    pub namespace: String,
    /// Where the lab can run (default: both); `[local]` for labs that need the learner's own
    /// machine or cluster-wide rights.
    #[serde(default = "all_modes")]
    pub modes: Vec<Mode>,
    /// The steps, in order.
    pub steps: Vec<StepFile>,
}

/// Where a lab can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// On the learner's own cluster (colima on a laptop).
    Local,
    /// In a workshop, in a namespace of a shared cluster.
    Workshop,
}

fn all_modes() -> Vec<Mode> {
    vec![Mode::Local, Mode::Workshop]
}

fn default_namespace() -> String {
    "default".to_owned()
}

/// One step of `lab.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepFile {
    /// Unique within the lab; the step's text is `steps/<id>.en.md` and `steps/<id>.zh.md`.
    pub id: String,
    /// The step's title.
    pub title: Text,
    /// Manifest files (relative to the lab folder) that **Set up** applies, in order.
    #[serde(default)]
    pub manifests: Vec<String>,
    /// What must hold in the cluster for the step to pass.
    #[serde(default)]
    pub checks: Vec<CheckSpec>,
    /// Hints, unfolded one at a time.
    #[serde(default)]
    pub hints: Vec<Text>,
    /// After how many seconds on the step without passing the first hint is offered
    /// (default: three minutes).
    #[serde(
        default,
        rename = "hintAfterSeconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub hint_after_seconds: Option<u64>,
    /// A reading or confirmation step: the learner changes nothing in the cluster (they look,
    /// answer, or read), so its checks may already hold when it starts. It counts as done when
    /// the learner presses **Check** (**Mark as done** for a step without checks) and every check holds, instead of when the
    /// checks turn from failing to holding. Steps without checks are always of this kind.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub confirm: bool,
}

/// A lab, loaded and validated: ready to serve.
#[derive(Debug, Clone, Serialize)]
pub struct Lab {
    /// The folder name (`configmap`), used in URLs.
    pub id: String,
    /// Position on the home page.
    pub order: u32,
    pub title: Text,
    pub summary: Text,
    /// Default namespace.
    pub namespace: String,
    /// Where the lab can run.
    pub modes: Vec<Mode>,
    /// Introduction rendered to sanitized HTML (`intro.<lang>.md`, optional).
    pub intro_html: Localized,
    /// Steps in order.
    pub steps: Vec<Step>,
    /// Images under `images/`, by file name (served at `/labs/<id>/images/<file>`).
    #[serde(skip)]
    pub images: std::collections::BTreeMap<String, super::assets::LabImage>,
    /// Some text of the lab names the node (`{kubelab:node}`), so showing it needs the node's
    /// name from the cluster.
    #[serde(skip)]
    pub names_node: bool,
}

/// A step, loaded.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    /// Unique within the lab.
    pub id: String,
    pub title: Text,
    /// The step text rendered to sanitized HTML, per language.
    pub html: Localized,
    /// The manifests' objects, parsed, in apply order.
    pub manifests: Vec<Manifest>,
    pub checks: Vec<CheckSpec>,
    /// `checks`, compiled and validated once when the labs loaded (same order): what the
    /// engine evaluates on every watch event.
    #[serde(skip)]
    pub compiled: Vec<Arc<CompiledCheck>>,
    pub hints: Vec<Text>,
    /// Seconds on the step before the first hint is offered (author-set; `None`: the default).
    pub hint_after_seconds: Option<u64>,
    /// The learner confirms this step with **Check** (see [`StepFile::confirm`]); true for
    /// every step without checks.
    pub confirm: bool,
}

/// HTML in both languages.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Localized {
    pub en: String,
    pub zh: String,
}

impl Localized {
    /// The HTML in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

/// One Kubernetes object from a manifest file.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// The file it came from, relative to the lab folder.
    pub file: String,
    pub api_version: String,
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, if the file sets one.
    pub namespace: Option<String>,
    /// The whole object.
    pub object: serde_json::Value,
    /// The YAML document it was read from (for the line of a field).
    #[serde(skip)]
    pub source: super::node::Node,
    /// Where the object's `kind` and `metadata.namespace` are in its file (1-based lines), for
    /// validation.
    #[serde(skip)]
    pub lines: ManifestLines,
}

/// Lines of a manifest's fields in its file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ManifestLines {
    /// The line of `kind`.
    pub kind: usize,
    /// The line of `metadata.namespace`, when set.
    pub namespace: Option<usize>,
}

impl Lab {
    /// The step with `id`.
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// Whether any text of the lab (introduction, steps, hints, checks) or any check's
    /// expectation or CEL uses placeholder `p`.
    pub fn uses(&self, p: Placeholder) -> bool {
        let texts = |t: &Text| uses(&t.en, p) || uses(&t.zh, p);
        let json = |v: &serde_json::Value| uses(&v.to_string(), p);
        let html = |h: &Localized| uses(&h.en, p) || uses(&h.zh, p);
        html(&self.intro_html)
            || self.steps.iter().any(|s| {
                html(&s.html)
                    || s.hints.iter().any(texts)
                    || s.checks.iter().any(|c| {
                        texts(&c.title)
                            || texts(&c.reason)
                            || c.question.as_ref().is_some_and(texts)
                            || c.pending.as_ref().is_some_and(|pd| texts(&pd.reason))
                            || c.pending.as_ref().is_some_and(|pd| json(&pd.when))
                            || c.expect.as_ref().is_some_and(json)
                            || c.events.as_ref().is_some_and(json)
                            || c.cel.as_deref().is_some_and(|cel| uses(cel, p))
                    })
            })
    }
}
