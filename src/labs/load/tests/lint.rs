//! The linter's rules on whole labs, as `kubelab validate` prints them: `file:line: message`.

use super::*;

fn report_of(lab: String) -> Report {
    load(&with_lab_yaml(lab)).unwrap_err()
}

fn with_manifest(cm: &str) -> Vec<(String, String)> {
    let mut files = good_files();
    files
        .iter_mut()
        .find(|(p, _)| p == "configmap/manifests/cm.yaml")
        .expect("the manifest")
        .1 = cm.to_owned();
    files
}

#[test]
fn a_step_with_checks_needs_hints() {
    let lab = LAB.replace(
        "    hints:\n      - {en: Use kubectl apply, zh: 用 kubectl apply}\n",
        "",
    );
    let report = report_of(lab);
    assert!(
        has(
            &report,
            "configmap/lab.yaml:6: step `create` has checks but no hints: add `hints:`, from a gentle nudge to the command that does it, so a learner who is stuck has a way forward"
        ),
        "{report}"
    );
}

#[test]
fn unknown_kinds_and_api_versions_are_caught_when_labs_load() {
    let lab = LAB.replace(
        "find: {apiVersion: v1, kind: ConfigMap, name: base-map}",
        "find: {apiVersion: v1, kind: Endpoint, name: base-map}",
    );
    let report = report_of(lab);
    assert!(
        has(
            &report,
            "configmap/lab.yaml:13: check `exists`: `find`: `v1` has no kind `Endpoint`; did you mean `Endpoints`?"
        ),
        "{report}"
    );
    let slice = LAB.replace(
        "find: {apiVersion: v1, kind: ConfigMap, name: base-map}",
        "find: {apiVersion: discovery/v1, kind: EndpointSlice}",
    );
    let report = report_of(slice);
    assert!(
        report.problems.iter().any(|p| p.line == Some(13)
            && p.message.contains("`discovery/v1` is no API version Kubernetes serves; `EndpointSlice` is in `discovery.k8s.io/v1`")),
        "{report}"
    );
    let report = load(&with_manifest(
        &CM.replace("kind: ConfigMap", "kind: ConfigMaps"),
    ))
    .unwrap_err();
    assert!(
        has(
            &report,
            "configmap/manifests/cm.yaml:2: `v1` has no kind `ConfigMaps`; did you mean `ConfigMap`?"
        ),
        "{report}"
    );
}

#[test]
fn a_labs_own_custom_resources_may_be_found() {
    let crd = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.example.com\nspec:\n  group: example.com\n  names: {kind: Widget, plural: widgets}\n  scope: Namespaced\n  versions:\n    - name: v1\n      served: true\n      storage: true\n";
    let mut files = with_lab_yaml(
        LAB.replace(
            "find: {apiVersion: v1, kind: ConfigMap, name: base-map}",
            "find: {apiVersion: example.com/v1, kind: Widget, name: base-map}",
        )
        .replace(
            "manifests: [manifests/cm.yaml]",
            "manifests: [manifests/crd.yaml, manifests/cm.yaml]",
        )
        // A CustomResourceDefinition is cluster-wide: only a lab for laptops may install one.
        .replace(
            "namespace: fly-k8s\n",
            "namespace: fly-k8s\nmodes: [local]\n",
        ),
    );
    files.push(("configmap/manifests/crd.yaml".to_owned(), crd.to_owned()));
    assert!(load(&files).is_ok(), "{:?}", load(&files).err());
}

#[test]
fn a_manifest_naming_its_namespace_is_refused() {
    let report = load(&with_manifest(&CM.replace(
        "  name: base-map\n",
        "  name: base-map\n  namespace: fly-k8s\n",
    )))
    .unwrap_err();
    assert!(
        has(
            &report,
            "configmap/manifests/cm.yaml:5: `metadata.namespace: fly-k8s` hard-codes a namespace: leave it out; kubelab puts the object into the lab's `namespace` (`fly-k8s`), and into the learner's own namespace in a workshop"
        ),
        "{report}"
    );
}

#[test]
fn another_namespace_is_only_for_labs_that_stay_on_laptops() {
    let elsewhere = with_manifest(&CM.replace(
        "  name: base-map\n",
        "  name: base-map\n  namespace: kube-system\n",
    ));
    let report = load(&elsewhere).unwrap_err();
    assert!(
        report.problems.iter().any(|p| p.line == Some(5)
            && p.message.ends_with("(a lab that must put it into `kube-system` cannot be offered to workshops: give it `modes: [local]`)")),
        "{report}"
    );
    let mut local = elsewhere;
    local[1].1 = LAB.replace(
        "namespace: fly-k8s\n",
        "namespace: fly-k8s\nmodes: [local]\n",
    );
    assert!(load(&local).is_ok(), "{:?}", load(&local).err());
}

#[test]
fn cel_problems_name_the_files_line_and_column() {
    let lab = LAB.replace(
        "        expect:\n          data:\n            enabled: yes\n",
        "        cel: >-\n          has(object.data) &&\n          has(objects.data.enabled)\n",
    );
    let report = report_of(lab);
    assert!(
        has(
            &report,
            "configmap/lab.yaml:16: check `exists`: `cel` at column 15: `objects` is no variable here: the object being checked is `object` (and the variable a macro such as `all(c, ...)` names)."
        ),
        "{report}"
    );
    let broken = LAB.replace(
        "        expect:\n          data:\n            enabled: yes\n",
        "        cel: >-\n          has(object.data) &&\n          object.data.enabled ==\n",
    );
    let report = report_of(broken);
    assert!(
        has(
            &report,
            "configmap/lab.yaml:16: check `exists`: `cel` does not parse at column 33: Syntax error: mismatched input '<EOF>' expecting {'[', '{', '(', '.', '-', '!', 'true', 'false', 'null', NUM_FLOAT, NUM_INT, NUM_UINT, STRING, BYTES, IDENTIFIER}."
        ),
        "{report}"
    );
}

#[test]
fn a_missing_text_says_which_field_lacks_it() {
    let lab = LAB.replace(
        "reason: {en: create it, zh: 创建}",
        "reason: {en: create it}",
    );
    let report = report_of(lab);
    assert!(
        has(
            &report,
            "configmap/lab.yaml:12: check `exists`: missing field `zh` in `reason`"
        ),
        "{report}"
    );
}

#[test]
fn files_that_are_not_utf8_are_reported_by_line() {
    let mut files = good_files();
    let mut files_bytes: Vec<(String, Vec<u8>)> =
        files.drain(..).map(|(p, c)| (p, c.into_bytes())).collect();
    let cm = files_bytes
        .iter_mut()
        .find(|(p, _)| p == "configmap/manifests/cm.yaml")
        .expect("the manifest");
    cm.1.extend_from_slice(b"  note: caf\xe9\n");
    let dir = tempfile_dir(&files_bytes);
    let report = crate::labs::load(&crate::labs::LabSource::Dir(dir.clone())).unwrap_err();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        report
            .problems
            .iter()
            .any(|p| p.file == "configmap/manifests/cm.yaml"
                && p.line == Some(7)
                && p.message.contains("not UTF-8")),
        "{report}"
    );
}

// A labs folder on disk (bytes need not be UTF-8), in the system's temporary directory.
fn tempfile_dir(files: &[(String, Vec<u8>)]) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "kubelab-lint-{}-{}",
        std::process::id(),
        files.len()
    ));
    for (path, content) in files {
        let full = dir.join(path);
        std::fs::create_dir_all(full.parent().expect("a parent")).expect("mkdir");
        std::fs::write(full, content).expect("write");
    }
    dir
}
