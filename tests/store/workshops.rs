//! Workshop storage, on SQLite and PostgreSQL: workshops and their join codes, learners joining
//! up to the capacity (also when hundreds join at once), sessions, removal, and the instructor
//! credential.

use std::collections::{BTreeMap, BTreeSet};

use kubelab::checks::StepStatus;
use kubelab::store::{CreatedObject, JoinOutcome, LearnerRecord, NewWorkshop, Store, Workshop};
use time::macros::datetime;

use super::{TestDb, run};

on_both!(
    workshops_are_listed_and_found_by_code,
    workshops_are_extended_and_ended,
    joins_stop_at_capacity,
    a_session_finds_its_learner_again,
    concurrent_joins_never_exceed_capacity,
    removing_a_learner_removes_only_their_progress,
    instructor_credential_is_kept,
);

fn new_workshop(name: &str, capacity: u32, created_at: &str) -> NewWorkshop {
    NewWorkshop {
        name: name.to_owned(),
        labs: vec![
            "kubectl".to_owned(),
            "pod".to_owned(),
            "configmap".to_owned(),
        ],
        capacity,
        created_at: created_at.to_owned(),
        expires_at: "2024-05-01T17:00:00Z".to_owned(),
    }
}

/// Joins `workshop` as `name`, with a namespace and session derived from the name.
async fn join(store: &Store, workshop: &Workshop, name: &str, now: &str) -> JoinOutcome {
    store
        .join_workshop(
            &workshop.id,
            name,
            &format!("kl-{name}"),
            &format!("session-{name}"),
            now,
            workshop.capacity,
        )
        .await
        .unwrap()
}

fn joined(outcome: JoinOutcome) -> LearnerRecord {
    match outcome {
        JoinOutcome::Joined(learner) => learner,
        other => panic!("expected to join, got {other:?}"),
    }
}

async fn workshops_are_listed_and_found_by_code(store: Store, _url: String) {
    assert!(store.workshops().await.unwrap().is_empty());
    let morning = store
        .create_workshop(&new_workshop("Morning", 30, "2024-05-01T09:00:00Z"))
        .await
        .unwrap();
    let afternoon = store
        .create_workshop(&new_workshop("Afternoon", 250, "2024-05-01T13:00:00Z"))
        .await
        .unwrap();

    assert_eq!(morning.name, "Morning");
    assert_eq!(morning.labs, ["kubectl", "pod", "configmap"]);
    assert_eq!(morning.capacity, 30);
    assert_eq!(morning.ended_at, None);
    assert_ne!(morning.id, afternoon.id);
    assert_ne!(morning.code, afternoon.code);
    for code in [&morning.code, &afternoon.code] {
        assert_eq!(code.len(), 6, "{code}");
        assert!(
            code.chars()
                .all(|c| "ABCDEFGHJKMNPQRSTUVWXYZ23456789".contains(c)),
            "{code} uses only unambiguous characters"
        );
    }

    assert_eq!(
        store.workshops().await.unwrap(),
        [afternoon.clone(), morning.clone()],
        "newest first"
    );
    assert_eq!(
        store.workshop(&morning.id).await.unwrap().as_ref(),
        Some(&morning)
    );
    assert_eq!(store.workshop("0000000000000000").await.unwrap(), None);

    let lower = morning.code.to_lowercase();
    let spaced = format!(" {}-{} ", &lower[..3], &morning.code[3..]);
    for typed in [&morning.code, &lower, &spaced] {
        assert_eq!(
            store.workshop_by_code(typed).await.unwrap().as_ref(),
            Some(&morning),
            "found by {typed:?}"
        );
    }
    assert_eq!(
        store
            .workshop_by_code(&afternoon.code)
            .await
            .unwrap()
            .map(|w| w.id),
        Some(afternoon.id)
    );
    assert_eq!(store.workshop_by_code("").await.unwrap(), None);
    let unused = if morning.code == "ZZZZZZ" || afternoon.code == "ZZZZZZ" {
        "YYYYYY"
    } else {
        "ZZZZZZ"
    };
    assert_eq!(store.workshop_by_code(unused).await.unwrap(), None);
}

