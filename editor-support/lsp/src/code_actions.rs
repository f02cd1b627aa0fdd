//! Quick fixes from the checker's diagnostics in the asked range: "did you
//! mean" replaces the name with the suggestion, a missing required argument is
//! added (with the nearest binding above of an accepted type, or a literal of
//! the parameter's type), an unused binding is removed or renamed with a `_`
//! prefix. Computed from the analysis of the newest text; it edits nothing
//! itself, it only proposes edits.

use crate::analysis::Analysis;
use crate::diagnostics::{self, Place};
use crate::documents::Document;
use lsp_types::{CodeAction, CodeActionKind, CodeActionOrCommand, TextEdit, WorkspaceEdit};
use pipe_lang::catalog::Catalog;
use pipe_lang::codes;
use pipe_lang::diagnostic::Diagnostic;
use pipe_lang::program::Module;
use pipe_lang::span::Span;
use pipe_lang::types::Type;
use std::collections::HashMap;

pub fn quick_fixes(
    doc: &Document,
    analysis: &Analysis,
    catalog: &dyn Catalog,
    range: Span,
) -> Vec<CodeActionOrCommand> {
    let root = analysis.root();
    let mut out = Vec::new();
    for diag in &analysis.program.diagnostics {
        if diag.file != root.name || diag.span.end < range.start || diag.span.start > range.end {
            continue;
        }
        let fixes = match diag.code {
            codes::MISSING_ARGUMENT => add_arguments(root, catalog, diag).into_iter().collect(),
            codes::UNUSED_IMPORT | codes::UNUSED_PARAM | codes::UNUSED_LET => {
                let mut fixes: Vec<Fix> = remove_binding(root, diag).into_iter().collect();
                fixes.extend(prefix_underscore(root, diag));
                fixes
            }
            codes::UNUSED_BINDER => prefix_underscore(root, diag).into_iter().collect(),
            _ => did_you_mean(root, diag).into_iter().collect(),
        };
        let lsp_diag = diagnostics::to_lsp(&Place::of(doc), diag);
        out.extend(fixes.into_iter().map(|fix| action(doc, fix, &lsp_diag)));
    }
    out
}

/// One proposed edit of the document.
struct Fix {
    title: String,
    span: Span,
    new_text: String,
    preferred: bool,
}

// `lsp_types::Uri` caches parse results in cells, but its `Hash` and `Eq` use only
// the URI string, so it is a sound map key (lsp-types' own `WorkspaceEdit` uses it).
#[allow(clippy::mutable_key_type)]
fn action(doc: &Document, fix: Fix, diag: &lsp_types::Diagnostic) -> CodeActionOrCommand {
    let edit = TextEdit::new(doc.index.range(&doc.text, fix.span), fix.new_text);
    let changes = HashMap::from([(doc.uri.clone(), vec![edit])]);
    CodeActionOrCommand::CodeAction(CodeAction {
        title: fix.title,
        kind: Some(CodeActionKind::QUICKFIX),
        diagnostics: Some(vec![diag.clone()]),
        edit: Some(WorkspaceEdit::new(changes)),
        is_preferred: Some(fix.preferred),
        ..Default::default()
    })
}

/// `did you mean `x`?` (or the stage `x`, or "x"): replaces the flagged text.
fn did_you_mean(module: &Module, diag: &Diagnostic) -> Option<Fix> {
    let help = diag.help.as_deref()?;
    let rest = help.strip_prefix("did you mean ")?;
    let rest = rest.strip_prefix("the stage ").unwrap_or(rest);
    let suggestion = if let Some(quoted) = rest.strip_prefix('"') {
        format!("\"{}\"", quoted.split('"').next()?)
    } else {
        rest.strip_prefix('`')?.split('`').next()?.to_string()
    };
    let text = &module.text;
    let mut span = diag.span;
    let flagged = text.get(span.start..span.end)?;
    if suggestion.contains('.') && !flagged.contains('.') {
        span = widen_to_dotted(text, span)?;
    }
    Some(Fix {
        title: format!("Replace with `{suggestion}`"),
        span,
        new_text: suggestion,
        preferred: true,
    })
}

/// `ns` of `ns.stage` or `name` of `m.name`: the span of the whole dotted name,
/// when the suggestion names both parts.
fn widen_to_dotted(text: &str, span: Span) -> Option<Span> {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    let after = text.get(span.end..)?;
    if let Some(member) = after.strip_prefix('.') {
        let len = member.find(|c: char| !is_ident(c)).unwrap_or(member.len());
        return (len > 0).then(|| Span::new(span.start, span.end + 1 + len));
    }
    let before = text.get(..span.start)?.strip_suffix('.')?;
    let start = before.rfind(|c: char| !is_ident(c)).map_or(0, |i| {
        i + before[i..].chars().next().map_or(1, char::len_utf8)
    });
    (start < before.len()).then(|| Span::new(start, span.end))
}

