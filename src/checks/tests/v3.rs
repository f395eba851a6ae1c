//! The check language's third revision as a lab author and a learner see it: `$count`, `$and`,
//! placeholders in expectations and CEL, list selection by any field, the linter's rules.

use serde_json::{Value, json};

use super::super::matching::{self, Mismatches};
use super::super::*;
use super::{d, diags, passes, spec};
use crate::i18n::Text;

fn service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "web", "namespace": "fly-k8s"},
        "spec": {"ports": [
            {"name": "http", "port": 80, "protocol": "TCP"},
            {"name": "https", "port": 443, "protocol": "TCP"},
            {"name": "dns", "port": 53, "protocol": "UDP"}
        ]}
    })
}

fn binding(namespace: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "read-pods", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]
    })
}

fn reader(namespace: &str) -> Values {
    Values {
        namespace: namespace.to_owned(),
        node: "lab-node".to_owned(),
    }
}

/// The English diagnostics of `expect` on `object` for a reader.
fn diags_for(expect: Value, object: &Value, values: &Values) -> Vec<(String, String, String)> {
    let mut errors = Vec::new();
    let node = matching::compile(&expect, &mut Vec::new(), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    let mut report = Mismatches::collecting().for_reader(Some(values));
    matching::check(&node, Some(object), &mut report);
    let out: Vec<_> = report
        .into_diagnostics()
        .into_iter()
        .map(|x| (x.path, x.expected.en, x.actual.en))
        .collect();
    assert_eq!(
        matching::matches_for(&node, Some(object), Some(values)),
        out.is_empty()
    );
    out
}

fn compile_errors(expect: Value) -> Vec<String> {
    let mut errors = Vec::new();
    matching::compile(&expect, &mut Vec::new(), &mut errors);
    errors
}

#[test]
fn count_counts_matching_elements() {
    let svc = service();
    assert!(passes(
        json!({"spec": {"ports": {"$count": {"match": {"protocol": "TCP"}, "is": 2}}}}),
        &svc
    ));
    assert!(passes(
        json!({"spec": {"ports": {"$count": {"match": {"protocol": "TCP"}, "is": {"$gte": 1}}}}}),
        &svc
    ));
    assert!(passes(
        json!({"spec": {"ports": {"$count": {"match": {"port": {"$lt": 100}}, "is": {"$gte": 2, "$lte": 2}}}}}),
        &svc
    ));
    assert_eq!(
        diags(
            json!({"spec": {"ports": {"$count": {"match": {"protocol": "TCP"}, "is": {"$gte": 3}}}}}),
            &svc
        ),
        vec![d(
            "spec.ports",
            "at least 3 elements with `protocol` = `\"TCP\"`",
            "2 matching (of 3 elements)"
        )]
    );
    assert_eq!(
        diags(
            json!({"spec": {"ports": {"$count": {"match": {}, "is": 2}}}}),
            &svc
        ),
        vec![d(
            "spec.ports",
            "exactly 2 elements",
            "3 matching (of 3 elements)"
        )]
    );
    // A missing list has no elements; a value that is no list fails.
    assert!(passes(
        json!({"spec": {"volumes": {"$count": {"match": {}, "is": 0}}}}),
        &svc
    ));
    assert_eq!(
        diags(
            json!({"metadata": {"name": {"$count": {"match": {}, "is": 0}}}}),
            &svc
        )
        .len(),
        1
    );
}

#[test]
fn count_is_worded_in_chinese() {
    let mut errors = Vec::new();
    let node = matching::compile(
        &json!({"$count": {"match": {"protocol": "TCP"}, "is": {"$gte": 3}}}),
        &mut Vec::new(),
        &mut errors,
    );
    let words = matching::describe::describe(&node);
    assert_eq!(words.zh, "`protocol` 为 `\"TCP\"` 的元素数量至少 3");
}

#[test]
fn count_written_wrongly_is_explained() {
    for bad in [
        json!({"$count": 2}),
        json!({"$count": {"match": {"a": 1}}}),
        json!({"$count": {"match": {"a": 1}, "is": "two"}}),
        json!({"$count": {"match": {"a": 1}, "is": -1}}),
        json!({"$count": {"match": {"a": 1}, "is": 1, "extra": 1}}),
    ] {
        let errors = compile_errors(bad.clone());
        assert_eq!(errors.len(), 1, "{bad}: {errors:?}");
        assert!(errors[0].contains("`$count` needs `match`"), "{errors:?}");
    }
    let inner = compile_errors(json!({"$count": {"match": {"a": {"$bogus": 1}}, "is": 1}}));
    assert!(
        inner[0].starts_with(" at `$count.match.a`: unknown operator `$bogus`"),
        "{inner:?}"
    );
}

#[test]
fn and_needs_every_expectation() {
    let svc = service();
    let both = json!({"spec": {"ports": {"$and": [
        {"$some": {"port": 80}},
        {"$some": {"port": 443}}
    ]}}});
    assert!(passes(both, &svc));
    assert_eq!(
        diags(
            json!({"spec": {"ports": {"$and": [{"$some": {"port": 80}}, {"$some": {"port": 8080}}, {"$len": 3}]}}}),
            &svc
        ),
        vec![d(
            "spec.ports",
            "an element with `port` = `8080`",
            "`[{\"name\":\"http\",\"port\":80,\"protocol\":\"TCP\"},{\"name\":\"https\",\"port\":443,\"protocol\":\"TCP\"},{\"name\":\"dns\",\"port\":53,\"protoc…`"
        )]
    );
    // Negated, it says "not both".
    assert!(passes(
        json!({"spec": {"ports": {"$not": {"$and": [{"$some": {"port": 80}}, {"$some": {"port": 8080}}]}}}}),
        &svc
    ));
    for bad in [json!({"$and": []}), json!({"$and": {"a": 1}})] {
        let errors = compile_errors(bad);
        assert!(errors[0].contains("`$and` needs a list"), "{errors:?}");
    }
}

#[test]
fn placeholders_in_expect_are_the_readers_values() {
    let mine = binding("kl-abc-1");
    let expect = json!({"subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "{kubelab:namespace}"}]});
    assert!(diags_for(expect.clone(), &mine, &reader("kl-abc-1")).is_empty());
    let theirs = diags_for(expect, &mine, &reader("kl-xyz-2"));
    assert_eq!(
        theirs,
        vec![d(
            "subjects[name=reader].namespace",
            "`\"kl-xyz-2\"`",
            "`\"kl-abc-1\"`"
        )]
    );
    let user = json!({"subjects": {"$some": {"name": {"$eq": "system:serviceaccount:{kubelab:namespace}:reader"}}}});
    let sa_user =
        json!({"subjects": [{"kind": "User", "name": "system:serviceaccount:kl-abc-1:reader"}]});
    assert!(diags_for(user, &sa_user, &reader("kl-abc-1")).is_empty());
    let node = json!({"spec": {"nodeName": {"$in": ["{kubelab:node}"]}}});
    assert!(
        diags_for(
            node,
            &json!({"spec": {"nodeName": "lab-node"}}),
            &reader("x")
        )
        .is_empty()
    );
}

#[test]
fn placeholders_in_patterns_are_matched_literally() {
    let dotted = reader("a.b");
    let expect = json!({"metadata": {"namespace": {"$regex": "^{kubelab:namespace}$"}}});
    assert!(
        diags_for(
            expect.clone(),
            &json!({"metadata": {"namespace": "a.b"}}),
            &dotted
        )
        .is_empty()
    );
    assert_eq!(
        diags_for(expect, &json!({"metadata": {"namespace": "axb"}}), &dotted),
        vec![d(
            "metadata.namespace",
            "text matching the pattern `^a\\.b$`",
            "`\"axb\"`"
        )]
    );
    let glob = json!({"spec": {"serviceAccountName": {"$glob": "{kubelab:namespace}-*"}}});
    assert!(
        diags_for(
            glob,
            &json!({"spec": {"serviceAccountName": "a.b-reader"}}),
            &dotted
        )
        .is_empty()
    );
    let contains = json!({"data": {"x": {"$contains": "ns={kubelab:namespace};"}}});
    assert!(diags_for(contains, &json!({"data": {"x": "a ns=a.b; b"}}), &dotted).is_empty());
}

#[test]
fn unknown_placeholders_in_checks_are_refused() {
    let errors = compile_errors(json!({"metadata": {"namespace": "{kubelab:ns}"}}));
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(
        errors[0].starts_with(" at `metadata.namespace`: unknown placeholder `{kubelab:ns}`"),
        "{errors:?}"
    );
    let errors = compile_errors(json!({"a": {"$regex": "{kubelab:nod}"}}));
    assert!(
        errors[0].contains("unknown placeholder `{kubelab:nod}`"),
        "{errors:?}"
    );
    let mut s = spec("RoleBinding", Some("read-pods"), None);
    s.cel = Some("object.subjects.exists(s, s.namespace == '{kubelab:namespce}')".into());
    let problems = validate(&s);
    assert!(
        problems[0].contains("unknown placeholder `{kubelab:namespce}`"),
        "{problems:?}"
    );
}

#[test]
fn a_compiled_check_judges_each_reader_with_their_namespace() {
    let mut s = spec("RoleBinding", Some("read-pods"), None);
    s.find.as_mut().expect("find").api_version = "rbac.authorization.k8s.io/v1".into();
    s.cel = Some("object.subjects.exists(s, s.kind == 'ServiceAccount' && s.namespace == '{kubelab:namespace}')".into());
    s.describe = Some(Text::same("the subject is reader in {kubelab:namespace}"));
    let check = CompiledCheck::compile(&s).expect("valid");
    let objects = [binding("kl-abc-1")];
    let observed = |values| Observed {
        objects: &objects,
        values,
        ..Observed::default()
    };
    let mine = reader("kl-abc-1");
    assert_eq!(check.judge(&observed(Some(&mine))), Verdict::Passed);
    let other = reader("kl-xyz-2");
    match check.judge(&observed(Some(&other))) {
        Verdict::Failed { diagnostics, .. } => {
            assert_eq!(
                diagnostics[0].expected.en,
                "the subject is reader in kl-xyz-2"
            );
        }
        verdict => panic!("{verdict:?}"),
    }
}

#[test]
fn boolean_condition_statuses_fail_validation() {
    let mut s = spec("Pod", Some("web"), None);
    s.expect = Some(json!({"status": {"conditions": [{"type": "Ready", "status": true}]}}));
    let problems = validate(&s);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(
        problems[0].contains("condition statuses are the strings"),
        "{problems:?}"
    );
    s.expect = Some(json!({"status": {"conditions": [{"type": "Ready", "status": "True"}]}}));
    assert!(validate(&s).is_empty());
}

#[test]
fn cel_naming_what_does_not_exist_fails_validation() {
    let mut s = spec("Pod", Some("web"), None);
    s.cel = Some("has(objects.status)".into());
    let problems = validate(&s);
    assert_eq!(
        problems,
        vec![
            "`cel` at column 5: `objects` is no variable here: the object being checked is `object` (and the variable a macro such as `all(c, ...)` names)."
        ]
    );
    s.cel = Some("nosuchfn(object)".into());
    assert!(validate(&s)[0].contains("CEL has no function `nosuchfn`"));
}

#[test]
fn answers_read_list_elements_by_any_field() {
    let mut s = spec("Service", Some("web"), None);
    s.question = Some(Text::same("Which protocol does port 53 use?"));
    s.answer = Some(AnswerSpec {
        field: Some("spec.ports[port=53].protocol".into()),
        ..AnswerSpec::default()
    });
    assert!(validate(&s).is_empty(), "{:?}", validate(&s));
    let objects = [service()];
    let judged = |answer| {
        evaluate_observed(
            &s,
            &Observed {
                objects: &objects,
                answer: Some(answer),
                ..Observed::default()
            },
        )
    };
    assert_eq!(judged("udp"), Verdict::Passed);
    assert!(matches!(judged("TCP"), Verdict::Failed { .. }));
}

#[test]
fn articles_follow_the_kind() {
    let mut s = spec("EndpointSlice", None, Some("app=web"));
    s.since = Some(Since::Step);
    assert_eq!(
        words::to_exist(s.find.as_ref()).en,
        "an EndpointSlice matching `app=web` to exist"
    );
    let pod = spec("Pod", None, None);
    assert_eq!(words::to_exist(pod.find.as_ref()).en, "a Pod to exist");
    let ingress = spec("Ingress", None, None);
    assert_eq!(
        words::to_exist(ingress.find.as_ref()).en,
        "an Ingress to exist"
    );
}
