//! Comparing syntax trees while ignoring where things are: `erase_spans` sets
//! every span (and comment position) to zero so that "format then parse gives the
//! same tree" can be asserted with `==`. Recursion here is bounded by the
//! parser's nesting cap (128 levels).

use pipe_lang::ast::*;
use pipe_lang::span::Span;

fn ident(i: &Ident) -> Ident {
    Ident {
        name: i.name.clone(),
        span: Span::default(),
    }
}

fn ty(t: &TypeExpr) -> TypeExpr {
    TypeExpr {
        name: ident(&t.name),
        arg: t.arg.as_deref().map(|a| Box::new(ty(a))),
        span: Span::default(),
    }
}

fn expr(e: &Expr) -> Expr {
    let kind = match &e.kind {
        ExprKind::Name(i) => ExprKind::Name(ident(i)),
        ExprKind::Member { target, field } => ExprKind::Member {
            target: Box::new(expr(target)),
            field: ident(field),
        },
        ExprKind::Call { callee, args } => ExprKind::Call {
            callee: Box::new(expr(callee)),
            args: args
                .iter()
                .map(|a| Arg {
                    name: a.name.as_ref().map(ident),
                    value: expr(&a.value),
                    span: Span::default(),
                })
                .collect(),
        },
        ExprKind::List(items) => ExprKind::List(items.iter().map(expr).collect()),
        ExprKind::Record(fields) => ExprKind::Record(
            fields
                .iter()
                .map(|f| Field {
                    name: ident(&f.name),
                    value: expr(&f.value),
                    span: Span::default(),
                })
                .collect(),
        ),
        ExprKind::Sweep { binders, body } => ExprKind::Sweep {
            binders: binders
                .iter()
                .map(|b| Binder {
                    name: ident(&b.name),
                    values: expr(&b.values),
                    span: Span::default(),
                })
                .collect(),
            body: Box::new(expr(body)),
        },
        ExprKind::Paren(inner) => ExprKind::Paren(Box::new(expr(inner))),
        other => other.clone(),
    };
    Expr {
        kind,
        span: Span::default(),
    }
}

fn stmt(s: &Stmt) -> Stmt {
    let kind = match &s.kind {
        StmtKind::Use { path, alias } => StmtKind::Use {
            path: StrLit {
                value: path.value.clone(),
                span: Span::default(),
            },
            alias: ident(alias),
        },
        StmtKind::Param { name, ty: t, value } => StmtKind::Param {
            name: ident(name),
            ty: t.as_ref().map(ty),
            value: expr(value),
        },
        StmtKind::Let { name, value } => StmtKind::Let {
            name: ident(name),
            value: expr(value),
        },
        StmtKind::Error => StmtKind::Error,
    };
    Stmt {
        kind,
        span: Span::default(),
        doc: s.doc.clone(),
    }
}

/// The same tree with every span zeroed; comments keep their text and kind.
pub fn erase_spans(file: &File) -> File {
    File {
        stmts: file.stmts.iter().map(stmt).collect(),
        comments: file
            .comments
            .iter()
            .map(|c| Comment {
                span: Span::default(),
                text: c.text.clone(),
                doc: c.doc,
            })
            .collect(),
    }
}

/// Panics unless both texts parse to the same tree, spans aside.
pub fn assert_same_tree(before: &str, after: &str) {
    let a = erase_spans(&pipe_lang::parse("before.pipe", before).ast);
    let b = erase_spans(&pipe_lang::parse("after.pipe", after).ast);
    assert!(
        a == b,
        "the trees differ\n--- before ---\n{before}\n--- after ---\n{after}\n--- trees ---\n{a:#?}\n{b:#?}"
    );
}
