//! Behaviour of the check language as a lab author and a learner see it: verdicts, diagnostics
//! and validation messages, on realistic Kubernetes objects.

use serde_json::{Value, json};

use super::matching::{self, Mismatches};
use super::*;
use crate::i18n::Text;

fn deployment() -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "nginx-deployment",
            "namespace": "fly-k8s",
            "generation": 2,
            "labels": {"app": "nginx"},
            "annotations": {"deployment.kubernetes.io/revision": "2"}
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {
                    "labels": {"app": "nginx"},
                    "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}
                },
                "spec": {"containers": [{
                    "name": "nginx",
                    "image": "nginx:1.14.2",
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "resources": {"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}}
                }]}
            }
        },
        "status": {
            "observedGeneration": 2,
            "replicas": 3,
            "updatedReplicas": 3,
            "readyReplicas": 3,
            "availableReplicas": 3,
            "conditions": [
                {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
            ]
        }
    })
}

fn base_map() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "base-map", "namespace": "fly-k8s"},
        "data": {
            "fly-name": "fly",
            "application.yaml": "server:\n  port: 8080\nspring:\n  application:\n    name: demo\n",
            "game.properties": "enemies=aliens\nlives=3\nenemies.cheat=true\n"
        }
    })
}

fn pod(name: &str, phase: &str, app: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": "fly-k8s", "labels": {"app": app}},
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": "nginx:1.14.2",
                    "env": [
                        {"name": "FLY_NAME", "valueFrom": {"configMapKeyRef": {"name": "base-map", "key": "fly-name"}}},
                        {"name": "MODE", "value": "demo"}
                    ],
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/config", "readOnly": true},
                        {"name": "kube-api-access-x7k2p", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}
                    ]
                },
                {"name": "sidecar", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"]}
            ],
            "volumes": [{"name": "config", "configMap": {"name": "base-map"}}]
        },
        "status": {
            "phase": phase,
            "containerStatuses": [
                {"name": "nginx", "ready": phase == "Running", "restartCount": 0},
                {"name": "sidecar", "ready": phase == "Running", "restartCount": 1}
            ]
        }
    })
}

fn spec(kind: &str, name: Option<&str>, selector: Option<&str>) -> CheckSpec {
    CheckSpec {
        id: "a-check".into(),
        title: Text::same("title"),
        reason: Text::same("reason"),
        describe: None,
        find: Some(Find {
            api_version: if kind == "Deployment" {
                "apps/v1"
            } else {
                "v1"
            }
            .into(),
            kind: kind.into(),
            name: name.map(str::to_owned),
            namespace: None,
            selector: selector.map(str::to_owned),
        }),
        served: None,
        server_version: None,
        access: None,
        exec: None,
        events: None,
        question: None,
        answer: None,
        normalize: None,
        since: None,
        expect: None,
        cel: None,
        absent: false,
        count: None,
        pending: None,
    }
}

fn with_expect(mut s: CheckSpec, expect: Value) -> CheckSpec {
    s.expect = Some(expect);
    s
}

/// The diagnostics of one expectation against one object, as (path, expected, actual).
fn diags(expect: Value, object: &Value) -> Vec<(String, String, String)> {
    let mut errors = Vec::new();
    let node = matching::compile(&expect, &mut Vec::new(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let mut report = Mismatches::collecting();
    matching::check(&node, Some(object), &mut report);
    let count = report.count();
    let out: Vec<_> = report
        .into_diagnostics()
        .into_iter()
        .map(|d| {
            assert!(
                !d.expected.zh.is_empty() && !d.actual.zh.is_empty(),
                "{d:?}"
            );
            (d.path, d.expected.en, d.actual.en)
        })
        .collect();
    assert_eq!(count, out.len());
    // The yes/no test agrees with the diagnostics.
    assert_eq!(matching::matches(&node, Some(object)), out.is_empty());
    out
}

/// A diagnostic as the English page shows it (the whole found value not compared).
pub(super) fn dg(path: &str, expected: &str, actual: &str) -> Diagnostic {
    Diagnostic::new(path, Text::same(expected), Text::same(actual))
}

/// The verdict with each diagnostic's English text in both languages and no whole value, so
/// tests compare what the English page shows; the Chinese must be there too.
pub(super) fn english(verdict: Verdict) -> Verdict {
    let en = |diagnostics: Vec<Diagnostic>| {
        diagnostics
            .into_iter()
            .map(|d| {
                assert!(
                    !d.expected.zh.is_empty() && !d.actual.zh.is_empty(),
                    "{d:?}"
                );
                dg(&d.path, &d.expected.en, &d.actual.en)
            })
            .collect()
    };
    match verdict {
        Verdict::Failed {
            diagnostics,
            closest,
        } => Verdict::Failed {
            diagnostics: en(diagnostics),
            closest,
        },
        Verdict::Pending { diagnostics } => Verdict::Pending {
            diagnostics: en(diagnostics),
        },
        other => other,
    }
}

/// [`super::evaluate`], as the English page shows it.
pub(super) fn evaluate(spec: &CheckSpec, objects: &[Value]) -> Verdict {
    english(super::evaluate(spec, objects))
}

fn d(path: &str, expected: &str, actual: &str) -> (String, String, String) {
    (path.to_owned(), expected.to_owned(), actual.to_owned())
}

fn passes(expect: Value, object: &Value) -> bool {
    diags(expect, object).is_empty()
}

// ---- plain matching -------------------------------------------------------------------------

#[test]
fn partial_maps_ignore_unlisted_keys() {
    let dep = deployment();
    assert!(passes(json!({"spec": {"replicas": 3}}), &dep));
    assert!(passes(
        json!({"metadata": {"labels": {"app": "nginx"}}}),
        &dep
    ));
    assert!(passes(json!({}), &dep));
    assert_eq!(
        diags(
            json!({"spec": {"replicas": 5}, "metadata": {"labels": {"app": "web"}}}),
            &dep
        ),
        vec![
            d("metadata.labels.app", "`\"web\"`", "`\"nginx\"`"),
            d("spec.replicas", "`5`", "`3`"),
        ]
    );
}

#[test]
fn numbers_compare_numerically() {
    let dep = deployment();
    assert!(passes(json!({"spec": {"replicas": 3.0}}), &dep));
    assert!(passes(json!({"spec": {"replicas": {"$eq": 3.0}}}), &dep));
    assert!(!passes(json!({"spec": {"replicas": "3"}}), &dep));
}

#[test]
fn nested_maps_report_the_deepest_path() {
    let dep = deployment();
    assert_eq!(
        diags(
            json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.16"}]}}}}),
            &dep
        ),
        vec![d(
            "spec.template.spec.containers[name=nginx].image",
            "`\"nginx:1.16\"`",
            "`\"nginx:1.14.2\"`"
        )]
    );
}

#[test]
fn missing_parents_report_the_missing_leaf() {
    let cm = base_map();
    assert_eq!(
        diags(
            json!({"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": {"$exists": true}}}}),
            &cm
        ),
        vec![d(
            "metadata.annotations[\"kubectl.kubernetes.io/restartedAt\"]",
            "present",
            "missing"
        )]
    );
    // A map expected where a string is found.
    assert_eq!(
        diags(json!({"data": {"fly-name": {"first": "f"}}}), &cm),
        vec![d(
            "data.fly-name",
            "a map with `first` = `\"f\"`",
            "`\"fly\"`"
        )]
    );
}

#[test]
fn null_means_missing_or_null() {
    let dep = deployment();
    assert!(passes(json!({"spec": {"paused": null}}), &dep));
    assert!(passes(
        json!({"spec": {"paused": null}}),
        &json!({"spec": {"paused": null}})
    ));
    assert_eq!(
        diags(json!({"spec": {"replicas": null}}), &dep),
        vec![d("spec.replicas", "absent", "`3`")]
    );
    assert_eq!(
        diags(json!({"spec": {"paused": true}}), &dep),
        vec![d("spec.paused", "`true`", "missing")]
    );
}

#[test]
fn keys_with_dots_and_slashes_are_quoted_in_paths() {
    let cm = base_map();
    assert_eq!(
        diags(
            json!({"data": {"game.properties": {"$contains": "lives=5"}}}),
            &cm
        ),
        vec![d(
            "data[\"game.properties\"]",
            "text containing `\"lives=5\"`",
            "`\"enemies=aliens\\nlives=3\\nenemies.cheat=true\\n\"`"
        )]
    );
    assert!(passes(
        json!({"data": {"fly-name": "fly", "application.yaml": {"$regex": "port: 8080"}, "game.properties": {"$contains": "lives=3"}}}),
        &cm
    ));
}

