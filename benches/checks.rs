//! Benchmarks of the check language: one step of 50 checks against 5,000 in-memory objects
//! (selector-style), 50 checks by name (one object each), validation of 50 checks, and the
//! per-watch-event cost of a step before and after checks were compiled once at load.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use kubelab::checks::{self, CheckSpec, CompiledCheck, Find, Observed, PendingSpec, Values};
use kubelab::i18n::Text;
use serde_json::{Value, json};

const OBJECTS: usize = 5_000;

fn pod(i: usize) -> Value {
    let phase = match i % 10 {
        0 => "Pending",
        9 => "Failed",
        _ => "Running",
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": format!("web-{i}"),
            "namespace": format!("learner-{}", i % 50),
            "uid": format!("0d6c6e8a-{i:04}-4f5e-9a51-2f6b8c1e{i:04}"),
            "labels": {"app": if i.is_multiple_of(3) { "nginx" } else { "api" }, "pod-template-hash": "7c5ddbdf54"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-7c5ddbdf54", "controller": true}]
        },
        "spec": {
            "containers": [
                {
                    "name": "nginx",
                    "image": if i.is_multiple_of(7) { "nginx:latest" } else { "nginx:1.14.2" },
                    "ports": [{"containerPort": 80, "protocol": "TCP"}],
                    "env": [
                        {"name": "FLY_NAME", "valueFrom": {"configMapKeyRef": {"name": "base-map", "key": "fly-name"}}},
                        {"name": "MODE", "value": "demo"}
                    ],
                    "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"cpu": "500m", "memory": "128Mi"}},
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/config", "readOnly": true},
                        {"name": "kube-api-access", "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount", "readOnly": true}
                    ]
                },
                {"name": "sidecar", "image": "busybox:1.36", "command": ["sh", "-c", "sleep 3600"]}
            ],
            "volumes": [{"name": "config", "configMap": {"name": "base-map"}}],
            "nodeName": "colima",
            "restartPolicy": "Always"
        },
        "status": {
            "phase": phase,
            "podIP": format!("10.42.{}.{}", i / 250, i % 250),
            "conditions": [{"type": "Ready", "status": if phase == "Running" { "True" } else { "False" }}],
            "containerStatuses": [
                {"name": "nginx", "ready": phase == "Running", "restartCount": i % 3},
                {"name": "sidecar", "ready": phase == "Running", "restartCount": 0}
            ]
        }
    })
}

fn deployment(i: usize) -> Value {
    let ready = if i.is_multiple_of(4) { 2 } else { 3 };
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": format!("nginx-deployment-{i}"),
            "namespace": format!("learner-{}", i % 50),
            "generation": 2,
            "labels": {"app": "nginx"},
            "annotations": {"deployment.kubernetes.io/revision": "2"}
        },
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {
                "metadata": {"labels": {"app": "nginx"}, "annotations": {"kubectl.kubernetes.io/restartedAt": "2024-05-01T10:00:00Z"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}]}
            }
        },
        "status": {
            "observedGeneration": 2, "replicas": 3, "updatedReplicas": 3,
            "readyReplicas": ready, "availableReplicas": ready,
            "conditions": [
                {"type": "Available", "status": "True"},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
            ]
        }
    })
}

fn config_map(i: usize) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": format!("base-map-{i}"), "namespace": format!("learner-{}", i % 50)},
        "data": {
            "fly-name": "fly",
            "application.yaml": "server:\n  port: 8080\nspring:\n  application:\n    name: demo\n",
            "game.properties": "enemies=aliens\nlives=3\nenemies.cheat=true\n"
        }
    })
}

fn objects() -> Vec<Value> {
    (0..OBJECTS)
        .map(|i| match i % 5 {
            0 => deployment(i),
            1 => config_map(i),
            _ => pod(i),
        })
        .collect()
}