async fn workshops_are_extended_and_ended(store: Store, _url: String) {
    let workshop = store
        .create_workshop(&new_workshop("Friday", 10, "2024-05-01T09:00:00Z"))
        .await
        .unwrap();
    assert!(
        store
            .extend_workshop(&workshop.id, "2024-05-01T19:00:00Z")
            .await
            .unwrap()
    );
    let extended = store.workshop(&workshop.id).await.unwrap().unwrap();
    assert_eq!(extended.expires_at, "2024-05-01T19:00:00Z");
    assert_eq!(extended.ended_at, None);

    joined(join(&store, &workshop, "ana", "2024-05-01T09:05:00Z").await);
    assert!(
        store
            .end_workshop(&workshop.id, "2024-05-01T12:00:00Z")
            .await
            .unwrap()
    );
    assert!(
        !store
            .end_workshop(&workshop.id, "2024-05-01T12:30:00Z")
            .await
            .unwrap(),
        "already ended"
    );
    let ended = store.workshop(&workshop.id).await.unwrap().unwrap();
    assert_eq!(
        ended.ended_at.as_deref(),
        Some("2024-05-01T12:00:00Z"),
        "the first end is kept"
    );
    assert!(
        !store
            .extend_workshop(&workshop.id, "2024-05-02T00:00:00Z")
            .await
            .unwrap(),
        "an ended workshop is not extended"
    );
    assert_eq!(store.workshop(&workshop.id).await.unwrap().unwrap(), ended);

    assert_eq!(
        join(&store, &workshop, "ben", "2024-05-01T12:01:00Z").await,
        JoinOutcome::Closed,
        "no one joins an ended workshop"
    );
    assert_eq!(
        store.learners(&workshop.id).await.unwrap().len(),
        1,
        "its learners stay listed for cleanup"
    );

    let missing = Workshop {
        id: "0000000000000000".to_owned(),
        ..workshop
    };
    assert!(!store.extend_workshop(&missing.id, "x").await.unwrap());
    assert!(!store.end_workshop(&missing.id, "x").await.unwrap());
    assert_eq!(
        join(&store, &missing, "cleo", "2024-05-01T12:02:00Z").await,
        JoinOutcome::Closed
    );
}

async fn joins_stop_at_capacity(store: Store, _url: String) {
    let workshop = store
        .create_workshop(&new_workshop("Small", 3, "2024-05-01T09:00:00Z"))
        .await
        .unwrap();
    let other = store
        .create_workshop(&new_workshop("Other", 3, "2024-05-01T09:00:00Z"))
        .await
        .unwrap();
    // Equal times: the join order is still kept.
    let mut learners = Vec::new();
    for name in ["ana", "ben", "cleo"] {
        learners.push(joined(
            join(&store, &workshop, name, "2024-05-01T09:10:00Z").await,
        ));
    }
    assert_eq!(
        join(&store, &workshop, "dan", "2024-05-01T09:11:00Z").await,
        JoinOutcome::Full
    );
    let ana = &learners[0];
    assert_eq!(ana.workshop_id, workshop.id);
    assert_eq!(ana.display_name, "ana");
    assert_eq!(ana.namespace, "kl-ana");
    assert_eq!(ana.created_at, "2024-05-01T09:10:00Z");
    assert_eq!(ana.last_seen_at, "2024-05-01T09:10:00Z");
    assert_eq!(
        learners
            .iter()
            .map(|l| &l.id)
            .collect::<BTreeSet<_>>()
            .len(),
        3,
        "each learner has an id of their own"
    );
    assert_eq!(store.learners(&workshop.id).await.unwrap(), learners);
    assert_eq!(store.learner(&ana.id).await.unwrap().as_ref(), Some(ana));

    // Another workshop has room of its own.
    let eve = joined(join(&store, &other, "eve", "2024-05-01T09:12:00Z").await);
    assert_eq!(store.learners(&other.id).await.unwrap(), [eve]);

    // A namespace is one learner's only.
    assert!(
        store
            .join_workshop(
                &other.id,
                "mallory",
                "kl-ana",
                "session-mallory",
                "2024-05-01T09:13:00Z",
                3
            )
            .await
            .is_err()
    );
    assert_eq!(store.learners(&other.id).await.unwrap().len(), 1);

    // A removed learner's place is free again, and newcomers join at the end.
    assert!(store.remove_learner(&learners[1].id).await.unwrap());
    let dan = joined(join(&store, &workshop, "dan", "2024-05-01T09:14:00Z").await);
    let names: Vec<String> = store
        .learners(&workshop.id)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.display_name)
        .collect();
    assert_eq!(names, ["ana", "cleo", "dan"]);
    assert_eq!(dan.namespace, "kl-dan");
    assert_eq!(
        join(&store, &workshop, "fay", "2024-05-01T09:15:00Z").await,
        JoinOutcome::Full
    );
}

