//! The docker lab (local mode) on realkube's containerd node: the runtime question, a library
//! image where the learner's own tag is asked for, the text's `ErrImageNeverPull` demo, and — as
//! root, with `ctr` in place of `docker tag` — a Pod running a local tag with
//! `imagePullPolicy: Never` on the real kubelet.

use super::harness::{REAL_NODE, Real, Restore, Row, STARTUP, node_of, wait_for};

const LAB: &str = "docker";
/// The learner's own tag of busybox, as the text's `docker tag` makes it.
const OWN_TAG: &str = "docker.io/fly-k8s/busybox:0.0.1";

/// The whole lab (its steps without checks are skipped).
pub async fn run(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;
    k.line("delete pod my-image no-such-image -n default --now --ignore-not-found")
        .await;

    let runtime = real.step(LAB, "runtime");
    runtime
        .expect_answers(
            "answered docker (wrong: realkube runs containerd)",
            &[("container-runtime", "docker")],
            &[("container-runtime", "failed")],
        )
        .await;
    runtime
        .expect_answers(
            "answered containerd",
            &[("container-runtime", "containerd")],
            &[("container-runtime", "passed")],
        )
        .await;

    let own = real.step(LAB, "run-own-image");
    k.line("run my-image -n default --image=busybox:1.36 -- sleep 3600")
        .await;
    own.expect(
        "kubectl run my-image --image=busybox:1.36 (a library image, pulled if missing)",
        &[("own-tag", "failed"), ("never-pull", "failed")],
    )
    .await;
    k.line("delete pod my-image -n default --now").await;

    k.line("run no-such-image -n default --image=fly-k8s/nothing:0.0.1 --image-pull-policy=Never")
        .await;
    let reason = wait_for("ErrImageNeverPull", STARTUP, || async {
        let pod = k.json(&["pod", "no-such-image", "-n", "default"]).await;
        let reason = pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
            .as_str()
            .map(str::to_owned);
        reason.filter(|r| r == "ErrImageNeverPull")
    })
    .await;
    k.line("delete pod no-such-image -n default --now").await;
    assert!(
        reason.is_some(),
        "the text: a missing image with imagePullPolicy Never shows ErrImageNeverPull"
    );
    real.record(Row {
        place: format!("{LAB}/run-own-image"),
        action: "the text's kubectl run no-such-image … --image-pull-policy=Never".into(),
        verdicts: "Pod status ErrImageNeverPull (kubectl)".into(),
        waited: 0.0,
    });

    if !tag_locally().await {
        eprintln!(
            "real cluster: docker/run-own-image with a local tag skipped: needs root and ctr \
             (containerd's CLI) to tag busybox:1.36 on the node"
        );
        return;
    }
    let _untag = UntagOnDrop;
    let _delete = Restore::new(&[&[
        "delete",
        "pod",
        "my-image",
        "-n",
        "default",
        "--now",
        "--ignore-not-found",
    ]]);
    k.try_run(&[
        "run",
        "my-image",
        "-n",
        "default",
        "--image=fly-k8s/busybox:0.0.1",
        "--image-pull-policy=Never",
        "--command",
        "--",
        "sh",
        "-c",
        "trap 'exit 0' TERM; while true; do sleep 3600 & wait; done",
    ])
    .await
    .unwrap_or_else(|e| panic!("the text's kubectl run my-image: {e}"));
    own.expect(
        "ctr tag busybox as fly-k8s/busybox:0.0.1; the text's kubectl run … --image-pull-policy=Never",
        &[
            ("own-tag", "passed"),
            ("never-pull", "passed"),
            ("running", "passed"),
        ],
    )
    .await;
    let pod = k.json(&["pod", "my-image", "-n", "default"]).await;
    assert_eq!(node_of(&pod), REAL_NODE);
    real.reset(LAB).await;
}

/// Tags busybox:1.36 as [`OWN_TAG`] in the node's containerd (what `docker tag` does on
/// colima); false when that is not possible here (not root, no `ctr`).
async fn tag_locally() -> bool {
    let is_root = std::process::Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !is_root {
        return false;
    }
    tokio::process::Command::new("ctr")
        .args([
            "-n",
            "k8s.io",
            "images",
            "tag",
            "--force",
            "docker.io/library/busybox:1.36",
            OWN_TAG,
        ])
        .output()
        .await
        .is_ok_and(|o| o.status.success())
}

/// Removes [`OWN_TAG`] from the node again (the image itself stays: it is busybox:1.36).
struct UntagOnDrop;

impl Drop for UntagOnDrop {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ctr")
            .args(["-n", "k8s.io", "images", "rm", OWN_TAG])
            .output();
    }
}
