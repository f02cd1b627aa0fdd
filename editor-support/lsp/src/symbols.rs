//! Document symbols, hierarchical: one per `use`, `param` and `let` with its
//! checked type, and under it the fields of its records (nested records nest)
//! and the binders of its sweeps. Workspace symbols: the top-level bindings of
//! every open document and of the files they import, matched by a fuzzy query.
//! The tree walk uses an explicit stack: the user controls the nesting depth.

use crate::analysis::Analysis;
use crate::documents::Document;
use crate::state::State;
use lsp_types::{DocumentSymbol, SymbolInformation, SymbolKind};
use pipe_lang::ast::{Expr, ExprKind, StmtKind};
use pipe_lang::program::BindingKind;
use pipe_lang::span::Span;
use std::collections::BTreeSet;

/// At most this many workspace symbols per answer: a client filters further.
const MAX_WORKSPACE_SYMBOLS: usize = 500;

pub fn document_symbols(doc: &Document, analysis: &Analysis) -> Vec<DocumentSymbol> {
    let root = analysis.root();
    let mut out = Vec::new();
    for stmt in &root.ast.stmts {
        let (name, kind, value) = match &stmt.kind {
            StmtKind::Use { alias, .. } => (alias, SymbolKind::MODULE, None),
            StmtKind::Param { name, value, .. } => (name, SymbolKind::CONSTANT, Some(value)),
            StmtKind::Let { name, value } => (name, SymbolKind::VARIABLE, Some(value)),
            StmtKind::Error => continue,
        };
        if name.name.is_empty() {
            continue;
        }
        let detail = root.bindings.get(&name.name).map(|b| b.ty.to_string());
        let mut symbol = symbol(doc, &name.name, kind, stmt.span.join(name.span), name.span);
        symbol.detail = detail;
        if let Some(value) = value {
            symbol.children = Some(nested(doc, value)).filter(|c| !c.is_empty());
        }
        out.push(symbol);
    }
    out
}

/// The record fields and sweep binders inside `value`, as a tree.
fn nested(doc: &Document, value: &Expr) -> Vec<DocumentSymbol> {
    // Symbols in pre-order with their parent's index; assembled bottom-up below.
    let mut flat: Vec<(Option<usize>, DocumentSymbol)> = Vec::new();
    let mut stack: Vec<(&Expr, Option<usize>)> = vec![(value, None)];
    while let Some((expr, parent)) = stack.pop() {
        let mut children: Vec<(&Expr, Option<usize>)> = Vec::new();
        match &expr.kind {
            ExprKind::Record(fields) => {
                for field in fields {
                    let sym = symbol(
                        doc,
                        &field.name.name,
                        SymbolKind::FIELD,
                        field.span,
                        field.name.span,
                    );
                    flat.push((parent, sym));
                    children.push((&field.value, Some(flat.len() - 1)));
                }
            }
            ExprKind::Sweep { binders, body } => {
                for binder in binders {
                    let sym = symbol(
                        doc,
                        &binder.name.name,
                        SymbolKind::TYPE_PARAMETER,
                        binder.span,
                        binder.name.span,
                    );
                    flat.push((parent, sym));
                    children.push((&binder.values, parent));
                }
                children.push((body, parent));
            }
            ExprKind::Call { args, .. } => {
                children.extend(args.iter().map(|a| (&a.value, parent)));
            }
            ExprKind::List(items) => children.extend(items.iter().map(|e| (e, parent))),
            ExprKind::Paren(inner) => children.push((inner, parent)),
            _ => {}
        }
        // Reversed so the stack pops them in source order.
        stack.extend(children.into_iter().rev());
    }
    assemble(flat)
}

/// Builds the tree from pre-order symbols: a child always comes after its
/// parent, so walking backwards every node's children are complete when it is
/// moved into its own parent.
fn assemble(flat: Vec<(Option<usize>, DocumentSymbol)>) -> Vec<DocumentSymbol> {
    let mut slots: Vec<(Option<usize>, Option<DocumentSymbol>)> =
        flat.into_iter().map(|(p, s)| (p, Some(s))).collect();
    let mut roots = Vec::new();
    for i in (0..slots.len()).rev() {
        let (parent, taken) = (slots[i].0, slots[i].1.take());
        let Some(mut sym) = taken else { continue };
        if let Some(children) = &mut sym.children {
            children.reverse();
        }
        match parent.and_then(|p| slots[p].1.as_mut()) {
            Some(p) => p.children.get_or_insert_with(Vec::new).push(sym),
            None => roots.push(sym),
        }
    }
    roots.reverse();
    roots
}

fn symbol(doc: &Document, name: &str, kind: SymbolKind, full: Span, at: Span) -> DocumentSymbol {
    #[allow(deprecated)]
    DocumentSymbol {
        name: name.to_string(),
        detail: None,
        kind,
        tags: None,
        deprecated: None,
        range: doc.index.range(&doc.text, full),
        selection_range: doc.index.range(&doc.text, at),
        children: None,
    }
}

/// The top-level bindings of the open documents and their imports whose name
/// matches `query` (its characters in order, any case); an empty query matches all.
pub fn workspace_symbols(state: &State, query: &str) -> Vec<SymbolInformation> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (_, analysis) in state.analyses() {
        for module in &analysis.program.modules {
            if !seen.insert(module.name.clone()) {
                continue;
            }
            for binding in module.bindings.values() {
                if out.len() >= MAX_WORKSPACE_SYMBOLS || !fuzzy_match(query, &binding.name) {
                    continue;
                }
                let Some(location) = state.location(module, binding.span) else {
                    continue;
                };
                let kind = match binding.kind {
                    BindingKind::Use => SymbolKind::MODULE,
                    BindingKind::Param => SymbolKind::CONSTANT,
                    BindingKind::Let => SymbolKind::VARIABLE,
                };
                #[allow(deprecated)]
                out.push(SymbolInformation {
                    name: binding.name.clone(),
                    kind,
                    tags: None,
                    deprecated: None,
                    location,
                    container_name: Some(module.name.clone()),
                });
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// Whether the characters of `query` appear in `name` in order, ignoring case.
fn fuzzy_match(query: &str, name: &str) -> bool {
    let mut chars = name.chars().flat_map(char::to_lowercase);
    query
        .chars()
        .flat_map(char::to_lowercase)
        .all(|q| chars.any(|c| c == q))
}

#[cfg(test)]
mod tests {
    use super::fuzzy_match;

    #[test]
    fn fuzzy_match_needs_the_characters_in_order() {
        assert!(fuzzy_match("", "anything"));
        assert!(fuzzy_match("hw", "hw_int8"));
        assert!(fuzzy_match("HI8", "hw_int8"));
        assert!(!fuzzy_match("8hw", "hw_int8"));
        assert!(!fuzzy_match("hwx", "hw_int8"));
    }
}
