//! Document symbols: one per `use`, `param` and `let`, with its checked type.

use crate::analysis::Analysis;
use crate::documents::Document;
use lsp_types::{DocumentSymbol, SymbolKind};
use pipe_lang::ast::StmtKind;

pub fn document_symbols(doc: &Document, analysis: &Analysis) -> Vec<DocumentSymbol> {
    let root = analysis.root();
    let mut out = Vec::new();
    for stmt in &root.ast.stmts {
        let (name, kind) = match &stmt.kind {
            StmtKind::Use { alias, .. } => (alias, SymbolKind::MODULE),
            StmtKind::Param { name, .. } => (name, SymbolKind::CONSTANT),
            StmtKind::Let { name, .. } => (name, SymbolKind::VARIABLE),
            StmtKind::Error => continue,
        };
        if name.name.is_empty() {
            continue;
        }
        let detail = root.bindings.get(&name.name).map(|b| b.ty.to_string());
        #[allow(deprecated)]
        out.push(DocumentSymbol {
            name: name.name.clone(),
            detail,
            kind,
            tags: None,
            deprecated: None,
            range: doc.index.range(&doc.text, stmt.span.join(name.span)),
            selection_range: doc.index.range(&doc.text, name.span),
            children: None,
        });
    }
    out
}
