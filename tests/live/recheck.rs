//! Checks no watch can see — commands run in a container — on an open lab page: re-run by
//! themselves while their step is in progress, so a change no API object shows (a file written
//! into a shared volume) turns the step green without Check; never run for steps not started or
//! passed; at most `MAX_CONCURRENT_EXECS` at once for all learners together; and a command the
//! cluster cannot run is the cluster's problem, retried until it runs.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::{Duration, Instant};

use kubelab::engine::{Engine, Learner, MAX_CONCURRENT_EXECS};
use serde_json::{Value, json};

use crate::real::live::{LiveFeed, SseEvent};
use crate::scenarios::{Env, env, next_second};
use crate::support::{ExecCall, ExecReply, FakeApi};

const LAB: &str = "pod";
/// Two exec checks: sidecar reads web's file, web reads the file the learner writes from sidecar.
const STEP: &str = "shared-volume";

/// What the containers of `pair` answer, changed by the test as the learner's actions would; at
/// first the learner has not written `/shared/from-sidecar.txt` yet.
#[derive(Clone, Default)]
struct Containers(Arc<AtomicU8>);

impl Containers {
    /// The learner wrote it (`kubectl exec pair -c sidecar -- sh -c 'echo … > /shared/from-sidecar.txt'`):
    /// the web container's `cat` shows it; no API object changes.
    const WRITTEN: u8 = 1;
    /// The container runtime cannot start commands (an OCI runtime error).
    const CANNOT_START: u8 = 2;

    fn set(&self, mode: u8) {
        self.0.store(mode, Ordering::SeqCst);
    }

    /// Answers the fake's execs like the lab's busybox containers; each command takes `delay`.
    fn install(&self, fake: &FakeApi, delay: Duration) {
        let mode = self.0.clone();
        fake.set_exec_handler(move |call: ExecCall| {
            let args: Vec<&str> = call.command.iter().map(String::as_str).collect();
            let mode = mode.load(Ordering::SeqCst);
            let reply = match args.as_slice() {
                [program, ..] if mode == Containers::CANNOT_START => {
                    ExecReply::cannot_start(program)
                }
                ["cat", "/shared/from-web.txt"] => {
                    ExecReply::ok("written by web at Sun Nov 29 09:00:00 UTC 2026\n")
                }
                ["cat", "/shared/from-sidecar.txt"] if mode == Containers::WRITTEN => {
                    ExecReply::ok("hello from sidecar\n")
                }
                ["cat", path] => ExecReply::fail(
                    format!("cat: can't open '{path}': No such file or directory\n"),
                    1,
                ),
                ["hostname"] => ExecReply::ok(format!("{}\n", call.pod)),
                _ => ExecReply::fail(format!("sh: {}: not found\n", args.join(" ")), 127),
            };
            ExecReply { delay, ..reply }
        });
    }
}

/// The Pod `pair` (web and sidecar sharing an emptyDir) in `namespace`, as the learner created
/// it before opening the lab.
fn pair(namespace: &str) -> Value {
    let container = |name: &str| {
        json!({"name": name, "image": "busybox:1.36",
               "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done"],
               "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]})
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pair", "namespace": namespace, "labels": {"app": "pair"}},
        "spec": {"containers": [container("web"), container("sidecar")],
                 "volumes": [{"name": "shared", "emptyDir": {}}]}
    })
}

/// Whether both containers of `pair` in `namespace` run, as the simulated kubelet reports.
fn pair_runs(fake: &FakeApi, namespace: &str) -> bool {
    fake.get("v1", "Pod", Some(namespace), "pair")
        .and_then(|p| p["status"]["containerStatuses"].as_array().cloned())
        .is_some_and(|cs| cs.len() == 2 && cs.iter().all(|c| c["state"]["running"].is_object()))
}

/// Starts the simulated node, creates `pair` in `default` and waits until it runs, then until
/// the next second (steps started from now on started after the Pod was made).
async fn running_pair(env: &Env) {
    env.fake.simulate_workloads(true);
    env.put(pair("default"));
    assert!(
        env.fake
            .wait_for(Duration::from_secs(10), |f| pair_runs(f, "default"))
            .await,
        "pair runs"
    );
    next_second().await;
}

fn state_is(event: &SseEvent, state: &str) -> bool {
    event.data.contains(&format!("data-state=\"{state}\""))
}