async fn a_session_finds_its_learner_again(store: Store, _url: String) {
    let workshop = store
        .create_workshop(&new_workshop("Friday", 10, "2024-05-01T09:00:00Z"))
        .await
        .unwrap();
    let ana = joined(join(&store, &workshop, "ana", "2024-05-01T09:10:00Z").await);
    let ben = joined(join(&store, &workshop, "ben", "2024-05-01T09:11:00Z").await);

    let again = store
        .learner_by_session("session-ana", "2024-05-01T10:30:00Z")
        .await
        .unwrap()
        .expect("the session finds its learner");
    assert_eq!(again.id, ana.id);
    assert_eq!(again.namespace, "kl-ana");
    assert_eq!(again.created_at, "2024-05-01T09:10:00Z");
    assert_eq!(again.last_seen_at, "2024-05-01T10:30:00Z", "seen again");
    assert_eq!(store.learner(&ana.id).await.unwrap(), Some(again));
    assert_eq!(
        store.learner(&ben.id).await.unwrap(),
        Some(ben),
        "another learner is untouched"
    );

    assert_eq!(
        store
            .learner_by_session("session-nobody", "2024-05-01T10:31:00Z")
            .await
            .unwrap(),
        None
    );
    assert!(store.remove_learner(&ana.id).await.unwrap());
    assert_eq!(
        store
            .learner_by_session("session-ana", "2024-05-01T10:32:00Z")
            .await
            .unwrap(),
        None,
        "a removed learner's session no longer works"
    );
}

async fn concurrent_joins_never_exceed_capacity(store: Store, url: String) {
    // Half of the joins go through a second store, as on a second replica.
    let replica = Store::open(&url).await.expect("second open");
    let workshop = store
        .create_workshop(&new_workshop("Big", 250, "2024-05-01T09:00:00Z"))
        .await
        .unwrap();
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let store = if i % 2 == 0 {
                store.clone()
            } else {
                replica.clone()
            };
            let workshop = workshop.clone();
            tokio::spawn(async move {
                let name = format!("learner{i:03}");
                join(&store, &workshop, &name, "2024-05-01T09:10:00Z").await
            })
        })
        .collect();
    let mut admitted = BTreeSet::new();
    let mut full = 0;
    for task in tasks {
        match task.await.unwrap() {
            JoinOutcome::Joined(learner) => {
                admitted.insert(learner.display_name);
            }
            JoinOutcome::Full => full += 1,
            JoinOutcome::Closed => panic!("the workshop is open"),
        }
    }
    assert_eq!(admitted.len(), 250, "exactly the capacity joined");
    assert_eq!(full, 50, "everyone else was told it is full");

    let listed = store.learners(&workshop.id).await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|l| l.display_name.clone())
            .collect::<BTreeSet<_>>(),
        admitted,
        "the stored learners are the admitted ones"
    );
    assert_eq!(listed.len(), 250);
    assert_eq!(
        join(&replica, &workshop, "late", "2024-05-01T09:20:00Z").await,
        JoinOutcome::Full
    );
    replica.close().await;
}

