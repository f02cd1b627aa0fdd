//! The iterative pre-pass over one statement's tokens: delimiter balance and
//! nesting depth (brackets, sweeps, and member/call chains, which nest in the tree). It runs before the recursive chumsky grammar so that no input
//! can make the grammar recurse deeper than `MAX_DEPTH` levels, and so that an
//! unclosed or mismatched delimiter gets a message naming the opening one. It never
//! recurses itself.

use crate::diagnostic::Diagnostic;
use crate::lexer::{Tok, Token};
use std::ops::Range;

/// The deepest nesting of `(`, `[`, `{`, sweeps and `.`/call links the parser accepts.
pub const MAX_DEPTH: usize = 128;

use crate::codes;

/// What the pre-pass found wrong with a statement, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Structure {
    Ok,
    /// Unbalanced delimiters: reported here; the grammar's own errors would only repeat it.
    Unbalanced,
    /// Too deep: reported here; the statement must not reach the grammar.
    TooDeep,
}

#[derive(Clone, Copy)]
enum Open {
    Delim(Tok, usize),
    Sweep { body: bool },
}

fn closer_of(open: Tok) -> Tok {
    match open {
        Tok::LParen => Tok::RParen,
        Tok::LBracket => Tok::RBracket,
        _ => Tok::RBrace,
    }
}

fn text(t: Tok) -> &'static str {
    match t {
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::LBrace => "{",
        _ => "}",
    }
}

/// Open levels, and the member/call chain length saved at each (a chain like
/// `a.b(c).d` nests in the tree as deeply as brackets do).
#[derive(Default)]
struct Levels {
    stack: Vec<(Open, usize)>,
    /// Sum of the chains saved on the stack.
    saved: usize,
    /// The chain being read at the current level.
    chain: usize,
}

impl Levels {
    fn depth(&self) -> usize {
        self.stack.len() + self.saved + self.chain
    }

    fn push(&mut self, open: Open) {
        self.stack.push((open, self.chain));
        self.saved += self.chain;
        self.chain = 0;
    }

    fn pop(&mut self) -> Option<Open> {
        let (open, chain) = self.stack.pop()?;
        self.saved -= chain;
        self.chain = chain;
        Some(open)
    }

    fn pop_sweeps(&mut self, body_only: bool) {
        while let Some((Open::Sweep { body }, _)) = self.stack.last() {
            if body_only && !body {
                return;
            }
            self.pop();
        }
    }
}

/// For each token, the index of the closer that matches it when it is an opener
/// with one; openers are matched within each statement range only. A closer of
/// the wrong kind pairs with nothing (the statement is reported by `check`), so
/// an opener without a partner is one that is unclosed or mismatched.
pub fn partners(kinds: &[Tok], statements: &[Range<usize>]) -> Vec<Option<usize>> {
    let mut out = vec![None; kinds.len()];
    let mut open: Vec<usize> = Vec::new();
    for range in statements {
        open.clear();
        for i in range.clone() {
            match kinds[i] {
                Tok::LParen | Tok::LBracket | Tok::LBrace => open.push(i),
                Tok::RParen | Tok::RBracket | Tok::RBrace => {
                    let Some(&top) = open.last() else { continue };
                    if closer_of(kinds[top]) == kinds[i] {
                        open.pop();
                        out[top] = Some(i);
                    }
                }
                _ => {}
            }
        }
    }
    out
}

/// Checks one statement's tokens, pushing at most one diagnostic.
pub fn check(file: &str, toks: &[Token], diags: &mut Vec<Diagnostic>) -> Structure {
    let mut lv = Levels::default();
    let mut prev: Option<Tok> = None;
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::LParen | Tok::LBracket | Tok::LBrace => {
                if t.kind == Tok::LParen && prev.is_some_and(Tok::ends_operand) {
                    lv.chain += 1;
                }
                lv.push(Open::Delim(t.kind, i));
            }
            Tok::For => lv.push(Open::Sweep { body: false }),
            Tok::Dot => lv.chain += 1,
            Tok::FatArrow => {
                lv.chain = 0;
                if let Some((Open::Sweep { body }, _)) = lv.stack.last_mut() {
                    *body = true;
                }
            }
            Tok::Comma => {
                lv.chain = 0;
                lv.pop_sweeps(true);
                lv.chain = 0;
            }
            Tok::Colon | Tok::Eq | Tok::In => lv.chain = 0,
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                lv.pop_sweeps(false);
                match lv.pop() {
                    Some(Open::Delim(open, _)) if closer_of(open) == t.kind => {}
                    Some(Open::Delim(open, at)) => {
                        let want = text(closer_of(open));
                        diags.push(
                            Diagnostic::error(
                                codes::UNMATCHED_DELIMITER,
                                file,
                                t.span,
                                format!("mismatched `{}`: expected `{want}` first", text(t.kind)),
                            )
                            .with_label(t.span, format!("expected `{want}` here"))
                            .with_label(toks[at].span, format!("to close this `{}`", text(open))),
                        );
                        return Structure::Unbalanced;
                    }
                    _ => {
                        diags.push(
                            Diagnostic::error(
                                codes::UNMATCHED_DELIMITER,
                                file,
                                t.span,
                                format!("unmatched `{}`", text(t.kind)),
                            )
                            .with_label(t.span, "nothing to close here")
                            .with_help("remove it, or add the opening delimiter it belongs to"),
                        );
                        return Structure::Unbalanced;
                    }
                }
            }
            _ => {}
        }
        prev = Some(t.kind);
        if lv.depth() > MAX_DEPTH {
            diags.push(
                Diagnostic::error(
                    codes::TOO_DEEP,
                    file,
                    t.span,
                    format!("nesting deeper than {MAX_DEPTH} levels"),
                )
                .with_label(t.span, format!("level {} starts here", MAX_DEPTH + 1))
                .with_help("split the value into several `let` bindings"),
            );
            return Structure::TooDeep;
        }
    }
    let innermost = lv.stack.iter().rev().find_map(|(o, _)| match *o {
        Open::Delim(open, at) => Some((open, at)),
        Open::Sweep { .. } => None,
    });
    let Some((open, at)) = innermost else {
        return Structure::Ok;
    };
    let want = text(closer_of(open));
    let span = toks[at].span;
    diags.push(
        Diagnostic::error(
            codes::UNCLOSED_DELIMITER,
            file,
            span,
            format!("unclosed `{}`", text(open)),
        )
        .with_label(span, format!("this `{}` is never closed", text(open)))
        .with_help(format!("add `{want}` before the next statement")),
    );
    Structure::Unbalanced
}
