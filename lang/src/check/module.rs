//! Checking one module: its definitions (redefinition, shadowing a namespace or a
//! builtin), then each statement in order (use before definition, param
//! annotations and constant values), and name lookup for expressions. Expression
//! typing is in `expr` and `call`; this file owns the module-level state.

use super::graph::Loaded;
use super::trace::{MemberAnswer, Read};
use super::Exports;
use crate::ast::{Expr, Ident, Stmt, StmtKind, TypeExpr};
use crate::catalog::{Catalog, BUILTINS};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::fold::{self, FoldErrorKind};
use crate::program::{Binding, BindingKind, ResolvedCall};
use crate::span::Span;
use crate::suggest::closest;
use crate::types::Type;
use crate::value::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap, HashSet};

/// Top-level names offered as "did you mean" for an unknown name (see
/// `Checker::visible_names`).
const MAX_SUGGESTION_DEFS: usize = 250;

/// What checking one module produced.
#[derive(Default)]
pub(crate) struct ModuleResult {
    pub bindings: BTreeMap<String, Binding>,
    pub consts: HashMap<String, Value>,
    pub expr_types: BTreeMap<Span, Type>,
    pub calls: BTreeMap<Span, ResolvedCall>,
    pub diagnostics: Vec<Diagnostic>,
    /// Top-level names of this module that were referenced.
    pub used: HashSet<String>,
    /// (module index, name) of imported bindings that were referenced.
    pub cross_used: Vec<(usize, String)>,
}

/// The first definition of each top-level name.
#[derive(Clone, Copy)]
pub(crate) struct Def {
    pub stmt: usize,
    pub kind: BindingKind,
    pub span: Span,
}

/// A sweep binder in scope.
pub(crate) struct Binder {
    pub name: String,
    pub span: Span,
    pub ty: Type,
    /// The binder's values when they are constants, for range and choice checks.
    pub values: Option<Vec<Value>>,
    pub used: bool,
}

pub(crate) struct Checker<'a> {
    pub file: &'a str,
    pub catalog: &'a dyn Catalog,
    pub exports: &'a [Option<Exports>],
    pub defs: HashMap<String, Def>,
    /// (statement, name) of each top-level definition, in statement order.
    pub def_order: Vec<(usize, String)>,
    /// `use` alias -> loaded module index; `None` when the import failed (already reported).
    pub imports: HashMap<String, Option<usize>>,
    pub scopes: Vec<Binder>,
    pub stmt: usize,
    pub out: ModuleResult,
    /// What the current statement read from outside itself, when incremental
    /// checking records it (`trace`).
    pub trace: Option<RefCell<Vec<Read>>>,
}

pub(crate) fn check_module(
    module: &Loaded,
    catalog: &dyn Catalog,
    exports: &[Option<Exports>],
) -> ModuleResult {
    let mut c = Checker::new(module, catalog, exports);
    let defined = c.collect_definitions(&module.ast.stmts);
    for (i, stmt) in module.ast.stmts.iter().enumerate() {
        c.stmt = i;
        c.check_stmt(stmt, defined[i]);
    }
    c.out
}

impl<'a> Checker<'a> {
    pub(crate) fn new(
        module: &'a Loaded,
        catalog: &'a dyn Catalog,
        exports: &'a [Option<Exports>],
    ) -> Self {
        Checker {
            file: &module.name,
            catalog,
            exports,
            defs: HashMap::new(),
            def_order: Vec::new(),
            imports: module
                .edges
                .iter()
                .map(|e| (e.alias.clone(), e.target))
                .collect(),
            scopes: Vec::new(),
            stmt: 0,
            out: ModuleResult::default(),
            trace: None,
        }
    }

    pub fn report(&mut self, diag: Diagnostic) {
        self.out.diagnostics.push(diag);
    }

    pub fn error(&self, code: &'static str, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic::error(code, self.file, span, message)
    }

    /// First pass: every top-level name with its statement, so that a reference to a
    /// later definition can say "used before its definition". Returns, per
    /// statement, whether it defines a binding (false after a redefinition error).
    pub(crate) fn collect_definitions(&mut self, stmts: &[Stmt]) -> Vec<bool> {
        let mut defined = Vec::with_capacity(stmts.len());
        for (i, stmt) in stmts.iter().enumerate() {
            let Some((name, kind)) = defined_name(stmt) else {
                defined.push(false);
                continue;
            };
            let ok = self.check_new_name(name, "a top-level binding");
            if ok {
                self.def_order.push((i, name.name.clone()));
                self.defs.insert(
                    name.name.clone(),
                    Def {
                        stmt: i,
                        kind,
                        span: name.span,
                    },
                );
            }
            defined.push(ok);
        }
        defined
    }

