//! CEL expressions over `object` (the Kubernetes object being checked), compiled once per check.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, PoisonError};

use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelUInt,
};
use cel::common::value::Val;
use cel::{Context, Env, Program};
use serde_json::Value;

use super::template::{self, Values};

mod names;

// The standard environment is immutable once built; sharing it avoids rebuilding the function
// registry for every object. Kubernetes' CEL has `base64.decode`/`base64.encode` (cel-go's
// encoders extension), which labs need to look inside Secrets.
static STDLIB: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    if let Err(e) = env.add_extension(cel::extensions::encoders) {
        tracing::error!("CEL's base64 extension could not be registered: {e}");
    }
    Arc::new(env)
});

/// A compiled CEL expression.
pub struct CelExpr {
    source: String,
    program: Arc<Program>,
    fields: Option<Vec<String>>,
    // With placeholders, the program is compiled per reader (from the rendered source), once.
    templated: bool,
}

/// Why a CEL expression cannot be used: what is wrong and where (a character offset into the
/// expression as written, when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelError {
    /// 0-based character offset in the expression.
    pub offset: Option<usize>,
    /// What is wrong, for the lab author.
    pub message: String,
    /// The expression does not parse (rather than naming what does not exist).
    pub syntax: bool,
}

impl std::fmt::Display for CelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.offset {
            Some(offset) => write!(f, "at column {}: {}", offset + 1, self.message),
            None => f.write_str(&self.message),
        }
    }
}

// Parsing CEL costs far more than evaluating it: expressions with placeholders are parsed once
// per reader's rendering and kept, up to a bound.
fn cached_program(source: &str) -> Result<Arc<Program>, CelError> {
    const MAX_CACHED: usize = 4096;
    static CACHE: LazyLock<Mutex<HashMap<String, Arc<Program>>>> = LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(program) = cache.get(source) {
        return Ok(Arc::clone(program));
    }
    let program = Arc::new(parse(source)?);
    if cache.len() >= MAX_CACHED {
        cache.clear();
    }
    cache.insert(source.to_owned(), Arc::clone(&program));
    Ok(program)
}

fn parse(source: &str) -> Result<Program, CelError> {
    STDLIB.compile(source).map_err(|errors| {
        let first = errors.errors.first();
        CelError {
            offset: first.and_then(|e| offset_of(source, e.pos)),
            message: errors
                .errors
                .iter()
                .map(|e| e.msg.clone())
                .collect::<Vec<_>>()
                .join("; "),
            syntax: true,
        }
    })
}

// A parse error's (1-based line, 0-based column) as a character offset.
fn offset_of(source: &str, (line, column): (isize, isize)) -> Option<usize> {
    let line = usize::try_from(line).ok()?.max(1);
    let column = usize::try_from(column).ok()?;
    let before: usize = source
        .split_inclusive('\n')
        .take(line - 1)
        .map(|l| l.chars().count())
        .sum();
    Some(before + column)
}

impl std::fmt::Debug for CelExpr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CelExpr")
            .field("source", &self.source)
            .finish()
    }
}

impl CelExpr {
    /// Parses `source` and checks every variable and function it names; the error says where
    /// and what is wrong. Placeholders (`'{kubelab:namespace}'`) are checked with stand-ins.
    pub fn compile(source: &str) -> Result<CelExpr, CelError> {
        if let Some(message) = template::problems(source).into_iter().next() {
            return Err(CelError {
                offset: source
                    .find(template::PREFIX)
                    .map(|b| source[..b].chars().count()),
                message,
                syntax: false,
            });
        }
        let templated = template::has_placeholder(source);
        let program = if templated {
            let sample = template::render(source, &template::sample(), template::verbatim);
            Arc::new(parse(&sample)?)
        } else {
            Arc::new(parse(source)?)
        };
        if let Some(unknown) = names::unknown(&program, &STDLIB) {
            return Err(unknown);
        }
        Ok(CelExpr {
            source: source.to_owned(),
            program,
            fields: top_level_fields(source),
            templated,
        })
    }

