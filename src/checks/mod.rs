//! The check language: matching cluster objects against a lab's expectations. Pure code —
//! it takes objects and expectations and returns verdicts, with no cluster in sight.

pub mod spec;
pub mod verdict;

pub use spec::{CheckSpec, Find, PendingSpec};
pub use verdict::{Diagnostic, Verdict};

use serde_json::Value;

/// Evaluates one check against the objects its `find` returned (one or none for a name,
/// any number for a selector). Never touches the cluster.
pub fn evaluate(spec: &CheckSpec, objects: &[Value]) -> Verdict {
    let _ = (spec, objects);
    Verdict::Error {
        message: "check evaluation not implemented yet".into(),
    }
}

/// Problems with a check as written (unknown operator, bad regex, CEL that does not parse,
/// both `name` and `selector`...), each a sentence for `kubelab validate`. Empty when fine.
pub fn validate(spec: &CheckSpec) -> Vec<String> {
    let _ = spec;
    Vec::new()
}
