//! Semantic tokens for the whole document or a range of it: comments, strings, numbers and keywords
//! from the tokenizer; identifiers classified by what they name (namespace, stage,
//! parameter, binding, field, type).

use crate::analysis::Analysis;
use crate::documents::Document;
use crate::line_index::utf16_len;
use crate::occurrences::{Occurrence, Symbol};
use crate::tokens::{self, TokenKind};
use lsp_types::{
    SemanticToken, SemanticTokenModifier, SemanticTokenType, SemanticTokens, SemanticTokensLegend,
};
use pipe_lang::program::BindingKind;
use pipe_lang::span::Span;

const TYPES: &[SemanticTokenType] = &[
    SemanticTokenType::NAMESPACE,
    SemanticTokenType::FUNCTION,
    SemanticTokenType::PARAMETER,
    SemanticTokenType::VARIABLE,
    SemanticTokenType::PROPERTY,
    SemanticTokenType::TYPE,
    SemanticTokenType::KEYWORD,
    SemanticTokenType::COMMENT,
    SemanticTokenType::STRING,
    SemanticTokenType::NUMBER,
];

#[derive(Clone, Copy)]
enum Kind {
    Namespace,
    Function,
    Parameter,
    Variable,
    Property,
    Type,
    Keyword,
    Comment,
    String,
    Number,
}

const MODIFIERS: &[SemanticTokenModifier] = &[
    SemanticTokenModifier::DECLARATION,
    SemanticTokenModifier::READONLY,
    SemanticTokenModifier::DOCUMENTATION,
    SemanticTokenModifier::DEFAULT_LIBRARY,
];
const DECLARATION: u32 = 1;
const READONLY: u32 = 2;
const DOCUMENTATION: u32 = 4;
const DEFAULT_LIBRARY: u32 = 8;

pub fn legend() -> SemanticTokensLegend {
    SemanticTokensLegend {
        token_types: TYPES.to_vec(),
        token_modifiers: MODIFIERS.to_vec(),
    }
}

pub fn full(doc: &Document, analysis: &Analysis) -> SemanticTokens {
    encode(doc, analysis, Span::new(0, doc.text.len()))
}

/// The tokens that start inside `range` (what an editor asks for the visible part).
pub fn range(doc: &Document, analysis: &Analysis, range: lsp_types::Range) -> SemanticTokens {
    encode(doc, analysis, doc.index.span(&doc.text, range))
}

fn encode(doc: &Document, analysis: &Analysis, within: Span) -> SemanticTokens {
    let text = &doc.text;
    let mut data = Vec::new();
    let (mut prev_line, mut prev_col) = (0, 0);
    let inside = |t: &tokens::Token| t.span.start >= within.start && t.span.start < within.end;
    for tok in tokens::tokenize(text).into_iter().filter(inside) {
        let classified = match tok.kind {
            TokenKind::Comment { doc } => {
                Some((Kind::Comment, if doc { DOCUMENTATION } else { 0 }))
            }
            TokenKind::Str { .. } => Some((Kind::String, 0)),
            TokenKind::Number { .. } => Some((Kind::Number, 0)),
            TokenKind::Keyword => Some((Kind::Keyword, 0)),
            TokenKind::Ident => identifier(analysis, tok.span.start),
            TokenKind::Punct => None,
        };
        let Some((kind, modifiers)) = classified else {
            continue;
        };
        let start = doc.index.position(text, tok.span.start);
        let length = utf16_len(tok.text(text).trim_end_matches('\r'));
        let delta_line = start.line - prev_line;
        let delta_start = if delta_line == 0 {
            start.character - prev_col
        } else {
            start.character
        };
        data.push(SemanticToken {
            delta_line,
            delta_start,
            length: u32::try_from(length).unwrap_or(u32::MAX),
            token_type: kind as u32,
            token_modifiers_bitset: modifiers,
        });
        (prev_line, prev_col) = (start.line, start.character);
    }
    SemanticTokens {
        result_id: None,
        data,
    }
}

fn identifier(analysis: &Analysis, start: usize) -> Option<(Kind, u32)> {
    let occs = analysis.occurrences();
    let i = occs.partition_point(|o| o.span.start < start);
    let occ: &Occurrence = occs.get(i).filter(|o| o.span.start == start)?;
    let decl = if occ.def { DECLARATION } else { 0 };
    let (kind, modifiers) = match &occ.symbol {
        Symbol::Binding(name) => match analysis.root().bindings.get(name).map(|b| b.kind) {
            Some(BindingKind::Use) => (Kind::Namespace, 0),
            Some(BindingKind::Param) => (Kind::Variable, READONLY),
            _ => (Kind::Variable, 0),
        },
        Symbol::Local { .. } | Symbol::Imported { .. } | Symbol::Unresolved(_) => {
            (Kind::Variable, 0)
        }
        Symbol::Namespace(_) => (Kind::Namespace, DEFAULT_LIBRARY),
        Symbol::Stage { .. } | Symbol::Builtin(_) => (Kind::Function, DEFAULT_LIBRARY),
        Symbol::Argument { .. } => (Kind::Parameter, 0),
        Symbol::Field(_) => (Kind::Property, 0),
        Symbol::TypeName(_) => (Kind::Type, DEFAULT_LIBRARY),
        Symbol::ImportPath { .. } => return None,
    };
    Some((kind, modifiers | decl))
}
