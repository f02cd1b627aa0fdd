//! The iterative pre-pass over one statement's tokens: delimiter balance and
//! nesting depth. It runs before the recursive chumsky grammar so that no input
//! can make the grammar recurse deeper than `MAX_DEPTH` levels, and so that an
//! unclosed or mismatched delimiter gets a message naming the opening one. It never
//! recurses itself.

use crate::diagnostic::Diagnostic;
use crate::lexer::{Tok, Token};

/// The deepest nesting of `(`, `[`, `{` and sweeps the parser accepts.
pub const MAX_DEPTH: usize = 128;

pub mod codes {
    pub const UNCLOSED_DELIMITER: &str = "E0111";
    pub const UNMATCHED_DELIMITER: &str = "E0112";
    pub const TOO_DEEP: &str = "E0113";
}

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

/// Checks one statement's tokens, pushing at most one diagnostic.
pub fn check(file: &str, toks: &[Token], diags: &mut Vec<Diagnostic>) -> Structure {
    let mut stack: Vec<Open> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        match t.kind {
            Tok::LParen | Tok::LBracket | Tok::LBrace => stack.push(Open::Delim(t.kind, i)),
            Tok::For => stack.push(Open::Sweep { body: false }),
            Tok::FatArrow => {
                if let Some(Open::Sweep { body }) = stack.last_mut() {
                    *body = true;
                }
            }
            Tok::Comma => {
                while let Some(Open::Sweep { body: true }) = stack.last() {
                    stack.pop();
                }
            }
            Tok::RParen | Tok::RBracket | Tok::RBrace => {
                while let Some(Open::Sweep { .. }) = stack.last() {
                    stack.pop();
                }
                match stack.pop() {
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
        if stack.len() > MAX_DEPTH {
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
    let innermost = stack.iter().rev().find_map(|o| match *o {
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
