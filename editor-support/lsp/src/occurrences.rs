//! Every identifier of one module's syntax tree, with what it names: a top-level
//! binding, a sweep binder, a namespace, a stage, a builtin, a member of an
//! imported module, a named argument, a record field or a type. Hover, go to
//! definition, references, rename and semantic tokens all start here. The walk
//! uses an explicit stack, so nesting depth in the source never grows the Rust
//! stack.

use pipe_lang::ast::{Expr, ExprKind, File, Ident, StmtKind, TypeExpr};
use pipe_lang::catalog::BUILTINS;
use pipe_lang::span::Span;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Symbol {
    /// A top-level binding of this module (`use` alias, `param`, `let`).
    Binding(String),
    /// A sweep binder, identified by the span of its definition.
    Local {
        name: String,
        def: Span,
    },
    Namespace(String),
    Stage {
        namespace: String,
        name: String,
    },
    Builtin(String),
    /// `alias.name`: a binding of the module imported as `alias`.
    Imported {
        alias: String,
        name: String,
    },
    /// A named argument; `stage` is `(namespace, name)` when the callee is a stage.
    Argument {
        stage: Option<(String, String)>,
        param: String,
    },
    /// A record field, where it is written or accessed.
    Field(String),
    /// The path string of `use "path" as alias`.
    ImportPath {
        alias: String,
    },
    /// A written type name (`int`, `bytes`, `list`).
    TypeName(String),
    /// A name that is defined nowhere (the checker reports it).
    Unresolved(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub span: Span,
    pub symbol: Symbol,
    /// Whether this is where the symbol is defined.
    pub def: bool,
}

enum Work<'a> {
    Expr(&'a Expr),
    Enter(Vec<(String, Span)>),
    Exit,
}

struct Walker<'a> {
    /// The catalog's namespaces: a free name among them names a namespace.
    namespaces: &'a [&'a str],
    top_level: BTreeSet<&'a str>,
    aliases: BTreeSet<&'a str>,
    scopes: Vec<Vec<(String, Span)>>,
    out: Vec<Occurrence>,
}

/// All occurrences of `file`, sorted by position; `namespaces` are the catalog's
/// (`Catalog::namespaces`).
pub fn collect<'a>(file: &'a File, namespaces: &'a [&'a str]) -> Vec<Occurrence> {
    let mut walker = Walker {
        namespaces,
        top_level: BTreeSet::new(),
        aliases: BTreeSet::new(),
        scopes: Vec::new(),
        out: Vec::new(),
    };
    for stmt in &file.stmts {
        match &stmt.kind {
            StmtKind::Use { alias, .. } => {
                walker.aliases.insert(&alias.name);
                walker.top_level.insert(&alias.name);
            }
            StmtKind::Param { name, .. } | StmtKind::Let { name, .. } => {
                walker.top_level.insert(&name.name);
            }
            StmtKind::Error => {}
        }
    }
    for stmt in &file.stmts {
        walker.stmt(&stmt.kind);
    }
    walker.out.sort_by_key(|o| (o.span.start, o.span.end));
    walker.out
}

/// The occurrence under the cursor: one whose span holds `offset`, else one that
/// ends exactly there (the cursor just after a name).
pub fn at(occurrences: &[Occurrence], offset: usize) -> Option<&Occurrence> {
    occurrences
        .iter()
        .find(|o| o.span.contains(offset))
        .or_else(|| occurrences.iter().find(|o| o.span.end == offset))
}

impl<'a> Walker<'a> {
    fn push(&mut self, span: Span, symbol: Symbol, def: bool) {
        self.out.push(Occurrence { span, symbol, def });
    }

    fn stmt(&mut self, kind: &'a StmtKind) {
        match kind {
            StmtKind::Use { path, alias } => {
                let alias_name = alias.name.clone();
                self.push(
                    path.span,
                    Symbol::ImportPath {
                        alias: alias_name.clone(),
                    },
                    false,
                );
                self.push(alias.span, Symbol::Binding(alias_name), true);
            }
            StmtKind::Param { name, ty, value } => {
                self.push(name.span, Symbol::Binding(name.name.clone()), true);
                if let Some(ty) = ty {
                    self.type_expr(ty);
                }
                self.expr(value);
            }
            StmtKind::Let { name, value } => {
                self.push(name.span, Symbol::Binding(name.name.clone()), true);
                self.expr(value);
            }
            StmtKind::Error => {}
        }
    }