async fn removing_a_learner_removes_only_their_progress(store: Store, _url: String) {
    let workshop = store
        .create_workshop(&new_workshop("Friday", 10, "2024-05-01T09:00:00Z"))
        .await
        .unwrap();
    let ana = joined(join(&store, &workshop, "ana", "2024-05-01T09:10:00Z").await);
    let ben = joined(join(&store, &workshop, "ben", "2024-05-01T09:11:00Z").await);
    let answers = BTreeMap::from([("kubelet".to_owned(), "v1.28.3+k3s1".to_owned())]);
    let t0 = datetime!(2024-05-01 09:12:00 UTC);
    let t1 = datetime!(2024-05-01 09:13:00 UTC);
    for learner in [&ana.id, &ben.id] {
        for lab in ["kubectl", "node"] {
            store.start_step(learner, lab, "step", t0).await.unwrap();
            store
                .record_status(learner, lab, "step", StepStatus::Passed, t1, true)
                .await
                .unwrap();
            store.record_pass(learner, lab, "step", t1).await.unwrap();
            store
                .save_answers(learner, lab, "step", &answers)
                .await
                .unwrap();
            store
                .save_report(learner, lab, "step", "{}", t1)
                .await
                .unwrap();
        }
        let object = CreatedObject {
            lab: "kubectl".into(),
            api_version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("ns".into()),
            name: "m".into(),
            uid: "u".into(),
            created_at: t1,
        };
        store.remember_created(learner, &object).await.unwrap();
        store.put_flash(learner, "kubectl", "{}", t1).await.unwrap();
    }

    assert!(store.remove_learner(&ana.id).await.unwrap());
    assert_eq!(store.learner(&ana.id).await.unwrap(), None);
    assert!(store.all_steps(&ana.id).await.unwrap().is_empty());
    assert!(store.created(&ana.id).await.unwrap().is_empty());
    assert_eq!(
        store.take_flash(&ana.id, "kubectl", t1).await.unwrap(),
        None
    );
    for lab in ["kubectl", "node"] {
        assert!(
            store
                .answers(&ana.id, lab, "step")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.reports(&ana.id, lab).await.unwrap().is_empty());
    }

    assert_eq!(
        store.learners(&workshop.id).await.unwrap(),
        std::slice::from_ref(&ben)
    );
    let progress = store.all_steps(&ben.id).await.unwrap();
    assert_eq!(progress.keys().collect::<Vec<_>>(), ["kubectl", "node"]);
    for lab in ["kubectl", "node"] {
        assert_eq!(progress[lab]["step"].passed_at, Some(t1));
        assert_eq!(progress[lab]["step"].started_at, Some(t0));
        assert_eq!(store.answers(&ben.id, lab, "step").await.unwrap(), answers);
        assert_eq!(store.reports(&ben.id, lab).await.unwrap().len(), 1);
    }
    assert_eq!(store.created(&ben.id).await.unwrap().len(), 1);

    assert!(
        !store.remove_learner(&ana.id).await.unwrap(),
        "already removed"
    );
}

async fn instructor_credential_is_kept(store: Store, url: String) {
    assert_eq!(store.instructor_hash().await.unwrap(), None);
    store
        .set_instructor_hash("$argon2id$v=19$first")
        .await
        .unwrap();
    assert_eq!(
        store.instructor_hash().await.unwrap().as_deref(),
        Some("$argon2id$v=19$first")
    );
    store
        .set_instructor_hash("$argon2id$v=19$second")
        .await
        .unwrap();
    // Reopening re-runs the (already applied) migrations and finds what was stored.
    let replica = Store::open(&url).await.expect("second open");
    assert_eq!(
        replica.instructor_hash().await.unwrap().as_deref(),
        Some("$argon2id$v=19$second"),
        "replaced, and shared with another replica"
    );
    replica.close().await;
}
