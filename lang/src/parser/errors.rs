//! Turns chumsky's `Rich` errors into diagnostics a person understands:
//! "expected `=` after the binding name, found `5`". Postfix continuations
//! (`.`, `(`) are left out of the expected list when something else was
//! expected too: they are always possible and only add noise.

use super::grammar::Cx;
use crate::diagnostic::Diagnostic;
use crate::lexer::{Tok, Token};
use crate::span::Span;
use chumsky::error::{Rich, RichPattern, RichReason};

use crate::codes;

/// Quotes a token's text for a message, shortened when long.
fn quote(text: &str) -> String {
    let mut short: String = text.chars().take(24).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    format!("`{short}`")
}

pub fn no_statement(file: &str, src: &str, tok: Token) -> Diagnostic {
    let text = src.get(tok.span.start..tok.span.end).unwrap_or("");
    Diagnostic::error(
        codes::NO_STATEMENT,
        file,
        tok.span,
        format!(
            "expected a statement (`use`, `param` or `let`), found {}",
            quote(text)
        ),
    )
    .with_label(tok.span, "a statement cannot start here")
    .with_help("every statement starts with `use`, `param` or `let`")
}

fn pattern(p: &RichPattern<'_, Tok>, at_eof: bool) -> String {
    match p {
        RichPattern::Token(t) => t.describe().to_string(),
        RichPattern::Label(l) => l.to_string(),
        RichPattern::Identifier(s) => format!("`{s}`"),
        RichPattern::EndOfInput => end_name(at_eof).into(),
        _ => "something else".into(),
    }
}

fn end_name(at_eof: bool) -> &'static str {
    if at_eof {
        "end of file"
    } else {
        "end of statement"
    }
}

fn is_continuation(p: &RichPattern<'_, Tok>) -> bool {
    matches!(p, RichPattern::Token(t) if matches!(**t, Tok::Dot | Tok::LParen))
}

fn join(items: &[String]) -> String {
    match items {
        [] => "something else".into(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} or {last}", init.join(", ")),
    }
}

fn expected_list(expected: &[RichPattern<'_, Tok>], at_eof: bool) -> String {
    let others = expected.iter().any(|p| !is_continuation(p));
    let mut items: Vec<String> = Vec::new();
    for p in expected {
        if others && is_continuation(p) {
            continue;
        }
        let s = pattern(p, at_eof);
        if !items.contains(&s) {
            items.push(s);
        }
    }
    join(&items)
}

fn help_for(found: Option<Tok>, expected: &[RichPattern<'_, Tok>]) -> Option<&'static str> {
    let keyword = matches!(
        found,
        Some(
            Tok::Use
                | Tok::As
                | Tok::Param
                | Tok::Let
                | Tok::For
                | Tok::In
                | Tok::True
                | Tok::False
        )
    );
    let wants_name = expected
        .iter()
        .any(|p| matches!(p, RichPattern::Label(l) if l.contains("name")));
    if keyword && wants_name {
        return Some(
            "keywords (`use as param let for in true false`) cannot be names; pick another one",
        );
    }
    let wants = |t: Tok| {
        expected
            .iter()
            .any(|p| matches!(p, RichPattern::Token(x) if **x == t))
    };
    if wants(Tok::Comma) && found.is_some() {
        return Some("separate elements and arguments with `,`");
    }
    if expected
        .iter()
        .any(|p| matches!(p, RichPattern::EndOfInput))
        && found.is_some()
    {
        return Some("a statement ends here; start the next one with `use`, `param` or `let`");
    }
    None
}

/// Converts the errors of one statement. `at_eof`: the statement is the last one.
pub fn convert(file: &str, cx: Cx<'_>, errs: &[Rich<'_, Tok>], at_eof: bool) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = Vec::new();
    for e in errs {
        let span = cx.bytes(*e.span());
        let (message, found, expected): (String, Option<Tok>, &[RichPattern<'_, Tok>]) =
            match e.reason() {
                RichReason::ExpectedFound { expected, found } => {
                    let found_tok = found.as_deref().copied();
                    let found_text = match found_tok {
                        Some(_) => quote(cx.src.get(span.start..span.end).unwrap_or("")),
                        None => end_name(at_eof).to_string(),
                    };
                    (
                        format!(
                            "expected {}, found {found_text}",
                            expected_list(expected, at_eof)
                        ),
                        found_tok,
                        expected.as_slice(),
                    )
                }
                RichReason::Custom(msg) => (msg.clone(), None, &[]),
            };
        let (span, label) = if found.is_none() {
            (at_statement_end(cx, span), "the statement ends here")
        } else {
            (span, "unexpected here")
        };
        if out.iter().any(|d| d.span == span) {
            continue;
        }
        let mut d =
            Diagnostic::error(codes::UNEXPECTED_TOKEN, file, span, message).with_label(span, label);
        if let Some(h) = help_for(found, expected) {
            d = d.with_help(h);
        }
        out.push(d);
    }
    out
}

/// An error at the end of a statement points at its last token. The tokens are
/// in source order, so a binary search finds it (a scan from the end of the file
/// made every such error cost the whole file).
fn at_statement_end(cx: Cx<'_>, span: Span) -> Span {
    let before = cx.toks.partition_point(|t| t.span.end <= span.start.max(1));
    let last = before.checked_sub(1).and_then(|i| cx.toks.get(i));
    last.map_or(span, |t| t.span)
}