    /// The expression as written.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Evaluates the expression with `object` bound; `Err` when evaluation fails or the result
    /// is not a boolean. Placeholders are rendered with `values` (as written without).
    pub fn eval(&self, object: &Value) -> Result<bool, String> {
        self.eval_for(object, None)
    }

    /// [`CelExpr::eval`] for a reader.
    pub fn eval_for(&self, object: &Value, values: Option<&Values>) -> Result<bool, String> {
        let program = match (self.templated, values) {
            (true, Some(values)) => {
                let rendered = template::render(&self.source, values, template::verbatim);
                cached_program(&rendered).map_err(|e| format!("CEL expression `{rendered}` {e}"))?
            }
            _ => Arc::clone(&self.program),
        };
        let mut context = Context::with_env(Arc::clone(&STDLIB));
        let bound = match (&self.fields, object) {
            (Some(fields), Value::Object(map)) => Box::new(CelMap::from(
                fields
                    .iter()
                    .filter_map(|f| map.get_key_value(f.as_str()))
                    .map(|(k, v)| (CelMapKey::from(k.as_str()), to_val(v)))
                    .collect::<HashMap<_, _>>(),
            )),
            _ => to_val(object),
        };
        context.add_variable_as_val(VARIABLE, bound);
        match program.execute(&context) {
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

/// The one variable a check's CEL sees: the object being checked.
pub const VARIABLE: &str = "object";

// Builds CEL's values straight from the JSON, borrowing its strings instead of copying them.
// Kubernetes' own CEL sees JSON integers as `int`; serde would hand positive ones over as
// `uint`, and `object.spec.replicas + 1` would then fail on mixed types.
fn to_val(value: &Value) -> Box<dyn Val + '_> {
    match value {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Box::new(CelInt::from(i)),
            (None, Some(u)) => Box::new(CelUInt::from(u)),
            _ => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => Box::new(CelString::from(s.as_str())),
        Value::Array(items) => {
            Box::new(CelList::from(items.iter().map(to_val).collect::<Vec<_>>()))
        }
        Value::Object(map) => Box::new(CelMap::from(
            map.iter()
                .map(|(k, v)| (CelMapKey::from(k.as_str()), to_val(v)))
                .collect::<HashMap<_, _>>(),
        )),
    }
}

// Converting a whole object (with its managedFields) for every evaluation is the main cost
// of CEL here; when `object` only ever appears as `object.<field>`, only those top-level
// fields are converted. `None` means the expression uses `object` some other way: convert all.
fn top_level_fields(source: &str) -> Option<Vec<String>> {
    let bytes = source.as_bytes();
    let is_ident = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut fields: Vec<String> = Vec::new();
    let mut start = 0;
    while let Some(found) = source[start..].find("object") {
        let at = start + found;
        let end = at + "object".len();
        start = end;
        let before = at.checked_sub(1).map(|i| bytes[i]);
        if before.is_some_and(|b| is_ident(b) || b == b'.')
            || bytes.get(end).is_some_and(|b| is_ident(*b))
        {
            continue;
        }
        let rest = source[end..].trim_start();
        let field_start = rest.strip_prefix('.')?.trim_start();
        let len = field_start.bytes().take_while(|b| is_ident(*b)).count();
        if len == 0 {
            return None;
        }
        let field = &field_start[..len];
        if !fields.iter().any(|f| f == field) {
            fields.push(field.to_owned());
        }
    }
    Some(fields)
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
    fn only_the_fields_used_are_converted() {
        assert_eq!(
            top_level_fields("has(object.status) && object.status.x == object.spec.y"),
            Some(vec!["status".to_owned(), "spec".to_owned()])
        );
        assert_eq!(
            top_level_fields("object . metadata.name == 'a'"),
            Some(vec!["metadata".to_owned()])
        );
        assert_eq!(top_level_fields("size(object) > 2"), None);
        assert_eq!(top_level_fields("object['spec'] != null"), None);
        assert_eq!(top_level_fields("myobject.x || object_2.y"), Some(vec![]));
        // A bare `object` still sees everything.
        let all = CelExpr::compile("size(object) == 5 && object.kind == 'Deployment'").unwrap();
        assert_eq!(all.eval(&deployment(None)), Ok(true));
        let has_kind = CelExpr::compile("has(object.kind) && !has(object.other)").unwrap();
        assert_eq!(has_kind.eval(&deployment(None)), Ok(true));
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
    fn base64_decodes_a_dockerconfigjson() {
        use base64::Engine as _;
        use base64::prelude::BASE64_STANDARD;
        let config = r#"{"auths":{"registry.example.com":{"username":"fly","password":"s3cret","auth":"Zmx5OnMzY3JldA=="}}}"#;
        let secret = json!({
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "regcred", "namespace": "fly-k8s"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": BASE64_STANDARD.encode(config)}
        });
        let has_server = CelExpr::compile(
            "string(base64.decode(object.data['.dockerconfigjson'])).contains('\"registry.example.com\"')",
        )
        .unwrap();
        assert_eq!(has_server.eval(&secret), Ok(true));
        let other_server = CelExpr::compile(
            "string(base64.decode(object.data['.dockerconfigjson'])).contains('docker.io')",
        )
        .unwrap();
        assert_eq!(other_server.eval(&secret), Ok(false));
        let round_trip =
            CelExpr::compile("base64.encode(base64.decode(object.data['.dockerconfigjson'])) == object.data['.dockerconfigjson']")
                .unwrap();
        assert_eq!(round_trip.eval(&secret), Ok(true));
        // The shape `kubectl create secret docker-registry` writes, as the secret lab checks it.
        let lab = CelExpr::compile(
            r#"has(object.data) && '.dockerconfigjson' in object.data && string(base64.decode(object.data['.dockerconfigjson'])).matches('"auths"\\s*:\\s*\\{\\s*"[^"]+"\\s*:\\s*\\{[^{}]*"auth"\\s*:\\s*"[^"]+"')"#,
        )
        .unwrap();
        assert_eq!(lab.eval(&secret), Ok(true));
        let no_auth = json!({"data": {".dockerconfigjson": BASE64_STANDARD.encode(r#"{"auths":{"registry.example.com":{}}}"#)}});
        assert_eq!(lab.eval(&no_auth), Ok(false));
        let broken = json!({"data": {".dockerconfigjson": "not base64!"}});
        let err = has_server.eval(&broken).unwrap_err();
        assert!(err.contains("could not be evaluated"), "{err}");
    }

    #[test]
    fn parse_errors_are_one_line_with_their_offset() {
        let err = CelExpr::compile("object.spec.replicas ==").unwrap_err();
        assert!(err.to_string().starts_with("at column "), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
        assert!(err.offset.is_some(), "{err:?}");
        let second_line =
            CelExpr::compile("object.spec.replicas >= 1 &&\n  object.x ==").unwrap_err();
        assert!(second_line.offset.unwrap() > 29, "{second_line:?}");
        assert!(CelExpr::compile("object.spec.replicas >= 1").is_ok());
    }

    #[test]
    fn placeholders_are_rendered_for_each_reader() {
        let binding = json!({"subjects": [
            {"kind": "ServiceAccount", "name": "reader", "namespace": "kl-a-1"}
        ]});
        let expr = CelExpr::compile(
            "object.subjects.exists(s, s.kind == 'ServiceAccount' && s.namespace == '{kubelab:namespace}')",
        )
        .unwrap();
        let reader = |ns: &str| Values {
            namespace: ns.to_owned(),
            node: "n".to_owned(),
        };
        assert_eq!(expr.eval_for(&binding, Some(&reader("kl-a-1"))), Ok(true));
        assert_eq!(expr.eval_for(&binding, Some(&reader("kl-b-2"))), Ok(false));
        assert_eq!(expr.eval(&binding), Ok(false));
        let unknown = CelExpr::compile("object.metadata.namespace == '{kubelab:ns}'").unwrap_err();
        assert!(
            unknown.message.contains("unknown placeholder"),
            "{unknown:?}"
        );
        assert_eq!(unknown.offset, Some(30));
    }
}
