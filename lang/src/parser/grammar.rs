//! The chumsky 0.13 grammar of one statement, over token kinds. Spans inside
//! chumsky are token indices into the statement; `Cx` turns them into byte spans
//! and decodes literal values from the source. Recovery: a broken list element,
//! argument or record field becomes an `Error` node and parsing goes on after the
//! next `,` (skipping bracket groups iteratively, never re-parsing them); a broken
//! value becomes an `Error` expression. Recursion depth is bounded by the
//! structure pre-pass, which keeps too-deep statements away.

use crate::ast::*;
use crate::lexer::{self, Tok, Token};
use crate::span::Span;
use chumsky::error::LabelError;
use chumsky::prelude::*;
use std::cell::Cell;

pub type Ex<'a> = extra::Err<Rich<'a, Tok>>;

/// The source, the parser's tokens, and where the current statement starts in them.
#[derive(Clone, Copy)]
pub struct Cx<'a> {
    pub src: &'a str,
    pub toks: &'a [Token],
    pub base: &'a Cell<usize>,
    /// For each token of `toks`, the index of the closer that matches it when it
    /// is an opener with one (see `structure::partners`).
    pub partners: &'a [Option<usize>],
}

impl<'a> Cx<'a> {
    /// The statement-relative index of the closer matching the opener at
    /// statement-relative index `at`, if it has one.
    fn partner(&self, at: usize) -> Option<usize> {
        let base = self.base.get();
        let close = (*self.partners.get(base + at)?)?;
        Some(close - base)
    }

    /// The byte span of the token-index span `s` of the current statement.
    pub fn bytes(&self, s: SimpleSpan) -> Span {
        let base = self.base.get();
        let first = self.toks.get(base + s.start);
        match (s.end > s.start, first) {
            (true, Some(f)) => {
                let last = self.toks.get(base + s.end - 1).unwrap_or(f);
                Span::new(f.span.start, last.span.end)
            }
            (false, Some(f)) => Span::new(f.span.start, f.span.start),
            _ => {
                let end = self.toks.last().map_or(0, |t| t.span.end);
                Span::new(end, end)
            }
        }
    }

    fn text(&self, s: SimpleSpan) -> &'a str {
        let b = self.bytes(s);
        self.src.get(b.start..b.end).unwrap_or("")
    }

    fn ident(&self, s: SimpleSpan) -> Ident {
        Ident {
            name: self.text(s).to_string(),
            span: self.bytes(s),
        }
    }

    fn literal(&self, kind: Tok, s: SimpleSpan) -> Expr {
        let text = self.text(s);
        let float = || lexer::float_value(text).unwrap_or(0.0);
        let kind = match kind {
            Tok::Int => lexer::int_value(text).map_or(ExprKind::Error, ExprKind::Int),
            Tok::Float => ExprKind::Float(float()),
            Tok::Quantity => ExprKind::Quantity {
                value: float(),
                unit: text[lexer::number_len(text)..].to_string(),
            },
            Tok::Percent => ExprKind::Percent(float() / 100.0),
            Tok::Str => ExprKind::Str(lexer::string_value(text)),
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            _ => ExprKind::Error,
        };
        Expr {
            kind,
            span: self.bytes(s),
        }
    }

    fn error_expr(&self, s: SimpleSpan) -> Expr {
        Expr {
            kind: ExprKind::Error,
            span: self.bytes(s),
        }
    }
}

type P<'a, O, E> = Boxed<'a, 'a, &'a [Tok], O, E>;

/// The error types the grammar is built with: `Ex` for diagnostics, and a cheap
/// one (`extra::Err<EmptyErr>`) for the first pass over statements that are fine.
pub trait Errors<'a>: extra::ParserExtra<'a, &'a [Tok], Context = (), State = ()> + 'a {}

impl<'a, E> Errors<'a> for E
where
    E: extra::ParserExtra<'a, &'a [Tok], Context = (), State = ()> + 'a,
    E::Error: LabelError<'a, &'a [Tok], &'static str>,
{
}

fn ident<'a, E: Errors<'a>>(cx: Cx<'a>, what: &'static str) -> P<'a, Ident, E>
where
    E::Error: LabelError<'a, &'a [Tok], &'static str>,
{
    just(Tok::Ident)
        .map_with(move |_, e| cx.ident(e.span()))
        .labelled(what)
        .boxed()
}

