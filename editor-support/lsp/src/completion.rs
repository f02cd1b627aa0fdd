//! Completion, decided from the tokens around the cursor so that it works while a
//! line is half typed: units after a number, enum strings inside quotes, stages
//! after `ns.`, members after `alias.` or `record.`, parameter names (with type,
//! default and doc) inside a call, then bindings in scope, namespaces, builtins
//! and keywords.

use crate::analysis::Analysis;
use crate::call_context::{self, CallContext};
use crate::describe;
use crate::documents::Document;
use crate::tokens::{self, Token, TokenKind};
use lsp_types::{
    CompletionItem, CompletionItemKind, CompletionTextEdit, Documentation, MarkupContent,
    MarkupKind, TextEdit,
};
use pipe_lang::ast::{Expr, ExprKind, StmtKind};
use pipe_lang::catalog::{Catalog, ParamSig, StageSig, BUILTINS};
use pipe_lang::program::Module;
use pipe_lang::span::Span;
use pipe_lang::types::Type;
use pipe_lang::units::UNITS;

/// What the completion request works on.
pub struct Site<'a> {
    pub doc: &'a Document,
    pub analysis: &'a Analysis,
    pub catalog: &'a dyn Catalog,
    pub offset: usize,
}

pub fn complete(site: &Site) -> Vec<CompletionItem> {
    let text = &site.doc.text;
    let tokens = tokens::tokenize(text);
    if let Some(tok) = token_under_cursor(&tokens, site.offset) {
        match tok.kind {
            TokenKind::Comment { .. } => return Vec::new(),
            TokenKind::Str { .. } => return enum_strings(site, &tokens, tok),
            TokenKind::Number { digits_end } if site.offset >= digits_end => {
                return units(site, tok, digits_end);
            }
            _ => {}
        }
    }
    let prefix_start = word_start(text, site.offset);
    if text[..prefix_start].ends_with('.') {
        return members(site, &tokens, prefix_start - 1);
    }
    let call = call_context::find(text, &tokens, site.offset);
    let mut items = Vec::new();
    if let Some(ctx) = &call {
        call_items(site, ctx, &mut items);
    }
    scope_items(site, &mut items);
    let line_start = text[..prefix_start].rfind('\n').map_or(0, |i| i + 1);
    let at_statement_start = call.is_none() && text[line_start..prefix_start].trim().is_empty();
    keyword_items(at_statement_start, &mut items);
    items
}

/// The token the cursor is inside of, or at the end of when that token is still
/// open (an unterminated string, a comment, a number being typed).
fn token_under_cursor(tokens: &[Token], offset: usize) -> Option<Token> {
    let tok = tokens[tokens::last_before(tokens, offset)?];
    let open_end = match tok.kind {
        TokenKind::Comment { .. } | TokenKind::Number { .. } | TokenKind::Str { closed: false } => {
            true
        }
        TokenKind::Str { closed: true }
        | TokenKind::Ident
        | TokenKind::Keyword
        | TokenKind::Punct => false,
    };
    (offset < tok.span.end || (open_end && offset == tok.span.end)).then_some(tok)
}

fn word_start(text: &str, offset: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = offset.min(bytes.len());
    while i > 0 && (bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'_') {
        i -= 1;
    }
    i
}

fn markdown(value: String) -> Option<Documentation> {
    (!value.is_empty()).then_some(Documentation::MarkupContent(MarkupContent {
        kind: MarkupKind::Markdown,
        value,
    }))
}

fn edit(site: &Site, span: Span, new_text: String) -> Option<CompletionTextEdit> {
    let range = site.doc.index.range(&site.doc.text, span);
    Some(CompletionTextEdit::Edit(TextEdit::new(range, new_text)))
}

/// The stage called at the cursor, when the callee is `ns.stage`.
fn called_stage<'c>(site: &Site<'c>, ctx: &CallContext) -> Option<&'c StageSig> {
    let [ns, stage] = ctx.callee.as_slice() else {
        return None;
    };
    site.catalog.stage(ns, stage)
}

/// The allowed strings of the parameter whose value the cursor is in.
fn choices_at<'c>(site: &Site<'c>, ctx: &CallContext) -> Option<(&'c StageSig, &'c ParamSig)> {
    let sig = called_stage(site, ctx)?;
    let param = match &ctx.arg_name {
        Some(name) => sig.param(name)?,
        None => sig.params.get(ctx.arg_index)?,
    };
    (!param.choices.is_empty()).then_some((sig, param))
}

fn enum_strings(site: &Site, tokens: &[Token], tok: Token) -> Vec<CompletionItem> {
    let Some(ctx) = call_context::find(&site.doc.text, tokens, site.offset) else {
        return Vec::new();
    };
    let Some((sig, param)) = choices_at(site, &ctx) else {
        return Vec::new();
    };
    let closed = matches!(tok.kind, TokenKind::Str { closed: true });
    let inner = Span::new(tok.span.start + 1, tok.span.end - usize::from(closed));
    param
        .choices
        .iter()
        .map(|choice| CompletionItem {
            label: choice.to_string(),
            kind: Some(CompletionItemKind::ENUM_MEMBER),
            detail: Some(format!(
                "{}: one of {} values",
                param.name,
                param.choices.len()
            )),
            documentation: markdown(describe::param_markdown(sig, param)),
            text_edit: edit(site, inner, choice.to_string()),
            ..Default::default()
        })
        .collect()
}