#[test]
fn long_actual_values_are_cut() {
    let object = json!({"data": {"big": "x".repeat(500)}});
    let out = full_diags(json!({"data": {"big": "y"}}), &object);
    assert_eq!(out.len(), 1);
    let actual = &out[0].actual.en;
    assert!(actual.chars().count() <= path::MAX_VALUE_CHARS, "{actual}");
    assert!(actual.starts_with("`\"xxxx"), "{actual}");
    assert!(actual.ends_with("…\"`"), "{actual}");
    // The whole value unfolds.
    assert_eq!(out[0].actual_full, Some("x".repeat(500)));
    // A long list is cut too, and unfolds as indented JSON.
    let object =
        json!({"items": (0..40).map(|i| json!({"name": format!("item-{i}")})).collect::<Vec<_>>()});
    let out = full_diags(json!({"items": [{"name": "other"}]}), &object);
    assert!(out[0].actual.en.ends_with("…`"), "{:?}", out[0]);
    let full = out[0].actual_full.as_deref().unwrap_or_default();
    assert!(
        full.starts_with("[\n  {\n    \"name\": \"item-0\""),
        "{full}"
    );
    assert!(full.contains("item-39"), "{full}");
    // Short values are whole, with nothing to unfold.
    let out = full_diags(json!({"items": {"$len": 2}}), &object);
    assert_eq!(out[0].actual_full, None);
}

#[test]
fn long_values_are_shown_where_they_differ() {
    let base = base_map();
    let lines = |lives: u32| -> String {
        (0..20)
            .map(|i| {
                if i == 12 {
                    format!("lives={lives}\n")
                } else {
                    format!("setting-{i}=on\n")
                }
            })
            .collect()
    };
    let mut cm = base.clone();
    cm["data"]["game.properties"] = json!(lines(3));
    let out = full_diags(json!({"data": {"game.properties": lines(5)}}), &cm);
    assert_eq!(out.len(), 1);
    let (expected, actual) = (&out[0].expected.en, &out[0].actual.en);
    // The place that differs is shown on both sides, with a little context.
    assert_eq!(
        expected,
        "`\"…setting-11=on\\nlives=5\\nsetting-13=on\\nsetti…\"`"
    );
    assert_eq!(
        actual,
        "`\"…setting-11=on\\nlives=3\\nsetting-13=on\\nsetti…\"`"
    );
    assert_eq!(out[0].actual_full, Some(lines(3)));
    // The same through `$eq` and in an exec check's output.
    let out = full_diags(json!({"data": {"game.properties": {"$eq": lines(5)}}}), &cm);
    assert!(out[0].actual.en.contains("lives=3"), "{:?}", out[0]);
}

/// The diagnostics of one expectation against one object, whole.
fn full_diags(expect: Value, object: &Value) -> Vec<Diagnostic> {
    let node = matching::compile(&expect, &mut Vec::new(), &mut Vec::new());
    let mut report = Mismatches::collecting();
    matching::check(&node, Some(object), &mut report);
    report.into_diagnostics()
}

// ---- operators ------------------------------------------------------------------------------

#[test]
fn eq_and_ne() {
    let dep = deployment();
    assert!(passes(json!({"spec": {"replicas": {"$eq": 3}}}), &dep));
    assert_eq!(
        diags(json!({"spec": {"replicas": {"$eq": 2}}}), &dep),
        vec![d("spec.replicas", "`2`", "`3`")]
    );
    assert!(passes(
        json!({"metadata": {"name": {"$ne": "other"}}}),
        &dep
    ));
    assert!(passes(json!({"spec": {"paused": {"$ne": true}}}), &dep));
    assert_eq!(
        diags(
            json!({"metadata": {"name": {"$ne": "nginx-deployment"}}}),
            &dep
        ),
        vec![d(
            "metadata.name",
            "anything but `\"nginx-deployment\"`",
            "`\"nginx-deployment\"`"
        )]
    );
    // $eq is whole-value equality, not partial.
    assert!(!passes(json!({"spec": {"selector": {"$eq": {}}}}), &dep));
    assert!(passes(
        json!({"spec": {"selector": {"$eq": {"matchLabels": {"app": "nginx"}}}}}),
        &dep
    ));
}

#[test]
fn comparisons_on_numbers() {
    let dep = deployment();
    assert!(passes(
        json!({"status": {"readyReplicas": {"$gte": 3}}}),
        &dep
    ));
    assert!(passes(
        json!({"status": {"readyReplicas": {"$gt": 2, "$lt": 4}}}),
        &dep
    ));
    assert!(passes(
        json!({"status": {"readyReplicas": {"$lte": 3.5}}}),
        &dep
    ));
    assert_eq!(
        diags(json!({"status": {"readyReplicas": {"$gte": 4}}}), &dep),
        vec![d("status.readyReplicas", "at least 4", "`3`")]
    );
    assert_eq!(
        diags(json!({"status": {"readyReplicas": {"$gt": 3}}}), &dep),
        vec![d("status.readyReplicas", "more than 3", "`3`")]
    );
    assert_eq!(
        diags(json!({"status": {"readyReplicas": {"$lt": 3}}}), &dep),
        vec![d("status.readyReplicas", "less than 3", "`3`")]
    );
    assert_eq!(
        diags(json!({"status": {"readyReplicas": {"$lte": 2}}}), &dep),
        vec![d("status.readyReplicas", "at most 2", "`3`")]
    );
    assert_eq!(
        diags(
            json!({"status": {"unavailableReplicas": {"$gte": 1}}}),
            &dep
        ),
        vec![d("status.unavailableReplicas", "at least 1", "missing")]
    );
    assert_eq!(
        diags(json!({"metadata": {"name": {"$gte": 1}}}), &dep),
        vec![d("metadata.name", "at least 1", "`\"nginx-deployment\"`")]
    );
    // Two operators failing give two diagnostics.
    assert_eq!(
        diags(json!({"spec": {"replicas": {"$gt": 5, "$ne": 3}}}), &dep),
        vec![
            d("spec.replicas", "more than 5", "`3`"),
            d("spec.replicas", "anything but `3`", "`3`")
        ]
    );
    // A range is one expectation, in words, reported once however it fails.
    let range = json!({"spec": {"replicas": {"$gte": 1, "$lte": 2}}});
    assert_eq!(
        diags(range, &dep),
        vec![d("spec.replicas", "between 1 and 2", "`3`")]
    );
    assert_eq!(
        diags(json!({"spec": {"paused": {"$gte": 1, "$lte": 80}}}), &dep),
        vec![d("spec.paused", "between 1 and 80", "missing")]
    );
    assert_eq!(
        diags(json!({"spec": {"replicas": {"$gt": 5, "$lt": 1}}}), &dep),
        vec![d("spec.replicas", "more than 5 and less than 1", "`3`")]
    );
}

#[test]
fn comparisons_on_quantities() {
    let dep = deployment();
    let limits = |e: Value| json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "resources": {"limits": e}}]}}}});
    assert!(passes(limits(json!({"cpu": {"$lt": "1"}})), &dep));
    assert!(passes(
        limits(json!({"cpu": {"$gte": "500m", "$lte": 0.5}})),
        &dep
    ));
    assert!(passes(
        limits(json!({"memory": {"$gte": "64Mi", "$lt": "1Gi"}})),
        &dep
    ));
    assert_eq!(
        diags(limits(json!({"memory": {"$gte": "1Gi"}})), &dep),
        vec![d(
            "spec.template.spec.containers[name=nginx].resources.limits.memory",
            "at least `1Gi`",
            "`\"128Mi\"`"
        )]
    );
    assert_eq!(
        diags(limits(json!({"cpu": {"$gt": "1"}})), &dep),
        vec![d(
            "spec.template.spec.containers[name=nginx].resources.limits.cpu",
            "more than `1`",
            "`\"500m\"`"
        )]
    );
}

