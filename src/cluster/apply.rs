//! Server-side apply of one object, telling created, configured and unchanged apart.
//!
//! kube-rs's `Api::patch` hides the HTTP status, so the PATCH is sent with `Client::send`: the
//! status code says 201 Created straight from the API server (no race with another writer). A
//! 200 does not say whether anything changed, so the object's resourceVersion is read first and
//! compared with the one the apply returns (an identical re-apply is a true no-op on the server:
//! same resourceVersion).

use kube::api::{Patch, PatchParams};
use kube::core::{DynamicObject, Resource};
use serde_json::Value;

use super::discovery::Resolved;
use super::error::{from_kube, from_status};
use super::{ApplyAction, ClusterError, FIELD_MANAGER, ObjectKey};

/// What identifies the object to apply, read from the manifest.
pub(crate) struct Target {
    pub api_version: String,
    pub kind: String,
    /// `metadata.name`.
    pub name: String,
    /// `metadata.namespace`, when given.
    pub namespace: Option<String>,
}

/// Reads apiVersion, kind and name, refusing objects without them.
pub(crate) fn target(object: &Value) -> Result<Target, ClusterError> {
    let Some(map) = object.as_object() else {
        return Err(ClusterError::InvalidObject(
            "a Kubernetes object must be a map".into(),
        ));
    };
    let field = |value: Option<&Value>, what: &str| -> Result<String, ClusterError> {
        match value {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(s.clone()),
            Some(Value::String(_)) | None | Some(Value::Null) => Err(ClusterError::InvalidObject(
                format!("the object has no {what}"),
            )),
            Some(_) => Err(ClusterError::InvalidObject(format!(
                "{what} must be a string"
            ))),
        }
    };
    let api_version = field(map.get("apiVersion"), "apiVersion")?;
    let kind = field(map.get("kind"), "kind")?;
    let metadata = map.get("metadata");
    if metadata.is_some_and(|m| !m.is_object()) {
        return Err(ClusterError::InvalidObject("metadata must be a map".into()));
    }
    let name = field(metadata.and_then(|m| m.get("name")), "metadata.name")?;
    let namespace = match metadata.and_then(|m| m.get("namespace")) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        ns => Some(field(ns, "metadata.namespace")?),
    };
    Ok(Target {
        api_version,
        kind,
        name,
        namespace,
    })
}

/// The object as it will be sent: namespace set for namespaced kinds, removed otherwise.
pub(crate) fn prepared(object: &Value, namespace: Option<&str>) -> Value {
    let mut body = object.clone();
    if let Some(metadata) = body.get_mut("metadata").and_then(Value::as_object_mut) {
        match namespace {
            Some(ns) => {
                metadata.insert("namespace".into(), Value::String(ns.to_owned()));
            }
            None => {
                metadata.remove("namespace");
            }
        }
    }
    body
}

/// Applies `body` (already prepared) and reports what happened; with `dry_run` the server only
/// says what the object would become (nothing is stored).
pub(crate) async fn apply(
    client: &kube::Client,
    server: &str,
    resolved: &Resolved,
    key: &ObjectKey,
    body: &Value,
    dry_run: bool,
) -> Result<(ApplyAction, Value), ClusterError> {
    let url = DynamicObject::url_path(&resolved.resource, key.namespace.as_deref());
    let before = current_resource_version(client, server, &url, &key.name).await?;

    let mut params = PatchParams::apply(FIELD_MANAGER).force();
    if dry_run {
        params = params.dry_run();
    }
    let request = kube::core::Request::new(&url)
        .patch(&key.name, &params, &Patch::Apply(body))
        .map_err(|e| ClusterError::InvalidObject(e.to_string()))?;
    let response = client
        .send(request.map(kube::client::Body::from))
        .await
        .map_err(|e| from_kube(e, server))?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect_bytes()
        .await
        .map_err(|e| from_kube(e, server))?;
    if !status.is_success() {
        return Err(from_status(&error_status(status, &bytes), server));
    }
    let object: Value = serde_json::from_slice(&bytes)
        .map_err(|e| from_kube(kube::Error::SerdeError(e), server))?;
    let after = object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str);
    let action = if status == http::StatusCode::CREATED {
        ApplyAction::Created
    } else if before.is_some() && before.as_deref() == after {
        ApplyAction::Unchanged
    } else {
        ApplyAction::Configured
    };
    Ok((action, object))
}

/// The object's resourceVersion, or `None` when it does not exist.
async fn current_resource_version(
    client: &kube::Client,
    server: &str,
    url: &str,
    name: &str,
) -> Result<Option<String>, ClusterError> {
    let request = kube::core::Request::new(url)
        .get(name, &Default::default())
        .map_err(|e| ClusterError::InvalidObject(e.to_string()))?;
    match client.request::<DynamicObject>(request).await {
        Ok(meta) => Ok(meta.metadata.resource_version),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(None),
        Err(e) => Err(from_kube(e, server)),
    }
}

/// The `Status` of a failed request; a body that is not one (a proxy's HTML page) is kept as
/// the message.
fn error_status(code: http::StatusCode, body: &[u8]) -> kube::core::Status {
    match serde_json::from_slice::<kube::core::Status>(body) {
        Ok(status) if status.code != 0 => status,
        Ok(status) => status.with_code(code.as_u16()),
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            kube::core::Status::failure(text.trim(), "").with_code(code.as_u16())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn objects_without_identity_are_refused() {
        for (object, missing) in [
            (
                json!({"kind": "ConfigMap", "metadata": {"name": "a"}}),
                "apiVersion",
            ),
            (
                json!({"apiVersion": "v1", "metadata": {"name": "a"}}),
                "kind",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap"}),
                "metadata.name",
            ),
            (
                json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": ""}}),
                "metadata.name",
            ),
            (json!(["not", "a", "map"]), "map"),
        ] {
            match target(&object) {
                Err(ClusterError::InvalidObject(message)) => {
                    assert!(
                        message.contains(missing),
                        "{message} should mention {missing}"
                    )
                }
                other => panic!("{object} gave {:?}", other.map(|t| t.name)),
            }
        }
    }

    #[test]
    fn namespace_is_filled_in_or_removed() {
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}});
        let body = prepared(&object, Some("fly-k8s"));
        assert_eq!(body["metadata"]["namespace"], "fly-k8s");
        let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n", "namespace": "x"}});
        assert!(prepared(&node, None)["metadata"].get("namespace").is_none());
    }

    #[test]
    fn error_bodies_that_are_not_status_keep_their_text() {
        let status = error_status(http::StatusCode::BAD_GATEWAY, b"<html>bad gateway</html>");
        assert_eq!(status.code, 502);
        assert_eq!(status.message, "<html>bad gateway</html>");
    }
}
