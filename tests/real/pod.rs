//! The Pod lab on a real kubelet: two containers sharing the network (localhost, hostname) and
//! an emptyDir (a file written with `kubectl exec`, the notes' quoting mistake first), and the
//! process namespace shared only on request — every exec check run for real.

use super::harness::{REAL_NODE, Real, STARTUP, node_of};

const LAB: &str = "pod";
const NS: &str = "default";

/// The whole lab, from a clean start to Reset.
pub async fn run(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;
    k.wait_gone(&["pod", "pair", "pair-shared-pid", "-n", NS], STARTUP)
        .await;

    let create = real.step(LAB, "create-pod");
    create
        .expect(
            "nothing set up",
            &[("two-containers", "failed"), ("both-ready", "failed")],
        )
        .await;
    create.setup().await;
    create
        .expect(
            "Set up; kubectl get pod pair -w",
            &[("two-containers", "passed"), ("both-ready", "passed")],
        )
        .await;
    let pair = k.json(&["pod", "pair", "-n", NS]).await;
    assert_eq!(node_of(&pair), REAL_NODE, "pair runs on the real kubelet");
    let ip = pair["status"]["podIP"]
        .as_str()
        .expect("a Pod IP")
        .to_owned();

    let network = real.step(LAB, "shared-network");
    network
        .expect_answers(
            "answered 10.0.0.1 (wrong)",
            &[("pod-ip", "10.0.0.1")],
            &[
                ("localhost-from-sidecar", "passed"),
                ("same-hostname", "passed"),
                ("pod-ip", "failed"),
            ],
        )
        .await;
    network
        .expect_answers(
            "answered the IP of kubectl get pod pair -o wide",
            &[("pod-ip", &ip)],
            &[("pod-ip", "passed")],
        )
        .await;
    let page = k
        .line(&format!(
            "exec pair -n {NS} -c sidecar -- wget -qO- http://localhost:8080"
        ))
        .await;
    assert!(page.contains("hello from the web container"), "{page}");

    let volume = real.step(LAB, "shared-volume");
    volume
        .expect(
            "nothing written yet",
            &[
                ("sidecar-reads-web-file", "passed"),
                ("web-reads-sidecar-file", "failed"),
            ],
        )
        .await;
    // Without sh -c '…' the redirection is the learner's own shell's: the file lands on their
    // computer, not in the volume.
    let echoed = k
        .run(&[
            "exec",
            "pair",
            "-n",
            NS,
            "-c",
            "sidecar",
            "--",
            "echo",
            "hello from sidecar",
        ])
        .await;
    let local = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(local.path(), echoed).expect("written locally");
    volume
        .expect(
            "kubectl exec … -- echo … > file (unquoted)",
            &[("web-reads-sidecar-file", "failed")],
        )
        .await;
    k.run(&[
        "exec",
        "pair",
        "-n",
        NS,
        "-c",
        "sidecar",
        "--",
        "sh",
        "-c",
        "echo hello from sidecar > /shared/from-sidecar.txt",
    ])
    .await;
    volume
        .expect(
            "kubectl exec … -- sh -c 'echo … > /shared/from-sidecar.txt'",
            &[
                ("sidecar-reads-web-file", "passed"),
                ("web-reads-sidecar-file", "passed"),
            ],
        )
        .await;

    let pid = real.step(LAB, "process-namespace");
    pid.expect(
        "before Set up",
        &[("pid-separate", "passed"), ("shared-pid-enabled", "failed")],
    )
    .await;
    pid.setup().await;
    pid.expect(
        "Set up pair-shared-pid",
        &[
            ("pid-separate", "passed"),
            ("shared-pid-enabled", "passed"),
            ("shared-pid-sees-httpd", "passed"),
        ],
    )
    .await;

    let report = real.reset(LAB).await;
    assert_eq!(
        report["deleted"].as_array().map(Vec::len),
        Some(2),
        "reset deletes pair and pair-shared-pid: {report}"
    );
    k.wait_gone(&["pod", "pair", "pair-shared-pid", "-n", NS], STARTUP)
        .await;
    create
        .expect(
            "after Reset",
            &[("two-containers", "failed"), ("both-ready", "failed")],
        )
        .await;
}