/// Reads the page's stream until a `step` event of `step` satisfies `pred` (up to 30 s, more
/// than the longest re-check pause); panics with what it saw otherwise.
async fn wait_step(
    feed: &mut LiveFeed,
    step: &str,
    what: &str,
    pred: impl Fn(&SseEvent) -> bool,
) -> SseEvent {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while let Some(event) = feed.next(deadline).await {
        if event.step() == Some(step) {
            if pred(&event) {
                return event;
            }
            last = Some(event.data);
        }
    }
    panic!("no `{step}` event {what} within 30 s; last `{step}` event: {last:#?}");
}

/// Exec sessions into `pair` so far (every command kubelab ran in a container).
fn execs(fake: &FakeApi) -> usize {
    fake.exec_sessions().len()
}

#[tokio::test]
async fn a_file_written_in_a_container_turns_the_open_step_green_without_check() {
    let env = env().await;
    let containers = Containers::default();
    containers.install(&env.fake, Duration::ZERO);
    running_pair(&env).await;
    let mut feed = LiveFeed::open(&env.app, LAB).await;
    env.start_step(LAB, STEP).await;

    // The page shows the step still to do (not red: nobody pressed Check), and says kubelab
    // runs its commands again by itself.
    let todo = wait_step(&mut feed, STEP, "still to do", |e| {
        state_is(e, "in-progress") && e.data.contains("result-panel result-todo")
    })
    .await;
    assert!(
        todo.data.contains("class=\"result-recheck\""),
        "{}",
        todo.data
    );
    assert!(todo.data.contains("<code>exitCode</code>"), "{}", todo.data);

    // The learner writes the file from the sidecar. No API object changes; only what `cat`
    // prints in the web container does.
    let objects = env.fake.resource_version();
    containers.set(Containers::WRITTEN);
    let passed = wait_step(&mut feed, STEP, "passed", |e| state_is(e, "passed")).await;
    assert!(
        passed
            .data
            .contains("id=\"badge-shared-volume\" class=\"badge badge-passed\""),
        "{}",
        passed.data
    );
    assert!(!passed.data.contains("result-recheck"), "{}", passed.data);
    assert_eq!(
        env.fake.resource_version(),
        objects,
        "no API object changed between the two verdicts"
    );

    // It counts as passed, and nobody pressed Check.
    let (status, lab) = env.app.get_json(&format!("/api/labs/{LAB}")).await;
    assert_eq!(status, 200, "{lab}");
    let step = lab["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == STEP))
        .unwrap_or_else(|| panic!("no step {STEP} in {lab}"));
    assert_eq!(step["state"], "passed", "{step}");
    assert_eq!(step["progress"]["attempts"], 0, "{step}");
}

#[tokio::test]
async fn nothing_runs_in_containers_for_steps_not_started_or_passed() {
    let env = env().await;
    let containers = Containers::default();
    containers.install(&env.fake, Duration::ZERO);
    running_pair(&env).await;

    // The learner opens the lab: its first step starts (it runs no command); the steps that run
    // commands in pair are not started, so nothing runs although pair is up.
    let (status, _) = env.app.get(&format!("/labs/{LAB}")).await;
    assert_eq!(status, 200);
    let mut feed = LiveFeed::open(&env.app, LAB).await;
    wait_step(
        &mut feed,
        "create-pod",
        "for the started first step",
        |_| true,
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(execs(&env.fake), 0, "no command runs for steps not started");

    // The step with commands starts, fails, then passes by itself; its commands ran meanwhile.
    env.start_step(LAB, STEP).await;
    wait_step(&mut feed, STEP, "still to do", |e| {
        e.data.contains("result-todo")
    })
    .await;
    containers.set(Containers::WRITTEN);
    wait_step(&mut feed, STEP, "passed", |e| state_is(e, "passed")).await;
    let ran = execs(&env.fake);
    assert!(ran >= 4, "two evaluations of two commands at least: {ran}");

    // Passed: the page keeps showing it, and its commands do not run again.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(execs(&env.fake), ran, "a passed step's commands do not run");
    drop(feed);

    // Nor when a page opens on a kubelab that has just started (its last verdicts are reused).
    let mut app = env.app;
    app.restart().await;
    let mut feed = LiveFeed::open(&app, LAB).await;
    let shown = wait_step(&mut feed, STEP, "after the restart", |_| true).await;
    assert!(state_is(&shown, "passed"), "{}", shown.data);
    assert!(shown.data.contains("result-passed"), "{}", shown.data);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        execs(&env.fake),
        ran,
        "opening the page runs no command of the passed step"
    );
    app.stop().await;
}

/// A workshop learner of the engine (namespace `ws-{name}`), with their own running `pair`.
fn learner(engine: &Engine, fake: &FakeApi, name: &str) -> Engine {
    let namespace = format!("ws-{name}");
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}))
        .expect("namespace");
    fake.put(pair(&namespace)).expect("pair");
    engine.for_learner(Learner::in_namespace(name, namespace))
}

