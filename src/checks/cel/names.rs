//! Every variable and function a CEL expression names, checked against what a check's CEL
//! has: the variable `object`, the variables of its macros (`all(c, …)`), CEL's types and
//! standard functions, and Kubernetes' `base64`. A name that does not exist would fail at run
//! time — or, inside `has()`, quietly evaluate to false and tell the learner they are wrong.

use std::sync::Arc;

use cel::common::ast::{EntryExpr, Expr, IdedExpr};
use cel::{Context, Env, ExecutionError, Program};

use super::{CelError, VARIABLE};

/// The first name in `program` that is neither a variable nor a function CEL has.
pub(super) fn unknown(program: &Program, env: &Arc<Env>) -> Option<CelError> {
    let mut scope = vec![VARIABLE.to_owned()];
    let mut found = None;
    walk(program.expression(), &mut scope, env, &mut found);
    let (id, message) = found?;
    let offset = program
        .source_info()
        .offset_for(id)
        .and_then(|(start, _)| usize::try_from(start).ok());
    Some(CelError {
        offset,
        message,
        syntax: false,
    })
}

fn walk(
    node: &IdedExpr,
    scope: &mut Vec<String>,
    env: &Arc<Env>,
    found: &mut Option<(u64, String)>,
) {
    if found.is_some() {
        return;
    }
    match &node.expr {
        Expr::Ident(name) => {
            if !scope.iter().any(|v| v == name) && !is_type(name, env) {
                *found = Some((node.id, unknown_variable(name)));
            }
        }
        Expr::Select(select) => walk(&select.operand, scope, env, found),
        Expr::Call(call) => {
            if let Some(qualified) = qualified_call(call.target.as_deref(), &call.func_name, scope)
            {
                if !function_exists(&qualified, false, env) {
                    *found = Some((node.id, unknown_function(&qualified)));
                }
            } else {
                let member = call.target.is_some();
                if is_identifier(&call.func_name) && !function_exists(&call.func_name, member, env)
                {
                    *found = Some((node.id, unknown_function(&call.func_name)));
                }
                if let Some(target) = &call.target {
                    walk(target, scope, env, found);
                }
            }
            for arg in &call.args {
                walk(arg, scope, env, found);
            }
        }
        Expr::Comprehension(c) => {
            walk(&c.iter_range, scope, env, found);
            walk(&c.accu_init, scope, env, found);
            let before = scope.len();
            scope.push(c.iter_var.clone());
            scope.extend(c.iter_var2.clone());
            scope.push(c.accu_var.clone());
            for part in [&c.loop_cond, &c.loop_step, &c.result] {
                walk(part, scope, env, found);
            }
            scope.truncate(before);
        }
        Expr::List(list) => {
            for element in &list.elements {
                walk(element, scope, env, found);
            }
        }
        Expr::Map(map) => {
            for entry in &map.entries {
                walk_entry(&entry.expr, scope, env, found);
            }
        }
        Expr::Struct(s) => {
            for entry in &s.entries {
                walk_entry(&entry.expr, scope, env, found);
            }
        }
        Expr::Literal(_) | Expr::Unspecified => {}
    }
}

fn walk_entry(
    entry: &EntryExpr,
    scope: &mut Vec<String>,
    env: &Arc<Env>,
    found: &mut Option<(u64, String)>,
) {
    match entry {
        EntryExpr::StructField(field) => walk(&field.value, scope, env, found),
        EntryExpr::MapEntry(entry) => {
            walk(&entry.key, scope, env, found);
            walk(&entry.value, scope, env, found);
        }
    }
}

// `base64.decode(x)` is the function `base64.decode`, not `decode` called on a variable
// `base64`: a target spelling a dotted name whose first part is no variable in scope.
fn qualified_call(target: Option<&IdedExpr>, function: &str, scope: &[String]) -> Option<String> {
    let mut parts = vec![function.to_owned()];
    let mut current = target?;
    loop {
        match &current.expr {
            Expr::Select(select) if !select.test => {
                parts.push(select.field.clone());
                current = &select.operand;
            }
            Expr::Ident(name) if !scope.iter().any(|v| v == name) => {
                parts.push(name.clone());
                parts.reverse();
                return Some(parts.join("."));
            }
            _ => return None,
        }
    }
}

// Operators (`_==_`, `!_`, `@in`) are the parser's own.
fn is_identifier(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

// Asking CEL itself keeps this exact for every version of the crate: a call of a function
// that exists with no arguments fails on its overloads, a call of one that does not exist
// fails as an undeclared reference.
fn function_exists(name: &str, member: bool, env: &Arc<Env>) -> bool {
    let source = if member {
        format!("0.{name}()")
    } else {
        format!("{name}()")
    };
    let Ok(program) = env.compile(&source) else {
        return true;
    };
    let context = Context::with_env(Arc::clone(env));
    !matches!(
        program.execute(&context),
        Err(ExecutionError::UndeclaredReference(_))
    )
}

// CEL's type names (`int`, `string`, `null_type`...) are identifiers too.
fn is_type(name: &str, env: &Arc<Env>) -> bool {
    let Ok(program) = env.compile(name) else {
        return false;
    };
    let context = Context::with_env(Arc::clone(env));
    program.execute(&context).is_ok()
}

fn unknown_variable(name: &str) -> String {
    format!(
        "`{name}` is no variable here: the object being checked is `{VARIABLE}` (and the variable a macro such as `all(c, ...)` names)"
    )
}

fn unknown_function(name: &str) -> String {
    format!(
        "CEL has no function `{name}` (see https://kubernetes.io/docs/reference/using-api/cel/ for the functions Kubernetes' CEL has; kubelab has the standard ones and `base64`)"
    )
}

#[cfg(test)]
mod tests {
    use super::super::CelExpr;

    fn error(source: &str) -> String {
        CelExpr::compile(source).unwrap_err().to_string()
    }

    #[test]
    fn known_names_pass() {
        for good in [
            "has(object.status) && object.status.readyReplicas >= 1",
            "object.spec.containers.all(c, c.image.startsWith('nginx:'))",
            "object.spec.containers.exists(c, has(c.ports) && c.ports.exists(p, p.containerPort == 80))",
            "size(object.data) > 0 && 'a' in object.data",
            "string(base64.decode(object.data['x'])).contains('y')",
            "type(object.spec.replicas) == int && int('3') == 3 && double(1) > 0.5",
            "object.metadata.name.matches('^web-') && object.metadata.name.endsWith('x')",
            "object.spec.containers.map(c, c.name).filter(n, n != 'x').size() >= 0",
            "[1, 2].exists_one(x, x == 1) && {'a': 1}['a'] == 1 && object.x != null",
        ] {
            assert!(
                CelExpr::compile(good).is_ok(),
                "{good}: {:?}",
                CelExpr::compile(good)
            );
        }
    }

    #[test]
    fn unknown_variables_are_named_with_their_column() {
        let err = error("has(objects.status) && object.x == 1");
        assert!(
            err.starts_with("at column 5: `objects` is no variable here"),
            "{err}"
        );
        let err = error("object.spec.containers.all(c, d.image == 'x')");
        assert!(err.contains("`d` is no variable here"), "{err}");
    }

    #[test]
    fn unknown_functions_are_named() {
        let err = error("nosuchfn(object)");
        assert!(err.contains("CEL has no function `nosuchfn`"), "{err}");
        let err = error("has(object.x) && object.metadata.name.startswith('a')");
        assert!(err.contains("no function `startswith`"), "{err}");
        let err = error("base64.decodez(object.data.x) == 'a'");
        assert!(err.contains("no function `base64.decodez`"), "{err}");
    }
}