/// Adds every missing argument before the call's `)`, when each has a value to
/// propose.
fn add_arguments(module: &Module, catalog: &dyn Catalog, diag: &Diagnostic) -> Option<Fix> {
    let text = &module.text;
    let call = diag
        .labels
        .iter()
        .find(|l| l.message.starts_with("needs "))?
        .span;
    let (namespace, stage) = text.get(diag.span.start..diag.span.end)?.split_once('.')?;
    let sig = catalog.stage(namespace.trim(), stage.trim())?;
    let close = call.end.checked_sub(1)?;
    if text.get(close..call.end) != Some(")") {
        return None;
    }
    let stmt = module
        .ast
        .stmts
        .iter()
        .position(|s| s.span.contains(call.start))?;
    let names = backticked(&diag.message);
    let missing = names.split_last()?.1;
    let mut args = Vec::new();
    for name in missing {
        let param = sig.param(name)?;
        let value = binding_of_type(module, stmt, &param.ty)
            .or_else(|| literal_of(&param.ty, param.choices))?;
        args.push(format!("{name}: {value}"));
    }
    let before = text.get(call.start..close)?.trim_end();
    let separator = if before.ends_with('(') {
        ""
    } else if before.ends_with(',') {
        " "
    } else {
        ", "
    };
    let at = call.start + before.len();
    let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
    Some(Fix {
        title: format!("Add {}", list.join(", ")),
        span: Span::new(at, at),
        new_text: format!("{separator}{}", args.join(", ")),
        preferred: true,
    })
}

/// The segments of `message` between backticks.
fn backticked(message: &str) -> Vec<&str> {
    message.split('`').skip(1).step_by(2).collect()
}

/// The binding defined closest above statement `stmt` whose type `ty` accepts.
fn binding_of_type(module: &Module, stmt: usize, ty: &Type) -> Option<String> {
    module
        .bindings
        .values()
        .filter(|b| b.stmt < stmt && Type::accepts(ty, &b.ty) && b.ty != Type::Error)
        .max_by_key(|b| b.stmt)
        .map(|b| b.name.clone())
}

/// A literal of a scalar type: the first allowed string, `0`, `0.0`, `false`.
fn literal_of(ty: &Type, choices: &[&str]) -> Option<String> {
    match ty {
        Type::Int => Some("0".into()),
        Type::Float => Some("0.0".into()),
        Type::Bool => Some("false".into()),
        Type::Str => Some(format!("\"{}\"", choices.first().copied().unwrap_or(""))),
        _ => None,
    }
}

/// Removes the statement that defines the unused binding, its doc comment and
/// its line break.
fn remove_binding(module: &Module, diag: &Diagnostic) -> Option<Fix> {
    let binding = module.bindings.values().find(|b| b.span == diag.span)?;
    let stmt = module.ast.stmts.get(binding.stmt)?;
    let text = &module.text;
    let mut start = line_start(text, stmt.span.start);
    while start > 0 {
        let previous = line_start(text, start - 1);
        if !text[previous..start].trim_start().starts_with("##") {
            break;
        }
        start = previous;
    }
    let end = text[stmt.span.end..]
        .find('\n')
        .map_or(text.len(), |i| stmt.span.end + i + 1);
    Some(Fix {
        title: format!("Remove the unused `{}`", binding.name),
        span: Span::new(start, end),
        new_text: String::new(),
        preferred: false,
    })
}

fn line_start(text: &str, offset: usize) -> usize {
    text[..offset].rfind('\n').map_or(0, |i| i + 1)
}

/// Renames the unused name to `_name`, which is never reported.
fn prefix_underscore(module: &Module, diag: &Diagnostic) -> Option<Fix> {
    let name = module.text.get(diag.span.start..diag.span.end)?;
    if name.is_empty() || name.starts_with('_') {
        return None;
    }
    Some(Fix {
        title: format!("Rename to `_{name}` (never reported as unused)"),
        span: Span::new(diag.span.start, diag.span.start),
        new_text: "_".into(),
        preferred: false,
    })
}

#[cfg(test)]
mod tests {
    use super::{backticked, widen_to_dotted};
    use pipe_lang::span::Span;

    #[test]
    fn backticked_segments() {
        let message = "missing arguments `input`, `seed` to `model.mlp`";
        assert_eq!(backticked(message), ["input", "seed", "model.mlp"]);
    }

    #[test]
    fn widening_covers_the_other_part_of_a_dotted_name() {
        let text = "let a = simm.accelerator(x)";
        let ns = Span::new(8, 12);
        assert_eq!(widen_to_dotted(text, ns), Some(Span::new(8, 24)));
        let text = "let b = lib.traning";
        let member = Span::new(12, 19);
        assert_eq!(widen_to_dotted(text, member), Some(Span::new(8, 19)));
        assert_eq!(widen_to_dotted("x", Span::new(0, 1)), None);
    }
}
