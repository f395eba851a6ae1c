//! The ConfigMap lab on a real kubelet: the Pod reads base-map as env and files (exec checks),
//! a learner's own Pod in the way of Set up, the ConfigMap edited — the mounted file follows
//! when the kubelet syncs (bounded wait), the env only after `kubectl replace --force` — and the
//! notes' limits (subPath, a Pod waiting for a missing ConfigMap).

use std::time::{Duration, Instant};

use super::harness::{
    KUBELET_SYNC, REAL_NODE, Real, Row, STARTUP, kept, must_hold, node_of, reset_deleting,
    terminating, wait_for,
};
use super::live::LiveFeed;

const LAB: &str = "configmap";
/// How long an open page may take to show a re-run exec check's new verdict.
const LIVE_EXEC_RERUN: Duration = Duration::from_secs(20);
/// The lab's namespace (shared with the secret lab).
pub const NS: &str = "fly-k8s";

/// Removes the namespace left by an earlier run, so both labs start from nothing.
pub async fn clean_namespace(real: &Real) {
    let k = &real.kubectl;
    k.line(&format!(
        "delete namespace {NS} --ignore-not-found --wait=false"
    ))
    .await;
    k.wait_gone(&["namespace", NS], STARTUP).await;
}

/// The learner made `fly-k8s` themselves (the secret lab's text says to, when it is missing),
/// then pressed Set up in the ConfigMap lab: Reset must leave their namespace alone.
pub async fn learner_namespace_survives_reset(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;
    k.line(&format!("create namespace {NS}")).await;
    let create = real.step(LAB, "create-configmap");
    create.setup().await;
    create
        .expect(
            "own kubectl create namespace fly-k8s; Set up",
            &[("namespace-active", "passed"), ("configmap-keys", "passed")],
        )
        .await;
    let report = real.reset(LAB).await;
    let namespace = k.json(&["namespace", NS]).await;
    let kept = !namespace.is_null() && !terminating(&namespace);
    must_hold(
        real,
        &format!("{LAB} (Reset)"),
        "reset-learner-namespace",
        kept,
        &if kept {
            format!("{NS}, made by the learner, kept")
        } else {
            format!("{NS}, made by the learner with kubectl, deleted by Reset: {report}")
        },
    );
    k.wait_gone(&["configmap", "base-map", "-n", NS], STARTUP)
        .await;
    clean_namespace(real).await;
}

/// Set up through `look-inside` and `change-config`; leaves the lab's objects in place for
/// the secret lab, which shares the namespace (see [`finish`]).
pub async fn run(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;

    let create = real.step(LAB, "create-configmap");
    create
        .expect(
            "nothing set up",
            &[("namespace-active", "failed"), ("configmap-keys", "failed")],
        )
        .await;
    create.setup().await;
    create
        .expect(
            "Set up",
            &[("namespace-active", "passed"), ("configmap-keys", "passed")],
        )
        .await;

    learner_pod_in_the_way(real).await;

    let look = real.step(LAB, "look-inside");
    look.expect(
        "kubectl exec busybox -- printenv / cat / ls",
        &[
            ("pod-still-ready", "passed"),
            ("env-inside", "passed"),
            ("game-file-inside", "passed"),
            ("only-listed-keys", "passed"),
        ],
    )
    .await;
    let env = k
        .line(&format!("exec busybox -n {NS} -- printenv FLY_NAME"))
        .await;
    assert_eq!(env.trim(), "kubelab", "the env as the learner sees it");

    change_config(real).await;
    beyond_the_notes(real).await;
}