fn units(site: &Site, tok: Token, digits_end: usize) -> Vec<CompletionItem> {
    let digits = site.doc.text.get(tok.span.start..digits_end).unwrap_or("");
    UNITS
        .iter()
        .map(|(suffix, dim, factor)| CompletionItem {
            label: suffix.to_string(),
            kind: Some(CompletionItemKind::UNIT),
            detail: Some(format!(
                "{} ({} {})",
                dim.type_name(),
                factor,
                dim.base_unit()
            )),
            filter_text: Some(format!("{digits}{suffix}")),
            text_edit: edit(site, tok.span, format!("{digits}{suffix}")),
            ..Default::default()
        })
        .collect()
}

/// After `a.b.`: the dotted path that ends at the dot at `dot`.
fn dotted_before(text: &str, tokens: &[Token], dot: usize) -> Vec<String> {
    let end = tokens.partition_point(|t| t.span.start < dot);
    let mut parts = Vec::new();
    let mut i = end;
    while i > 0 && tokens[i - 1].kind == TokenKind::Ident {
        parts.push(tokens[i - 1].text(text).to_string());
        if i >= 2 && tokens[i - 2].is_punct(text, ".") {
            i -= 2;
        } else {
            break;
        }
    }
    parts.reverse();
    parts
}

fn members(site: &Site, tokens: &[Token], dot: usize) -> Vec<CompletionItem> {
    let path = dotted_before(&site.doc.text, tokens, dot);
    let Some((head, rest)) = path.split_first() else {
        return Vec::new();
    };
    let root = site.analysis.root();
    let namespaces = site.catalog.namespaces();
    if rest.is_empty() && namespaces.contains(&head.as_str()) && !root.bindings.contains_key(head) {
        return site
            .catalog
            .stages(head)
            .into_iter()
            .map(stage_item)
            .collect();
    }
    if rest.is_empty() {
        if let Some(module) = site.analysis.imported(head) {
            return binding_items(module, None);
        }
    }
    let Some(binding) = root.bindings.get(head) else {
        return Vec::new();
    };
    let mut ty = &binding.ty;
    for field in rest {
        ty = match record_fields(ty)
            .and_then(|(fields, _)| fields.iter().find(|(k, _)| *k == field))
        {
            Some((_, t)) => t,
            None => return Vec::new(),
        };
    }
    let Some((fields, swept)) = record_fields(ty) else {
        return Vec::new();
    };
    fields
        .iter()
        .map(|(name, t)| CompletionItem {
            label: name.clone(),
            kind: Some(CompletionItemKind::FIELD),
            detail: Some(if swept {
                format!("Sweep[{t}]")
            } else {
                t.to_string()
            }),
            ..Default::default()
        })
        .collect()
}

/// The fields of a record type, or of the records a sweep yields (`true`).
fn record_fields(ty: &Type) -> Option<(&std::collections::BTreeMap<String, Type>, bool)> {
    match ty {
        Type::Record(fields) => Some((fields, false)),
        Type::Sweep(inner) => match inner.as_ref() {
            Type::Record(fields) => Some((fields, true)),
            _ => None,
        },
        _ => None,
    }
}

fn stage_item(sig: &StageSig) -> CompletionItem {
    let (label, _) = describe::stage_label(sig);
    CompletionItem {
        label: sig.name.to_string(),
        kind: Some(CompletionItemKind::FUNCTION),
        detail: Some(label),
        documentation: markdown(describe::stage_markdown(sig)),
        ..Default::default()
    }
}

/// Top-level bindings of `module` (those defined before `before`, when given,
/// and not in the statement being written: `let z = |` must not offer `z`).
fn binding_items(module: &Module, before: Option<usize>) -> Vec<CompletionItem> {
    let visible = |stmt: usize, start: usize| match before {
        None => true,
        Some(offset) => {
            let in_stmt = module
                .ast
                .stmts
                .get(stmt)
                .is_some_and(|s| being_written(&module.text, s.span, offset));
            start < offset && !in_stmt
        }
    };
    module
        .bindings
        .values()
        .filter(|b| visible(b.stmt, b.span.start))
        .map(|b| CompletionItem {
            label: b.name.clone(),
            kind: Some(CompletionItemKind::VARIABLE),
            detail: Some(b.ty.to_string()),
            documentation: b.doc.clone().map(Documentation::String),
            sort_text: Some(format!("1_{}", b.name)),
            ..Default::default()
        })
        .collect()
}

