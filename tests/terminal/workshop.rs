//! Workshop mode: each learner's terminal is a shell in their own toolbox Pod.

use kubelab::cluster::{TOOLBOX_LABEL, TOOLBOX_POD, ToolboxSpec};

use super::*;
use crate::support::{FakeApi, TerminalSize};

const INSTRUCTOR: &str = "instructor-token-for-the-tests-0123456789";

struct Workshop {
    fake: FakeApi,
    app: RunningApp,
    id: String,
    code: String,
    _dir: tempfile::TempDir,
}

async fn workshop(limits: TerminalLimits) -> Workshop {
    let fake = FakeApi::start().await;
    fake.simulate_workloads(true);
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let terminal = TerminalConfig {
        mode: TerminalMode::Toolbox(ToolboxSpec::default()),
        limits,
    };
    let app = start(&dir, kubeconfig, true, terminal).await;
    kubelab::startup::instructor_credential(&app.engine, Some(INSTRUCTOR))
        .await
        .expect("instructor token");
    let created: Value = client()
        .post(format!("{}/api/instructor/workshops", app.url()))
        .bearer_auth(INSTRUCTOR)
        .header("content-type", "application/json")
        .body(json!({"name": "t", "labs": ["configmap"], "capacity": 5, "hours": 2}).to_string())
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    Workshop {
        fake,
        app,
        id: created["id"].as_str().expect("id").to_owned(),
        code: created["code"].as_str().expect("code").to_owned(),
        _dir: dir,
    }
}

impl Workshop {
    async fn learner(&self, name: &str) -> Visitor {
        let mut v = Visitor::default();
        let join = format!("{}/join/{}", self.app.url(), self.code);
        v.get(&join).await;
        assert_eq!(v.post_form(&join, &[("name", name)]).await, 303);
        let (status, _) = v.get(&format!("{}/labs/configmap", self.app.url())).await;
        assert_eq!(status, 200);
        v
    }

    fn toolbox(&self, namespace: &str) -> Option<Value> {
        self.fake.get("v1", "Pod", Some(namespace), TOOLBOX_POD)
    }
}

/// The learner namespaces of the fake, with their toolbox if any.
fn namespace_of(fake: &FakeApi, learner_pods: usize) -> Vec<String> {
    let mut namespaces: Vec<String> = fake
        .list("v1", "Pod", None)
        .iter()
        .filter(|p| p["metadata"]["labels"][TOOLBOX_LABEL] == "true")
        .filter_map(|p| p["metadata"]["namespace"].as_str().map(str::to_owned))
        .collect();
    namespaces.sort();
    assert_eq!(namespaces.len(), learner_pods, "{namespaces:?}");
    namespaces
}

#[tokio::test]
async fn a_learners_terminal_is_a_tty_shell_in_their_own_restricted_toolbox() {
    let w = workshop(limits()).await;
    let base = w.app.url();
    let alice = w.learner("alice").await;
    assert!(
        namespace_of(&w.fake, 0).is_empty(),
        "no toolbox before the first use"
    );

    let mut socket = open(&base, &alice, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    read_until(&mut socket, &mut screen, |s| s.output.contains("/ # ")).await;
    let namespace = namespace_of(&w.fake, 1).remove(0);
    let pod = w.toolbox(&namespace).expect("toolbox");
    assert_eq!(pod["spec"]["serviceAccountName"], "learner");
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    let container = &pod["spec"]["containers"][0];
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert_eq!(container["resources"]["limits"]["memory"], "256Mi");

    type_text(&mut socket, "echo hi\r").await;
    read_until(&mut socket, &mut screen, |s| s.output.contains("hi\r\n")).await;
    control(&mut socket, resize(132, 43)).await;
    let sessions = w.fake.exec_sessions();
    let session = sessions.last().expect("an exec session");
    assert!(session.tty && session.stdin, "{session:?}");
    assert_eq!(session.call.namespace, namespace);
    assert_eq!(session.call.command, kubelab::cluster::TOOLBOX_SHELL);
    assert!(
        w.fake
            .wait_for(PATIENCE, |f| f.exec_sessions().last().is_some_and(|s| s
                .resizes
                .contains(&TerminalSize {
                    width: 132,
                    height: 43
                })))
            .await,
        "the resize reached the container: {:?}",
        w.fake.exec_sessions().last()
    );
    assert!(session.resizes.contains(&TerminalSize {
        width: 100,
        height: 30
    }));
    let id = screen.id();
    drop(socket);

    // Reload: the same shell with what it showed.
    let how = Handshake {
        session: Some(&id),
        ..page(&base)
    };
    let mut again = open(&base, &alice, how).await.expect("re-opens");
    let mut replay = Screen::default();
    read_until(&mut again, &mut replay, |s| s.output.contains("hi\r\n")).await;
    assert_eq!(replay.control("attached").unwrap()["resumed"], true);
    assert_eq!(w.fake.exec_sessions().len(), sessions.len(), "no new exec");

    // Another learner gets their own toolbox, and cannot attach to alice's terminal.
    let bob = w.learner("bob").await;
    let stolen = Handshake {
        session: Some(&id),
        ..page(&base)
    };
    let mut theirs = open(&base, &bob, stolen).await.expect("opens");
    let mut bob_screen = Screen::default();
    read_until(&mut theirs, &mut bob_screen, |s| s.output.contains("/ # ")).await;
    assert_ne!(bob_screen.id(), id);
    assert_eq!(bob_screen.control("attached").unwrap()["resumed"], false);
    assert!(!bob_screen.output.contains("hi\r\n"), "{bob_screen:?}");
    let namespaces = namespace_of(&w.fake, 2);
    assert!(namespaces.contains(&namespace));
    w.app.stop().await;
}

#[tokio::test]
async fn anonymous_visitors_and_instructors_get_no_terminal() {
    let w = workshop(limits()).await;
    let base = w.app.url();
    let mut anonymous = Visitor::default();
    anonymous.get(&format!("{base}/")).await;
    assert_eq!(open(&base, &anonymous, page(&base)).await.err(), Some(401));

    let mut instructor = Visitor::default();
    let login = format!("{base}/instructor/login");
    instructor.get(&login).await;
    instructor.post_form(&login, &[("token", INSTRUCTOR)]).await;
    instructor.get(&format!("{base}/instructor")).await;
    assert!(
        instructor.cookies.contains_key("kubelab_instructor"),
        "signed in"
    );
    assert_eq!(open(&base, &instructor, page(&base)).await.err(), Some(401));
    assert!(namespace_of(&w.fake, 0).is_empty());
    w.app.stop().await;
}

#[tokio::test]
async fn kubelab_refuses_to_exec_into_a_pod_that_is_not_the_learners_toolbox() {
    let w = workshop(limits()).await;
    let base = w.app.url();
    let alice = w.learner("alice").await;
    let (_, lab) = {
        let r = client()
            .get(format!("{base}/api/labs/configmap"))
            .header("cookie", alice.cookie_header())
            .send()
            .await
            .expect("GET");
        (r.status(), r.json::<Value>().await.expect("json"))
    };
    let namespace = lab["namespace"].as_str().expect("namespace").to_owned();
    // A Pod the learner made themselves, named like the toolbox but without its labels.
    w.fake
        .put(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": TOOLBOX_POD, "namespace": namespace, "labels": {"app": "mine"}},
            "spec": {"containers": [{"name": "toolbox", "image": "busybox"}]}}))
        .expect("put");
    let mut socket = open(&base, &alice, page(&base)).await.expect("upgrades");
    let mut screen = Screen::default();
    read_until(&mut socket, &mut screen, |s| s.control("ended").is_some()).await;
    let reason = screen.control("ended").unwrap()["reason"].to_string();
    assert!(reason.contains("not this learner"), "{reason}");
    assert!(w.fake.exec_sessions().is_empty(), "no exec reached the Pod");
    w.app.stop().await;
}