#[tokio::test]
async fn every_learners_commands_share_a_few_exec_slots() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    // Each command takes a while, as on a busy node; web never sees the sidecar's file.
    Containers::default().install(&env.fake, Duration::from_millis(300));
    const LEARNERS: usize = 24;
    let learners: Vec<Engine> = (0..LEARNERS)
        .map(|i| learner(env.app.engine(), &env.fake, &format!("l{i:02}")))
        .collect();
    assert!(
        env.fake
            .wait_for(Duration::from_secs(20), |f| (0..LEARNERS)
                .all(|i| pair_runs(f, &format!("ws-l{i:02}"))))
            .await,
        "every pair runs"
    );
    next_second().await;

    // Every learner has the step open at once: 48 commands want to run.
    let mut pages = Vec::new();
    for learner in &learners {
        learner.start_step(LAB, STEP).await.expect("start");
        pages.push(learner.subscribe(LAB).await.expect("subscribe"));
    }
    let mut most = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let sessions = env.fake.exec_sessions();
        most = most.max(sessions.iter().filter(|s| !s.ended).count());
        let served = (0..LEARNERS)
            .filter(|i| {
                let ns = format!("ws-l{i:02}");
                sessions
                    .iter()
                    .filter(|s| s.ended && s.call.namespace == ns)
                    .count()
                    >= 2
            })
            .count();
        if served == LEARNERS || Instant::now() >= deadline {
            assert_eq!(served, LEARNERS, "every learner's commands ran");
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(
        most <= MAX_CONCURRENT_EXECS,
        "{most} commands ran at once; at most {MAX_CONCURRENT_EXECS} may"
    );
    assert_eq!(
        most, MAX_CONCURRENT_EXECS,
        "the learners' commands queued for every slot"
    );
    drop(pages);
}

#[tokio::test]
async fn a_command_the_cluster_cannot_run_is_its_problem_and_is_tried_again() {
    let env = env().await;
    let containers = Containers::default();
    containers.install(&env.fake, Duration::ZERO);
    running_pair(&env).await;
    let mut feed = LiveFeed::open(&env.app, LAB).await;
    env.start_step(LAB, STEP).await;
    wait_step(&mut feed, STEP, "still to do", |e| {
        e.data.contains("result-todo")
    })
    .await;

    // The node's kubelet becomes unreachable: the API server cannot dial it.
    env.fake.simulate_workloads(false);
    let unreachable = wait_step(&mut feed, STEP, "that could not be evaluated", |e| {
        e.data.contains("result-panel result-error")
    })
    .await;
    cluster_problem(&unreachable, "error dialing backend");

    // The kubelet is back, but the container runtime cannot start commands.
    containers.set(Containers::CANNOT_START);
    env.fake.simulate_workloads(true);
    let runtime = wait_step(&mut feed, STEP, "with the runtime's error", |e| {
        e.data.contains("result-panel result-error") && e.data.contains("OCI runtime exec failed")
    })
    .await;
    cluster_problem(&runtime, "executable file not found");

    // Meanwhile the learner wrote the file; once commands run again the step turns green.
    containers.set(Containers::WRITTEN);
    wait_step(&mut feed, STEP, "passed", |e| state_is(e, "passed")).await;
}

/// A step event that says the cluster could not run the commands: still in progress (not
/// failed), the cluster's message, no verdict against the learner, and kubelab trying again.
fn cluster_problem(event: &SseEvent, message: &str) {
    let data = &event.data;
    assert!(state_is(event, "in-progress"), "{data}");
    assert!(
        data.contains("Some checks could not be evaluated"),
        "{data}"
    );
    assert!(
        data.contains("the command could not be run in container"),
        "{data}"
    );
    assert!(data.contains(message), "{data}");
    assert!(
        !data.contains("verdict-failed") && !data.contains("verdict-todo"),
        "not the learner's failure: {data}"
    );
    assert!(
        data.contains("class=\"result-recheck\""),
        "tried again: {data}"
    );
}