#[test]
fn comparisons_on_timestamps() {
    let dep = deployment();
    let at = |e: Value| json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": e}}}}});
    assert!(passes(at(json!({"$gt": "2024-01-01T00:00:00Z"})), &dep));
    // The same instant written with another offset.
    assert!(!passes(
        at(json!({"$lt": "2024-05-01T12:00:00+02:00"})),
        &dep
    ));
    assert!(passes(
        at(json!({"$lte": "2024-05-01T12:00:00+02:00"})),
        &dep
    ));
    assert_eq!(
        diags(at(json!({"$gte": "2025-01-01T00:00:00Z"})), &dep),
        vec![d(
            "spec.template.metadata.annotations[\"kubectl.kubernetes.io/restartedAt\"]",
            "at or after `2025-01-01T00:00:00Z`",
            "`\"2024-05-01T10:00:00Z\"`"
        )]
    );
}

#[test]
fn exists() {
    let cm = base_map();
    assert!(passes(
        json!({"data": {"fly-name": {"$exists": true}}}),
        &cm
    ));
    assert!(passes(json!({"data": {"color": {"$exists": false}}}), &cm));
    assert!(passes(json!({"binaryData": {"$exists": false}}), &cm));
    assert_eq!(
        diags(json!({"data": {"color": {"$exists": true}}}), &cm),
        vec![d("data.color", "present", "missing")]
    );
    assert_eq!(
        diags(json!({"data": {"fly-name": {"$exists": false}}}), &cm),
        vec![d("data.fly-name", "absent", "`\"fly\"`")]
    );
    assert_eq!(
        diags(json!({"x": {"$exists": true}}), &json!({"x": null})),
        vec![d("x", "present", "`null`")]
    );
}

#[test]
fn regex_and_glob() {
    let dep = deployment();
    let image = |e: Value| json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": e}]}}}});
    assert!(passes(image(json!({"$regex": "^nginx:1\\.(14|15)"})), &dep));
    assert!(
        passes(image(json!({"$regex": "1\\.14"})), &dep),
        "search, not whole match"
    );
    assert_eq!(
        diags(image(json!({"$regex": "^nginx:1\\.16"})), &dep),
        vec![d(
            "spec.template.spec.containers[name=nginx].image",
            "text matching the pattern `^nginx:1\\.16`",
            "`\"nginx:1.14.2\"`"
        )]
    );
    assert!(passes(image(json!({"$glob": "nginx:*"})), &dep));
    assert!(passes(image(json!({"$glob": "nginx:1.1?.2"})), &dep));
    assert!(
        !passes(image(json!({"$glob": "nginx"})), &dep),
        "glob is whole-string"
    );
    assert!(!passes(image(json!({"$glob": "nginx:1.1?"})), &dep));
    assert_eq!(
        diags(image(json!({"$glob": "busybox:*"})), &dep),
        vec![d(
            "spec.template.spec.containers[name=nginx].image",
            "text of the form `busybox:*` (`*` stands for any text)",
            "`\"nginx:1.14.2\"`"
        )]
    );
    // Glob metacharacters of regex are literal.
    assert!(passes(
        json!({"v": {"$glob": "a.b(*)"}}),
        &json!({"v": "a.b(c)"})
    ));
    assert!(!passes(
        json!({"v": {"$glob": "a.b"}}),
        &json!({"v": "axb"})
    ));
    // A regex on a number reads the number as text.
    assert!(passes(
        json!({"spec": {"replicas": {"$regex": "^3$"}}}),
        &dep
    ));
}

#[test]
fn in_and_contains() {
    let pod = pod("web-1", "Running", "nginx");
    assert!(passes(
        json!({"status": {"phase": {"$in": ["Running", "Succeeded"]}}}),
        &pod
    ));
    assert_eq!(
        diags(
            json!({"status": {"phase": {"$in": ["Pending", "Failed"]}}}),
            &pod
        ),
        vec![d(
            "status.phase",
            "one of `\"Pending\"`, `\"Failed\"`",
            "`\"Running\"`"
        )]
    );
    assert!(passes(
        json!({"status": {"reason": {"$in": [null, "Evicted"]}}}),
        &pod
    ));
    assert!(passes(
        json!({"metadata": {"name": {"$contains": "web"}}}),
        &pod
    ));
    assert_eq!(
        diags(json!({"metadata": {"name": {"$contains": "api"}}}), &pod),
        vec![d(
            "metadata.name",
            "text containing `\"api\"`",
            "`\"web-1\"`"
        )]
    );
    assert_eq!(
        diags(json!({"metadata": {"uid": {"$contains": "a"}}}), &pod),
        vec![d("metadata.uid", "text containing `\"a\"`", "missing")]
    );
}

#[test]
fn len() {
    let cm = base_map();
    assert!(passes(json!({"data": {"$len": 3}}), &cm));
    assert!(passes(json!({"data": {"$len": {"$gte": 1}}}), &cm));
    assert!(passes(json!({"data": {"fly-name": {"$len": 3}}}), &cm));
    assert_eq!(
        diags(json!({"data": {"$len": 4}}), &cm),
        vec![d("data", "of length 4", "of length 3")]
    );
    let pod = pod("web-1", "Running", "nginx");
    assert_eq!(
        diags(json!({"spec": {"containers": {"$len": {"$lt": 2}}}}), &pod),
        vec![d("spec.containers", "of length less than 2", "of length 2")]
    );
    assert_eq!(
        diags(json!({"spec": {"initContainers": {"$len": 1}}}), &pod),
        vec![d("spec.initContainers", "of length 1", "missing")]
    );
}

#[test]
fn not() {
    let dep = deployment();
    let image = |e: Value| json!({"spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": e}]}}}});
    assert!(passes(image(json!({"$not": {"$glob": "*:latest"}})), &dep));
    assert_eq!(
        diags(image(json!({"$not": {"$regex": "^nginx"}})), &dep),
        vec![d(
            "spec.template.spec.containers[name=nginx].image",
            "not matching the pattern `^nginx`",
            "`\"nginx:1.14.2\"`"
        )]
    );
    assert_eq!(
        diags(
            json!({"metadata": {"labels": {"$not": {"app": "nginx"}}}}),
            &dep
        ),
        vec![d(
            "metadata.labels",
            "not a map with `app` = `\"nginx\"`",
            "`{\"app\":\"nginx\"}`"
        )]
    );
}

// ---- arrays -----------------------------------------------------------------------------------

#[test]
fn arrays_match_some_element_in_any_order() {
    let pod = pod("web-1", "Running", "nginx");
    assert!(passes(
        json!({"spec": {"containers": [{"name": "sidecar"}, {"name": "nginx"}]}}),
        &pod
    ));
    assert!(passes(
        json!({"spec": {"containers": [{"image": {"$glob": "busybox:*"}}]}}),
        &pod
    ));
    assert!(passes(
        json!({"spec": {"containers": [{"name": "nginx", "env": [{"name": "MODE", "value": "demo"}]}]}}),
        &pod
    ));
    assert!(passes(
        json!({"spec": {"containers": [{"name": "sidecar", "command": ["sleep 3600", "sh"]}]}}),
        &pod
    ));
}

#[test]
fn array_elements_must_be_distinct() {
    let pod = pod("web-1", "Running", "nginx");
    // Both expected elements could match "nginx", but only one can have it: the second
    // needs another element, which "sidecar" provides; three needs three.
    assert!(passes(
        json!({"spec": {"containers": [{"image": {"$regex": "."}}, {"name": "nginx"}]}}),
        &pod
    ));
    assert_eq!(
        diags(
            json!({"spec": {"containers": [{"image": {"$regex": "."}}, {"image": {"$regex": "."}}, {"image": {"$regex": "."}}]}}),
            &pod
        )
        .len(),
        1
    );
    assert!(!passes(json!({"v": [1, 1]}), &json!({"v": [1, 2]})));
    assert!(passes(json!({"v": [1, 1]}), &json!({"v": [2, 1, 1]})));
}

