//! `--set name=value`: parses each override as the value of `let x = <value>`,
//! folds it to a constant and checks it against the root param's declared type,
//! then has the checker check the file again with the new values in place
//! (`pipe_lang::check::check_with_overrides`), so a value set here meets the
//! range, choice and argument checks a value written in the file meets, with
//! the same codes. A `str` param takes unquoted text as it is (`--set
//! data=/path/to/dir`). Only root `param`s can be overridden. This module never
//! changes the program; lowering substitutes the values.

use crate::frontend::FrontendError;
use crate::loader::DiskLoader;
use pipe_lang::ast::StmtKind;
use pipe_lang::catalog::Catalog;
use pipe_lang::diagnostic::Diagnostic;
use pipe_lang::program::{BindingKind, Module, Program};
use pipe_lang::types::Type;
use pipe_lang::value::Value;
use std::collections::BTreeMap;

/// Parses every `name=value` (`parse`) and checks the file with those values
/// (`checked`): a malformed `--set` is a usage error, a value the checker
/// refuses is an error in the input, rendered like one in the file.
pub fn apply(
    program: &Program,
    sets: &[String],
    catalog: &dyn Catalog,
    color: bool,
) -> Result<BTreeMap<String, Value>, FrontendError> {
    let overrides = parse(program, sets).map_err(|e| FrontendError::Usage(e.to_string()))?;
    checked(program, sets, &overrides, catalog, color)?;
    Ok(overrides)
}

/// The checker's errors for the file with `overrides` in place of the params'
/// values, each with a label on the param saying which `--set` changed it.
fn checked(
    program: &Program,
    sets: &[String],
    overrides: &BTreeMap<String, Value>,
    catalog: &dyn Catalog,
    color: bool,
) -> Result<(), FrontendError> {
    if overrides.is_empty() {
        return Ok(());
    }
    let root = program.root_module();
    let again = pipe_lang::check::check_with_overrides(&root.name, &DiskLoader, catalog, overrides);
    let errors: Vec<Diagnostic> = again
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| with_set_label(d.clone(), root, sets))
        .collect();
    if errors.is_empty() {
        return Ok(());
    }
    Err(FrontendError::Invalid(crate::frontend::render_all(
        &again, &errors, color,
    )))
}

/// Labels the value of each param set on the command line in `d`'s file, so the
/// message reads against the value actually checked.
fn with_set_label(mut d: Diagnostic, root: &Module, sets: &[String]) -> Diagnostic {
    if d.file != root.name {
        return d;
    }
    for set in sets {
        let Some((name, _)) = set.split_once('=') else {
            continue;
        };
        let Some(stmt) = root.bindings.get(name.trim()).map(|b| b.stmt) else {
            continue;
        };
        if let Some(StmtKind::Param { value, .. }) = root.ast.stmts.get(stmt).map(|s| &s.kind) {
            d = d.with_label(value.span, format!("replaced by `--set {set}`"));
        }
    }
    d
}

