//! Browser tests: kubelab's pages driven in a real headless Chromium through chromedriver,
//! against the fake Kubernetes API server. Skipped (with a message) when Chromium is not
//! installed, unless `KUBELAB_REQUIRE_BROWSER=1` (set by `.ci/run`) makes its absence a failure.
//! A failing test leaves a screenshot of the page in `target/browser-screenshots/<test>.png`.
//!
//! The tests rely only on the page's documented hooks (see `src/web` and `templates/lab.html`):
//! `#step-<id>` with a `step-<state>` class, `#badge-<id>`, `#result-<id>` (`.result`),
//! `#live-objects`, `#connection` (`connection-<state>`), `button[data-copy]`, `details.hint`,
//! `.lang-toggle`, `.btn-setup`, `.btn-check`, `#answer-<step>-<check>`.

mod lab_page;
mod life_cycle;
mod reader_text;
mod terminal;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::panic::AssertUnwindSafe;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use hyper_util::client::legacy::connect::HttpConnector;
use kubelab::cluster::ClusterOptions;
use kubelab::labs::LabSource;
use kubelab::{RunningApp, Settings};
use serde_json::Value;

use crate::support::FakeApi;

/// How long a page may take to show what a test waits for (CI machines are slow and the
/// rest of the suite runs alongside).
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Browsers running at once: each is a Chromium with several processes, on 2 cores.
static SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// A chromedriver process and a WebDriver session in headless Chromium.
pub struct Browser {
    client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn find(cmd: &str) -> Option<String> {
    ["/usr/bin/", "/usr/local/bin/", "/usr/lib/chromium/"]
        .iter()
        .map(|dir| format!("{dir}{cmd}"))
        .find(|p| std::path::Path::new(p).exists())
}

/// Starts chromedriver and a headless Chromium session, or `None` (test skipped) when they are
/// not installed and not required.
pub async fn browser() -> Option<Browser> {
    let (Some(driver_bin), Some(chromium)) = (find("chromedriver"), find("chromium")) else {
        assert!(
            std::env::var_os("KUBELAB_REQUIRE_BROWSER").is_none(),
            "KUBELAB_REQUIRE_BROWSER is set but chromium/chromedriver are not installed"
        );
        eprintln!("skipped: install chromium and chromium-driver to run the browser tests");
        return None;
    };
    let port = free_port();
    let driver = Command::new(driver_bin)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let profile = tempfile::tempdir().expect("profile dir");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,1000",
                "--lang=en-US",
                format!("--user-data-dir={}", profile.path().display()),
            ],
            // Let pages on 127.0.0.1 use the clipboard without a permission prompt.
            "prefs": {
                "profile.content_settings.exceptions.clipboard": {
                    "http://127.0.0.1:*,*": {"setting": 1}
                }
            },
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let mut last_error = None;
    for _ in 0..100 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => {
                return Some(Browser {
                    client,
                    driver,
                    _profile: profile,
                });
            }
            Err(e) => {
                last_error = Some(e.to_string());
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let mut driver = driver;
    let _ = driver.kill();
    let _ = driver.wait();
    panic!("could not start a WebDriver session: {last_error:?}");
}

/// Runs one browser test: starts the browser (or skips), runs `test` with its page, saves a
/// screenshot as `target/browser-screenshots/<name>.png` if it fails, and always closes the
/// browser.
pub async fn run<Fut>(name: &str, test: impl FnOnce(Page) -> Fut)
where
    Fut: Future<Output = ()>,
{
    let _slot = SLOTS
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let Some(browser) = browser().await else {
        return;
    };
    let page = Page {
        client: browser.client.clone(),
    };
    let outcome = AssertUnwindSafe(test(page)).catch_unwind().await;
    if let Err(panic) = outcome {
        browser.screenshot(name).await;
        browser.close().await;
        std::panic::resume_unwind(panic);
    }
    browser.close().await;
}

impl Browser {
    /// Saves a screenshot under `target/browser-screenshots/` (for failures).
    pub async fn screenshot(&self, name: &str) {
        if let Ok(png) = self.client.screenshot().await {
            let dir =
                std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/browser-screenshots");
            let _ = std::fs::create_dir_all(&dir);
            let path = dir.join(format!("{name}.png"));
            if std::fs::write(&path, png).is_ok() {
                eprintln!("screenshot of the failing page: {}", path.display());
            }
        }
    }