/// Balanced tokens up to (not including) the next `,` or closing delimiter at
/// this level: what a broken element is skipped as. A bracket group is stepped
/// over to its partner from `Cx::partner`, so the skip is one loop with no
/// recursion and no backtracking; an opener without a partner (unclosed or
/// mismatched) ends the skip there, so on broken nesting every level gives up
/// at once instead of retrying the rest of the statement (issue 25: the
/// recursive `nested_delimiters` tried each opener twice, 2^depth).
fn junk<'a, E: Errors<'a>>(cx: Cx<'a>) -> P<'a, (), E>
where
    E::Error: LabelError<'a, &'a [Tok], &'static str>,
{
    custom(move |inp| {
        let before = inp.cursor();
        let mut skipped = 0usize;
        loop {
            let at = *inp.cursor().inner();
            let step = match inp.peek() {
                Some(Tok::LParen | Tok::LBracket | Tok::LBrace) => {
                    cx.partner(at).map(|close| close + 1 - at)
                }
                Some(Tok::Comma | Tok::RParen | Tok::RBracket | Tok::RBrace) | None => None,
                Some(_) => Some(1),
            };
            let Some(step) = step else { break };
            for _ in 0..step {
                inp.skip();
            }
            skipped += step;
        }
        if skipped > 0 {
            return Ok(());
        }
        let found = inp.peek_maybe();
        let span = inp.span_since(&before);
        Err(LabelError::<'a, &'a [Tok], &'static str>::expected_found(
            [],
            found,
            span,
        ))
    })
    .boxed()
}

/// `item` followed by a look at `,` or `close`; a failure skips junk to there.
fn element<'a, O: 'a, E: Errors<'a>>(
    cx: Cx<'a>,
    item: P<'a, O, E>,
    close: Tok,
    on_error: impl Fn(SimpleSpan) -> O + Clone + 'a,
) -> P<'a, O, E>
where
    E::Error: LabelError<'a, &'a [Tok], &'static str>,
{
    item.then_ignore(one_of([Tok::Comma, close]).rewind())
        .recover_with(via_parser(
            junk(cx).map_with(move |_, e| on_error(e.span())),
        ))
        .boxed()
}

