//! `--set` values as the checker sees them: each overridden root `param` gets a
//! literal expression for its new value in place of the one in the file, so the
//! value meets every check a value written in the file meets (annotation, stage
//! argument types, ranges, allowed strings, builtin arguments) with the same
//! codes. This module only rewrites the root's tree before checking; it never
//! parses command lines and never reports anything itself.

use crate::ast::{Expr, ExprKind, Field, Ident, StmtKind};
use crate::span::Span;
use crate::units::{Dim, UNITS};
use crate::value::Value;
use std::collections::BTreeMap;

/// Replaces the value of every root param named in `overrides`; names that are
/// not root params are left to the caller (the interpreter refuses them first).
pub(crate) fn substitute(root: &mut crate::ast::File, overrides: &BTreeMap<String, Value>) {
    for stmt in &mut root.stmts {
        if let StmtKind::Param { name, value, .. } = &mut stmt.kind {
            if let Some(v) = overrides.get(&name.name) {
                *value = literal(v, value.span);
            }
        }
    }
}

/// Work items of `literal`, which builds the tree bottom-up without recursion
/// (a value's depth is the user's).
enum Step<'v> {
    Visit(&'v Value),
    List(usize),
    Record(Vec<&'v str>),
}

/// The expression a user would write for `value`; every node gets `span`, so a
/// diagnostic about the value points at the value it replaced.
pub(crate) fn literal(value: &Value, span: Span) -> Expr {
    let node = |kind| Expr { kind, span };
    let mut steps = vec![Step::Visit(value)];
    let mut built: Vec<Expr> = Vec::new();
    while let Some(step) = steps.pop() {
        match step {
            Step::Visit(Value::List(items)) => {
                steps.push(Step::List(items.len()));
                steps.extend(items.iter().rev().map(Step::Visit));
            }
            Step::Visit(Value::Record(fields)) => {
                steps.push(Step::Record(fields.keys().map(String::as_str).collect()));
                steps.extend(fields.values().rev().map(Step::Visit));
            }
            Step::Visit(scalar) => built.push(node(scalar_kind(scalar))),
            Step::List(n) => {
                let items = built.split_off(built.len() - n);
                built.push(node(ExprKind::List(items)));
            }
            Step::Record(names) => {
                let values = built.split_off(built.len() - names.len());
                let fields = names
                    .into_iter()
                    .zip(values)
                    .map(|(name, value)| Field {
                        name: Ident {
                            name: name.to_string(),
                            span,
                        },
                        value,
                        span,
                    })
                    .collect();
                built.push(node(ExprKind::Record(fields)));
            }
        }
    }
    built.pop().unwrap_or_else(|| node(ExprKind::Error))
}

fn scalar_kind(v: &Value) -> ExprKind {
    match v {
        Value::Int(i) => ExprKind::Int(*i),
        Value::Float(x) => ExprKind::Float(*x),
        Value::Bool(b) => ExprKind::Bool(*b),
        Value::Str(s) => ExprKind::Str(s.clone()),
        Value::Quantity { value, dim } => {
            let (unit, factor) = unit_for(*value, *dim);
            ExprKind::Quantity {
                value: value / factor,
                unit: unit.to_string(),
            }
        }
        Value::List(_) | Value::Record(_) => ExprKind::Error,
    }
}

/// A unit of `dim` in which `value` (in base units) is written exactly: the
/// base unit where the language has one (bytes, seconds, ...), otherwise the
/// first unit whose factor converts there and back without rounding (lengths
/// and areas have no base-unit suffix).
fn unit_for(value: f64, dim: Dim) -> (&'static str, f64) {
    let units = || UNITS.iter().filter(move |(_, d, _)| *d == dim);
    units()
        .find(|(_, _, f)| *f == 1.0)
        .or_else(|| units().find(|(_, _, f)| (value / f) * f == value))
        .or_else(|| units().next())
        .map(|&(s, _, f)| (s, f))
        .unwrap_or((dim.base_unit(), 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fold::const_value;

    fn round_trip(v: Value) {
        let e = literal(&v, Span::new(3, 9));
        assert_eq!(e.span, Span::new(3, 9));
        assert_eq!(const_value(&e, &|_| None).unwrap(), v);
    }

    #[test]
    fn every_value_folds_back_to_itself() {
        round_trip(Value::Int(-1));
        round_trip(Value::Float(0.25));
        round_trip(Value::Bool(true));
        round_trip(Value::Str("a \"quoted\" path/é".into()));
        round_trip(Value::Quantity {
            value: 100.0 * 1073741824.0,
            dim: Dim::Bytes,
        });
        round_trip(Value::Quantity {
            value: 7e-9,
            dim: Dim::Length,
        });
        round_trip(Value::Quantity {
            value: 3e-12,
            dim: Dim::Area,
        });
        let record = Value::Record(BTreeMap::from([
            ("a".to_string(), Value::Int(1)),
            (
                "b".to_string(),
                Value::List(vec![Value::Str("x".into()), Value::Str("y".into())]),
            ),
        ]));
        round_trip(Value::List(vec![record.clone(), record]));
        round_trip(Value::List(Vec::new()));
    }

    #[test]
    fn a_deep_value_is_built_without_recursion() {
        let mut v = Value::Int(0);
        for _ in 0..100_000 {
            v = Value::List(vec![v]);
        }
        let built = literal(&v, Span::new(0, 1));
        let mut e = &built;
        let mut depth = 0;
        while let ExprKind::List(items) = &e.kind {
            e = &items[0];
            depth += 1;
        }
        assert_eq!((depth, &e.kind), (100_000, &ExprKind::Int(0)));
        // Rust drops both trees recursively: leak them rather than overflow
        // this test's stack.
        std::mem::forget(built);
        std::mem::forget(v);
    }
}