/// A `--set` the command line got wrong; shown as one line (exit 2).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("`--set {set}`: {problem}")]
pub struct SetError {
    /// The argument as given (`bits=3`).
    pub set: String,
    /// Boxed: a wrong-typed value carries two types and keeps `Result`s small.
    pub problem: Box<SetProblem>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SetProblem {
    #[error("expected NAME=VALUE, e.g. `--set bits=3`")]
    NotNameValue,
    #[error("`{0}` is set twice")]
    SetTwice(String),
    #[error("`{0}` is a `let`, not a `param`; only params can be set")]
    NotAParam(String),
    /// The name and a hint: the closest param, or the params there are.
    #[error("no param named `{0}`{1}")]
    NoSuchParam(String, String),
    #[error("the value does not parse: {0}")]
    DoesNotParse(String),
    #[error("expected a single value")]
    NotSingle,
    #[error("expected a constant (a number, string, bool, quantity, list or record); quote strings like \"int8\"")]
    NotConstant,
    /// A builtin or value the folder refused (its message).
    #[error("{0}")]
    BadValue(String),
    #[error("`{name}` is a {expected}, but `{text}` is a {got}")]
    WrongType {
        name: String,
        expected: Type,
        text: String,
        got: Type,
    },
}

/// Parses every `name=value`; the first problem is returned.
pub fn parse(program: &Program, sets: &[String]) -> Result<BTreeMap<String, Value>, SetError> {
    let mut out = BTreeMap::new();
    for set in sets {
        let (name, value) = parse_one(program, set).map_err(|problem| SetError {
            set: set.clone(),
            problem: Box::new(problem),
        })?;
        if out.insert(name.clone(), value).is_some() {
            return Err(SetError {
                set: set.clone(),
                problem: Box::new(SetProblem::SetTwice(name)),
            });
        }
    }
    Ok(out)
}

fn parse_one(program: &Program, set: &str) -> Result<(String, Value), SetProblem> {
    let Some((name, text)) = set.split_once('=') else {
        return Err(SetProblem::NotNameValue);
    };
    let name = name.trim();
    let root = program.root_module();
    let params: Vec<&str> = root
        .bindings
        .values()
        .filter(|b| b.kind == BindingKind::Param)
        .map(|b| b.name.as_str())
        .collect();
    let binding = match root.bindings.get(name) {
        Some(b) if b.kind == BindingKind::Param => b,
        Some(_) => return Err(SetProblem::NotAParam(name.to_string())),
        None => {
            let hint = match pipe_lang::suggest::closest(name, params.iter().copied()) {
                Some(s) => format!(" (did you mean `{s}`?)"),
                None if params.is_empty() => " (the file declares no params)".to_string(),
                None => format!(" (params: {})", params.join(", ")),
            };
            return Err(SetProblem::NoSuchParam(name.to_string(), hint));
        }
    };
    let value = if binding.ty == Type::Str && !text.trim_start().starts_with('"') {
        // A path or a name as the shell passes it: quoting it twice
        // (`--set 'data="dir"'`) is what users forget.
        Value::Str(text.to_string())
    } else {
        fold_text(text)?
    };
    let got = value_type(&value);
    if !Type::accepts(&binding.ty, &got) {
        return Err(SetProblem::WrongType {
            name: name.to_string(),
            expected: binding.ty.clone(),
            text: text.trim().to_string(),
            got,
        });
    }
    Ok((name.to_string(), value.coerced_to(&binding.ty)))
}

/// The constant value of `text` as written in a `.pipe` file.
fn fold_text(text: &str) -> Result<Value, SetProblem> {
    let source = format!("let x = {text}\n");
    let parsed = pipe_lang::parse("--set", &source);
    if let Some(d) = parsed.diagnostics.iter().find(|d| d.is_error()) {
        return Err(SetProblem::DoesNotParse(d.message.clone()));
    }
    let expr = match parsed.ast.stmts.as_slice() {
        [stmt] => match &stmt.kind {
            StmtKind::Let { value, .. } => value,
            _ => return Err(SetProblem::NotSingle),
        },
        _ => return Err(SetProblem::NotSingle),
    };
    pipe_lang::fold::const_value(expr, &|_| None).map_err(|e| match e.kind {
        pipe_lang::fold::FoldErrorKind::NotConstant(_) => SetProblem::NotConstant,
        other => SetProblem::BadValue(other.to_string()),
    })
}

/// The type of a constant, for checking it against a param's declared type.
pub fn value_type(v: &Value) -> Type {
    match v {
        Value::Int(_) => Type::Int,
        Value::Float(_) => Type::Float,
        Value::Bool(_) => Type::Bool,
        Value::Str(_) => Type::Str,
        Value::Quantity { dim, .. } => Type::Quantity(*dim),
        Value::List(items) => Type::list(items.first().map(value_type).unwrap_or(Type::Any)),
        Value::Record(fields) => Type::Record(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), value_type(v)))
                .collect(),
        ),
    }
}
