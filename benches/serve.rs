//! Serving benchmarks: start-to-ready time of `kubelab serve` with the embedded labs (no cluster)
//! and the lab page's render-and-respond time per request.

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use kubelab::Settings;
use kubelab::cluster::ClusterOptions;
use kubelab::labs::LabSource;

fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: dir.join("bench.db").display().to_string(),
        labs: LabSource::Embedded,
        cluster: ClusterOptions {
            kubeconfig: Some(dir.join("no-kubeconfig")),
            context: None,
            public_api: None,
        },
        workshop: false,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal: Default::default(),
        learner_quota: Default::default(),
    }
}

fn start_to_ready(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = reqwest::Client::new();
    c.bench_function("start_to_ready", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().expect("dir");
                    let started = Instant::now();
                    let app = kubelab::start(settings(dir.path())).await.expect("start");
                    loop {
                        let ready = client
                            .get(format!("{}/readyz", app.url()))
                            .send()
                            .await
                            .map(|r| r.status().is_success())
                            .unwrap_or(false);
                        if ready {
                            break;
                        }
                    }
                    total += started.elapsed();
                    app.stop().await;
                }
                total
            })
        })
    });
}

fn lab_page(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let dir = tempfile::tempdir().expect("dir");
    let app = rt
        .block_on(kubelab::start(settings(dir.path())))
        .expect("start");
    let client = reqwest::Client::new();
    let lab = app
        .engine
        .catalog()
        .labs
        .first()
        .map(|l| l.id.clone())
        .unwrap_or_else(|| "configmap".into());
    let url = format!("{}/labs/{lab}", app.url());
    c.bench_function("lab_page_request", |b| {
        b.to_async(&rt).iter(|| async {
            let body = client
                .get(&url)
                .send()
                .await
                .expect("get")
                .text()
                .await
                .expect("body");
            assert!(!body.is_empty());
        })
    });
    rt.block_on(app.stop());
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = start_to_ready, lab_page
}
criterion_main!(benches);
