//! Typing expressions: literals, names, member access (records, sweeps, modules),
//! homogeneous lists, records and sweeps. Calls are in `call`. Recursion follows
//! the expression tree, whose depth the parser caps; every result is recorded in
//! `expr_types` for hover.

use super::module::{Binder, Checker};
use super::trace::MemberAnswer;
use crate::ast::{Expr, ExprKind, Field, Ident};
use crate::codes;
use crate::fold;
use crate::program::BindingKind;
use crate::suggest::closest;
use crate::types::Type;
use crate::units;
use crate::value::Value;
use std::collections::BTreeMap;

impl Checker<'_> {
    /// The type of `e`; reports what is wrong and gives `Type::Error` for it.
    pub fn infer(&mut self, e: &Expr) -> Type {
        let t = self.infer_kind(e);
        self.out.expr_types.insert(e.span, t.clone());
        t
    }

    fn infer_kind(&mut self, e: &Expr) -> Type {
        // The parser reports chains past its nesting cap; this keeps any other
        // tree (built by hand, or by a future parser) from deep recursion here.
        if fold::postfix_chain(e) > fold::MAX_POSTFIX_CHAIN {
            return Type::Error;
        }
        match &e.kind {
            ExprKind::Int(_) => Type::Int,
            ExprKind::Float(_) | ExprKind::Percent(_) => Type::Float,
            ExprKind::Str(_) => Type::Str,
            ExprKind::Bool(_) => Type::Bool,
            // An unknown unit is the lexer's error; nothing more to say here.
            ExprKind::Quantity { unit, .. } => units::lookup(unit)
                .map(|(d, _)| Type::Quantity(d))
                .unwrap_or(Type::Error),
            ExprKind::Name(id) => self.name_type(id),
            ExprKind::Paren(inner) => self.infer(inner),
            ExprKind::Member { target, field } => self.infer_member(e, target, field),
            ExprKind::Call { callee, args } => self.infer_call(e, callee, args),
            ExprKind::List(items) => self.infer_list(items),
            ExprKind::Record(fields) => self.infer_record(fields),
            ExprKind::Sweep { binders, body } => self.infer_sweep(binders, body),
            ExprKind::Error => Type::Error,
        }
    }

    fn infer_member(&mut self, e: &Expr, target: &Expr, field: &Ident) -> Type {
        if let ExprKind::Name(head) = &target.kind {
            if !self.is_bound(&head.name) && self.catalog.namespaces().contains(&head.name.as_str())
            {
                return self.stage_as_value(e, &head.name, field);
            }
            let is_module = !self.scopes.iter().any(|b| b.name == head.name)
                && self
                    .def_seen(&head.name)
                    .is_some_and(|(_, kind)| kind == BindingKind::Use);
            if is_module {
                let t = self.infer(target);
                if t == Type::Error {
                    return t;
                }
                return self.module_member(&head.name, field);
            }
        }
        let t = self.infer(target);
        self.field_of(&t, field)
    }

    /// `train.supervised` without a call.
    fn stage_as_value(&mut self, e: &Expr, namespace: &str, stage: &Ident) -> Type {
        if self.catalog.stage(namespace, &stage.name).is_none() {
            let d = self.unknown_stage(namespace, stage, e.span);
            self.report(d);
            return Type::Error;
        }
        let d = self
            .error(
                codes::NOT_A_VALUE,
                e.span,
                format!("`{namespace}.{}` is a stage, not a value", stage.name),
            )
            .with_label(e.span, "stage")
            .with_help(format!("call it: `{namespace}.{}(...)`", stage.name));
        self.report(d);
        Type::Error
    }

    /// `m.name` where `m` is a `use` alias: a param or let of that module.
    fn module_member(&mut self, alias: &str, field: &Ident) -> Type {
        let suggestion = match self.member_seen(alias, &field.name) {
            MemberAnswer::Unresolved => return Type::Error,
            MemberAnswer::Found { target, ty } => {
                self.out.cross_used.push((target, field.name.clone()));
                return ty;
            }
            MemberAnswer::Missing { suggestion } => suggestion,
        };
        let mut d = self
            .error(
                codes::UNKNOWN_MODULE_MEMBER,
                field.span,
                format!("module `{alias}` has no param or let `{}`", field.name),
            )
            .with_label(field.span, "not defined in that file");
        if let Some(s) = suggestion {
            d = d.with_help(format!("did you mean `{alias}.{s}`?"));
        }
        self.report(d);
        Type::Error
    }

    /// A field of a record; on a sweep, the field of every point (a sweep of it).
    pub fn field_of(&mut self, t: &Type, field: &Ident) -> Type {
        match t {
            Type::Error | Type::Any => t.clone(),
            Type::Sweep(inner) => match self.field_of(inner, field) {
                Type::Error => Type::Error,
                f => Type::sweep(f),
            },
            Type::Record(fields) => {
                if let Some(f) = fields.get(&field.name) {
                    return f.clone();
                }
                let mut d = self
                    .error(
                        codes::UNKNOWN_FIELD,
                        field.span,
                        format!("no field `{}` on `{t}`", field.name),
                    )
                    .with_label(field.span, "unknown field");
                if let Some(s) = closest(&field.name, fields.keys().map(String::as_str)) {
                    d = d.with_help(format!("did you mean `{s}`?"));
                } else {
                    let list: Vec<&str> = fields.keys().map(String::as_str).collect();
                    d = d.with_help(format!("the fields are {}", list.join(", ")));
                }
                self.report(d);
                Type::Error
            }
            other => {
                let d = self
                    .error(
                        codes::NO_FIELDS,
                        field.span,
                        format!("`{other}` has no fields; `.{}` is not defined", field.name),
                    )
                    .with_label(field.span, format!("member access on `{other}`"));
                self.report(d);
                Type::Error
            }
        }
    }

    /// Lists are homogeneous; ints among floats make a list of floats.
    fn infer_list(&mut self, items: &[Expr]) -> Type {
        let mut elem: Option<(Type, &Expr)> = None;
        for item in items {
            let t = self.infer(item);
            if t == Type::Error {
                continue;
            }
            let Some((current, first)) = &elem else {
                elem = Some((t, item));
                continue;
            };
            match unify(current, &t) {
                Some(u) => elem = Some((u, first)),
                None => {
                    let d = self
                        .error(
                            codes::MIXED_LIST,
                            item.span,
                            format!("list elements have different types: `{current}` and `{t}`"),
                        )
                        .with_label(item.span, format!("this is `{t}`"))
                        .with_label(first.span, format!("the list starts with `{current}`"))
                        .with_help("lists are homogeneous; use a record for mixed values");
                    self.report(d);
                    return Type::list(Type::Error);
                }
            }
        }
        Type::list(elem.map(|(t, _)| t).unwrap_or(Type::Any))
    }

    fn infer_record(&mut self, fields: &[Field]) -> Type {
        let mut out: BTreeMap<String, Type> = BTreeMap::new();
        let mut spans = BTreeMap::new();
        for f in fields {
            let t = self.infer(&f.value);
            if let Some(&first) = spans.get(&f.name.name) {
                let d = self
                    .error(
                        codes::DUPLICATE_FIELD,
                        f.name.span,
                        format!("field `{}` is given twice", f.name.name),
                    )
                    .with_label(f.name.span, "given again here")
                    .with_label(first, "first given here");
                self.report(d);
                continue;
            }
            spans.insert(f.name.name.clone(), f.name.span);
            out.insert(f.name.name.clone(), t);
        }
        Type::Record(out)
    }

    /// `for a in [..], b in [..] => body`: the cartesian product of the binders'
    /// values, one point per combination; its type is `Sweep[body]` (flat: a sweep
    /// inside a sweep adds its points).
    fn infer_sweep(&mut self, binders: &[crate::ast::Binder], body: &Expr) -> Type {
        let mut new: Vec<Binder> = Vec::with_capacity(binders.len());
        // Values first, all in the outer scope: binders are independent axes.
        for b in binders {
            let (ty, values) = self.binder_values(b);
            new.push(Binder {
                name: b.name.name.clone(),
                span: b.name.span,
                ty,
                values,
                used: false,
            });
        }
        let depth = self.scopes.len();
        for (b, binder) in binders.iter().zip(new) {
            if self.check_new_name(&b.name, "a sweep binder") {
                self.scopes.push(binder);
            }
        }
        let body_t = self.infer(body);
        let popped: Vec<Binder> = self.scopes.drain(depth..).collect();
        for b in popped
            .iter()
            .filter(|b| !b.used && !b.name.starts_with('_'))
        {
            let d = crate::diagnostic::Diagnostic::warning(
                codes::UNUSED_BINDER,
                self.file,
                b.span,
                format!("sweep binder `{}` is never used", b.name),
            )
            .with_label(b.span, "unused")
            .with_help(format!(
                "use it in the body, or name it `_{}` to repeat the body once per value",
                b.name
            ));
            self.report(d);
        }
        match body_t {
            Type::Error => Type::Error,
            Type::Sweep(inner) => Type::Sweep(inner),
            t => Type::sweep(t),
        }
    }

    /// The element type of a binder's values, and the values when constant;
    /// reports a non-list and an empty list.
    fn binder_values(&mut self, b: &crate::ast::Binder) -> (Type, Option<Vec<Value>>) {
        let t = self.infer(&b.values);
        let elem = match t {
            Type::List(e) => *e,
            Type::Error | Type::Any => return (Type::Error, None),
            other => {
                let d = self
                    .error(
                        codes::TYPE_MISMATCH,
                        b.values.span,
                        format!("sweep values must be a list, found `{other}`"),
                    )
                    .with_label(b.values.span, format!("this is `{other}`"))
                    .with_help(format!(
                        "write `for {} in [..]` or use `range(..)`",
                        b.name.name
                    ));
                self.report(d);
                return (Type::Error, None);
            }
        };
        let values = match fold::const_value(&b.values, &|n| self.const_lookup(n)) {
            Ok(Value::List(values)) => values,
            _ => return (elem, None),
        };
        if values.is_empty() {
            let d = self
                .error(
                    codes::EMPTY_SWEEP,
                    b.values.span,
                    format!("empty sweep: `{}` takes no values", b.name.name),
                )
                .with_label(b.values.span, "this list is empty")
                .with_help("a sweep needs at least one point");
            self.report(d);
            return (Type::Error, None);
        }
        (elem, Some(values))
    }
}

/// The common type of two list elements: equal types, or int with float.
fn unify(a: &Type, b: &Type) -> Option<Type> {
    match (a, b) {
        (Type::Int, Type::Float) | (Type::Float, Type::Int) => Some(Type::Float),
        (Type::Any, t) | (t, Type::Any) => Some(t.clone()),
        (Type::List(x), Type::List(y)) => unify(x, y).map(Type::list),
        _ if Type::accepts(a, b) && Type::accepts(b, a) => Some(a.clone()),
        _ => None,
    }
}
