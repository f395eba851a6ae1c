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
