//! The `kubectl` of an image that ships one (kubelab's toolbox, `alpine/k8s`), as far as the
//! tests type it: `kubectl get pods [-n NS]`, run in-cluster with the Pod's ServiceAccount and
//! namespace, authorized by the fake's RBAC, printed as kubectl's table. Anything else gets a
//! clear "not emulated" error rather than a made-up answer.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::exec::ExecReply;
use super::rbac::{self, Attributes, Identity};
use super::state::{self, State};

/// Whether the container `container` of `pod` runs an image that has kubectl.
pub fn has_kubectl(pod: &Value, container: &str) -> bool {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == container)
        .filter_map(|c| c["image"].as_str())
        .any(|image| {
            ["/k8s:", "kubectl", "toolbox"]
                .iter()
                .any(|m| image.contains(m))
        })
}

/// Runs `kubectl ARGS` inside `pod`.
pub fn run(s: &State, pod: &Value, args: &[String]) -> ExecReply {
    let own_namespace = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let Some((resource, namespace)) = parse_get(args) else {
        return ExecReply::fail(
            format!(
                "error: the test fake's kubectl answers only `kubectl get pods [-n NS]`, not `kubectl {}`\n",
                args.join(" ")
            ),
            1,
        );
    };
    let namespace = namespace.unwrap_or_else(|| own_namespace.to_string());
    let who = Identity::ServiceAccount {
        namespace: own_namespace.to_string(),
        name: pod["spec"]["serviceAccountName"]
            .as_str()
            .unwrap_or("default")
            .to_string(),
    };
    let asked = Attributes {
        verb: "list".into(),
        resource_request: true,
        resource: resource.into(),
        namespace: namespace.clone(),
        ..Attributes::default()
    };
    if rbac::decide(s, &who, &asked).is_err() {
        let denied = rbac::forbidden(&who, &asked);
        let message = denied.body["message"].as_str().unwrap_or("forbidden");
        return ExecReply::fail(format!("Error from server (Forbidden): {message}\n"), 1);
    }
    let pods = s.list(&state::resource("v1", "Pod"), Some(&namespace));
    if pods.is_empty() {
        return ExecReply {
            stderr: format!("No resources found in {namespace} namespace.\n"),
            ..ExecReply::ok("")
        };
    }
    let mut rows = vec![["NAME", "READY", "STATUS", "RESTARTS", "AGE"].map(String::from)];
    rows.extend(pods.iter().map(pod_row));
    ExecReply::ok(table(&rows))
}

/// `get pods|pod|po` with an optional `-n NS` / `--namespace NS` / `--namespace=NS`.
fn parse_get(args: &[String]) -> Option<(&'static str, Option<String>)> {
    let mut words = Vec::new();
    let mut namespace = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "-n" | "--namespace" => namespace = Some(it.next()?.clone()),
            flag if flag.starts_with("--namespace=") => {
                namespace = Some(flag["--namespace=".len()..].to_string());
            }
            flag if flag.starts_with('-') => return None,
            word => words.push(word),
        }
    }
    match words.as_slice() {
        ["get", "pods" | "pod" | "po"] => Some(("pods", namespace)),
        _ => None,
    }
}

fn pod_row(pod: &Value) -> [String; 5] {
    let statuses = pod["status"]["containerStatuses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let total = pod["spec"]["containers"].as_array().map_or(0, Vec::len);
    let ready = statuses.iter().filter(|c| c["ready"] == true).count();
    let restarts: i64 = statuses
        .iter()
        .filter_map(|c| c["restartCount"].as_i64())
        .sum();
    let status = if pod["metadata"]["deletionTimestamp"].is_string() {
        "Terminating"
    } else {
        pod["status"]["phase"].as_str().unwrap_or("Pending")
    };
    [
        pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
        format!("{ready}/{total}"),
        status.to_string(),
        restarts.to_string(),
        age(pod["metadata"]["creationTimestamp"].as_str().unwrap_or("")),
    ]
}

/// kubectl's short age: `42s`, `3m12s` under ten minutes, `25m`, `4h`.
fn age(created: &str) -> String {
    let Ok(t) = OffsetDateTime::parse(created, &Rfc3339) else {
        return "<unknown>".into();
    };
    let secs = (OffsetDateTime::now_utc() - t).whole_seconds().max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 3 * 3600 => format!("{}m", s / 60),
        s => format!("{}h", s / 3600),
    }
}

/// Columns padded to their widest cell plus three spaces, as kubectl's tabwriter prints them.
fn table(rows: &[[String; 5]]) -> String {
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = String::new();
            for (i, cell) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(&format!("{cell:<w$}", w = widths[i] + 3));
                }
            }
            line.push('\n');
            line
        })
        .collect()
}