#[test]
fn array_elements_named_by_name_in_paths() {
    let pod = pod("web-1", "Running", "nginx");
    assert_eq!(
        diags(
            json!({"spec": {"containers": [{"name": "nginx", "volumeMounts": [{"name": "config", "mountPath": "/etc/config"}]}]}}),
            &pod
        ),
        vec![d(
            "spec.containers[name=nginx].volumeMounts[name=config].mountPath",
            "`\"/etc/config\"`",
            "`\"/config\"`"
        )]
    );
    assert_eq!(
        diags(
            json!({"spec": {"containers": [{"name": "nginx", "env": [{"name": "FLY_NAME", "valueFrom": {"configMapKeyRef": {"key": "name"}}}]}]}}),
            &pod
        ),
        vec![d(
            "spec.containers[name=nginx].env[name=FLY_NAME].valueFrom.configMapKeyRef.key",
            "`\"name\"`",
            "`\"fly-name\"`"
        )]
    );
}

#[test]
fn unmatched_array_elements_show_the_array() {
    let pod = pod("web-1", "Running", "nginx");
    assert_eq!(
        diags(json!({"spec": {"volumes": [{"name": "secret-vol"}]}}), &pod),
        vec![d(
            "spec.volumes",
            "an element with `name` = `\"secret-vol\"`",
            "`[{\"configMap\":{\"name\":\"base-map\"},\"name\":\"config\"}]`"
        )]
    );
    assert_eq!(
        diags(
            json!({"spec": {"initContainers": [{"name": "init"}]}}),
            &pod
        ),
        vec![d(
            "spec.initContainers",
            "an element with `name` = `\"init\"`",
            "missing"
        )]
    );
    assert_eq!(
        diags(
            json!({"spec": {"containers": [{"ports": [{"containerPort": 8080}]}]}}),
            &pod
        ),
        vec![d(
            "spec.containers",
            "an element with `ports` containing an element with `containerPort` = `8080`",
            "`[{\"env\":[{\"name\":\"FLY_NAME\",\"valueFrom\":{\"configMapKeyRef\":{\"key\":\"fly-name\",\"name\":\"base-map\"}}},{\"name\":\"MODE\",\"value\"…`"
        )]
    );
    assert_eq!(
        diags(json!({"metadata": {"name": ["a"]}}), &pod),
        vec![d(
            "metadata.name",
            "a list containing an element equal to `\"a\"`",
            "`\"web-1\"`"
        )]
    );
}

#[test]
fn every_some_none() {
    let pod = pod("web-1", "Running", "nginx");
    assert!(passes(
        json!({"status": {"containerStatuses": {"$every": {"restartCount": {"$lte": 1}}}}}),
        &pod
    ));
    assert_eq!(
        diags(
            json!({"status": {"containerStatuses": {"$every": {"restartCount": 0}}}}),
            &pod
        ),
        vec![d(
            "status.containerStatuses[name=sidecar].restartCount",
            "`0`",
            "`1`"
        )]
    );
    // Missing or empty arrays pass $every and $none, fail $some.
    assert!(passes(
        json!({"spec": {"initContainers": {"$every": {"name": "x"}}}}),
        &pod
    ));
    assert!(passes(json!({"v": {"$every": 1}}), &json!({"v": []})));
    assert!(passes(
        json!({"spec": {"initContainers": {"$none": {"name": "x"}}}}),
        &pod
    ));
    assert_eq!(
        diags(
            json!({"spec": {"initContainers": {"$some": {"name": "x"}}}}),
            &pod
        ),
        vec![d(
            "spec.initContainers",
            "an element with `name` = `\"x\"`",
            "missing"
        )]
    );
    assert!(passes(
        json!({"spec": {"containers": {"$some": {"image": {"$glob": "busybox:*"}}}}}),
        &pod
    ));
    assert!(passes(
        json!({"spec": {"containers": {"$none": {"image": {"$glob": "*:latest"}}}}}),
        &pod
    ));
    assert_eq!(
        diags(
            json!({"spec": {"containers": {"$none": {"name": "sidecar"}}}}),
            &pod
        ),
        vec![d(
            "spec.containers[name=sidecar]",
            "no element with `name` = `\"sidecar\"`",
            "`{\"command\":[\"sh\",\"-c\",\"sleep 3600\"],\"image\":\"busybox:1.36\",\"name\":\"sidecar\"}`"
        )]
    );
    assert_eq!(
        diags(json!({"v": {"$every": 1}}), &json!({"v": [1, 2]})),
        vec![d("v[1]", "`1`", "`2`")]
    );
    assert_eq!(
        diags(json!({"v": {"$some": 3}}), &json!({"v": "abc"})),
        vec![d("v", "an element equal to `3`", "`\"abc\"`")]
    );
}

#[test]
fn exact_arrays() {
    let pod = pod("web-1", "Running", "nginx");
    let command = |e: Value| json!({"spec": {"containers": [{"name": "sidecar", "command": e}]}});
    assert!(passes(
        command(json!({"$exact": ["sh", "-c", "sleep 3600"]})),
        &pod
    ));
    assert_eq!(
        diags(command(json!({"$exact": ["sh", "-c"]})), &pod),
        vec![d(
            "spec.containers[name=sidecar].command",
            "exactly `[\"sh\",\"-c\"]`, in this order",
            "`[\"sh\",\"-c\",\"sleep 3600\"]`"
        )]
    );
    assert_eq!(
        diags(command(json!({"$exact": ["-c", "sh", "sleep 3600"]})), &pod),
        vec![
            d(
                "spec.containers[name=sidecar].command[0]",
                "`\"-c\"`",
                "`\"sh\"`"
            ),
            d(
                "spec.containers[name=sidecar].command[1]",
                "`\"sh\"`",
                "`\"-c\"`"
            ),
        ]
    );
    // Elements are matched partially, in order.
    assert!(passes(
        json!({"spec": {"containers": {"$exact": [{"name": "nginx"}, {"name": "sidecar"}]}}}),
        &pod
    ));
    assert!(!passes(
        json!({"spec": {"containers": {"$exact": [{"name": "sidecar"}, {"name": "nginx"}]}}}),
        &pod
    ));
}

// ---- verdicts ---------------------------------------------------------------------------------

#[test]
fn a_matching_object_passes() {
    let s = with_expect(
        spec("ConfigMap", Some("base-map"), None),
        json!({"data": {"fly-name": {"$exists": true}, "application.yaml": {"$exists": true}, "game.properties": {"$exists": true}}}),
    );
    assert_eq!(evaluate(&s, &[base_map()]), Verdict::Passed);
    // No expect at all: existence is enough.
    assert_eq!(
        evaluate(&spec("ConfigMap", Some("base-map"), None), &[base_map()]),
        Verdict::Passed
    );
}

#[test]
fn no_object_is_not_found() {
    let s = spec("ConfigMap", Some("base-map"), None);
    assert_eq!(
        evaluate(&s, &[]),
        Verdict::Failed {
            diagnostics: vec![dg("", "ConfigMap `base-map` to exist", "not found")],
            closest: None,
        }
    );
    let Verdict::Failed { diagnostics, .. } = evaluate(&spec("Pod", None, Some("app=nginx")), &[])
    else {
        panic!("expected failed");
    };
    assert_eq!(
        diagnostics[0].expected.en,
        "a Pod matching `app=nginx` to exist"
    );
    let Verdict::Failed { diagnostics, .. } = evaluate(&spec("Pod", None, None), &[]) else {
        panic!("expected failed");
    };
    assert_eq!(diagnostics[0].expected.en, "a Pod to exist");
}

#[test]
fn a_mismatching_object_fails_with_its_diagnostics() {
    let s = with_expect(
        spec("ConfigMap", Some("base-map"), None),
        json!({"data": {"fly-name": "bird", "color": {"$exists": true}}}),
    );
    assert_eq!(
        evaluate(&s, &[base_map()]),
        Verdict::Failed {
            diagnostics: vec![
                dg("data.color", "present", "missing"),
                dg("data.fly-name", "`\"bird\"`", "`\"fly\"`"),
            ],
            closest: Some("fly-k8s/base-map".into()),
        }
    );
}

