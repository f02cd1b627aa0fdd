//! Constant evaluation: literals, lists, records, names of constants and the value
//! builtins (`range`, `linspace`, `logspace`) folded to a `Value` before anything
//! runs. The checker uses it for params, builtin arguments, ranges and choices; the
//! interpreter uses it for params and `--set name=value`. It never evaluates a stage
//! call or a sweep: those are not constants.

use crate::ast::{Expr, ExprKind};
use crate::catalog::BUILTINS;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::units;
use crate::value::Value;
use std::collections::BTreeMap;

/// The most points one builtin may produce; a typo like `range(0, 1e12)` must not
/// exhaust memory.
pub const MAX_BUILTIN_POINTS: i64 = 1_000_000;

/// The longest run of member accesses and calls (`a.b.c()()`) that is walked.
/// The parser reports longer chains; refusing them here too keeps every walk over
/// a tree from elsewhere (hand-built, or `--set` text) shallow.
pub const MAX_POSTFIX_CHAIN: usize = 256;

/// How many member accesses and calls are applied in a row at the top of `expr`.
pub fn postfix_chain(expr: &Expr) -> usize {
    let mut n = 0;
    let mut cur = expr;
    loop {
        match &cur.kind {
            ExprKind::Member { target, .. } => cur = target,
            ExprKind::Call { callee, .. } => cur = callee,
            _ => return n,
        }
        n += 1;
    }
}

/// Why an expression has no constant value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FoldErrorKind {
    /// A stage call, a sweep, or a name that is not a constant.
    #[error("{0} is not a constant")]
    NotConstant(String),
    /// A builtin called with arguments it cannot use.
    #[error("{0}")]
    BadBuiltin(String),
    /// A list whose elements have different kinds.
    #[error("list elements have different types")]
    MixedList,
    /// A record field that does not exist.
    #[error("no field `{0}`")]
    NoField(String),
    /// A node the parser (or lexer) already reported: nothing more to say.
    #[error("invalid expression")]
    Invalid,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{kind}")]
pub struct FoldError {
    pub span: Span,
    pub kind: FoldErrorKind,
}

impl FoldError {
    fn new(span: Span, kind: FoldErrorKind) -> Self {
        FoldError { span, kind }
    }

    /// Whether this error is news to the user (not an already reported parse error).
    pub fn is_reportable(&self) -> bool {
        self.kind != FoldErrorKind::Invalid
    }

    /// The diagnostic for this error; `E0409` for builtin misuse, `E0410` otherwise.
    pub fn to_diagnostic(&self, file: &str) -> Diagnostic {
        let code = match self.kind {
            FoldErrorKind::BadBuiltin(_) => crate::codes::BAD_BUILTIN,
            _ => crate::codes::NOT_CONSTANT,
        };
        Diagnostic::error(code, file, self.span, self.kind.to_string())
            .with_label(self.span, "needs a constant value here")
    }
}

/// Folds a constant expression. `env` gives the value of a name (`bits`) or of a
/// module member (`m.bits`, asked as the dotted text) when it is a constant.
pub fn const_value(expr: &Expr, env: &dyn Fn(&str) -> Option<Value>) -> Result<Value, FoldError> {
    let span = expr.span;
    match &expr.kind {
        ExprKind::Int(i) => Ok(Value::Int(*i)),
        ExprKind::Float(x) => Ok(Value::Float(*x)),
        ExprKind::Percent(x) => Ok(Value::Float(*x)),
        ExprKind::Str(s) => Ok(Value::Str(s.clone())),
        ExprKind::Bool(b) => Ok(Value::Bool(*b)),
        ExprKind::Quantity { value, unit } => quantity(*value, unit, span),
        ExprKind::Paren(inner) => const_value(inner, env),
        ExprKind::Name(id) => env(&id.name).ok_or_else(|| {
            FoldError::new(span, FoldErrorKind::NotConstant(format!("`{}`", id.name)))
        }),
        ExprKind::Member { target, field } => member(expr, target, &field.name, env),
        ExprKind::List(items) => list(items, env),
        ExprKind::Record(fields) => {
            let mut out = BTreeMap::new();
            for f in fields {
                out.insert(f.name.name.clone(), const_value(&f.value, env)?);
            }
            Ok(Value::Record(out))
        }
        ExprKind::Call { callee, args } => call(span, callee, args, env),
        ExprKind::Sweep { .. } => Err(FoldError::new(
            span,
            FoldErrorKind::NotConstant("a sweep".into()),
        )),
        ExprKind::Error => Err(FoldError::new(span, FoldErrorKind::Invalid)),
    }
}

fn quantity(value: f64, unit: &str, span: Span) -> Result<Value, FoldError> {
    let (dim, factor) =
        units::lookup(unit).ok_or_else(|| FoldError::new(span, FoldErrorKind::Invalid))?;
    Ok(Value::Quantity {
        value: value * factor,
        dim,
    })
}

