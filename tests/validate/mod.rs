//! Integration tests: `kubelab validate DIR` on fixture labs folders, run as a real process.

use std::path::Path;
use std::process::{Command, Output};

fn validate(dir: &str) -> Output {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .arg("validate")
        .arg(&dir)
        .output()
        .expect("the kubelab binary runs")
}

#[test]
fn a_valid_labs_folder_passes() {
    let out = validate("tests/fixtures/labs/good");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("ok: 1 labs, 2 steps, 1 checks"), "{stdout}");
}

#[test]
fn the_access_fixture_lab_validates() {
    let out = validate("tests/fixtures/labs/access");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("ok: 1 labs, 3 steps, 4 checks"), "{stdout}");
}

#[test]
fn every_mistake_is_reported_with_file_and_line() {
    let out = validate("tests/fixtures/labs/bad");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    let expected = [
        // YAML syntax error (the parser notices the unclosed `{` of line 2 on line 3).
        "syntax/lab.yaml:3: while parsing a flow mapping, did not find expected ',' or '}'",
        // Wrong type, and a folder name that cannot be a URL.
        "Bad_Name/lab.yaml:1: invalid type: string \"first\", expected u32",
        "Bad_Name: lab folder name \"Bad_Name\" is not allowed: use lowercase letters, digits and `-` (it is the lab's URL)",
        "Bad_Name/lab.yaml:5: the lab has no steps",
        // Unknown field, missing field, wrong type in a check.
        "mistakes/lab.yaml:44: step `typo`: unknown field `descripton`, expected one of `id`, `title`, `manifests`, `checks`, `hints`, `hintAfterSeconds`, `confirm`",
        "mistakes/lab.yaml:45: step `untitled`: missing field `title`",
        "mistakes/lab.yaml:37: check `wrong-type`: invalid type: string \"maybe\", expected a boolean",
        // Missing files.
        "mistakes/lab.yaml:40: step `no-text` has no Chinese text: create steps/no-text.zh.md",
        "mistakes/lab.yaml:10: manifest manifests/missing.yaml does not exist in the lab folder",
        "mistakes/manifests/unused.yaml: not used by any step: list it in a step's `manifests:` or delete it",
        // Duplicates.
        "mistakes/lab.yaml:38: duplicate step id `first` (first used on line 6)",
        "mistakes/lab.yaml:18: duplicate check id `same` in step `first` (first used on line 14)",
        "mistakes/lab.yaml:1: order 2 is also used by lab `twin`: each lab needs its own position",
        "twin/lab.yaml:1: order 2 is also used by lab `mistakes`: each lab needs its own position",
        // Manifests that are not valid Kubernetes objects.
        "mistakes/manifests/no-kind.yaml:7: document 2 has no `kind`",
        "mistakes/manifests/bad-name.yaml:4: `metadata.name` \"Bad_Name\" is not a valid Kubernetes name: use lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit",
        // Author slips: valid check language that could never hold on a real cluster.
        "slips/lab.yaml:6: step `svc` has checks but no hints: add `hints:`, from a gentle nudge to the command that does it, so a learner who is stuck has a way forward",
        "slips/lab.yaml:13: check `endpoints`: `find`: `v1` has no kind `Endpoint`; did you mean `Endpoints`?",
        "slips/lab.yaml:17: check `slices`: `find`: `discovery/v1` is no API version Kubernetes serves; `EndpointSlice` is in `discovery.k8s.io/v1`.",
        "slips/lab.yaml:18: check `ready`: `expect` at `status.conditions[0].status`: condition statuses are the strings \"True\", \"False\" and \"Unknown\", never a boolean, so this can never match; write `status: \"True\"` (in quotes).",
        "slips/lab.yaml:32: check `named`: `cel` at column 15: `objects` is no variable here: the object being checked is `object` (and the variable a macro such as `all(c, ...)` names).",
        "slips/lab.yaml:35: check `untranslated`: missing field `zh` in `reason`",
        "slips/manifests/svc.yaml:5: `metadata.namespace: slips` hard-codes a namespace: leave it out; kubelab puts the object into the lab's `namespace` (`slips`), and into the learner's own namespace in a workshop",
    ];
    for line in expected {
        assert!(lines.contains(&line), "missing {line:?} in:\n{stderr}");
    }
    // Malformed checks: the wording belongs to the check language; the place is ours.
    for prefix in [
        "mistakes/lab.yaml:22: check `both-ways`: ",
        "mistakes/lab.yaml:26: check `bad-operator`: ",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(prefix)),
            "missing {prefix:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("$oper"), "{stderr}");
    // Manifests a workshop cannot take, in a lab offered to workshops: at the field at fault.
    for (place, why) in [
        (
            "unsafe/manifests/rbac.yaml:8: RoleBinding make-me-admin",
            "it binds the ClusterRole cluster-admin",
        ),
        (
            "unsafe/manifests/rbac.yaml:12: RoleBinding make-me-admin",
            "it grants rights to a Group (system:authenticated)",
        ),
        (
            "unsafe/manifests/rbac.yaml:23: Role everything",
            "a rule grants `*` in apiGroups",
        ),
        (
            "unsafe/manifests/reach.yaml:5: ConfigMap elsewhere",
            "it names the namespace kube-system",
        ),
        (
            "unsafe/manifests/reach.yaml:8: StorageClass fast",
            "StorageClass is a cluster-wide kind",
        ),
        (
            "unsafe/manifests/reach.yaml:18: Service hijack",
            "spec.externalIPs would capture traffic",
        ),
        (
            "unsafe/manifests/reach.yaml:26: Secret forever",
            "a kubernetes.io/service-account-token Secret holds a token that never expires",
        ),
    ] {
        let expected = format!("{place} cannot be set up in a workshop because {why}");
        assert!(
            lines.iter().any(|l| l.starts_with(&expected)
                && l.ends_with("change the manifest, or write `modes: [local]` in lab.yaml")),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(
        lines
            .last()
            .is_some_and(|l| l.ends_with("problem(s) found")),
        "{stderr}"
    );
}

#[test]
fn a_folder_without_labs_is_a_problem() {
    let dir = tempfile::tempdir().expect("a temp dir");
    std::fs::write(dir.path().join("README.md"), "# nothing here").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .expect("the kubelab binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("no labs found"), "{stderr}");
}

/// Copies the good fixture into a temp folder and lets `change` spoil it.
fn spoiled(change: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temp dir");
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/labs/good");
    copy_dir(&from, dir.path());
    change(&dir.path().join("hello"));
    dir
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// Runs `kubelab validate` on `dir`; a run still going after a minute is a hang (killed).
fn validate_path(dir: &Path) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .arg("validate")
        .arg(dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the kubelab binary runs");
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!(
        "kubelab validate did not finish within a minute on {}",
        dir.display()
    );
}

#[test]
fn hostile_markdown_is_refused_with_file_and_line_instead_of_hanging() {
    let dir = spoiled(|lab| {
        let text = format!("# Read it back\n\n{}deep\n", "> ".repeat(50_000));
        std::fs::write(lab.join("steps/read-map.en.md"), text).expect("write");
        std::fs::write(lab.join("steps/read-map.zh.md"), b"# \xff\xfe\n").expect("write");
    });
    let out = validate_path(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("hello/steps/read-map.en.md:3: the text nests block quotes, lists or HTML more than 24 levels deep here; flatten it"),
        "{stderr}"
    );
    assert!(
        stderr
            .contains("hello/steps/read-map.zh.md:1: the file is not UTF-8 text: save it as UTF-8"),
        "{stderr}"
    );
}

#[test]
fn svg_tricks_are_refused_with_file_and_line() {
    let dir = spoiled(|lab| {
        std::fs::create_dir_all(lab.join("images")).expect("mkdir");
        let svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" xmlns:svg=\"http://www.w3.org/2000/svg\">\n\
                   <svg:script>alert(1)</svg:script>\n\
                   <rect\nonload=\"alert(2)\"/>\n\
                   <a href=\"&#106;avascript:alert(3)\"><text>x</text></a>\n\
                   <foreignObject><div xmlns=\"http://www.w3.org/1999/xhtml\">x</div></foreignObject>\n\
                   </svg>\n";
        std::fs::write(lab.join("images/tricks.svg"), svg).expect("write");
        let step = std::fs::read_to_string(lab.join("steps/read-map.en.md")).expect("read");
        std::fs::write(
            lab.join("steps/read-map.en.md"),
            format!("{step}\n![tricks](images/tricks.svg)\n"),
        )
        .expect("write");
    });
    let out = validate_path(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for expected in [
        "hello/images/tricks.svg:2: the SVG contains a <script> element",
        "hello/images/tricks.svg:3: the SVG contains an event-handler attribute (onload=)",
        "hello/images/tricks.svg:5: the SVG contains a javascript: URL (in href=)",
        "hello/images/tricks.svg:6: the SVG contains a <foreignObject> element",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn hard_coded_namespaces_and_unknown_placeholders_are_reported_with_file_and_line() {
    let dir = spoiled(|lab| {
        std::fs::write(
            lab.join("steps/read-map.en.md"),
            "Read it:\n\n```shell\nkubectl get configmap base-map -n fly-k8s -o yaml\n```\n\n\
             Or with `kubectl get cm -n {kubelab:namespace}` in {kubelab:ns}.\n",
        )
        .expect("write");
        let yaml = std::fs::read_to_string(lab.join("lab.yaml")).expect("read");
        let yaml = yaml.replace(
            "      - {en: \"kubectl apply -f base-map.yaml\", zh: \"kubectl apply -f base-map.yaml\"}",
            "      - {en: \"kubectl apply -f base-map.yaml --namespace=fly-k8s\", zh: \"kubectl apply -f base-map.yaml -n {kubelab:namespace}\"}",
        );
        let yaml = yaml.replace(
            "{en: Read it back,",
            "{en: \"Read it back in {kubelab:namespace}\",",
        );
        std::fs::write(lab.join("lab.yaml"), yaml).expect("write");
    });
    let out = validate_path(dir.path());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    for expected in [
        "hello/steps/read-map.en.md:4: `-n fly-k8s` names the lab's namespace, which is not the reader's in a workshop: write `-n {kubelab:namespace}`",
        "hello/steps/read-map.en.md:7: unknown placeholder `{kubelab:ns}`: the placeholders are `{kubelab:namespace}` and `{kubelab:node}`",
        "hello/lab.yaml:23: `--namespace=fly-k8s` names the lab's namespace, which is not the reader's in a workshop: write `--namespace={kubelab:namespace}`",
        "hello/lab.yaml:25: `{kubelab:namespace}` is not rendered in `steps.title`: placeholders work in step and intro texts, hints, a check's title, reason, question, describe and pending reason, and its expectations and CEL",
    ] {
        assert!(
            lines.iter().any(|l| l.ends_with(expected)),
            "missing {expected:?} in:\n{stderr}"
        );
    }
    assert!(stderr.contains("4 problem(s) found"), "{stderr}");
}

#[test]
fn the_shipped_labs_validate() {
    let out = validate("labs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
}
