//! What one side answered, step by step, in comparable form.

use serde_json::{Value, json};

use super::normalize::normalize;
use super::side::Answer;

/// The answers of one side, in the order the scenarios asked.
#[derive(Debug, Default)]
pub struct Record {
    /// (step, comparable answer).
    pub steps: Vec<(String, Value)>,
}

impl Record {
    /// Records an HTTP answer: status, Content-Type, `Warning` headers and the normalized body.
    pub fn answer(&mut self, step: &str, a: &Answer) {
        let mut v = json!({"status": a.status, "contentType": a.header("content-type"),
            "body": normalize(&a.body)});
        let warnings: Vec<String> = a
            .headers
            .get_all("warning")
            .iter()
            .filter_map(|w| w.to_str().ok().map(String::from))
            .collect();
        if !warnings.is_empty() {
            v["warnings"] = json!(warnings);
        }
        self.push(step, v);
    }

    /// Records an answer with only the parts of the body `view` keeps (for objects that
    /// controllers change at their own pace).
    pub fn answer_view(&mut self, step: &str, a: &Answer, view: impl Fn(&Value) -> Value) {
        let mut shown = a.clone();
        shown.body = view(&a.body);
        self.answer(step, &shown);
    }

    /// Records a derived fact (a value computed from several answers), normalized.
    pub fn fact(&mut self, step: &str, v: Value) {
        self.push(step, json!({"fact": normalize(&v)}));
    }

    fn push(&mut self, step: &str, v: Value) {
        assert!(
            !self.steps.iter().any(|(s, _)| s == step),
            "step {step} recorded twice"
        );
        self.steps.push((step.to_string(), v));
    }
}

/// `body` without the fields controllers write asynchronously: `status`, the deployment
/// controller's revision annotation and the managedFields entries of controllers.
pub fn without_controllers(body: &Value) -> Value {
    let mut b = body.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("status");
    }
    if let Some(meta) = b.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(a) = meta.get_mut("annotations").and_then(Value::as_object_mut)
    {
        a.remove("deployment.kubernetes.io/revision");
        if a.is_empty() {
            meta.remove("annotations");
        }
    }
    if let Some(mf) = b["metadata"]
        .get_mut("managedFields")
        .and_then(Value::as_array_mut)
    {
        mf.retain(|e| e["manager"] != "kube-controller-manager");
    }
    b
}
