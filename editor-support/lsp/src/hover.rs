//! Hover: a stage's signature and docs, a parameter's type, default and range, a
//! binding's type and doc comment, a param's value, else the type of the
//! smallest checked expression under the cursor. On a binding whose stage calls
//! the cache knows, also whether they are cached or why they would rerun.

use crate::analysis::Analysis;
use crate::cache_state::FileStates;
use crate::describe;
use crate::documents::Document;
use crate::occurrences::{self, Symbol};
use lsp_types::{Hover, HoverContents, MarkupContent, MarkupKind};
use pipe_lang::ast::StmtKind;
use pipe_lang::catalog::Catalog;
use pipe_lang::program::{BindingKind, Module};
use pipe_lang::span::Span;

/// Longest param value shown verbatim; longer ones are cut with `…`.
const MAX_VALUE_CHARS: usize = 120;

pub fn hover(
    doc: &Document,
    analysis: &Analysis,
    catalog: &dyn Catalog,
    cache: Option<&Result<FileStates, String>>,
    offset: usize,
) -> Option<Hover> {
    let (markdown, span) = match occurrences::at(analysis.occurrences(), offset) {
        Some(occ) => match describe_symbol(analysis, catalog, &occ.symbol, occ.span) {
            Some(md) => (with_cache_state(md, &occ.symbol, cache), occ.span),
            None => expr_type(analysis, offset)?,
        },
        None => expr_type(analysis, offset)?,
    };
    Some(Hover {
        contents: HoverContents::Markup(MarkupContent {
            kind: MarkupKind::Markdown,
            value: markdown,
        }),
        range: Some(doc.index.range(&doc.text, span)),
    })
}

/// The hover of a binding of this file followed by its cache state, when known.
fn with_cache_state(
    markdown: String,
    symbol: &Symbol,
    cache: Option<&Result<FileStates, String>>,
) -> String {
    let Symbol::Binding(name) = symbol else {
        return markdown;
    };
    let Some(Ok(states)) = cache else {
        return markdown;
    };
    let Some(state) = states.get(name) else {
        return markdown;
    };
    format!(
        "{markdown}\n\n---\n**Cache** (as saved): {}\n\n```text\n{}\n```",
        state.summary,
        state.detail.trim_end()
    )
}

fn describe_symbol(
    analysis: &Analysis,
    catalog: &dyn Catalog,
    symbol: &Symbol,
    span: Span,
) -> Option<String> {
    match symbol {
        Symbol::Binding(name) => binding_markdown(analysis.root(), name),
        Symbol::Local { name, .. } => {
            let ty = analysis.root().expr_types.get(&span);
            Some(match ty {
                Some(ty) => format!("```pipe\n{name}: {ty}\n```\nSweep binder."),
                None => format!("```pipe\n{name}\n```\nSweep binder."),
            })
        }
        Symbol::Namespace(ns) => Some(describe::namespace_markdown(catalog, ns)),
        Symbol::Stage { namespace, name } => {
            catalog.stage(namespace, name).map(describe::stage_markdown)
        }
        Symbol::Builtin(name) => describe::builtin_markdown(name).map(str::to_string),
        Symbol::Imported { alias, name } => {
            let module = analysis.imported(alias)?;
            binding_markdown(module, name).map(|md| format!("{md}\n\nFrom `{}`.", module.name))
        }
        Symbol::Argument {
            stage: Some((ns, stage)),
            param,
        } => {
            let sig = catalog.stage(ns, stage)?;
            Some(describe::param_markdown(sig, sig.param(param)?))
        }
        Symbol::ImportPath { alias } => {
            let module = analysis.imported(alias)?;
            Some(format!("Module `{}`, imported as `{alias}`.", module.name))
        }
        Symbol::Argument { stage: None, .. }
        | Symbol::Field(_)
        | Symbol::TypeName(_)
        | Symbol::Unresolved(_) => None,
    }
}

/// `let name: Type`, `param name: Type = value` or `use "path" as name`, then the doc.
pub fn binding_markdown(module: &Module, name: &str) -> Option<String> {
    let binding = module.bindings.get(name)?;
    let stmt = module.ast.stmts.get(binding.stmt);
    let head = match (&binding.kind, stmt.map(|s| &s.kind)) {
        (BindingKind::Param, Some(StmtKind::Param { value, .. })) => {
            let text = module
                .text
                .get(value.span.start..value.span.end)
                .unwrap_or("");
            format!("param {name}: {} = {}", binding.ty, shorten(text))
        }
        (BindingKind::Use, Some(StmtKind::Use { path, .. })) => {
            format!("use {:?} as {name}", path.value)
        }
        _ => format!("let {name}: {}", binding.ty),
    };
    let mut out = format!("```pipe\n{head}\n```");
    if let Some(doc) = &binding.doc {
        out.push_str("\n\n");
        out.push_str(doc);
    }
    Some(out)
}

fn shorten(text: &str) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= MAX_VALUE_CHARS {
        return one_line;
    }
    let cut: String = one_line.chars().take(MAX_VALUE_CHARS).collect();
    format!("{cut}…")
}

/// The type of the smallest checked expression around `offset`.
fn expr_type(analysis: &Analysis, offset: usize) -> Option<(String, Span)> {
    let (span, ty) = analysis
        .root()
        .expr_types
        .iter()
        .filter(|(span, _)| span.contains(offset))
        .min_by_key(|(span, _)| span.len())?;
    Some((format!("```pipe\n{ty}\n```"), *span))
}