#[test]
fn the_closest_object_is_reported() {
    let pods = [
        pod("web-1", "Pending", "other"),
        pod("web-2", "Running", "other"),
        pod("web-3", "Failed", "nginx"),
    ];
    let s = with_expect(
        spec("Pod", None, Some("tier=web")),
        json!({"metadata": {"labels": {"app": "nginx"}}, "status": {"phase": "Running", "containerStatuses": {"$every": {"ready": true}}}}),
    );
    // web-2 misses the label only; web-3 misses phase and two ready containers; web-1 all.
    assert_eq!(
        evaluate(&s, &pods),
        Verdict::Failed {
            diagnostics: vec![dg("metadata.labels.app", "`\"nginx\"`", "`\"other\"`")],
            closest: Some("fly-k8s/web-2".into()),
        }
    );
    // Ties go to the first object.
    let Verdict::Failed { closest, .. } = evaluate(&s, &[pods[0].clone(), pods[0].clone()]) else {
        panic!("expected failed");
    };
    assert_eq!(closest.as_deref(), Some("fly-k8s/web-1"));
    // One good object among bad ones passes.
    let mut good = pod("web-4", "Running", "nginx");
    good["metadata"]["labels"]["tier"] = json!("web");
    let mut all = pods.to_vec();
    all.push(good);
    assert_eq!(evaluate(&s, &all), Verdict::Passed);
}

#[test]
fn absence() {
    let mut s = spec("ConfigMap", Some("x"), None);
    s.absent = true;
    assert_eq!(evaluate(&s, &[]), Verdict::Passed);
    let mut x = base_map();
    x["metadata"]["name"] = json!("x");
    assert_eq!(
        evaluate(&s, &[x.clone()]),
        Verdict::Failed {
            diagnostics: vec![dg("", "no ConfigMap `x`", "`fly-k8s/x`")],
            closest: None,
        }
    );
    // `expect` narrows what counts: only a ConfigMap holding `color` must be absent.
    let narrowed = with_expect(s.clone(), json!({"data": {"color": {"$exists": true}}}));
    assert_eq!(evaluate(&narrowed, &[x]), Verdict::Passed);

    let mut pods = spec("Pod", None, Some("app=nginx"));
    pods.absent = true;
    let Verdict::Failed { diagnostics, .. } = evaluate(
        &pods,
        &[pod("a", "Running", "nginx"), pod("b", "Running", "nginx")],
    ) else {
        panic!("expected failed");
    };
    assert_eq!(diagnostics[0].expected.en, "no Pod matching `app=nginx`");
    assert_eq!(diagnostics[0].actual.en, "`fly-k8s/a` and `fly-k8s/b`");
    let many: Vec<Value> = (0..7)
        .map(|i| pod(&format!("p{i}"), "Running", "nginx"))
        .collect();
    let Verdict::Failed { diagnostics, .. } = evaluate(&pods, &many) else {
        panic!("expected failed");
    };
    assert_eq!(
        diagnostics[0].actual.en,
        "`fly-k8s/p0`, `fly-k8s/p1`, `fly-k8s/p2` and 4 more"
    );
}

#[test]
fn counts() {
    let pods: Vec<Value> = vec![
        pod("web-1", "Running", "nginx"),
        pod("web-2", "Running", "nginx"),
        pod("web-3", "Pending", "nginx"),
        pod("web-4", "Failed", "nginx"),
    ];
    let mut s = with_expect(
        spec("Pod", None, Some("app=nginx")),
        json!({"status": {"phase": "Running"}}),
    );
    s.count = Some(json!({"$gte": 3}));
    assert_eq!(
        evaluate(&s, &pods),
        Verdict::Failed {
            diagnostics: vec![dg(
                "",
                "matching objects: at least 3",
                "2 matching (of 4 found)"
            )],
            closest: None,
        }
    );
    s.count = Some(json!({"$gte": 2}));
    assert_eq!(evaluate(&s, &pods), Verdict::Passed);
    s.count = Some(json!(2));
    assert_eq!(evaluate(&s, &pods), Verdict::Passed);
    s.count = Some(json!(3));
    let Verdict::Failed { diagnostics, .. } = evaluate(&s, &pods) else {
        panic!("expected failed");
    };
    assert_eq!(diagnostics[0].expected.en, "matching objects: exactly 3");
    s.count = Some(json!({"$gte": 1, "$lte": 1}));
    let Verdict::Failed { diagnostics, .. } = evaluate(&s, &pods) else {
        panic!("expected failed");
    };
    assert_eq!(
        diagnostics[0].expected.en,
        "matching objects: between 1 and 1"
    );
    // count 0 with nothing found passes.
    s.count = Some(json!(0));
    assert_eq!(evaluate(&s, &[]), Verdict::Passed);
}

#[test]
fn pending_when_a_pod_is_still_starting() {
    let mut s = with_expect(
        spec("Pod", Some("web-1"), None),
        json!({"status": {"phase": "Running", "containerStatuses": {"$every": {"ready": true}}}}),
    );
    s.pending = Some(PendingSpec {
        when: json!({"status": {"phase": "Pending"}}),
        reason: Text::same("The Pod is still starting"),
    });
    assert_eq!(
        evaluate(&s, &[pod("web-1", "Pending", "nginx")]),
        Verdict::Pending {
            diagnostics: vec![
                dg(
                    "status.containerStatuses[name=nginx].ready",
                    "`true`",
                    "`false`"
                ),
                dg(
                    "status.containerStatuses[name=sidecar].ready",
                    "`true`",
                    "`false`"
                ),
                dg("status.phase", "`\"Running\"`", "`\"Pending\"`"),
            ],
        }
    );
    assert!(matches!(
        evaluate(&s, &[pod("web-1", "Failed", "nginx")]),
        Verdict::Failed { .. }
    ));
    assert_eq!(
        evaluate(&s, &[pod("web-1", "Running", "nginx")]),
        Verdict::Passed
    );
    // Nothing found: nothing is on its way.
    assert!(matches!(evaluate(&s, &[]), Verdict::Failed { .. }));
}

#[test]
fn cel_pass_fail_and_error() {
    let mut s = spec("Deployment", Some("nginx-deployment"), None);
    s.cel = Some("object.status.readyReplicas == object.spec.replicas".into());
    assert_eq!(evaluate(&s, &[deployment()]), Verdict::Passed);

    let mut scaling = deployment();
    scaling["status"]["readyReplicas"] = json!(1);
    assert_eq!(
        evaluate(&s, &[scaling]),
        Verdict::Failed {
            diagnostics: vec![dg("", "title", "not the case")],
            closest: Some("fly-k8s/nginx-deployment".into()),
        }
    );

    let mut starting = deployment();
    starting["status"]
        .as_object_mut()
        .unwrap()
        .remove("readyReplicas");
    let Verdict::Error { message } = evaluate(&s, &[starting]) else {
        panic!("expected an error");
    };
    assert!(message.contains("could not be evaluated"), "{message}");
    assert!(message.contains("fly-k8s/nginx-deployment"), "{message}");

    s.cel = Some("object.spec.replicas + 1".into());
    let Verdict::Error { message } = evaluate(&s, &[deployment()]) else {
        panic!("expected an error");
    };
    assert!(
        message.contains("gave the int 4, not true or false"),
        "{message}"
    );
}

#[test]
fn cel_and_expect_together() {
    let mut s = with_expect(
        spec("Deployment", None, Some("app=nginx")),
        json!({"spec": {"replicas": 3}}),
    );
    s.cel = Some("object.status.availableReplicas >= 3".into());
    assert_eq!(evaluate(&s, &[deployment()]), Verdict::Passed);
    // CEL is not run on objects `expect` already rejects (no error from their missing fields).
    let other =
        json!({"metadata": {"name": "other", "namespace": "fly-k8s"}, "spec": {"replicas": 1}});
    let Verdict::Failed {
        diagnostics,
        closest,
    } = evaluate(&s, &[other])
    else {
        panic!("expected failed");
    };
    assert_eq!(closest.as_deref(), Some("fly-k8s/other"));
    assert_eq!(diagnostics[0].path, "spec.replicas");
}

#[test]
fn invalid_checks_evaluate_to_errors() {
    let s = with_expect(
        spec("ConfigMap", Some("base-map"), None),
        json!({"data": {"$exist": true}}),
    );
    let Verdict::Error { message } = evaluate(&s, &[base_map()]) else {
        panic!("expected an error");
    };
    assert!(
        message.starts_with("check `a-check` is written wrongly: "),
        "{message}"
    );
}

// ---- validation -------------------------------------------------------------------------------

fn problems(s: &CheckSpec) -> Vec<String> {
    validate(s)
}

