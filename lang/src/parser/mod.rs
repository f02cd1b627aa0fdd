//! `parse`: source text -> `ast::File` plus every lexical and syntax diagnostic.
//! The token stream is cut into statements at `use`/`param`/`let` (which never
//! occur inside a statement), so one broken statement never hides the errors of
//! the next. Each statement goes through the iterative structure pre-pass
//! (delimiters, depth) and then the chumsky grammar. Never panics, on any `&str`.

mod docs;
mod errors;
mod grammar;
mod memo;
pub mod structure;

use crate::ast::{File, Stmt, StmtKind};
use crate::diagnostic::Diagnostic;
use crate::lexer::{self, Tok, Token};
use crate::span::Span;
use chumsky::Parser;
pub use memo::ParseMemo;
use std::cell::Cell;
use std::ops::Range;
use structure::Structure;

/// The result of parsing one file: the tree (with `Error` nodes where the text
/// is broken) and the diagnostics, in source order.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub ast: File,
    pub diagnostics: Vec<Diagnostic>,
}

/// Parses one file. `file` only names the file in diagnostics. Each statement is
/// parsed with cheap errors first; only a statement that fails is parsed again
/// with rich errors to explain why.
pub fn parse(file: &str, text: &str) -> Parsed {
    parse_with(file, text, None)
}

/// `parse`, reusing the trees of statements whose text `memo` saw in the
/// previous parse of this file (moved to where they stand now), and keeping
/// this parse's statements for the next one. Gives exactly what `parse` gives.
pub fn parse_reusing(file: &str, text: &str, memo: &mut ParseMemo) -> Parsed {
    parse_with(file, text, Some(memo))
}

fn parse_with(file: &str, text: &str, mut memo: Option<&mut ParseMemo>) -> Parsed {
    let lexed = lexer::lex(file, text);
    let mut diagnostics = lexed.diagnostics;
    let toks: Vec<Token> = lexed
        .tokens
        .iter()
        .copied()
        .filter(|t| t.kind != Tok::Junk)
        .collect();
    let kinds: Vec<Tok> = toks.iter().map(|t| t.kind).collect();
    let junk: Vec<usize> = lexed
        .tokens
        .iter()
        .filter(|t| t.kind == Tok::Junk)
        .map(|t| t.span.start)
        .collect();

    let ranges = statement_ranges(&kinds);
    let partners = structure::partners(&kinds, &ranges);
    let base = Cell::new(0);
    let cx = grammar::Cx {
        src: text,
        toks: &toks,
        base: &base,
        partners: &partners,
    };
    let fast = grammar::stmt::<chumsky::extra::Err<chumsky::error::EmptyErr>>(cx);
    let rich = grammar::stmt::<grammar::Ex>(cx);
    let mut stmts = Vec::new();
    for range in ranges {
        let Some(span) = byte_span(&toks, &range) else {
            continue;
        };
        // `junk` is in source order: a binary search keeps this linear overall.
        let first_junk = junk.partition_point(|&j| j < span.start);
        let has_junk = junk.get(first_junk).is_some_and(|&j| span.contains(j));
        if !kinds[range.start].starts_stmt() {
            if !has_junk {
                diagnostics.push(errors::no_statement(file, text, toks[range.start]));
            }
            stmts.push(error_stmt(span));
            continue;
        }
        let key = text.get(span.start..span.end).filter(|_| !has_junk);
        if let (Some(memo), Some(key)) = (memo.as_deref_mut(), key) {
            if let Some(kind) = memo.reuse(key, span.start) {
                stmts.push(Stmt {
                    kind,
                    span,
                    doc: None,
                });
                continue;
            }
        }
        let mut found = Vec::new();
        let mut clean = false;
        let kind = match structure::check(file, &toks[range.clone()], &mut found) {
            Structure::TooDeep => StmtKind::Error,
            shape => {
                base.set(range.start);
                let input = &kinds[range.clone()];
                match fast.parse(input).into_output_errors() {
                    (Some(out), errs) if errs.is_empty() => {
                        clean = true;
                        out
                    }
                    // Its grammar errors would only restate the delimiter error, and
                    // recovery does not depend on the error type: the same tree.
                    (out, _) if shape == Structure::Unbalanced => out.unwrap_or(StmtKind::Error),
                    _ => {
                        let (out, errs) = rich.parse(input).into_output_errors();
                        if !has_junk {
                            let at_eof = range.end == toks.len();
                            found.extend(errors::convert(file, cx, &errs, at_eof));
                        }
                        out.unwrap_or(StmtKind::Error)
                    }
                }
            }
        };
        // Only a statement that parsed without a word to say is reused: the
        // messages of a broken one may depend on what follows it.
        if let (Some(memo), Some(key), true) = (memo.as_deref_mut(), key, clean && found.is_empty())
        {
            memo.keep(key, span, &kind);
        }
        diagnostics.extend(found);
        stmts.push(Stmt {
            kind,
            span,
            doc: None,
        });
    }
    docs::attach(text, &lexed.comments, &lexed.comment_own_line, &mut stmts);
    if let Some(memo) = memo {
        memo.finish();
    }
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    Parsed {
        ast: File {
            stmts,
            comments: lexed.comments,
        },
        diagnostics,
    }
}

fn error_stmt(span: Span) -> Stmt {
    Stmt {
        kind: StmtKind::Error,
        span,
        doc: None,
    }
}

/// Token ranges of the statements: each starts at a statement keyword, except
/// possibly a first run of stray tokens.
fn statement_ranges(kinds: &[Tok]) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    for (i, k) in kinds.iter().enumerate() {
        if k.starts_stmt() && i > start {
            out.push(start..i);
            start = i;
        }
    }
    if start < kinds.len() {
        out.push(start..kinds.len());
    }
    out
}

fn byte_span(toks: &[Token], range: &Range<usize>) -> Option<Span> {
    let first = toks.get(range.start)?;
    let last = toks.get(range.end.checked_sub(1)?)?;
    Some(Span::new(first.span.start, last.span.end))
}

#[cfg(test)]
mod tests;