/// A learner ran their own `busybox` Pod before pressing Set up: Set up cannot turn it into
/// the lab's Pod (Pod specs are immutable), and the checks say the Pod is not the lab's.
async fn learner_pod_in_the_way(real: &Real) {
    let k = &real.kubectl;
    let pod = real.step(LAB, "pod");
    pod.expect(
        "no Pod yet",
        &[
            ("env-from-configmap", "failed"),
            ("config-volume", "failed"),
            ("pod-ready", "failed"),
        ],
    )
    .await;
    k.line(&format!(
        "run busybox -n {NS} --image=busybox:1.36 -- sleep 3600"
    ))
    .await;
    let (status, answer) = pod.setup_answer().await;
    let refusal: String = answer["error"]["message"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(160)
        .collect();
    eprintln!("real cluster: Set up over the learner's own Pod busybox → {status}: {refusal}…");
    pod.expect(
        "own `kubectl run busybox`, then Set up",
        &[
            ("env-from-configmap", "failed"),
            ("config-volume", "failed"),
            ("config-mounted", "failed"),
        ],
    )
    .await;
    k.line(&format!("delete pod busybox -n {NS} --now")).await;
    k.wait_gone(&["pod", "busybox", "-n", NS], STARTUP).await;
    pod.setup().await;
    pod.expect(
        "deleted own Pod; Set up",
        &[
            ("env-from-configmap", "passed"),
            ("config-volume", "passed"),
            ("config-mounted", "passed"),
            ("pod-ready", "passed"),
        ],
    )
    .await;
    let running = k.json(&["pod", "busybox", "-n", NS]).await;
    assert_eq!(
        node_of(&running),
        REAL_NODE,
        "busybox runs on the real kubelet"
    );
}

/// The ConfigMap edited: first only the name (a typical half-done edit), then the notes'
/// patch. The mounted file follows at the kubelet's next sync; the env waits for a new Pod.
async fn change_config(real: &Real) {
    let k = &real.kubectl;
    let change = real.step(LAB, "change-config");
    change
        .expect(
            "nothing changed yet",
            &[
                ("fly-name-changed", "failed"),
                ("lives-changed", "failed"),
                ("file-follows", "failed|pending"),
                ("env-after-restart", "failed"),
            ],
        )
        .await;
    k.run(&[
        "patch",
        "configmap",
        "base-map",
        "-n",
        NS,
        "--type",
        "merge",
        "-p",
        r#"{"data":{"fly-name":"kubelab-v2"}}"#,
    ])
    .await;
    change
        .expect(
            "patched fly-name only",
            &[("fly-name-changed", "passed"), ("lives-changed", "failed")],
        )
        .await;
    k.run(&[
        "patch", "configmap", "base-map", "-n", NS, "--type", "merge", "-p",
        r#"{"data":{"fly-name":"kubelab-v2","game.properties":"enemy.types=aliens,monsters\nplayer.maximum-lives=3\n"}}"#,
    ])
    .await;
    let patched = Instant::now();
    change
        .expect(
            "the notes' kubectl patch (right after)",
            &[
                ("fly-name-changed", "passed"),
                ("lives-changed", "passed"),
                ("file-follows", "pending|passed"),
                ("env-after-restart", "failed"),
            ],
        )
        .await;
    kubelet_refresh_seen_live(real, patched).await;
    change
        .expect(
            "Check once the kubelet refreshed /config",
            &[("file-follows", "passed"), ("env-after-restart", "failed")],
        )
        .await;

    let yaml = k.line(&format!("get pod busybox -n {NS} -o yaml")).await;
    k.try_run_with_input(&["replace", "--force", "-f", "-"], Some(&yaml))
        .await
        .unwrap_or_else(|e| panic!("the notes' kubectl replace --force: {e}"));
    change
        .expect(
            "kubectl get pod busybox -o yaml | kubectl replace --force -f -",
            &[
                ("file-follows", "passed"),
                ("env-after-restart", "passed"),
                ("pod-back-up", "passed"),
            ],
        )
        .await;
}

/// Waits (bounded) for the kubelet to rewrite /config, watching the file with `kubectl exec`
/// only — no Check — with the lab's live stream open: a page left open should turn
/// `file-follows` green by itself, although no watched object changes when the kubelet writes.
async fn kubelet_refresh_seen_live(real: &Real, patched: Instant) {
    let k = &real.kubectl;
    let mut feed = LiveFeed::open(&real.app, LAB).await;
    let before = feed
        .settle(
            "change-config",
            Duration::from_millis(1500),
            Duration::from_secs(20),
        )
        .await;
    let followed = wait_for("the kubelet to refresh /config", KUBELET_SYNC, || async {
        let file = k
            .try_line(&format!(
                "exec busybox -n {NS} -- cat /config/game.properties"
            ))
            .await
            .unwrap_or_default();
        file.contains("player.maximum-lives=3").then_some(())
    })
    .await;
    let delay = patched.elapsed().as_secs_f64();
    assert!(
        followed.is_some(),
        "the mounted ConfigMap did not follow the edit within {KUBELET_SYNC:?}"
    );
    eprintln!("real cluster: the ConfigMap volume followed the edit after {delay:.0} s");
    real.record(Row {
        place: format!("{LAB}/change-config"),
        action: "kubectl patch → the kubelet rewrites /config/game.properties".into(),
        verdicts: "file changed in the container (kubectl exec cat)".into(),
        waited: delay,
    });
    let changed = Instant::now();
    let live = feed
        .changed("change-config", before.as_ref(), LIVE_EXEC_RERUN)
        .await
        .map(|_| changed.elapsed());
    must_hold(
        real,
        &format!("{LAB}/change-config"),
        "exec checks never re-run",
        live.is_some(),
        &match &live {
            Some(after) => format!(
                "the open page got a new change-config verdict {:.0} s after the file changed",
                after.as_secs_f64()
            ),
            None => format!(
                "no new change-config event within {LIVE_EXEC_RERUN:?} after the file changed (no Check pressed)"
            ),
        },
    );
}

/// The step beyond the notes: subPath (a single file, never updated) and a Pod that waits for
/// a missing ConfigMap, then the clean-up its checks ask for.
async fn beyond_the_notes(real: &Real) {
    let k = &real.kubectl;
    let beyond = real.step(LAB, "beyond-the-notes");
    let clean = [
        ("subpath-demo-cleaned", "passed"),
        ("waiting-demo-cleaned", "passed"),
        ("late-map-cleaned", "passed"),
    ];
    beyond.expect("nothing tried yet", &clean).await;
    k.apply(NS, SUBPATH_DEMO)
        .await
        .expect("the subPath demo applies");
    k.apply(NS, WAITING_DEMO)
        .await
        .expect("the waiting demo applies");
    beyond
        .expect(
            "applied subpath-demo and waiting-demo",
            &[
                ("subpath-demo-cleaned", "failed"),
                ("waiting-demo-cleaned", "failed"),
                ("late-map-cleaned", "passed"),
            ],
        )
        .await;
    k.line(&format!(
        "wait --for=condition=Ready pod/subpath-demo -n {NS} --timeout=120s"
    ))
    .await;
    let etc = k
        .line(&format!("exec subpath-demo -n {NS} -- ls /etc"))
        .await;
    assert!(
        etc.contains("passwd") && etc.contains("game.properties"),
        "subPath adds one file to /etc and hides nothing: {etc}"
    );
    let waiting = k.json(&["pod", "waiting-demo", "-n", NS]).await;
    assert_eq!(
        waiting["status"]["phase"], "Pending",
        "a Pod whose ConfigMap is missing waits: {}",
        waiting["status"]
    );
    k.line(&format!(
        "create configmap late-map -n {NS} --from-literal=hello=world"
    ))
    .await;
    let created = Instant::now();
    let started = k
        .try_line(&format!(
            "wait --for=condition=Ready pod/waiting-demo -n {NS} --timeout=180s"
        ))
        .await;
    let waited = created.elapsed().as_secs_f64();
    eprintln!(
        "real cluster: waiting-demo started {waited:.0} s after late-map was created: {started:?}"
    );
    real.record(Row {
        place: format!("{LAB}/beyond-the-notes"),
        action: "kubectl create configmap late-map → waiting-demo starts by itself".into(),
        verdicts: format!("Ready: {}", started.is_ok()),
        waited,
    });
    assert!(
        started.is_ok(),
        "the notes say the Pod starts on its own once late-map exists"
    );
    k.line(&format!(
        "delete pod subpath-demo waiting-demo -n {NS} --ignore-not-found"
    ))
    .await;
    k.line(&format!(
        "delete configmap late-map -n {NS} --ignore-not-found"
    ))
    .await;
    beyond.expect("cleaned up as the text says", &clean).await;
}

/// Reset while the secret lab still uses the namespace, then what is left.
pub async fn finish(real: &Real) {
    let k = &real.kubectl;
    let report = real.reset(LAB).await;
    eprintln!("real cluster: configmap reset → {report}");
    let namespace = k.json(&["namespace", NS]).await;
    let ns_kept = !namespace.is_null() && !terminating(&namespace);
    must_hold(
        real,
        &format!("{LAB} (Reset)"),
        "reset-shared-namespace",
        ns_kept,
        &if ns_kept {
            format!("{NS} kept: the secret lab still uses it")
        } else {
            format!("{NS} deleted although the secret lab has progress and objects in it")
        },
    );
    // The Pod `kubectl replace --force` made is the learner's now (a new object): kept until
    // they confirm.
    let yours = kept(&report, "yours");
    eprintln!("real cluster: configmap reset kept as the learner's: {yours:?}");
    if !yours.is_empty() {
        reset_deleting(&real.app, LAB, &yours).await;
    }
    k.wait_gone(&["pod", "busybox", "-n", NS], STARTUP).await;
    k.wait_gone(&["configmap", "base-map", "-n", NS], STARTUP)
        .await;
    real.step(LAB, "pod")
        .expect(
            "after Reset",
            &[("env-from-configmap", "failed"), ("pod-ready", "failed")],
        )
        .await;
}

/// Once no other lab uses it, Reset removes the namespace the ConfigMap lab's Set up created.
pub async fn last_reset(real: &Real) {
    let k = &real.kubectl;
    // secret::finish pressed Check on a Secret step after its Reset, which started that lab
    // again (rightly keeping the namespace in use): reset it once more first.
    let secret = real.reset("secret").await;
    assert!(
        secret["deleted"].as_array().is_none_or(Vec::is_empty),
        "{secret}"
    );
    let report = real.reset(LAB).await;
    let namespace = k.json(&["namespace", NS]).await;
    let gone = namespace.is_null() || terminating(&namespace);
    eprintln!("real cluster: configmap reset once the secret lab was reset → {report}");
    real.record(Row {
        place: format!("{LAB} (Reset)"),
        action: "Reset again once the secret lab was reset too".into(),
        verdicts: if gone {
            format!("{NS}, created by Set up, deleted")
        } else {
            format!("{NS} still there: {}", report["kept"])
        },
        waited: 0.0,
    });
    assert!(
        gone,
        "Reset removes the namespace Set up created once no lab uses it: {report}"
    );
}

const SUBPATH_DEMO: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: subpath-demo
spec:
  containers:
    - name: app
      image: busybox:1.36
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done"]
      volumeMounts:
        - name: config
          mountPath: /etc/game.properties
          subPath: game.properties
  volumes:
    - name: config
      configMap:
        name: base-map
"#;

const WAITING_DEMO: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: waiting-demo
spec:
  containers:
    - name: app
      image: busybox:1.36
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done"]
      volumeMounts:
        - name: late
          mountPath: /late
  volumes:
    - name: late
      configMap:
        name: late-map
"#;