    fn type_expr(&mut self, ty: &TypeExpr) {
        let mut cur = Some(ty);
        while let Some(t) = cur {
            self.push(t.name.span, Symbol::TypeName(t.name.name.clone()), false);
            cur = t.arg.as_deref();
        }
    }

    fn is_local(&self, name: &str) -> Option<Span> {
        self.scopes
            .iter()
            .rev()
            .flat_map(|scope| scope.iter().rev())
            .find(|(n, _)| n == name)
            .map(|&(_, def)| def)
    }

    fn resolve(&self, id: &Ident) -> Symbol {
        let name = id.name.clone();
        if let Some(def) = self.is_local(&id.name) {
            return Symbol::Local { name, def };
        }
        if self.top_level.contains(id.name.as_str()) {
            return Symbol::Binding(name);
        }
        if self.namespaces.contains(&id.name.as_str()) {
            return Symbol::Namespace(name);
        }
        if BUILTINS.contains(&id.name.as_str()) {
            return Symbol::Builtin(name);
        }
        Symbol::Unresolved(name)
    }

    /// `(namespace, stage)` when `callee` is `ns.stage` with `ns` not shadowed.
    fn stage_of(&self, callee: &Expr) -> Option<(String, String)> {
        let path = callee.dotted_path()?;
        let [ns, stage] = path.as_slice() else {
            return None;
        };
        match self.resolve(ns) {
            Symbol::Namespace(ns) => Some((ns, stage.name.clone())),
            _ => None,
        }
    }

    fn expr(&mut self, root: &'a Expr) {
        let mut stack = vec![Work::Expr(root)];
        while let Some(work) = stack.pop() {
            match work {
                Work::Expr(e) => self.expr_node(e, &mut stack),
                Work::Enter(scope) => self.scopes.push(scope),
                Work::Exit => {
                    self.scopes.pop();
                }
            }
        }
    }

    fn expr_node(&mut self, e: &'a Expr, stack: &mut Vec<Work<'a>>) {
        match &e.kind {
            ExprKind::Name(id) => {
                let symbol = self.resolve(id);
                self.push(id.span, symbol, false);
            }
            ExprKind::Member { target, field } => self.member(target, field, stack),
            ExprKind::Call { callee, args } => {
                let stage = self.stage_of(callee);
                for arg in args.iter().rev() {
                    if let Some(name) = &arg.name {
                        let param = name.name.clone();
                        let symbol = Symbol::Argument {
                            stage: stage.clone(),
                            param,
                        };
                        self.push(name.span, symbol, false);
                    }
                    stack.push(Work::Expr(&arg.value));
                }
                stack.push(Work::Expr(callee));
            }
            ExprKind::List(items) => stack.extend(items.iter().rev().map(Work::Expr)),
            ExprKind::Record(fields) => {
                for field in fields.iter().rev() {
                    self.push(
                        field.name.span,
                        Symbol::Field(field.name.name.clone()),
                        true,
                    );
                    stack.push(Work::Expr(&field.value));
                }
            }
            ExprKind::Sweep { binders, body } => {
                let scope = binders
                    .iter()
                    .map(|b| (b.name.name.clone(), b.name.span))
                    .collect();
                stack.push(Work::Exit);
                stack.push(Work::Expr(body));
                stack.push(Work::Enter(scope));
                for binder in binders.iter().rev() {
                    let symbol = Symbol::Local {
                        name: binder.name.name.clone(),
                        def: binder.name.span,
                    };
                    self.push(binder.name.span, symbol, true);
                    stack.push(Work::Expr(&binder.values));
                }
            }
            ExprKind::Paren(inner) => stack.push(Work::Expr(inner)),
            ExprKind::Int(_)
            | ExprKind::Float(_)
            | ExprKind::Quantity { .. }
            | ExprKind::Percent(_)
            | ExprKind::Str(_)
            | ExprKind::Bool(_)
            | ExprKind::Error => {}
        }
    }

