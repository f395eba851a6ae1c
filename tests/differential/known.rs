//! The known differences between the fake and a real kube-apiserver 1.28 with a real kubelet:
//! each one named, with the reason it stays, and matched against the differences a run found.
//! A run fails on a difference no entry explains, and on an entry that explained nothing (the
//! fake was fixed or the server changed: remove it).

use serde_json::Value;

use super::normalize::Difference;

/// What an entry tolerates at the places it names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tolerate {
    /// Any two values.
    Any,
    /// Texts equal up to their first line break (what follows is a Go value dump).
    FirstLine,
}

/// One known difference.
#[derive(Debug)]
pub struct Known {
    /// A short name for reports.
    pub name: &'static str,
    /// Steps it applies to (`*` matches any run of characters).
    pub step: &'static str,
    /// Paths it applies to (`*` matches any run of characters).
    pub path: &'static str,
    /// What is tolerated there.
    pub tolerate: Tolerate,
    /// Why the fake does not (or cannot) reproduce it.
    pub reason: &'static str,
}

/// Every known difference.
pub const KNOWN: &[Known] = &[
    Known {
        name: "pod-update-go-diff",
        step: "apply/pod-*",
        path: "body.*message",
        tolerate: Tolerate::FirstLine,
        reason: "the real message ends with a Go struct diff of the whole PodSpec \
                 (`core.PodSpec{...}`) that the fake does not print; the first line, reason, code \
                 and causes are compared",
    },
    Known {
        name: "scheduler-counts-the-clusters-nodes",
        step: "delete/pod-unscheduled",
        path: "body.status.conditions[0].message",
        tolerate: Tolerate::Any,
        reason: "FailedScheduling names every node of the cluster: realkube has a second node \
                 `lab-node` tainted `sim=only:NoSchedule` (`0/2 nodes ... untolerated taint`), the \
                 fake one node (`0/1 nodes`, the shape of recording 080)",
    },
];

/// Whether `pattern` (with `*` wildcards) matches all of `text`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == text;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !text.starts_with(first) || !text[first.len()..].ends_with(last) {
        return false;
    }
    let mut rest = &text[first.len()..text.len() - last.len()];
    for middle in &parts[1..parts.len() - 1] {
        match rest.find(middle) {
            Some(i) => rest = &rest[i + middle.len()..],
            None => return false,
        }
    }
    true
}

fn first_line(v: &Value) -> Option<&str> {
    v.as_str().map(|s| s.split('\n').next().unwrap_or(""))
}

/// The entry that explains `diff` in `step`, if any.
pub fn explain(step: &str, diff: &Difference) -> Option<&'static Known> {
    KNOWN.iter().find(|k| {
        glob(k.step, step)
            && glob(k.path, &diff.path)
            && match k.tolerate {
                Tolerate::Any => true,
                Tolerate::FirstLine => {
                    first_line(&diff.fake).is_some()
                        && first_line(&diff.fake) == first_line(&diff.real)
                }
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn globs_match_whole_texts() {
        assert!(glob("body.*message", "body.details.causes[0].message"));
        assert!(glob("exec/*", "exec/tty"));
        assert!(!glob("exec/*", "logs/tail"));
        assert!(glob("a*b*c", "a-b-c"));
        assert!(!glob("a*b*c", "a-c-b"));
        assert!(glob("same", "same"));
    }

    #[test]
    fn first_line_tolerance_needs_equal_first_lines() {
        let diff = |fake: &str, real: &str| Difference {
            path: "body.message".into(),
            fake: json!(fake),
            real: json!(real),
        };
        assert!(
            explain(
                "apply/pod-immutable",
                &diff("x: Forbidden", "x: Forbidden\n  core.PodSpec{")
            )
            .is_some()
        );
        assert!(
            explain(
                "apply/pod-immutable",
                &diff("x: other", "x: Forbidden\n  core")
            )
            .is_none()
        );
        assert!(explain("apply/other", &diff("a", "a\nb")).is_none());
    }

    #[test]
    fn every_entry_says_why() {
        for k in KNOWN {
            assert!(k.reason.len() > 40, "{}: give the reason", k.name);
        }
    }
}