    /// Reports a name that shadows a namespace or builtin, or repeats a top-level
    /// name or a binder in scope. Returns whether the name may be defined.
    pub fn check_new_name(&mut self, name: &Ident, what: &str) -> bool {
        let n = name.name.as_str();
        if let Some(reserved) = reserved_kind(n, self.catalog) {
            let d = self
                .error(
                    codes::SHADOWS_RESERVED,
                    name.span,
                    format!("`{n}` shadows the {reserved} `{n}`"),
                )
                .with_label(
                    name.span,
                    format!("{what} may not be named like a {reserved}"),
                )
                .with_help(format!("rename it, e.g. `{n}_`"));
            self.report(d);
            return false;
        }
        let earlier = self
            .scopes
            .iter()
            .rev()
            .find(|b| b.name == n)
            .map(|b| b.span)
            .or_else(|| self.def_span_seen(n));
        if let Some(first) = earlier {
            let d = self
                .error(
                    codes::REDEFINITION,
                    name.span,
                    format!("`{n}` is defined twice"),
                )
                .with_label(name.span, "redefined here")
                .with_label(first, "first defined here")
                .with_help("names are defined once per file; rename one of them");
            self.report(d);
            return false;
        }
        true
    }

    pub(crate) fn check_stmt(&mut self, stmt: &Stmt, defines: bool) {
        let (name, kind, ty) = match &stmt.kind {
            StmtKind::Use { alias, .. } => (alias, BindingKind::Use, Type::Module),
            StmtKind::Param { name, ty, value } => {
                let t = self.check_param(name, ty.as_ref(), value, defines);
                (name, BindingKind::Param, t)
            }
            StmtKind::Let { name, value } => {
                let t = self.infer(value);
                if defines {
                    if let Ok(v) = fold::const_value(value, &|n| self.const_lookup(n)) {
                        self.out.consts.insert(name.name.clone(), v);
                    }
                }
                (name, BindingKind::Let, t)
            }
            StmtKind::Error => return,
        };
        if !defines {
            return;
        }
        self.out.bindings.insert(
            name.name.clone(),
            Binding {
                name: name.name.clone(),
                kind,
                stmt: self.stmt,
                span: name.span,
                ty,
                doc: stmt.doc.clone(),
            },
        );
    }

    /// A param's value must be a constant matching its annotation; its type is the
    /// annotation when there is a valid one.
    fn check_param(
        &mut self,
        name: &Ident,
        annotation: Option<&TypeExpr>,
        value: &Expr,
        defines: bool,
    ) -> Type {
        let got = self.infer(value);
        let declared = annotation.and_then(|t| self.resolve_type(t));
        let folded = fold::const_value(value, &|n| self.const_lookup(n));
        match folded {
            Ok(v) if defines => {
                let ty = declared.as_ref().unwrap_or(&got);
                self.out.consts.insert(name.name.clone(), v.coerced_to(ty));
            }
            Ok(_) => {}
            Err(e) => {
                if matches!(e.kind, FoldErrorKind::NotConstant(_)) && got != Type::Error {
                    let d = self
                        .error(
                            codes::NOT_CONSTANT,
                            value.span,
                            format!("param `{}` must be a constant: {}", name.name, e.kind),
                        )
                        .with_label(e.span, "not known before the pipeline runs")
                        .with_help("use `let` for values computed by stages");
                    self.report(d);
                }
            }
        }
        let Some(declared) = declared else {
            return got;
        };
        if !Type::accepts(&declared, &got) {
            let d = self
                .error(
                    codes::ANNOTATION_MISMATCH,
                    value.span,
                    format!(
                        "param `{}` is declared `{declared}` but its value is `{got}`",
                        name.name
                    ),
                )
                .with_label(value.span, format!("this is `{got}`"))
                .with_help(format!(
                    "give a `{declared}` value or change the annotation"
                ));
            self.report(d);
        }
        declared
    }