#[test]
fn a_good_check_validates() {
    let mut s = with_expect(
        spec("Pod", None, Some("app=nginx,tier in (web)")),
        json!({"status": {"phase": {"$in": ["Running"]}, "containerStatuses": {"$every": {"ready": true}}}, "spec": {"containers": [{"image": {"$regex": "^nginx"}}]}}),
    );
    s.cel = Some("object.spec.containers.size() >= 1".into());
    s.count = Some(json!({"$gte": 2}));
    s.pending = Some(PendingSpec {
        when: json!({"status": {"phase": "Pending"}}),
        reason: Text::same("wait"),
    });
    assert_eq!(problems(&s), Vec::<String>::new());
}

#[test]
fn validation_messages() {
    let base = spec("ConfigMap", Some("base-map"), None);
    let one = |expect: Value| problems(&with_expect(base.clone(), expect));
    assert_eq!(
        one(json!({"data": {"fly-name": {"$exist": true}}})),
        vec![
            "`expect` at `data.fly-name`: unknown operator `$exist` (did you mean `$exists`?); the operators are `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$exists`, `$regex`, `$glob`, `$in`, `$contains`, `$len`, `$not`, `$every`, `$some`, `$none`, `$exact`, `$count`, `$and`."
        ]
    );
    assert_eq!(
        one(json!({"data": {"$len": 3, "fly-name": "fly"}})),
        vec![
            "`expect` at `data`: mixes operators (`$len`) with plain keys (`fly-name`); an operator map may only hold operators."
        ]
    );
    assert_eq!(
        one(json!({"spec": {"replicas": {"$gte": "abc"}}})),
        vec![
            "`expect` at `spec.replicas`: `$gte` needs a number, a quantity such as \"500m\" or an RFC 3339 timestamp, not \"abc\"."
        ]
    );
    assert_eq!(
        one(json!({"data": {"x": {"$exists": 3}}})),
        vec!["`expect` at `data.x`: `$exists` needs true or false, not 3."]
    );
    let regex = one(json!({"data": {"game.properties": {"$regex": "lives=(3"}}}));
    assert_eq!(regex.len(), 1);
    assert!(
        regex[0].starts_with("`expect` at `data[\"game.properties\"]`: `$regex` \"lives=(3\" does not compile: unclosed group"),
        "{regex:?}"
    );
    assert_eq!(
        one(json!({"data": {"$len": "three"}})),
        vec![
            "`expect` at `data`: `$len` needs a whole number or an operator map such as {$gte: 1}, not \"three\"."
        ]
    );
    assert_eq!(
        one(json!({"data": {"$len": {"$gte": "x"}}})),
        vec![
            "`expect` at `data.$len`: `$gte` needs a number, a quantity such as \"500m\" or an RFC 3339 timestamp, not \"x\"."
        ]
    );
    assert_eq!(
        one(json!({"spec": {"containers": {"$exact": {"name": "nginx"}}}})),
        vec![
            "`expect` at `spec.containers`: `$exact` needs an array of elements, not {\"name\":\"nginx\"}."
        ]
    );
    assert_eq!(
        one(
            json!({"a": {"$in": "x"}, "b": {"$glob": 1}, "c": {"$contains": 2}, "d": {"$regex": false}})
        ),
        vec![
            "`expect` at `a`: `$in` needs an array of values, not \"x\".",
            "`expect` at `b`: `$glob` needs a string pattern, not 1.",
            "`expect` at `c`: `$contains` needs a string, not 2.",
            "`expect` at `d`: `$regex` needs a string, not false.",
        ]
    );
    assert_eq!(
        one(json!({"spec": {"containers": [{"name": "x"}, {"image": {"$bogus": 1}}]}})),
        vec![
            "`expect` at `spec.containers[1].image`: unknown operator `$bogus`; the operators are `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$exists`, `$regex`, `$glob`, `$in`, `$contains`, `$len`, `$not`, `$every`, `$some`, `$none`, `$exact`, `$count`, `$and`."
        ]
    );
    assert_eq!(
        one(json!({"x": {"$not": {"$every": {"$gtt": 1}}}})),
        vec![
            "`expect` at `x.$not.$every`: unknown operator `$gtt` (did you mean `$gt`?); the operators are `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$exists`, `$regex`, `$glob`, `$in`, `$contains`, `$len`, `$not`, `$every`, `$some`, `$none`, `$exact`, `$count`, `$and`."
        ]
    );
    assert_eq!(
        one(json!("base-map")),
        vec!["`expect` must be a map (a partial object), not \"base-map\"."]
    );
}

#[test]
fn validation_of_find_cel_count_and_pending() {
    let mut s = spec("Pod", Some("web"), Some("app=nginx"));
    s.id = " ".into();
    assert_eq!(
        problems(&s),
        vec![
            "The check's `id` is empty; give it a short name that is unique within the step, such as `configmap-keys`.",
            "`find` has both `name` and `selector`; use one of them.",
        ]
    );
    let s = spec("Pod", None, Some("app in nginx"));
    assert_eq!(
        problems(&s),
        vec!["`find.selector` \"app in nginx\" does not parse: expected `(` after `app in`."]
    );
    let mut s = spec("Deployment", Some("nginx-deployment"), None);
    s.cel = Some("object.status.readyReplicas ==".into());
    let p = problems(&s);
    assert_eq!(p.len(), 1);
    assert!(p[0].starts_with("`cel` does not parse at column "), "{p:?}");

    let mut s = spec("Pod", None, Some("app=nginx"));
    for (count, message) in [
        (
            json!(-1),
            "`count` must be a whole number of 0 or more, or an operator map such as {$gte: 3}, not -1.",
        ),
        (
            json!("3"),
            "`count` must be a whole number of 0 or more, or an operator map such as {$gte: 3}, not \"3\".",
        ),
        (
            json!(1.5),
            "`count` must be a whole number of 0 or more, or an operator map such as {$gte: 3}, not 1.5.",
        ),
        (
            json!({"$gte": "three"}),
            "`count`: `$gte` needs a number, not \"three\".",
        ),
        (
            json!({"$regex": "3"}),
            "`count` cannot use `$regex`; it takes a number or `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$in`, `$not`.",
        ),
        (
            json!({"$in": [1, "x"]}),
            "`count`: `$in` needs an array of numbers, not [1,\"x\"].",
        ),
    ] {
        s.count = Some(count);
        assert_eq!(problems(&s), vec![message.to_owned()]);
    }
    s.count = Some(json!({"$not": {"$lt": 2}}));
    assert_eq!(problems(&s), Vec::<String>::new());

    s.count = Some(json!(2));
    s.absent = true;
    assert_eq!(
        problems(&s),
        vec!["`absent: true` cannot be combined with `count`; use `count: 0` instead."]
    );

    let mut s = spec("Pod", Some("web"), None);
    s.pending = Some(PendingSpec {
        when: json!({"status": {"phase": {"$in": "Pending"}}}),
        reason: Text::same("wait"),
    });
    assert_eq!(
        problems(&s),
        vec!["`pending.when` at `status.phase`: `$in` needs an array of values, not \"Pending\"."]
    );
    let mut s = spec("", None, None);
    if let Some(find) = &mut s.find {
        find.api_version = String::new();
    }
    assert_eq!(
        problems(&s),
        vec![
            "`find.apiVersion` is empty; write e.g. `v1` or `apps/v1`.",
            "`find.kind` is empty; write e.g. `ConfigMap` or `Deployment`.",
        ]
    );
}

#[test]
fn checks_read_from_yaml() {
    // The shape lab authors write, through the same YAML reader the labs use.
    let yaml = r#"
id: configmap-keys
title: {en: "base-map has its keys", zh: "base-map 有三个键"}
reason: {en: "Apply base_config_map.yaml", zh: "应用 base_config_map.yaml"}
find: {apiVersion: v1, kind: ConfigMap, name: base-map}
expect:
  data:
    fly-name: {$exists: true}
    application.yaml: {$regex: "port: 8080"}
    game.properties: {$contains: "lives=3"}
"#;
    let s: CheckSpec = serde_saphyr::from_str(yaml).unwrap();
    assert_eq!(validate(&s), Vec::<String>::new());
    assert_eq!(evaluate(&s, &[base_map()]), Verdict::Passed);
}