    /// Ends the session and chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The browser's one tab, as a test drives it.
#[derive(Clone)]
pub struct Page {
    /// The WebDriver session.
    pub client: Client,
}

/// Whether a value returned by a script counts as "yes" (JavaScript truthiness).
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

impl Page {
    /// Opens `url` and waits until the page's script has run.
    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
        self.wait_ready().await;
    }

    /// Reloads the page and waits until its script has run.
    pub async fn reload(&self) {
        self.client.refresh().await.expect("reload");
        self.wait_ready().await;
    }

    async fn wait_ready(&self) {
        self.wait_until(
            "the page to load",
            "document.readyState === 'complete' && !!window.htmx",
        )
        .await;
    }

    /// Runs `expression` (JavaScript) in the page and returns its value.
    pub async fn eval(&self, expression: &str) -> Value {
        self.client
            .execute(&format!("return ({expression});"), Vec::new())
            .await
            .unwrap_or_else(|e| panic!("script {expression:?} failed: {e}"))
    }

    /// Waits (up to [`PATIENCE`]) until `expression` is truthy in the page; returns its value.
    /// `what` says what is awaited, for the failure message.
    pub async fn wait_until(&self, what: &str, expression: &str) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut last = Value::Null;
        loop {
            // A navigation in progress makes scripts fail for a moment; that is not an answer.
            if let Ok(v) = self
                .client
                .execute(&format!("return ({expression});"), Vec::new())
                .await
            {
                if truthy(&v) {
                    return v;
                }
                last = v;
            }
            if tokio::time::Instant::now() >= deadline {
                panic!(
                    "waited {PATIENCE:?} for {what} ({expression}); last value: {last}; page text: {}",
                    self.body_text().await
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matching `css` shows text containing `text`; returns its text.
    pub async fn wait_for_text(&self, css: &str, text: &str) -> String {
        let css_js = serde_json::to_string(css).expect("string");
        let text_js = serde_json::to_string(text).expect("string");
        let v = self
            .wait_until(
                &format!("{css} to show {text:?}"),
                &format!(
                    "Array.from(document.querySelectorAll({css_js})).map(e => e.innerText).find(t => t.includes({text_js}))"
                ),
            )
            .await;
        v.as_str().unwrap_or_default().to_owned()
    }

    /// Whether the element matching `css` exists and has the class `class`.
    pub async fn has_class(&self, css: &str, class: &str) -> bool {
        let css_js = serde_json::to_string(css).expect("string");
        let class_js = serde_json::to_string(class).expect("string");
        truthy(
            &self
                .eval(&format!(
                    "(document.querySelector({css_js}) || {{classList: {{contains: () => false}}}}).classList.contains({class_js})"
                ))
                .await,
        )
    }

    /// Waits until the element matching `css` has the class `class`.
    pub async fn wait_for_class(&self, css: &str, class: &str) {
        let css_js = serde_json::to_string(css).expect("string");
        let class_js = serde_json::to_string(class).expect("string");
        self.wait_until(
            &format!("{css} to have the class {class}"),
            &format!("document.querySelector({css_js})?.classList.contains({class_js})"),
        )
        .await;
    }

    /// Clicks the element matching `css` (scrolled into view by WebDriver).
    pub async fn click(&self, css: &str) {
        let element = self
            .client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} to click: {e}"));
        element
            .click()
            .await
            .unwrap_or_else(|e| panic!("clicking {css}: {e}"));
    }

    /// Types `text` into the input matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let element = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no {css} to type into: {e}"));
        element.clear().await.expect("clear the input");
        element
            .send_keys(text)
            .await
            .unwrap_or_else(|e| panic!("typing into {css}: {e}"));
    }

    /// Whether the element matching `css` is shown to the reader (WebDriver's displayedness:
    /// false inside a closed `<details>`, for `hidden` or `display: none`).
    pub async fn is_displayed(&self, css: &str) -> bool {
        match self.client.find(Locator::Css(css)).await {
            Ok(e) => e.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Records what reaches the clipboard in `window.kubelabCopied`, whichever way the page
    /// copies (the async clipboard API, or a hidden textarea and execCommand where that API is
    /// refused).
    pub async fn record_copies(&self) {
        self.eval(
            "(() => {
                window.kubelabCopied = [];
                if (navigator.clipboard) {
                    const write = navigator.clipboard.writeText.bind(navigator.clipboard);
                    navigator.clipboard.writeText = t => { window.kubelabCopied.push(t); return write(t); };
                }
                const exec = document.execCommand.bind(document);
                document.execCommand = (c, ...rest) => {
                    const el = document.activeElement;
                    if (c === 'copy') {
                        window.kubelabCopied.push(el && 'value' in el ? el.value : String(getSelection()));
                    }
                    return exec(c, ...rest);
                };
                return true;
            })()",
        )
        .await;
    }

    /// Marks the document so [`Page::was_not_reloaded`] can tell a reload happened.
    pub async fn mark(&self) {
        self.eval("window.kubelabTestMark = 'still-here'").await;
    }

    /// Whether the document marked by [`Page::mark`] is still the one shown.
    pub async fn was_not_reloaded(&self) -> bool {
        self.eval("window.kubelabTestMark === 'still-here'").await == Value::Bool(true)
    }

    /// The page's visible text (for failure messages).
    pub async fn body_text(&self) -> String {
        match self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                Vec::new(),
            )
            .await
        {
            Ok(Value::String(s)) => s.chars().take(3000).collect(),
            _ => String::new(),
        }
    }
}

/// A fake cluster and a kubelab using it that can be stopped and started again on the same
/// port, as a learner's browser sees a `kubelab serve` restart.
pub struct Site {
    /// The fake Kubernetes API server.
    pub fake: FakeApi,
    app: Option<RunningApp>,
    settings: Settings,
    _dir: tempfile::TempDir,
}

impl Site {
    /// Starts a fake API server and a kubelab with the embedded labs pointed at it, and waits
    /// until kubelab has seen the cluster.
    pub async fn start() -> Site {
        Site::start_with_terminal(Default::default()).await
    }