fn check(id: usize, kind: &str, name: Option<&str>, selector: Option<&str>) -> CheckSpec {
    CheckSpec {
        id: format!("check-{id}"),
        title: Text::same("t"),
        reason: Text::same("r"),
        describe: None,
        find: Some(Find {
            api_version: "v1".into(),
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

/// Fifty checks in the shapes labs use: passing on some object, counting over all, failing
/// (which looks for the closest object), absence, arrays and quantities.
fn step(with_cel: bool) -> Vec<CheckSpec> {
    (0..50)
        .map(|i| {
            let mut c = check(i, "Pod", None, Some("app=nginx"));
            match i % 5 {
                0 => {
                    // Passes only on the very last objects: a full scan before passing.
                    c.expect = Some(json!({"metadata": {"name": format!("web-{}", OBJECTS - 1)}, "status": {"phase": "Running"}}));
                }
                1 => {
                    c.expect = Some(json!({"status": {"phase": "Running", "containerStatuses": {"$every": {"ready": true}}}}));
                    c.count = Some(json!({"$gte": 100}));
                }
                2 => {
                    // Fails: every object is scanned, then the closest one is diagnosed.
                    c.expect = Some(json!({
                        "spec": {"containers": [{"name": "nginx", "image": {"$regex": "^nginx:1\\.(15|16)"}, "resources": {"limits": {"memory": {"$gte": "256Mi"}}}}]},
                        "status": {"phase": "Running"}
                    }));
                    c.pending = Some(PendingSpec { when: json!({"status": {"phase": "Unknown"}}), reason: Text::same("wait") });
                }
                3 => {
                    c.expect = Some(json!({"spec": {"containers": {"$some": {"image": {"$glob": "*:debug"}}}}}));
                    c.absent = true;
                }
                _ => {
                    c.expect = Some(json!({
                        "data": {"fly-name": {"$exists": true}, "game.properties": {"$contains": "lives=3"}},
                        "spec": {"containers": [{"env": [{"name": "FLY_NAME"}], "volumeMounts": [{"name": "config", "mountPath": "/config"}]}]}
                    }));
                    c.count = Some(json!({"$gte": 1}));
                    if with_cel && i % 10 == 9 {
                        c.cel = Some("object.metadata.name.startsWith('web-')".into());
                    }
                }
            }
            c
        })
        .collect()
}

fn by_name() -> (Vec<CheckSpec>, Vec<Vec<Value>>) {
    (0..50)
        .map(|i| {
            let n = i * 100 + 2;
            let mut c = check(i, "Pod", Some("web"), None);
            c.expect = Some(json!({
                "status": {"phase": "Running", "containerStatuses": {"$every": {"ready": true}}},
                "spec": {"containers": [{"name": "nginx", "image": {"$glob": "nginx:*"}, "resources": {"limits": {"cpu": {"$lte": "1"}}}}]}
            }));
            if i % 5 == 0 {
                c.cel = Some("object.spec.containers.all(c, has(c.image))".into());
            }
            (c, vec![pod(n)])
        })
        .unzip()
}

/// The engine's path: fifty checks, each finding its object by name in a 5,000-object watch
/// cache (indexed by name, as the reflector's store is) and judging it.
fn from_cache(objects: &[Value]) -> (Vec<CheckSpec>, std::collections::HashMap<String, Value>) {
    let index: std::collections::HashMap<String, Value> = objects
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
                o.clone(),
            )
        })
        .collect();
    let checks = (0..50)
        .map(|i| {
            let name = objects[i * 97 % OBJECTS]["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let mut c = check(i, "Pod", Some(&name), None);
            c.expect = Some(json!({"status": {"phase": {"$in": ["Running", "Pending"]}}}));
            c
        })
        .collect();
    (checks, index)
}

fn benches(c: &mut Criterion) {
    let objects = objects();
    let (cached_checks, index) = from_cache(&objects);
    c.bench_function("step from a 5000-object cache: 50 checks by name", |b| {
        b.iter(|| {
            for check in &cached_checks {
                let name = check
                    .find
                    .as_ref()
                    .and_then(|f| f.name.as_deref())
                    .unwrap_or_default();
                let found: Vec<Value> = index.get(name).cloned().into_iter().collect();
                std::hint::black_box(checks::evaluate(check, &found));
            }
        })
    });
    let plain = step(false);
    let mixed = step(true);
    for s in plain.iter().chain(&mixed) {
        assert!(checks::validate(s).is_empty(), "{:?}", checks::validate(s));
    }

    c.bench_function("step: 50 checks x 5000 objects", |b| {
        b.iter(|| {
            for s in &plain {
                black_box(checks::evaluate(s, black_box(&objects)));
            }
        })
    });
    c.bench_function("step: 50 checks x 5000 objects, 5 with CEL", |b| {
        b.iter(|| {
            for s in &mixed {
                black_box(checks::evaluate(s, black_box(&objects)));
            }
        })
    });
    let compiled: Vec<CompiledCheck> = plain
        .iter()
        .map(|s| CompiledCheck::compile(s).expect("valid"))
        .collect();
    c.bench_function("step: 50 precompiled checks x 5000 objects", |b| {
        b.iter(|| {
            for s in &compiled {
                black_box(s.evaluate(black_box(&objects)));
            }
        })
    });

    for (i, shape) in [
        "pass-late",
        "count",
        "fail+closest",
        "absent",
        "arrays+count",
    ]
    .iter()
    .enumerate()
    {
        let one = CompiledCheck::compile(&plain[i]).expect("valid");
        c.bench_function(&format!("one {shape} check x 5000 objects"), |b| {
            b.iter(|| black_box(one.evaluate(black_box(&objects))))
        });
    }

    let (named, singles) = by_name();
    c.bench_function("by name: 50 checks x 1 object", |b| {
        b.iter(|| {
            for (s, objs) in named.iter().zip(&singles) {
                black_box(checks::evaluate(s, black_box(objs)));
            }
        })
    });

    let named_compiled: Vec<CompiledCheck> = named
        .iter()
        .map(|s| CompiledCheck::compile(s).expect("valid"))
        .collect();
    c.bench_function("by name: 50 precompiled checks x 1 object", |b| {
        b.iter(|| {
            for (s, objs) in named_compiled.iter().zip(&singles) {
                black_box(s.evaluate(black_box(objs)));
            }
        })
    });
    let few = &objects[..50];
    let failing = CompiledCheck::compile(&plain[2]).expect("valid");
    c.bench_function("one fail+closest check x 50 objects", |b| {
        b.iter(|| black_box(failing.evaluate(black_box(few))))
    });

    per_event(c, &objects, &cached_checks, &index, &plain);

    c.bench_function("validate: 50 checks", |b| {
        b.iter(|| {
            for s in &mixed {
                black_box(checks::validate(black_box(s)));
            }
        })
    });
}

/// What the engine does on every watch event for one step, before (each check compiled and
/// validated again from its spec: `evaluate_observed`) and after (the step's checks compiled
/// once when the labs loaded: `CompiledCheck::judge`), for a reader with placeholder values.
fn per_event(
    c: &mut Criterion,
    objects: &[Value],
    by_name: &[CheckSpec],
    index: &std::collections::HashMap<String, Value>,
    by_selector: &[CheckSpec],
) {
    let reader = Values {
        namespace: "learner-7".into(),
        node: "colima".into(),
    };
    let found: Vec<Vec<Value>> = by_name
        .iter()
        .map(|check| {
            let name = check
                .find
                .as_ref()
                .and_then(|f| f.name.as_deref())
                .unwrap_or_default();
            index.get(name).cloned().into_iter().collect()
        })
        .collect();
    let observed = |objects| Observed {
        objects,
        namespace: Some("learner-7"),
        values: Some(&reader),
        ..Observed::default()
    };
    let compiled: Vec<CompiledCheck> = by_name
        .iter()
        .map(|s| CompiledCheck::compile(s).expect("valid"))
        .collect();
    c.bench_function(
        "per event, 50 checks by name: compiled each event (before)",
        |b| {
            b.iter(|| {
                for (spec, objs) in by_name.iter().zip(&found) {
                    black_box(checks::evaluate_observed(spec, &observed(objs)));
                }
            })
        },
    );
    c.bench_function(
        "per event, 50 checks by name: compiled at load (after)",
        |b| {
            b.iter(|| {
                for (check, objs) in compiled.iter().zip(&found) {
                    black_box(check.judge(&observed(objs)));
                }
            })
        },
    );
    let compiled: Vec<CompiledCheck> = by_selector
        .iter()
        .map(|s| CompiledCheck::compile(s).expect("valid"))
        .collect();
    c.bench_function(
        "per event, 50 checks x 5000 objects: compiled each event (before)",
        |b| {
            b.iter(|| {
                for spec in by_selector {
                    black_box(checks::evaluate_observed(spec, &observed(objects)));
                }
            })
        },
    );
    c.bench_function(
        "per event, 50 checks x 5000 objects: compiled at load (after)",
        |b| {
            b.iter(|| {
                for check in &compiled {
                    black_box(check.judge(&observed(objects)));
                }
            })
        },
    );
}

criterion_group! {
    name = group;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .sample_size(20);
    targets = benches
}
criterion_main!(group);
