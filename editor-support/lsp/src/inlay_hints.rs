//! Inlay hints: the checked type after the name of each `let` and of each
//! `param` written without one, and at the end of a statement whose binding
//! runs stages, its cache state as last saved (`cached (...)`, `will rerun: ...`;
//! the hint's tooltip is the full explanation). Only statements in the asked
//! range; reads the analysis and the cache states, computes nothing.

use crate::analysis::Analysis;
use crate::cache_state::FileStates;
use crate::documents::Document;
use lsp_types::{InlayHint, InlayHintKind, InlayHintLabel, InlayHintTooltip};
use pipe_lang::ast::StmtKind;
use pipe_lang::span::Span;
use pipe_lang::types::Type;

pub fn hints(
    doc: &Document,
    analysis: &Analysis,
    cache: Option<&Result<FileStates, String>>,
    range: Span,
) -> Vec<InlayHint> {
    let root = analysis.root();
    let states = cache.and_then(|c| c.as_ref().ok());
    let mut out = Vec::new();
    for stmt in &root.ast.stmts {
        if stmt.span.end < range.start || stmt.span.start > range.end {
            continue;
        }
        let (name, annotated) = match &stmt.kind {
            StmtKind::Param { name, ty, .. } => (name, ty.is_some()),
            StmtKind::Let { name, .. } => (name, false),
            StmtKind::Use { .. } | StmtKind::Error => continue,
        };
        let Some(binding) = root.bindings.get(&name.name) else {
            continue;
        };
        if !annotated && binding.ty != Type::Error {
            out.push(hint(
                doc,
                name.span.end,
                format!(": {}", binding.ty),
                Some(InlayHintKind::TYPE),
                None,
            ));
        }
        if let Some(state) = states.and_then(|s| s.get(&name.name)) {
            out.push(hint(
                doc,
                stmt.span.end,
                state.summary.clone(),
                None,
                Some(state.detail.clone()),
            ));
        }
    }
    out
}

fn hint(
    doc: &Document,
    at: usize,
    label: String,
    kind: Option<InlayHintKind>,
    tooltip: Option<String>,
) -> InlayHint {
    InlayHint {
        position: doc.index.position(&doc.text, at),
        label: InlayHintLabel::String(label),
        kind,
        text_edits: None,
        tooltip: tooltip.map(InlayHintTooltip::String),
        padding_left: Some(kind.is_none()),
        padding_right: None,
        data: None,
    }
}