    /// [`Site::start`] offering the browser terminal `terminal`.
    pub async fn start_with_terminal(terminal: kubelab::engine::TerminalConfig) -> Site {
        Site::start_with(terminal, false).await
    }

    /// [`Site::start`] offering the browser terminal `terminal`, in workshop mode if `workshop`.
    pub async fn start_with(terminal: kubelab::engine::TerminalConfig, workshop: bool) -> Site {
        let fake = FakeApi::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = fake.write_kubeconfig(dir.path());
        let settings = Settings {
            addr: "127.0.0.1:0".parse().expect("addr"),
            database_url: dir.path().join("kubelab.db").display().to_string(),
            labs: LabSource::Embedded,
            cluster: ClusterOptions {
                kubeconfig: Some(kubeconfig),
                context: None,
                public_api: None,
            },
            workshop,
            secure_cookies: false,
            rate_limit: Default::default(),
            terminal,
            learner_quota: Default::default(),
        };
        let app = kubelab::start(settings.clone())
            .await
            .expect("kubelab starts");
        let mut site = Site {
            fake,
            settings,
            app: None,
            _dir: dir,
        };
        site.settings.addr = app.addr;
        site.app = Some(app);
        site.wait_for_cluster().await;
        site
    }

    /// The running kubelab.
    pub fn app(&self) -> &RunningApp {
        self.app.as_ref().expect("running")
    }

    /// `http://127.0.0.1:PORT{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.settings.addr)
    }

    /// The address kubelab listens on (kept across restarts).
    pub fn addr(&self) -> SocketAddr {
        self.settings.addr
    }

    async fn wait_for_cluster(&self) {
        let engine = &self.app.as_ref().expect("running").engine;
        for _ in 0..300 {
            if engine.health() != kubelab::engine::Health::Unknown {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("kubelab never probed the fake cluster");
    }

    /// Stops kubelab (graceful shutdown: live streams end, the database closes).
    pub async fn stop(&mut self) {
        if let Some(app) = self.app.take() {
            tokio::time::timeout(PATIENCE, app.stop()).await.expect(
                "kubelab stops within 30 s even with a page's live stream open \
                     (RunningApp::stop must end the live streams: web::live::Shutdown::trigger)",
            );
        }
    }

    /// Starts kubelab again on the same port with the same database.
    pub async fn start_again(&mut self) {
        let mut last_error = None;
        for _ in 0..100 {
            match kubelab::start(self.settings.clone()).await {
                Ok(app) => {
                    self.app = Some(app);
                    self.wait_for_cluster().await;
                    return;
                }
                // The port can take a moment to be free again.
                Err(e) => {
                    last_error = Some(format!("{e:#}"));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
        panic!(
            "kubelab did not start again on {}: {last_error:?}",
            self.settings.addr
        );
    }
}