/// Whether the cursor at `offset` is in the statement spanning `span`: inside it,
/// or after its end on the same line (an unfinished `let z = ` ends before the
/// cursor).
fn being_written(text: &str, span: Span, offset: usize) -> bool {
    if offset < span.start {
        return false;
    }
    offset <= span.end
        || text
            .get(span.end..offset)
            .is_some_and(|gap| !gap.contains('\n'))
}

fn call_items(site: &Site, ctx: &CallContext, items: &mut Vec<CompletionItem>) {
    let Some(sig) = called_stage(site, ctx) else {
        return;
    };
    if ctx.at_name {
        for p in sig
            .params
            .iter()
            .filter(|p| !ctx.named.iter().any(|n| n == p.name))
        {
            let detail = match &p.default {
                Some(d) => format!("{} = {}", p.ty, d),
                None => format!("{} (required)", p.ty),
            };
            items.push(CompletionItem {
                label: format!("{}:", p.name),
                kind: Some(CompletionItemKind::FIELD),
                detail: Some(detail),
                documentation: markdown(describe::param_markdown(sig, p)),
                filter_text: Some(p.name.to_string()),
                insert_text: Some(format!("{}: ", p.name)),
                sort_text: Some(format!(
                    "0_{:03}",
                    sig.params
                        .iter()
                        .position(|q| q.name == p.name)
                        .unwrap_or(0)
                )),
                ..Default::default()
            });
        }
    }
    if let Some((sig, param)) = choices_at(site, ctx) {
        for choice in param.choices {
            items.push(CompletionItem {
                label: format!("\"{choice}\""),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                documentation: markdown(describe::param_markdown(sig, param)),
                filter_text: Some(choice.to_string()),
                sort_text: Some(format!("0_{choice}")),
                ..Default::default()
            });
        }
    }
}

fn scope_items(site: &Site, items: &mut Vec<CompletionItem>) {
    let root = site.analysis.root();
    items.extend(binding_items(root, Some(site.offset)));
    for name in sweep_binders_at(root, site.offset) {
        items.push(CompletionItem {
            label: name,
            kind: Some(CompletionItemKind::VARIABLE),
            detail: Some("sweep binder".to_string()),
            sort_text: Some("0_binder".to_string()),
            ..Default::default()
        });
    }
    for ns in site.catalog.namespaces() {
        items.push(CompletionItem {
            label: ns.to_string(),
            kind: Some(CompletionItemKind::MODULE),
            detail: Some("stage namespace".to_string()),
            documentation: markdown(describe::namespace_markdown(site.catalog, ns)),
            sort_text: Some(format!("2_{ns}")),
            ..Default::default()
        });
    }
    for name in BUILTINS {
        items.push(CompletionItem {
            label: name.to_string(),
            kind: Some(CompletionItemKind::FUNCTION),
            detail: Some("builtin".to_string()),
            documentation: describe::builtin_markdown(name).and_then(|md| markdown(md.to_string())),
            sort_text: Some(format!("3_{name}")),
            ..Default::default()
        });
    }
}

fn keyword_items(at_statement_start: bool, items: &mut Vec<CompletionItem>) {
    let keywords: &[&str] = if at_statement_start {
        &["let", "param", "use"]
    } else {
        &["for", "true", "false"]
    };
    items.extend(keywords.iter().map(|k| CompletionItem {
        label: k.to_string(),
        kind: Some(CompletionItemKind::KEYWORD),
        sort_text: Some(format!("4_{k}")),
        ..Default::default()
    }));
}

/// Names bound by the sweeps whose body holds `offset`, innermost last.
fn sweep_binders_at(module: &Module, offset: usize) -> Vec<String> {
    let mut stack: Vec<&Expr> = module
        .ast
        .stmts
        .iter()
        .filter(|s| s.span.contains(offset) || s.span.end == offset)
        .filter_map(|s| match &s.kind {
            StmtKind::Param { value, .. } | StmtKind::Let { value, .. } => Some(value),
            StmtKind::Use { .. } | StmtKind::Error => None,
        })
        .collect();
    let mut names = Vec::new();
    while let Some(e) = stack.pop() {
        let holds = |x: &Expr| x.span.contains(offset) || x.span.end == offset;
        match &e.kind {
            ExprKind::Sweep { binders, body } => {
                if holds(body) {
                    names.extend(binders.iter().map(|b| b.name.name.clone()));
                    stack.push(body);
                }
                stack.extend(binders.iter().map(|b| &b.values).filter(|v| holds(v)));
            }
            ExprKind::Member { target, .. } => stack.push(target),
            ExprKind::Call { callee, args } => {
                stack.push(callee);
                stack.extend(args.iter().map(|a| &a.value).filter(|v| holds(v)));
            }
            ExprKind::List(items) => stack.extend(items.iter().filter(|v| holds(v))),
            ExprKind::Record(fields) => {
                stack.extend(fields.iter().map(|f| &f.value).filter(|v| holds(v)))
            }
            ExprKind::Paren(inner) => stack.push(inner),
            _ => {}
        }
    }
    names
}