#[tokio::test]
async fn ending_the_workshop_closes_open_terminals() {
    let w = workshop(limits()).await;
    let base = w.app.url();
    let alice = w.learner("alice").await;
    let mut socket = open(&base, &alice, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    read_until(&mut socket, &mut screen, |s| s.output.contains("/ # ")).await;
    let status = client()
        .post(format!("{base}/api/instructor/workshops/{}/end", w.id))
        .bearer_auth(INSTRUCTOR)
        .send()
        .await
        .expect("end")
        .status();
    assert_eq!(status, 200);
    read_until(&mut socket, &mut screen, |s| s.control("ended").is_some()).await;
    let reason = screen.control("ended").unwrap()["reason"].to_string();
    assert!(reason.contains("workshop ended"), "{reason}");
    assert_eq!(w.app.engine.open_terminals(), 0);
    w.app.stop().await;
}

#[tokio::test]
async fn an_idle_toolbox_is_deleted_and_made_again_on_the_next_terminal() {
    let w = workshop(TerminalLimits {
        toolbox_idle: Duration::from_millis(300),
        linger: Duration::from_millis(200),
        ..limits()
    })
    .await;
    let base = w.app.url();
    let alice = w.learner("alice").await;
    let mut socket = open(&base, &alice, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    read_until(&mut socket, &mut screen, |s| s.output.contains("/ # ")).await;
    let namespace = namespace_of(&w.fake, 1).remove(0);
    type_text(&mut socket, "exit\r").await;
    read_until(&mut socket, &mut screen, |s| s.control("ended").is_some()).await;
    assert!(
        w.fake
            .wait_for(PATIENCE, |f| f
                .get("v1", "Pod", Some(&namespace), TOOLBOX_POD)
                .is_none())
            .await,
        "the idle toolbox is deleted"
    );
    let mut socket = open(&base, &alice, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    read_until(&mut socket, &mut screen, |s| s.output.contains("/ # ")).await;
    assert!(w.toolbox(&namespace).is_some(), "made again on demand");
    w.app.stop().await;
}

#[tokio::test]
async fn the_learner_quota_holds_the_toolbox_and_the_biggest_lab() {
    let w = workshop(limits()).await;
    let base = w.app.url();
    let alice = w.learner("alice").await;
    let mut socket = open(&base, &alice, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    read_until(&mut socket, &mut screen, |s| s.output.contains("/ # ")).await;
    let namespace = namespace_of(&w.fake, 1).remove(0);
    // Ten more Pods at the LimitRange's defaults (the kubectl lab's rolling restart of three
    // replicas and the HPA's five fit in that), beside the toolbox.
    for i in 0..10 {
        let pod = json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": format!("work-{i}"), "namespace": namespace},
            "spec": {"containers": [{"name": "c", "image": "busybox",
                "resources": {"requests": {"cpu": "200m", "memory": "200Mi"},
                              "limits": {"cpu": "400m", "memory": "400Mi"}}}]}});
        let r = client()
            .post(format!(
                "{}/api/v1/namespaces/{namespace}/pods",
                w.fake.url()
            ))
            .bearer_auth(w.fake.token())
            .json(&pod)
            .send()
            .await
            .expect("create");
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        assert_eq!(
            status, 201,
            "pod {i} fits the quota beside the toolbox: {body}"
        );
    }
    w.app.stop().await;
}