#[test]
fn operator_expectations_are_shown_in_words() {
    let pod = pod("web-1", "Running", "nginx");
    assert_eq!(
        diags(
            json!({"spec": {"containers": [{"image": {"$glob": "*:debug", "$not": {"$contains": "nginx"}}}]}}),
            &pod
        )[0]
        .1,
        "an element with `image` of the form `*:debug` and not containing `\"nginx\"`"
    );
    // A named element already taken by another expected element: the whole array is shown.
    let out = diags(
        json!({"spec": {"containers": [{"name": "nginx"}, {"name": "nginx", "image": {"$regex": "nginx"}}]}}),
        &pod,
    );
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, "spec.containers");
    assert_eq!(
        out[0].1,
        "an element with `image` matching the pattern `nginx` and `name` = `\"nginx\"`"
    );
}

#[test]
fn cluster_scoped_objects_are_named_without_namespace() {
    let node = json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "colima", "labels": {"kubernetes.io/hostname": "colima"}},
        "status": {
            "nodeInfo": {"kubeletVersion": "v1.28.3+k3s2", "containerRuntimeVersion": "docker://24.0.7"},
            "conditions": [{"type": "Ready", "status": "False", "reason": "KubeletNotReady"}]
        }
    });
    let s = with_expect(
        spec("Node", None, None),
        json!({"status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": {"$regex": "^v1\\.(2[5-9]|[3-9][0-9])"}}}}),
    );
    assert_eq!(
        evaluate(&s, &[node]),
        Verdict::Failed {
            diagnostics: vec![dg(
                "status.conditions",
                "an element with `status` = `\"True\"` and `type` = `\"Ready\"`",
                "`[{\"reason\":\"KubeletNotReady\",\"status\":\"False\",\"type\":\"Ready\"}]`"
            )],
            closest: Some("colima".into()),
        }
    );
}

#[test]
fn empty_names_are_reported() {
    let s = spec("ConfigMap", Some(""), None);
    assert_eq!(
        validate(&s),
        vec!["`find.name` is empty; leave it out to look at every object of the kind."]
    );
}

// ---- words in both languages, the author's words, terminating objects --------------------------

/// What the Chinese page shows of a verdict's diagnostics: (path, expected, found).
fn chinese(verdict: &Verdict) -> Vec<(String, String, String)> {
    let diagnostics = match verdict {
        Verdict::Failed { diagnostics, .. } | Verdict::Pending { diagnostics } => diagnostics,
        _ => return Vec::new(),
    };
    diagnostics
        .iter()
        .map(|d| (d.path.clone(), d.expected.zh.clone(), d.actual.zh.clone()))
        .collect()
}

fn deleted(mut object: Value) -> Value {
    object["metadata"]["deletionTimestamp"] = json!("2024-05-01T10:00:00Z");
    object
}

fn ready(name: &str) -> Value {
    let mut p = pod(name, "Running", "nginx");
    p["status"]["conditions"] = json!([{"type": "Ready", "status": "True"}]);
    p
}

#[test]
fn field_diagnostics_speak_chinese_too() {
    let s = with_expect(
        spec("ConfigMap", Some("base-map"), None),
        json!({"data": {"fly-name": "bird", "color": {"$exists": true}}, "metadata": {"name": {"$len": {"$gte": 20}}}}),
    );
    let verdict = super::evaluate(&s, &[base_map()]);
    assert_eq!(
        chinese(&verdict),
        vec![
            ("data.color".into(), "存在".into(), "不存在".into()),
            (
                "data.fly-name".into(),
                "`\"bird\"`".into(),
                "`\"fly\"`".into()
            ),
            (
                "metadata.name".into(),
                "长度至少 20".into(),
                "长度为 8".into()
            ),
        ]
    );
}

#[test]
fn cel_failures_show_the_authors_words_never_the_expression() {
    let mut s = spec("Deployment", Some("nginx-deployment"), None);
    s.title = Text {
        en: "All 3 replicas of nginx-deployment are ready".into(),
        zh: "nginx-deployment 的 3 个副本都已就绪".into(),
    };
    s.cel = Some("object.status.readyReplicas == object.spec.replicas".into());
    let mut scaling = deployment();
    scaling["status"]["readyReplicas"] = json!(1);
    let verdict = super::evaluate(&s, std::slice::from_ref(&scaling));
    let Verdict::Failed { diagnostics, .. } = &verdict else {
        panic!("expected failed: {verdict:?}");
    };
    // Without `describe`, the title says what was expected.
    assert_eq!(diagnostics[0].expected, s.title);
    assert_eq!(
        diagnostics[0].actual,
        Text {
            en: "not the case".into(),
            zh: "不成立".into()
        }
    );
    // With it, the author's words.
    let words = Text {
        en: "as many ready replicas as wanted".into(),
        zh: "就绪副本数等于期望的副本数".into(),
    };
    s.describe = Some(words.clone());
    let Verdict::Failed { diagnostics, .. } = super::evaluate(&s, &[scaling]) else {
        panic!("expected failed");
    };
    assert_eq!(diagnostics[0].expected, words);
    for text in [&diagnostics[0].expected.en, &diagnostics[0].expected.zh] {
        assert!(!text.contains("object."), "{text}");
    }
}

#[test]
fn absence_reads_without_repeating_itself() {
    let mut s = spec("Pod", Some("load-generator"), None);
    s.absent = true;
    let mut load = pod("load-generator", "Running", "load");
    load["metadata"]["namespace"] = json!("default");
    let verdict = super::evaluate(&s, &[load]);
    let Verdict::Failed { diagnostics, .. } = &verdict else {
        panic!("expected failed: {verdict:?}");
    };
    assert_eq!(diagnostics[0].expected.en, "no Pod `load-generator`");
    assert_eq!(diagnostics[0].actual.en, "`default/load-generator`");
    assert_eq!(
        chinese(&verdict),
        vec![(
            String::new(),
            "没有 Pod `load-generator`".into(),
            "`default/load-generator`".into()
        )]
    );
    let mut pods = spec("Pod", None, Some("app=nginx"));
    pods.absent = true;
    let many: Vec<Value> = (0..5)
        .map(|i| pod(&format!("p{i}"), "Running", "nginx"))
        .collect();
    assert_eq!(
        chinese(&super::evaluate(&pods, &many)),
        vec![(
            String::new(),
            "没有匹配 `app=nginx` 的 Pod".into(),
            "`fly-k8s/p0`、`fly-k8s/p1`、`fly-k8s/p2` 及另外 2 个".into()
        )]
    );
}

#[test]
fn not_found_names_the_namespace_searched() {
    let s = spec("ConfigMap", Some("base-map"), None);
    let check = CompiledCheck::compile(&s).expect("valid");
    let verdict = check.evaluate_in(&[], Some("fly-k8s"));
    let Verdict::Failed { diagnostics, .. } = &verdict else {
        panic!("expected failed: {verdict:?}");
    };
    assert_eq!(diagnostics[0].actual.en, "not found in namespace `fly-k8s`");
    assert_eq!(
        chinese(&verdict),
        vec![(
            String::new(),
            "ConfigMap `base-map` 存在".into(),
            "在命名空间 `fly-k8s` 中未找到".into()
        )]
    );
    // Without the engine's word, the namespace `find` names.
    let mut other = s.clone();
    if let Some(find) = &mut other.find {
        find.namespace = Some("kube-system".into());
    }
    let Verdict::Failed { diagnostics, .. } = evaluate(&other, &[]) else {
        panic!("expected failed");
    };
    assert_eq!(
        diagnostics[0].actual.en,
        "not found in namespace `kube-system`"
    );
    // Cluster-scoped kinds are looked for in no namespace.
    let nodes = CompiledCheck::compile(&spec("Node", None, None)).expect("valid");
    assert_eq!(
        chinese(&nodes.evaluate_in(&[], None)),
        vec![(String::new(), "Node 存在".into(), "未找到".into())]
    );
}

