//! `spawn_app()`: starts kubelab on port 0 with a temporary database, like a user would run it.

use std::path::{Path, PathBuf};

use kubelab::cluster::ClusterOptions;
use kubelab::labs::LabSource;
use kubelab::{RunningApp, Settings};
use serde_json::Value;

/// A kubelab server started for one test, with its own database and HTTP client.
pub struct TestApp {
    /// The running server (None while restarting).
    app: Option<RunningApp>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A client that keeps cookies, like a browser.
    pub client: reqwest::Client,
    /// Holds the database and any files the test writes.
    pub dir: tempfile::TempDir,
    settings: Settings,
}

/// Marks a step passed in `store` as if the learner had done it: started at `started`, their
/// work seen, passed at `passed` (RFC 3339).
pub async fn mark_passed(
    store: &kubelab::store::Store,
    learner: &str,
    lab: &str,
    step: &str,
    started: &str,
    passed: &str,
) {
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;
    let (started, passed) = (
        OffsetDateTime::parse(started, &Rfc3339).expect("RFC 3339"),
        OffsetDateTime::parse(passed, &Rfc3339).expect("RFC 3339"),
    );
    store
        .start_step(learner, lab, step, started)
        .await
        .expect("start");
    store
        .note_evidence(learner, lab, step, started)
        .await
        .expect("evidence");
    store
        .record_status(
            learner,
            lab,
            step,
            kubelab::checks::StepStatus::Passed,
            passed,
            true,
        )
        .await
        .expect("status");
    store
        .record_pass(learner, lab, step, passed)
        .await
        .expect("pass");
}

/// Starts kubelab with the embedded labs and no reachable cluster.
pub async fn spawn_app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("no-such-kubeconfig");
    spawn(dir, &missing, LabSource::Embedded).await
}

/// Starts kubelab with the embedded labs against the cluster described by `kubeconfig`.
pub async fn spawn_app_with_kubeconfig(kubeconfig: &Path) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn(dir, kubeconfig, LabSource::Embedded).await
}

/// Starts kubelab with the embedded labs against a cluster chosen by `options` (a real one).
pub async fn spawn_app_with_cluster(options: ClusterOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: dir.path().join("kubelab.db").display().to_string(),
        labs: LabSource::Embedded,
        cluster: options,
        workshop: false,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal: Default::default(),
        learner_quota: Default::default(),
    };
    start(dir, settings).await
}

/// Starts kubelab in workshop mode (`--workshop`) with the embedded labs against a cluster
/// chosen by `options` (a real one).
pub async fn spawn_workshop_app_with_cluster(options: ClusterOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: dir.path().join("kubelab.db").display().to_string(),
        labs: LabSource::Embedded,
        cluster: options,
        workshop: true,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal: Default::default(),
        learner_quota: Default::default(),
    };
    start(dir, settings).await
}

/// Starts kubelab serving the labs in `labs` against `kubeconfig`.
pub async fn spawn_app_with_labs(kubeconfig: &Path, labs: PathBuf) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    spawn(dir, kubeconfig, LabSource::Dir(labs)).await
}

/// Starts kubelab serving the labs in `labs` against a cluster chosen by `options` (a real one).
pub async fn spawn_app_with_labs_and_cluster(labs: PathBuf, options: ClusterOptions) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let settings = Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: dir.path().join("kubelab.db").display().to_string(),
        labs: LabSource::Dir(labs),
        cluster: options,
        workshop: false,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal: Default::default(),
        learner_quota: Default::default(),
    };
    start(dir, settings).await
}

async fn spawn(dir: tempfile::TempDir, kubeconfig: &Path, labs: LabSource) -> TestApp {
    let settings = Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: dir.path().join("kubelab.db").display().to_string(),
        labs,
        cluster: ClusterOptions {
            kubeconfig: Some(kubeconfig.to_path_buf()),
            context: None,
            public_api: None,
        },
        workshop: false,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal: Default::default(),
        learner_quota: Default::default(),
    };
    start(dir, settings).await
}

async fn start(dir: tempfile::TempDir, settings: Settings) -> TestApp {
    let app = kubelab::start(settings.clone())
        .await
        .expect("kubelab starts");
    let url = app.url();
    TestApp {
        app: Some(app),
        url,
        client: client(),
        dir,
        settings,
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

impl TestApp {
    /// The running server's engine.
    pub fn engine(&self) -> &kubelab::engine::Engine {
        &self.app.as_ref().expect("running").engine
    }

    /// Stops the server and starts it again on a new port with the same database.
    pub async fn restart(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
        let app = kubelab::start(self.settings.clone())
            .await
            .expect("kubelab restarts");
        self.url = app.url();
        self.app = Some(app);
    }

    /// Stops the server.
    pub async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }

    /// Waits (up to 10 s) until the engine has probed the cluster at least once.
    pub async fn wait_for_health(&self) -> kubelab::engine::Health {
        for _ in 0..200 {
            let h = self.engine().health();
            if h != kubelab::engine::Health::Unknown {
                return h;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        self.engine().health()
    }

    /// GET a path, returning status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET");
        (r.status().as_u16(), r.text().await.unwrap_or_default())
    }

    /// GET a JSON API path.
    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .expect("GET");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POST a JSON body to an API path.
    pub async fn post_json_with(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .json(body)
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// POST to a JSON API path with no body, as a script would.
    pub async fn post_json(&self, path: &str) -> (u16, Value) {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }
}