    fn member(&mut self, target: &'a Expr, field: &'a Ident, stack: &mut Vec<Work<'a>>) {
        if let ExprKind::Name(id) = &target.kind {
            match self.resolve(id) {
                Symbol::Namespace(ns) => {
                    let stage = Symbol::Stage {
                        namespace: ns.clone(),
                        name: field.name.clone(),
                    };
                    self.push(id.span, Symbol::Namespace(ns), false);
                    self.push(field.span, stage, false);
                    return;
                }
                Symbol::Binding(alias) if self.aliases.contains(alias.as_str()) => {
                    let member = Symbol::Imported {
                        alias: alias.clone(),
                        name: field.name.clone(),
                    };
                    self.push(id.span, Symbol::Binding(alias), false);
                    self.push(field.span, member, false);
                    return;
                }
                _ => {}
            }
        }
        self.push(field.span, Symbol::Field(field.name.clone()), false);
        stack.push(Work::Expr(target));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn occs(text: &str) -> Vec<(String, Symbol, bool)> {
        let parsed = pipe_lang::parse("t.pipe", text);
        collect(&parsed.ast, pipe_stdlib::NAMESPACES)
            .into_iter()
            .map(|o| (text[o.span.start..o.span.end].to_string(), o.symbol, o.def))
            .collect()
    }

    fn symbol_of(all: &[(String, Symbol, bool)], name: &str, nth: usize) -> Symbol {
        all.iter()
            .filter(|(n, _, _)| n == name)
            .nth(nth)
            .map(|(_, s, _)| s.clone())
            .unwrap_or_else(|| panic!("no occurrence {nth} of {name} in {all:?}"))
    }

    #[test]
    fn resolves_bindings_stages_arguments_and_imports() {
        let all = occs(
            "use \"c.pipe\" as c\nparam bits: int = 4\nlet d = dataset.digits()\n\
             let q = quant.evolq(model: c.net, bits: bits)\nlet r = range(1, 3)\nlet z = d.train",
        );
        assert_eq!(symbol_of(&all, "c", 0), Symbol::Binding("c".into()));
        assert_eq!(
            symbol_of(&all, "net", 0),
            Symbol::Imported {
                alias: "c".into(),
                name: "net".into()
            }
        );
        assert_eq!(
            symbol_of(&all, "dataset", 0),
            Symbol::Namespace("dataset".into())
        );
        assert_eq!(
            symbol_of(&all, "evolq", 0),
            Symbol::Stage {
                namespace: "quant".into(),
                name: "evolq".into()
            }
        );
        assert_eq!(
            symbol_of(&all, "bits", 1),
            Symbol::Argument {
                stage: Some(("quant".into(), "evolq".into())),
                param: "bits".into()
            }
        );
        assert_eq!(symbol_of(&all, "bits", 2), Symbol::Binding("bits".into()));
        assert_eq!(symbol_of(&all, "int", 0), Symbol::TypeName("int".into()));
        assert_eq!(symbol_of(&all, "range", 0), Symbol::Builtin("range".into()));
        assert_eq!(symbol_of(&all, "train", 0), Symbol::Field("train".into()));
        assert!(all
            .iter()
            .any(|(n, s, def)| n == "bits" && *def && *s == Symbol::Binding("bits".into())));
    }

    #[test]
    fn sweep_binders_shadow_only_inside_their_body() {
        let all = occs("let x = 1\nlet s = for x in [x, 2] => [x]\nlet t = x");
        let binder_def = match symbol_of(&all, "x", 1) {
            Symbol::Local { def, .. } => def,
            other => panic!("binder expected, got {other:?}"),
        };
        assert_eq!(symbol_of(&all, "x", 2), Symbol::Binding("x".into()));
        assert_eq!(
            symbol_of(&all, "x", 3),
            Symbol::Local {
                name: "x".into(),
                def: binder_def
            }
        );
        assert_eq!(symbol_of(&all, "x", 4), Symbol::Binding("x".into()));
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        use pipe_lang::ast::{Stmt, StmtKind};
        let name = |n: &str| Ident {
            name: n.into(),
            span: Span::new(0, 1),
        };
        let mut expr = Expr {
            kind: ExprKind::Name(name("a")),
            span: Span::new(0, 1),
        };
        for _ in 0..100_000 {
            expr = Expr {
                kind: ExprKind::List(vec![expr]),
                span: Span::new(0, 1),
            };
        }
        let stmt = Stmt {
            kind: StmtKind::Let {
                name: name("a"),
                value: expr,
            },
            span: Span::new(0, 1),
            doc: None,
        };
        let file = File {
            stmts: vec![stmt],
            comments: Vec::new(),
        };
        assert_eq!(collect(&file, pipe_stdlib::NAMESPACES).len(), 2);
        // Dropping the tree would recurse 100,000 deep in drop glue; the test
        // process ends soon, so leaking it is harmless.
        std::mem::forget(file);
    }
}