    /// A written type; reports unknown names. Bounded recursion: the parser caps nesting.
    fn resolve_type(&mut self, t: &TypeExpr) -> Option<Type> {
        let arg = match &t.arg {
            Some(a) => Some(self.resolve_type(a)?),
            None => None,
        };
        let name = t.name.name.as_str();
        let has_arg = arg.is_some();
        if let Some(ty) = Type::from_name(name, arg) {
            return Some(ty);
        }
        let known = Type::known_names();
        let d = if known.contains(&name) || name == "sweep" {
            let message = if has_arg {
                format!("type `{name}` takes no element type")
            } else {
                format!("type `{name}` needs an element type, e.g. `{name}[int]`")
            };
            self.error(codes::UNKNOWN_TYPE, t.span, message)
                .with_label(t.span, "malformed type")
        } else {
            let mut d = self
                .error(
                    codes::UNKNOWN_TYPE,
                    t.name.span,
                    format!("unknown type `{name}`"),
                )
                .with_label(t.name.span, "not a type");
            if let Some(s) = closest(name, known.iter().copied()) {
                d = d.with_help(format!("did you mean `{s}`?"));
            }
            d
        };
        self.report(d);
        None
    }

    /// The constant value of a top-level name, or of `m.name` in an imported module.
    pub fn const_lookup(&self, name: &str) -> Option<Value> {
        if self.scopes.iter().any(|b| b.name == name) {
            return None;
        }
        let value = self.const_answer(name);
        self.note(|| Read::Const(name.to_string(), value.clone()));
        value
    }

    fn const_answer(&self, name: &str) -> Option<Value> {
        self.const_ref(name).cloned()
    }

    pub(crate) fn const_ref(&self, name: &str) -> Option<&Value> {
        if let Some((alias, member)) = name.split_once('.') {
            let target = (*self.imports.get(alias)?)?;
            return self.exports[target].as_ref()?.consts.get(member);
        }
        self.out.consts.get(name)
    }

    /// Whether a top-level name is defined: before the current statement or
    /// not, and how.
    pub(crate) fn def_answer(&self, name: &str) -> Option<(bool, BindingKind)> {
        self.defs.get(name).map(|d| (d.stmt < self.stmt, d.kind))
    }

    pub(crate) fn def_seen(&self, name: &str) -> Option<(bool, BindingKind)> {
        let def = self.def_answer(name);
        self.note(|| Read::Def(name.to_string(), def));
        def
    }

    pub(crate) fn def_span_answer(&self, name: &str) -> Option<Span> {
        self.defs.get(name).map(|d| d.span)
    }

    fn def_span_seen(&self, name: &str) -> Option<Span> {
        let span = self.def_span_answer(name);
        self.note(|| Read::DefSpan(name.to_string(), span));
        span
    }

    pub(crate) fn binding_type_answer(&self, name: &str) -> Option<Type> {
        self.out.bindings.get(name).map(|b| b.ty.clone())
    }

    /// `alias.field` of an imported module.
    pub(crate) fn member_answer(&self, alias: &str, field: &str) -> MemberAnswer {
        let Some(Some(target)) = self.imports.get(alias).copied() else {
            return MemberAnswer::Unresolved;
        };
        let Some(exports) = self.exports[target].as_ref() else {
            return MemberAnswer::Unresolved;
        };
        let visible = |k: &BindingKind| *k != BindingKind::Use;
        if let Some(b) = exports.bindings.get(field).filter(|b| visible(&b.kind)) {
            return MemberAnswer::Found {
                target,
                ty: b.ty.clone(),
            };
        }
        let names = exports
            .bindings
            .values()
            .filter(|b| visible(&b.kind))
            .map(|b| b.name.as_str());
        MemberAnswer::Missing {
            suggestion: closest(field, names).map(str::to_string),
        }
    }

    pub(crate) fn member_seen(&self, alias: &str, field: &str) -> MemberAnswer {
        let answer = self.member_answer(alias, field);
        self.note(|| Read::Member(alias.to_string(), field.to_string(), answer.clone()));
        answer
    }

    /// The type of a bare name in an expression, reporting what is wrong with it.
    pub fn name_type(&mut self, id: &Ident) -> Type {
        let n = id.name.as_str();
        if let Some(b) = self.scopes.iter_mut().rev().find(|b| b.name == n) {
            b.used = true;
            return b.ty.clone();
        }
        if let Some((before, kind)) = self.def_seen(n) {
            return self.defined_name_type(id, before, kind);
        }
        let d = self.undefined_name(id);
        self.report(d);
        Type::Error
    }

