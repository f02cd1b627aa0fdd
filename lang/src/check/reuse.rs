//! Checking one module statement by statement, reusing a statement's results
//! from the previous check of the module when its text, doc comment and
//! definition are the same and every read it made outside itself (`trace`)
//! gives the same answer; the results are moved to where the statement now
//! stands. The rest of the module is checked as `module::check_module` checks
//! it, in the same order, so the results are the same. It stops between
//! statements when the caller says the check is no longer wanted.

use super::graph::Loaded;
use super::module::{defined_name, Checker, ModuleResult};
use super::trace::Read;
use super::Exports;
use crate::ast::Stmt;
use crate::catalog::Catalog;
use crate::diagnostic::Diagnostic;
use crate::program::{Binding, ResolvedCall};
use crate::relocate::Shift;
use crate::span::Span;
use crate::types::Type;
use crate::value::Value;
use std::cell::RefCell;
use std::collections::HashMap;

/// The statements of a module's previous check, by their text.
#[derive(Default)]
pub(crate) struct StmtMemo {
    previous: HashMap<String, Checked>,
    /// Statements of the last check whose results were reused, and checked.
    pub reused: usize,
    pub checked: usize,
}

/// One statement's check, where it stood.
struct Checked {
    span: Span,
    doc: Option<String>,
    /// Whether the statement defined its name (false after a redefinition).
    defines: bool,
    reads: Vec<Read>,
    binding: Option<Binding>,
    constant: Option<(String, Value)>,
    expr_types: Vec<(Span, Type)>,
    calls: Vec<(Span, ResolvedCall)>,
    diagnostics: Vec<Diagnostic>,
    used: Vec<String>,
    cross_used: Vec<(usize, String)>,
}

/// `check_module`, reusing what `memo` kept; `None` when `cancelled` said so
/// before the end (the memo then keeps what it had and what was checked).
pub(crate) fn check_module_reusing(
    module: &Loaded,
    catalog: &dyn Catalog,
    exports: &[Option<Exports>],
    memo: &mut StmtMemo,
    cancelled: &dyn Fn() -> bool,
) -> Option<ModuleResult> {
    let mut c = Checker::new(module, catalog, exports);
    let defined = c.collect_definitions(&module.ast.stmts);
    let mut fresh = HashMap::with_capacity(module.ast.stmts.len());
    // Statements come in source order, so these are sorted: the maps are built
    // in one go at the end instead of by an insertion per expression.
    let mut types = Vec::new();
    let mut calls = Vec::new();
    memo.reused = 0;
    memo.checked = 0;
    for (i, stmt) in module.ast.stmts.iter().enumerate() {
        if cancelled() {
            memo.previous.extend(fresh);
            return None;
        }
        c.stmt = i;
        let text = module
            .text
            .get(stmt.span.start..stmt.span.end)
            .unwrap_or_default();
        let (key, checked) = match memo.previous.remove_entry(text) {
            Some((key, old))
                if old.doc == stmt.doc
                    && old.defines == defined[i]
                    && c.still_holds(&old.reads) =>
            {
                memo.reused += 1;
                (key, old)
            }
            _ => {
                memo.checked += 1;
                (text.to_string(), check_traced(&mut c, stmt, defined[i]))
            }
        };
        let shift = Shift::new(checked.span, stmt.span.start);
        apply(&mut c, &checked, shift);
        types.extend(
            checked
                .expr_types
                .iter()
                .map(|(s, t)| (shift.span(*s), t.clone())),
        );
        calls.extend(
            checked
                .calls
                .iter()
                .map(|(s, call)| (shift.span(*s), call.clone())),
        );
        fresh.insert(key, checked);
    }
    memo.previous = fresh;
    c.out.expr_types = types.into_iter().collect();
    c.out.calls = calls.into_iter().collect();
    Some(c.out)
}

/// Checks one statement, recording what it read and what it produced apart
/// from the module's results so far.
fn check_traced(c: &mut Checker, stmt: &Stmt, defines: bool) -> Checked {
    let diagnostics = c.out.diagnostics.len();
    let cross_used = c.out.cross_used.len();
    let used = std::mem::take(&mut c.out.used);
    c.trace = Some(RefCell::new(Vec::new()));
    c.check_stmt(stmt, defines);
    let reads = c.trace.take().map(RefCell::into_inner).unwrap_or_default();
    let name = defined_name(stmt)
        .filter(|_| defines)
        .map(|(id, _)| id.name.as_str());
    Checked {
        span: stmt.span,
        doc: stmt.doc.clone(),
        defines,
        reads,
        binding: name.and_then(|n| c.out.bindings.get(n).cloned()),
        constant: name.and_then(|n| Some((n.to_string(), c.out.consts.get(n)?.clone()))),
        expr_types: std::mem::take(&mut c.out.expr_types).into_iter().collect(),
        calls: std::mem::take(&mut c.out.calls).into_iter().collect(),
        diagnostics: c.out.diagnostics.split_off(diagnostics),
        used: std::mem::replace(&mut c.out.used, used)
            .into_iter()
            .collect(),
        cross_used: c.out.cross_used.split_off(cross_used),
    }
}

/// Adds a statement's results, moved by `shift`, to the module's (its
/// expression types and calls are gathered by the caller).
fn apply(c: &mut Checker, checked: &Checked, shift: Shift) {
    let out = &mut c.out;
    if let Some(b) = &checked.binding {
        let mut b = b.clone();
        b.span = shift.span(b.span);
        b.stmt = c.stmt;
        out.bindings.insert(b.name.clone(), b);
    }
    if let Some((name, value)) = &checked.constant {
        out.consts.insert(name.clone(), value.clone());
    }
    out.diagnostics.extend(checked.diagnostics.iter().map(|d| {
        let mut d = d.clone();
        shift.diagnostic(&mut d);
        d
    }));
    out.used.extend(checked.used.iter().cloned());
    out.cross_used.extend(checked.cross_used.iter().cloned());
}
