//! The syntax tree the parser produces. Every node keeps its byte span; parse
//! errors leave `Error` nodes so later phases can keep going. Literal spellings
//! (`1_000`, `1e-3`) are recovered from the source by span when the formatter
//! needs them, so the tree stores values, not text.

use crate::span::Span;

#[derive(Debug, Clone, PartialEq)]
pub struct File {
    pub stmts: Vec<Stmt>,
    /// Every `#` and `##` comment in source order, for the formatter.
    pub comments: Vec<Comment>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Comment {
    pub span: Span,
    /// The text after `#` (or after `##` for doc comments), without the newline.
    pub text: String,
    pub doc: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub kind: StmtKind,
    pub span: Span,
    /// The `##` lines directly above the statement, joined with `\n`.
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StmtKind {
    Use {
        path: StrLit,
        alias: Ident,
    },
    Param {
        name: Ident,
        ty: Option<TypeExpr>,
        value: Expr,
    },
    Let {
        name: Ident,
        value: Expr,
    },
    /// A statement that did not parse; its errors were reported.
    Error,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct StrLit {
    pub value: String,
    pub span: Span,
}

/// `int`, `list[float]`, `bytes`, ...
#[derive(Debug, Clone, PartialEq)]
pub struct TypeExpr {
    pub name: Ident,
    pub arg: Option<Box<TypeExpr>>,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    Float(f64),
    /// `128KiB`: the number as written and the unit suffix; conversion happens in the checker.
    Quantity {
        value: f64,
        unit: String,
    },
    /// `20%` is stored as 0.2.
    Percent(f64),
    Str(String),
    Bool(bool),
    Name(Ident),
    Member {
        target: Box<Expr>,
        field: Ident,
    },
    Call {
        callee: Box<Expr>,
        args: Vec<Arg>,
    },
    List(Vec<Expr>),
    Record(Vec<Field>),
    Sweep {
        binders: Vec<Binder>,
        body: Box<Expr>,
    },
    Paren(Box<Expr>),
    /// An expression that did not parse; its errors were reported.
    Error,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Arg {
    pub name: Option<Ident>,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binder {
    pub name: Ident,
    pub values: Expr,
    pub span: Span,
}

impl Expr {
    /// `ns.stage` or `m.name` as a dotted path, when the expression is only names and members.
    pub fn dotted_path(&self) -> Option<Vec<&Ident>> {
        let mut parts = Vec::new();
        let mut cur = self;
        loop {
            match &cur.kind {
                ExprKind::Name(id) => {
                    parts.push(id);
                    parts.reverse();
                    return Some(parts);
                }
                ExprKind::Member { target, field } => {
                    parts.push(field);
                    cur = target;
                }
                _ => return None,
            }
        }
    }
}
