//! CEL expressions over `object` (the Kubernetes object being checked), compiled once per check.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock};

use cel::{Context, Env, Program};
use serde_json::Value;

// The standard environment is immutable once built; sharing it avoids rebuilding the function
// registry for every object.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| Arc::new(Env::stdlib()));

/// A compiled CEL expression.
pub struct CelExpr {
    source: String,
    program: Program,
}

impl std::fmt::Debug for CelExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelExpr")
            .field("source", &self.source)
            .finish()
    }
}

impl CelExpr {
    /// Parses `source`; the error is one line saying where and what is wrong.
    pub fn compile(source: &str) -> Result<CelExpr, String> {
        let program = Program::compile(source).map_err(|errors| {
            errors
                .errors
                .iter()
                .map(|e| format!("at column {}: {}", e.pos.1 + 1, e.msg))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        Ok(CelExpr {
            source: source.to_owned(),
            program,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with `object` bound; `Err` when evaluation fails or the result
    /// is not a boolean.
    pub fn eval(&self, object: &Value) -> Result<bool, String> {
        let mut context = Context::with_env(Arc::clone(&STDLIB));
        context.add_variable_from_value("object", to_cel(object));
        match self.program.execute(&context) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!(
                "CEL expression `{}` gave {}, not true or false",
                self.source,
                describe(&other)
            )),
            Err(e) => Err(format!(
                "CEL expression `{}` could not be evaluated: {e}",
                self.source
            )),
        }
    }
}

// Kubernetes' own CEL sees JSON integers as `int`; serde would hand positive ones over as
// `uint`, and `object.spec.replicas + 1` would then fail on mixed types.
fn to_cel(value: &Value) -> cel::Value {
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => cel::Value::Int(i),
            (None, Some(u)) => cel::Value::UInt(u),
            _ => cel::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(items) => cel::Value::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(map) => {
            let map: HashMap<cel::objects::Key, cel::Value> = map
                .iter()
                .map(|(k, v)| (cel::objects::Key::from(k.clone()), to_cel(v)))
                .collect();
            cel::Value::Map(map.into())
        }
    }
}

fn describe(value: &cel::Value) -> String {
    match value {
        cel::Value::Int(i) => format!("the int {i}"),
        cel::Value::UInt(u) => format!("the uint {u}"),
        cel::Value::Float(f) => format!("the double {f}"),
        cel::Value::String(s) => format!("the string {:?}", s.as_str()),
        cel::Value::Null => "null".to_owned(),
        other => format!("a {}", other.type_of()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment(ready: Option<i64>) -> Value {
        let mut d = json!({
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": "nginx-deployment", "namespace": "fly-k8s", "labels": {"app": "nginx"}},
            "spec": {"replicas": 3, "template": {"spec": {"containers": [
                {"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}
            ]}}},
            "status": {"replicas": 3, "updatedReplicas": 3, "observedGeneration": 2}
        });
        if let Some(r) = ready {
            d["status"]["readyReplicas"] = json!(r);
        }
        d
    }

    #[test]
    fn true_and_false_results() {
        let expr = CelExpr::compile("object.status.readyReplicas == object.spec.replicas").unwrap();
        assert_eq!(expr.eval(&deployment(Some(3))), Ok(true));
        assert_eq!(expr.eval(&deployment(Some(1))), Ok(false));
        let has = CelExpr::compile(
            "has(object.status.readyReplicas) && object.status.readyReplicas >= 2",
        )
        .unwrap();
        assert_eq!(has.eval(&deployment(None)), Ok(false));
        let arithmetic =
            CelExpr::compile("object.spec.replicas + 1 == 4 && object.spec.replicas * 2 > 5")
                .unwrap();
        assert_eq!(arithmetic.eval(&deployment(None)), Ok(true));
        let macro_expr = CelExpr::compile(
            "object.spec.template.spec.containers.all(c, c.image.startsWith('nginx:'))",
        )
        .unwrap();
        assert_eq!(macro_expr.eval(&deployment(Some(3))), Ok(true));
        let labels = CelExpr::compile("object.metadata.labels['app'] == 'nginx'").unwrap();
        assert_eq!(labels.eval(&deployment(None)), Ok(true));
    }

    #[test]
    fn missing_field_is_an_error() {
        let expr = CelExpr::compile("object.status.readyReplicas == 3").unwrap();
        let err = expr.eval(&deployment(None)).unwrap_err();
        assert!(
            err.starts_with(
                "CEL expression `object.status.readyReplicas == 3` could not be evaluated:"
            ),
            "{err}"
        );
        assert!(err.contains("readyReplicas"), "{err}");
    }

    #[test]
    fn non_boolean_result_is_an_error() {
        let expr = CelExpr::compile("object.spec.replicas").unwrap();
        assert_eq!(
            expr.eval(&deployment(None)).unwrap_err(),
            "CEL expression `object.spec.replicas` gave the int 3, not true or false"
        );
        let s = CelExpr::compile("object.metadata.name").unwrap();
        assert_eq!(
            s.eval(&deployment(None)).unwrap_err(),
            "CEL expression `object.metadata.name` gave the string \"nginx-deployment\", not true or false"
        );
    }

    #[test]
    fn parse_errors_are_one_line() {
        let err = CelExpr::compile("object.spec.replicas ==").unwrap_err();
        assert!(err.starts_with("at column "), "{err}");
        assert!(!err.contains('\n'), "{err}");
        assert!(CelExpr::compile("object.spec.replicas >= 1").is_ok());
    }
}