pub fn expr<'a, E: Errors<'a>>(cx: Cx<'a>) -> P<'a, Expr, E>
where
    E::Error: LabelError<'a, &'a [Tok], &'static str>,
{
    recursive(move |expr| {
        let expr: P<'a, Expr, E> = expr.boxed();
        let literal = one_of([
            Tok::Int,
            Tok::Float,
            Tok::Quantity,
            Tok::Percent,
            Tok::Str,
            Tok::True,
            Tok::False,
            Tok::BadLit,
        ])
        .map_with(move |k, e| cx.literal(k, e.span()));
        let name = just(Tok::Ident).map_with(move |_, e| Expr {
            kind: ExprKind::Name(cx.ident(e.span())),
            span: cx.bytes(e.span()),
        });

        let arg = ident(cx, "an argument name")
            .then_ignore(just(Tok::Colon))
            .or_not()
            .then(expr.clone())
            .map_with(move |(name, value), e| Arg {
                name,
                value,
                span: cx.bytes(e.span()),
            })
            .boxed();
        let arg = element(cx, arg, Tok::RParen, move |s| Arg {
            name: None,
            value: cx.error_expr(s),
            span: cx.bytes(s),
        });
        let args = arg
            .separated_by(just(Tok::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Tok::LParen), just(Tok::RParen));

        let item = element(cx, expr.clone(), Tok::RBracket, move |s| cx.error_expr(s));
        let list = item
            .separated_by(just(Tok::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Tok::LBracket), just(Tok::RBracket))
            .map(ExprKind::List);

        let field = ident(cx, "a field name")
            .then_ignore(just(Tok::Colon).labelled("`:` after the field name"))
            .then(expr.clone())
            .map_with(move |(name, value), e| Field {
                name,
                value,
                span: cx.bytes(e.span()),
            })
            .boxed();
        let field = element(cx, field, Tok::RBrace, move |s| Field {
            name: Ident {
                name: String::new(),
                span: cx.bytes(s),
            },
            value: cx.error_expr(s),
            span: cx.bytes(s),
        });
        let record = field
            .separated_by(just(Tok::Comma))
            .allow_trailing()
            .collect::<Vec<_>>()
            .delimited_by(just(Tok::LBrace), just(Tok::RBrace))
            .map(ExprKind::Record);

        let paren = expr
            .clone()
            .delimited_by(just(Tok::LParen), just(Tok::RParen))
            .map(|e| ExprKind::Paren(Box::new(e)));

        let compound = choice((list, record, paren))
            .map_with(move |kind, e| Expr {
                kind,
                span: cx.bytes(e.span()),
            })
            .boxed();
        let primary = choice((literal, name, compound)).boxed();

        enum Post {
            Member(Ident),
            Call(Vec<Arg>),
        }
        let postfix = primary
            .foldl_with(
                choice((
                    just(Tok::Dot)
                        .ignore_then(ident(cx, "a field name after `.`"))
                        .map(Post::Member),
                    args.map(Post::Call),
                ))
                .repeated(),
                move |target, post, e| {
                    let kind = match post {
                        Post::Member(field) => ExprKind::Member {
                            target: Box::new(target),
                            field,
                        },
                        Post::Call(args) => ExprKind::Call {
                            callee: Box::new(target),
                            args,
                        },
                    };
                    Expr {
                        kind,
                        span: cx.bytes(e.span()),
                    }
                },
            )
            .boxed();

        let binder = ident(cx, "a binder name")
            .then_ignore(just(Tok::In).labelled("`in` after the binder name"))
            .then(postfix.clone())
            .map_with(move |(name, values), e| Binder {
                name,
                values,
                span: cx.bytes(e.span()),
            });
        let sweep = just(Tok::For)
            .ignore_then(
                binder
                    .separated_by(just(Tok::Comma))
                    .at_least(1)
                    .collect::<Vec<_>>(),
            )
            .then_ignore(just(Tok::FatArrow).labelled("`=>` before the sweep body"))
            .then(expr)
            .map_with(move |(binders, body), e| Expr {
                kind: ExprKind::Sweep {
                    binders,
                    body: Box::new(body),
                },
                span: cx.bytes(e.span()),
            });
        choice((sweep.boxed(), postfix)).labelled("an expression")
    })
    .boxed()
}

fn type_expr<'a, E: Errors<'a>>(cx: Cx<'a>) -> P<'a, TypeExpr, E>
where
    E::Error: LabelError<'a, &'a [Tok], &'static str>,
{
    recursive(move |ty| {
        ident(cx, "a type name")
            .then(
                ty.delimited_by(just(Tok::LBracket), just(Tok::RBracket))
                    .or_not(),
            )
            .map_with(move |(name, arg), e| TypeExpr {
                name,
                arg: arg.map(Box::new),
                span: cx.bytes(e.span()),
            })
    })
    .boxed()
}

/// One whole statement; its value recovers to an `Error` expression.
pub fn stmt<'a, E: Errors<'a>>(cx: Cx<'a>) -> P<'a, StmtKind, E>
where
    E::Error: LabelError<'a, &'a [Tok], &'static str>,
{
    let value = expr(cx)
        .then_ignore(end())
        .recover_with(via_parser(
            any()
                .repeated()
                .map_with(move |_, e| cx.error_expr(e.span())),
        ))
        .boxed();
    let path = just(Tok::Str)
        .map_with(move |_, e| {
            let s = e.span();
            StrLit {
                value: lexer::string_value(cx.text(s)),
                span: cx.bytes(s),
            }
        })
        .labelled("a path string after `use`");
    let use_ = just(Tok::Use)
        .ignore_then(path)
        .then_ignore(just(Tok::As).labelled("`as` after the path"))
        .then(ident(cx, "a module name after `as`"))
        .then_ignore(end())
        .map(|(path, alias)| StmtKind::Use { path, alias });
    let param = just(Tok::Param)
        .ignore_then(ident(cx, "a parameter name after `param`"))
        .then(just(Tok::Colon).ignore_then(type_expr(cx)).or_not())
        .then_ignore(just(Tok::Eq).labelled("`=` after the parameter name"))
        .then(value.clone())
        .map(|((name, ty), value)| StmtKind::Param { name, ty, value });
    let let_ = just(Tok::Let)
        .ignore_then(ident(cx, "a binding name after `let`"))
        .then_ignore(just(Tok::Eq).labelled("`=` after the binding name"))
        .then(value)
        .map(|(name, value)| StmtKind::Let { name, value });
    choice((use_, param, let_)).boxed()
}