#[test]
fn terminating_objects_are_never_present() {
    // By name: a Pod being deleted is not there any more.
    let s = spec("Pod", Some("web-1"), None);
    let gone = deleted(ready("web-1"));
    let verdict = super::evaluate(&s, std::slice::from_ref(&gone));
    assert_eq!(
        english(verdict.clone()),
        Verdict::Failed {
            diagnostics: vec![dg(
                "",
                "Pod `web-1` to exist",
                "`fly-k8s/web-1` being deleted (Terminating)"
            )],
            closest: None,
        }
    );
    assert_eq!(
        chinese(&verdict)[0].2,
        "`fly-k8s/web-1` 正在删除（Terminating）"
    );
    // With `expect`: the object that matches but is going away does not count; the closest
    // object is one that stays.
    let with = with_expect(
        spec("Pod", None, Some("app=nginx")),
        json!({"status": {"phase": "Running"}}),
    );
    let starting = pod("web-2", "Pending", "nginx");
    assert_eq!(
        evaluate(&with, &[gone.clone(), starting.clone()]),
        Verdict::Failed {
            diagnostics: vec![dg("status.phase", "`\"Running\"`", "`\"Pending\"`")],
            closest: Some("fly-k8s/web-2".into()),
        }
    );
    // CEL that holds for an object being deleted does not pass either.
    let mut cel = spec("Pod", None, Some("app=nginx"));
    cel.cel = Some("object.status.phase == 'Running'".into());
    assert!(matches!(
        evaluate(&cel, std::slice::from_ref(&gone)),
        Verdict::Failed { .. }
    ));
    // `pending.when` is not met by an object being deleted.
    let mut waiting = with.clone();
    waiting.pending = Some(PendingSpec {
        when: json!({"status": {"phase": "Pending"}}),
        reason: Text::same("starting"),
    });
    let going_while_starting = deleted(pod("web-3", "Pending", "nginx"));
    assert!(matches!(
        evaluate(&waiting, &[going_while_starting]),
        Verdict::Failed { .. }
    ));
}

#[test]
fn counts_leave_terminating_objects_out() {
    // The scaled-down Deployment: kubectl shows one Pod Terminating; it is not ready any more.
    let mut s = with_expect(
        spec("Pod", None, Some("app=nginx")),
        json!({"status": {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}}),
    );
    s.count = Some(json!({"$gte": 3}));
    let pods = [ready("web-1"), ready("web-2"), deleted(ready("web-3"))];
    let verdict = super::evaluate(&s, &pods);
    assert_eq!(
        english(verdict.clone()),
        Verdict::Failed {
            diagnostics: vec![dg(
                "",
                "matching objects: at least 3",
                "2 matching (of 3 found, 1 being deleted)"
            )],
            closest: None,
        }
    );
    assert_eq!(
        chinese(&verdict),
        vec![(
            String::new(),
            "匹配的对象数：至少 3".into(),
            "2 个匹配（共找到 3 个，其中 1 个正在删除）".into()
        )]
    );
    s.count = Some(json!(2));
    assert_eq!(evaluate(&s, &pods), Verdict::Passed);
    // The author's words replace the generated ones.
    s.count = Some(json!({"$gte": 3}));
    s.describe = Some(Text {
        en: "3 ready nginx Pods".into(),
        zh: "3 个就绪的 nginx Pod".into(),
    });
    assert_eq!(
        chinese(&super::evaluate(&s, &pods))[0].1,
        "3 个就绪的 nginx Pod"
    );
}

#[test]
fn absent_waits_for_objects_being_deleted() {
    let mut s = spec("Pod", Some("load-generator"), None);
    s.absent = true;
    let going = deleted(pod("load-generator", "Running", "load"));
    let verdict = super::evaluate(&s, std::slice::from_ref(&going));
    assert_eq!(
        english(verdict.clone()),
        Verdict::Pending {
            diagnostics: vec![dg(
                "",
                "no Pod `load-generator`",
                "`fly-k8s/load-generator` being deleted (Terminating)"
            )],
        }
    );
    assert_eq!(
        chinese(&verdict),
        vec![(
            String::new(),
            "没有 Pod `load-generator`".into(),
            "`fly-k8s/load-generator` 正在删除（Terminating）".into()
        )]
    );
    // One staying and one going: failed, naming the one that stays.
    let mut pods = spec("Pod", None, Some("app=load"));
    pods.absent = true;
    pods.describe = Some(Text {
        en: "no load generator".into(),
        zh: "没有负载生成器".into(),
    });
    let staying = pod("load-2", "Running", "load");
    assert_eq!(
        evaluate(&pods, &[going.clone(), staying]),
        Verdict::Failed {
            diagnostics: vec![dg("", "no load generator", "`fly-k8s/load-2`")],
            closest: None,
        }
    );
    // Gone for good: passed.
    assert_eq!(evaluate(&pods, &[]), Verdict::Passed);
}

#[test]
fn described_expectations_use_the_authors_words_where_they_are() {
    let dep = deployment();
    let words = json!({"en": "between 1 and 2 replicas, to save memory", "zh": "1 到 2 个副本，以节省内存"});
    let node = matching::compile(
        &json!({"spec": {"replicas": {"$gte": 1, "$lte": 2, "$describe": words}}}),
        &mut Vec::new(),
        &mut Vec::new(),
    );
    let mut report = Mismatches::collecting();
    matching::check(&node, Some(&dep), &mut report);
    let out = report.into_diagnostics();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].path, "spec.replicas");
    assert_eq!(
        out[0].expected.en,
        "between 1 and 2 replicas, to save memory"
    );
    assert_eq!(out[0].expected.zh, "1 到 2 个副本，以节省内存");
    assert_eq!(out[0].actual.en, "`3`");
    // On a map: rows deeper inside keep their own words.
    assert_eq!(
        diags(
            json!({"spec": {"$describe": {"en": "three nginx replicas", "zh": "三个 nginx 副本"}, "replicas": 4}}),
            &dep
        ),
        vec![d("spec.replicas", "`4`", "`3`")]
    );
    // On a list element that is missing: the author's words are the row's.
    let pod = pod("web-1", "Running", "nginx");
    assert_eq!(
        diags(
            json!({"spec": {"volumes": [{"secret": {"secretName": "regcred"}, "$describe": {"en": "a volume from Secret regcred", "zh": "来自 Secret regcred 的卷"}}]}}),
            &pod
        ),
        vec![d(
            "spec.volumes",
            "a volume from Secret regcred",
            "`[{\"configMap\":{\"name\":\"base-map\"},\"name\":\"config\"}]`"
        )]
    );
}

#[test]
fn author_words_are_validated() {
    let base = spec("Deployment", Some("nginx-deployment"), None);
    let one = |expect: Value| problems(&with_expect(base.clone(), expect));
    assert_eq!(
        one(json!({"spec": {"replicas": {"$gte": 1, "$describe": {"en": "one or more"}}}})),
        vec![
            "`expect` at `spec.replicas`: `$describe` needs the expectation in the learner's words in both languages, such as {en: \"a sensible number of replicas\", zh: \"合理的副本数\"}, not {\"en\":\"one or more\"}."
        ]
    );
    assert_eq!(
        one(json!({"spec": {"replicas": {"$describe": {"en": "a", "zh": "b"}}}})),
        vec![
            "`expect` at `spec.replicas`: `$describe` gives the expectation next to it in your words, but there is none; add the operators or keys it describes."
        ]
    );
    assert_eq!(
        one(json!({"spec": {"replicas": {"$gte": 1, "$descibe": {"en": "a", "zh": "b"}}}}))[0],
        "`expect` at `spec.replicas`: unknown operator `$descibe` (did you mean `$describe`?); the operators are `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$exists`, `$regex`, `$glob`, `$in`, `$contains`, `$len`, `$not`, `$every`, `$some`, `$none`, `$exact`, `$count`, `$and`."
    );
    // Next to plain keys and in `count` it is fine.
    assert_eq!(
        one(json!({"spec": {"replicas": 3, "$describe": {"en": "a", "zh": "b"}}})),
        Vec::<String>::new()
    );
    let mut counted = spec("Pod", None, Some("app=nginx"));
    counted.count = Some(json!({"$gte": 3, "$describe": {"en": "three", "zh": "三个"}}));
    assert_eq!(problems(&counted), Vec::<String>::new());
    // `describe` words a check as a whole.
    let mut whole = base.clone();
    whole.describe = Some(Text {
        en: "ready".into(),
        zh: " ".into(),
    });
    assert_eq!(
        problems(&whole),
        vec![
            "`describe` needs the check's expectation in both `en` and `zh`.",
            "`describe` words a check as a whole (`cel`, `absent`, `count`, `events`, `served` or `access`), and this check has none of them; word a field of `expect` with `$describe` next to its operators instead."
        ]
    );
    whole.describe = Some(Text::same("ready"));
    whole.cel = Some("object.spec.replicas > 0".into());
    assert_eq!(problems(&whole), Vec::<String>::new());
}

mod v3;
