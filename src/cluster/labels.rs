//! Label selectors for the watch caches: the check language's one grammar and type
//! ([`crate::checks::Selector`]), so a selector that validates filters a cache exactly as the
//! API server filters a list — `key>n` included, which kube's selector type cannot express.

pub use crate::checks::selector::{Selector, parse_selector as parse_label_selector};

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matches(selector: &str, labels: serde_json::Value) -> bool {
        let selector = parse_label_selector(selector).expect("valid selector");
        selector.matches_object(&json!({"metadata": {"name": "p", "labels": labels}}))
    }

    #[test]
    fn the_cache_filter_understands_every_form_validation_accepts() {
        assert!(matches("app=nginx", json!({"app": "nginx"})));
        assert!(matches("app==nginx", json!({"app": "nginx"})));
        assert!(!matches("app!=nginx,tier=web", json!({"tier": "db"})));
        assert!(matches("tier in (web, db)", json!({"tier": "db"})));
        assert!(matches("tier notin (web)", json!({})));
        assert!(matches("app,!canary", json!({"app": "x"})));
        assert!(matches("", json!({"anything": "goes"})));
        // What the API server also accepts: integer comparisons.
        assert!(matches("replicas>2", json!({"replicas": "3"})));
        assert!(!matches("replicas>2", json!({"replicas": "2"})));
        assert!(matches(
            "replicas<3,app",
            json!({"replicas": "2", "app": "x"})
        ));
        assert!(!matches("replicas<3", json!({})));
    }

    #[test]
    fn bad_selectors_are_refused() {
        for bad in [
            "app=(",
            "tier in web",
            "a,,b",
            "tier in (a",
            "x y",
            "=v",
            "x>abc",
        ] {
            assert!(parse_label_selector(bad).is_err(), "{bad}");
        }
    }
}