    fn defined_name_type(&mut self, id: &Ident, before: bool, kind: BindingKind) -> Type {
        if !before {
            let defined_at = self.def_span_seen(&id.name).unwrap_or(id.span);
            let d = self
                .error(
                    codes::USE_BEFORE_DEFINITION,
                    id.span,
                    format!("`{}` is used before its definition", id.name),
                )
                .with_label(id.span, "used here")
                .with_label(defined_at, "defined here")
                .with_help("move the definition above its first use");
            self.report(d);
            return Type::Error;
        }
        self.out.used.insert(id.name.clone());
        if kind == BindingKind::Use {
            return Type::Module;
        }
        let ty = self.binding_type_answer(&id.name);
        self.note(|| Read::BindingType(id.name.clone(), ty.clone()));
        ty.unwrap_or(Type::Error)
    }

    fn undefined_name(&self, id: &Ident) -> Diagnostic {
        let n = id.name.as_str();
        if self.catalog.namespaces().contains(&n) {
            let example = self
                .catalog
                .stages(n)
                .first()
                .map(|s| format!("e.g. `{}(...)`", s.full_name()))
                .unwrap_or_else(|| format!("`{n}.<stage>(...)`"));
            return self
                .error(
                    codes::NOT_A_VALUE,
                    id.span,
                    format!("`{n}` is a namespace, not a value"),
                )
                .with_label(id.span, "namespace")
                .with_help(format!("call one of its stages, {example}"));
        }
        if BUILTINS.contains(&n) {
            return self
                .error(
                    codes::NOT_A_VALUE,
                    id.span,
                    format!("`{n}` is a builtin, not a value"),
                )
                .with_label(id.span, "builtin")
                .with_help(format!("call it, e.g. `{n}(...)`"));
        }
        let mut d = self
            .error(codes::UNKNOWN_NAME, id.span, format!("unknown name `{n}`"))
            .with_label(id.span, "not defined");
        let visible = self.visible_names();
        if let Some(s) = closest(n, visible.iter().map(String::as_str)) {
            d = d.with_help(format!("did you mean `{s}`?"));
        } else if let Some(full) = self.stage_named(n) {
            d = d.with_help(format!("did you mean the stage `{full}`?"));
        }
        d
    }

    /// Names a reference at the current statement may use, as "did you mean"
    /// candidates: the binders in scope and the `MAX_SUGGESTION_DEFS` top-level
    /// names defined last before it. The cap keeps each unknown name's help
    /// bounded, so a file of 10,000 unknown names checks in linear time; every
    /// name of a file with fewer definitions is still a candidate.
    fn visible_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.scopes.iter().map(|b| b.name.clone()).collect();
        let top = self.visible_answer();
        self.note(|| Read::Visible(top.clone()));
        names.extend(top);
        names.sort_unstable();
        names
    }

    /// The `MAX_SUGGESTION_DEFS` top-level names defined last before the
    /// current statement.
    pub(crate) fn visible_answer(&self) -> Vec<String> {
        let before = self
            .def_order
            .partition_point(|(stmt, _)| *stmt < self.stmt);
        let first = before.saturating_sub(MAX_SUGGESTION_DEFS);
        self.def_order[first..before]
            .iter()
            .map(|(_, n)| n.clone())
            .collect()
    }

    /// The full name of a stage called `name` in any namespace.
    pub fn stage_named(&self, name: &str) -> Option<String> {
        self.catalog
            .namespaces()
            .iter()
            .flat_map(|ns| self.catalog.stages(ns))
            .find(|s| s.name == name)
            .map(|s| s.full_name())
    }

    /// Whether `name` is a binder in scope or a top-level binding (not a namespace).
    pub fn is_bound(&self, name: &str) -> bool {
        self.scopes.iter().any(|b| b.name == name) || self.def_seen(name).is_some()
    }
}

pub(crate) fn defined_name(stmt: &Stmt) -> Option<(&Ident, BindingKind)> {
    match &stmt.kind {
        StmtKind::Use { alias, .. } => Some((alias, BindingKind::Use)),
        StmtKind::Param { name, .. } => Some((name, BindingKind::Param)),
        StmtKind::Let { name, .. } => Some((name, BindingKind::Let)),
        StmtKind::Error => None,
    }
}

fn reserved_kind(name: &str, catalog: &dyn Catalog) -> Option<&'static str> {
    if catalog.namespaces().contains(&name) {
        Some("namespace")
    } else if BUILTINS.contains(&name) {
        Some("builtin")
    } else {
        None
    }
}