fn member(
    expr: &Expr,
    target: &Expr,
    field: &str,
    env: &dyn Fn(&str) -> Option<Value>,
) -> Result<Value, FoldError> {
    if postfix_chain(expr) > MAX_POSTFIX_CHAIN {
        return Err(FoldError::new(expr.span, FoldErrorKind::Invalid));
    }
    // `m.bits` on an imported module: the module itself has no value, its member may.
    if let Some(path) = expr.dotted_path() {
        if path.len() == 2 && env(&path[0].name).is_none() {
            let dotted = format!("{}.{}", path[0].name, path[1].name);
            return env(&dotted).ok_or_else(|| {
                FoldError::new(expr.span, FoldErrorKind::NotConstant(format!("`{dotted}`")))
            });
        }
    }
    match const_value(target, env)? {
        Value::Record(mut fields) => fields
            .remove(field)
            .ok_or_else(|| FoldError::new(expr.span, FoldErrorKind::NoField(field.to_string()))),
        _ => Err(FoldError::new(
            expr.span,
            FoldErrorKind::NotConstant(format!("`.{field}`")),
        )),
    }
}

/// Lists are homogeneous; ints among floats become floats (an int is accepted
/// where a float is expected).
fn list(items: &[Expr], env: &dyn Fn(&str) -> Option<Value>) -> Result<Value, FoldError> {
    let mut values = Vec::with_capacity(items.len());
    for item in items {
        values.push(const_value(item, env)?);
    }
    let has_float = values.iter().any(|v| matches!(v, Value::Float(_)));
    let has_int = values.iter().any(|v| matches!(v, Value::Int(_)));
    if has_float && has_int {
        for v in &mut values {
            if let Value::Int(i) = v {
                *v = Value::Float(*i as f64);
            }
        }
    }
    for (item, v) in items.iter().zip(&values).skip(1) {
        if std::mem::discriminant(v) != std::mem::discriminant(&values[0]) {
            return Err(FoldError::new(item.span, FoldErrorKind::MixedList));
        }
    }
    Ok(Value::List(values))
}

fn call(
    span: Span,
    callee: &Expr,
    args: &[crate::ast::Arg],
    env: &dyn Fn(&str) -> Option<Value>,
) -> Result<Value, FoldError> {
    let name = match &callee.kind {
        ExprKind::Name(id) if BUILTINS.contains(&id.name.as_str()) => id.name.as_str(),
        _ => {
            return Err(FoldError::new(
                span,
                FoldErrorKind::NotConstant("a stage call".into()),
            ))
        }
    };
    let bad = |msg: String| FoldError::new(span, FoldErrorKind::BadBuiltin(msg));
    if let Some(named) = args.iter().find(|a| a.name.is_some()) {
        return Err(FoldError::new(
            named.span,
            FoldErrorKind::BadBuiltin(format!("`{name}` takes positional arguments only")),
        ));
    }
    let mut values = Vec::with_capacity(args.len());
    for a in args {
        values.push(const_value(&a.value, env)?);
    }
    match name {
        "range" => range(&values).map_err(bad),
        "linspace" => spaced(&values, false).map_err(bad),
        _ => spaced(&values, true).map_err(bad),
    }
}

/// `range(start, end[, step])`: ints, end exclusive, like Python.
pub fn range(args: &[Value]) -> Result<Value, String> {
    if !(2..=3).contains(&args.len()) {
        return Err(format!(
            "`range` takes 2 or 3 arguments (start, end[, step]), got {}",
            args.len()
        ));
    }
    let mut ints = [0i64, 0, 1];
    for (i, v) in args.iter().enumerate() {
        ints[i] = v
            .as_i64()
            .ok_or_else(|| format!("`range` takes ints, got {v}"))?;
    }
    let [start, end, step] = ints;
    if step == 0 {
        return Err("`range` step must not be 0".into());
    }
    // In i128 so that no bounds (`i64::MIN` steps included) can overflow.
    let (span, stride) = (end as i128 - start as i128, step as i128);
    let count = if (span > 0) == (stride > 0) && span != 0 {
        (span.abs() + stride.abs() - 1) / stride.abs()
    } else {
        0
    };
    if count > MAX_BUILTIN_POINTS as i128 {
        return Err(format!(
            "`range` would produce {count} values; the limit is {MAX_BUILTIN_POINTS}"
        ));
    }
    // Every value lies between `start` and `end`, so it fits in an i64.
    let values = (0..count)
        .map(|k| Value::Int((start as i128 + k * stride) as i64))
        .collect();
    Ok(Value::List(values))
}

/// `linspace(a, b, n)` / `logspace(a, b, n)`: `n` floats from `a` to `b` inclusive,
/// evenly spaced (logspace: evenly in log10, with `a` and `b` the values themselves).
pub fn spaced(args: &[Value], log: bool) -> Result<Value, String> {
    let name = if log { "logspace" } else { "linspace" };
    let [a, b, n] = args else {
        return Err(format!(
            "`{name}` takes 3 arguments (start, end, count), got {}",
            args.len()
        ));
    };
    let (Some(a), Some(b)) = (number(a), number(b)) else {
        return Err(format!("`{name}` takes numbers for start and end"));
    };
    let Some(n) = n.as_i64() else {
        return Err(format!("`{name}` count must be an int, got {n}"));
    };
    if !(1..=MAX_BUILTIN_POINTS).contains(&n) {
        return Err(format!(
            "`{name}` count must be between 1 and {MAX_BUILTIN_POINTS}, got {n}"
        ));
    }
    if log && (a <= 0.0 || b <= 0.0) {
        return Err(format!(
            "`logspace` start and end must be positive, got {a} and {b}"
        ));
    }
    let (lo, hi) = if log { (a.log10(), b.log10()) } else { (a, b) };
    let values = (0..n)
        .map(|k| {
            let t = if n == 1 {
                0.0
            } else {
                k as f64 / (n - 1) as f64
            };
            // The ends are the values as written, not a round trip through log10.
            let x = match k {
                0 => a,
                k if k == n - 1 => b,
                _ if log => 10f64.powf(lo + (hi - lo) * t),
                _ => lo + (hi - lo) * t,
            };
            Value::Float(x)
        })
        .collect();
    Ok(Value::List(values))
}

/// Plain numbers only: a quantity is not a count or a bound of a unitless range.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Int(i) => Some(*i as f64),
        Value::Float(x) => Some(*x),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ints(v: Value) -> Vec<i64> {
        match v {
            Value::List(items) => items.iter().filter_map(Value::as_i64).collect(),
            other => panic!("not a list: {other}"),
        }
    }

    fn floats(v: Value) -> Vec<f64> {
        match v {
            Value::List(items) => items.iter().filter_map(Value::as_f64).collect(),
            other => panic!("not a list: {other}"),
        }
    }

    #[test]
    fn range_is_end_exclusive_like_python() {
        let r = |a: &[i64]| range(&a.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>());
        assert_eq!(ints(r(&[8, 33, 8]).unwrap()), vec![8, 16, 24, 32]);
        assert_eq!(ints(r(&[0, 3]).unwrap()), vec![0, 1, 2]);
        assert_eq!(ints(r(&[5, 0, -2]).unwrap()), vec![5, 3, 1]);
        assert!(ints(r(&[4, 4]).unwrap()).is_empty());
        assert!(r(&[0, 4, 0]).unwrap_err().contains("step"));
        assert!(r(&[0]).unwrap_err().contains("2 or 3"));
        assert!(r(&[0, i64::MAX]).unwrap_err().contains("limit"));
        assert_eq!(ints(r(&[0, -5, i64::MIN]).unwrap()), vec![0]);
        assert!(ints(r(&[0, 5, i64::MIN]).unwrap()).is_empty());
        let wide = ints(r(&[i64::MIN, i64::MAX, 1 << 62]).unwrap());
        assert_eq!(wide.len(), 4);
        assert_eq!(wide[3], 1 << 62);
    }

    #[test]
    fn linspace_and_logspace_hit_both_ends() {
        let args = |a: f64, b: f64, n: i64| vec![Value::Float(a), Value::Float(b), Value::Int(n)];
        let lin = floats(spaced(&args(0.1, 0.9, 5), false).unwrap());
        assert_eq!(lin.len(), 5);
        assert!((lin[2] - 0.5).abs() < 1e-12);
        assert_eq!(lin[4], 0.9);
        let log = floats(spaced(&args(1e-4, 1e-2, 3), true).unwrap());
        assert_eq!(log[0], 1e-4);
        assert!((log[1] - 1e-3).abs() < 1e-15);
        assert_eq!(log[2], 1e-2);
        assert!(spaced(&args(0.0, 1.0, 3), true)
            .unwrap_err()
            .contains("positive"));
        assert!(spaced(&args(0.0, 1.0, 0), false)
            .unwrap_err()
            .contains("count"));
    }

    #[test]
    fn long_member_chains_are_refused_without_recursing() {
        use crate::ast::Ident;
        let id = |name: &str| Ident {
            name: name.into(),
            span: Span::default(),
        };
        let mut e = Expr {
            kind: ExprKind::Name(id("r")),
            span: Span::default(),
        };
        for _ in 0..10_000 {
            e = Expr {
                kind: ExprKind::Member {
                    target: Box::new(e),
                    field: id("a"),
                },
                span: Span::default(),
            };
        }
        assert_eq!(postfix_chain(&e), 10_000);
        let record = Value::Record(BTreeMap::from([("a".to_string(), Value::Int(1))]));
        let err = const_value(&e, &|n| (n == "r").then(|| record.clone())).unwrap_err();
        assert_eq!(err.kind, FoldErrorKind::Invalid);
    }
}
