//! Calls: resolving the callee (a stage `ns.name`, a builtin, or an error), binding
//! arguments to the signature (positional in order, then named), checking each
//! argument's type, unit, dataset task, range and allowed strings, and the call's
//! type: the stage's output, mapped over any sweep passed where a single value is
//! wanted (broadcast). Builtins are typed here and folded by `fold`.

use super::module::Checker;
use crate::ast::{Arg, Expr, ExprKind, Ident};
use crate::catalog::{ParamSig, StageSig};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::fold::{self, FoldErrorKind};
use crate::program::ResolvedCall;
use crate::span::Span;
use crate::suggest::closest;
use crate::types::{Task, Type};
use crate::value::Value;

enum Callee<'c> {
    Stage(&'c StageSig),
    Builtin(String),
    /// Already reported (unknown name, namespace or stage).
    Unresolved,
    /// A value that is not a stage.
    NotCallable(Type),
}

impl<'a> Checker<'a> {
    pub fn infer_call(&mut self, e: &Expr, callee: &Expr, args: &[Arg]) -> Type {
        match self.resolve_callee(callee) {
            Callee::Stage(sig) => self.stage_call(e, callee, sig, args),
            Callee::Builtin(name) => self.builtin_call(e, &name, args),
            Callee::Unresolved => self.infer_args_only(args),
            Callee::NotCallable(t) => {
                if t != Type::Error {
                    let d = self
                        .error(
                            codes::NOT_CALLABLE,
                            callee.span,
                            format!("`{t}` is not callable"),
                        )
                        .with_label(callee.span, "not a stage or builtin")
                        .with_help("only stages (`ns.stage(...)`) and `range`, `linspace`, `logspace` can be called");
                    self.report(d);
                }
                self.infer_args_only(args)
            }
        }
    }

    fn infer_args_only(&mut self, args: &[Arg]) -> Type {
        for a in args {
            self.infer(&a.value);
        }
        Type::Error
    }

    fn resolve_callee(&mut self, callee: &Expr) -> Callee<'a> {
        let Some(path) = callee.dotted_path() else {
            return Callee::NotCallable(self.infer(callee));
        };
        let head = path[0];
        if self.is_bound(&head.name) {
            return Callee::NotCallable(self.infer(callee));
        }
        let is_namespace = self.catalog.namespaces().contains(&head.name.as_str());
        // The signature outlives this checker's borrows: it lives in the catalog.
        let catalog: &'a dyn crate::catalog::Catalog = self.catalog;
        match path.as_slice() {
            [only] if crate::catalog::BUILTINS.contains(&only.name.as_str()) => {
                Callee::Builtin(only.name.clone())
            }
            [_] if is_namespace => {
                let d = self
                    .error(
                        codes::NOT_CALLABLE,
                        callee.span,
                        format!("`{}` is a namespace; call one of its stages", head.name),
                    )
                    .with_label(callee.span, "namespace")
                    .with_help(format!("write `{}.<stage>(...)`", head.name));
                self.report(d);
                Callee::Unresolved
            }
            [_] => Callee::NotCallable(self.infer(callee)),
            [ns, stage] if is_namespace => match catalog.stage(&ns.name, &stage.name) {
                Some(sig) => Callee::Stage(sig),
                None => {
                    let d = self.unknown_stage(&ns.name, stage, callee.span);
                    self.report(d);
                    Callee::Unresolved
                }
            },
            [ns, stage] => {
                let d = self.unknown_namespace(ns, stage);
                self.report(d);
                Callee::Unresolved
            }
            _ => {
                let text: Vec<&str> = path.iter().map(|i| i.name.as_str()).collect();
                let d = self
                    .error(
                        codes::UNKNOWN_STAGE,
                        callee.span,
                        format!("unknown stage `{}`", text.join(".")),
                    )
                    .with_label(callee.span, "stages are called as `namespace.stage(...)`");
                self.report(d);
                Callee::Unresolved
            }
        }
    }

    fn all_stage_names(&self) -> Vec<String> {
        self.catalog
            .namespaces()
            .iter()
            .flat_map(|ns| self.catalog.stages(ns))
            .map(StageSig::full_name)
            .collect()
    }

    pub fn unknown_stage(&self, namespace: &str, stage: &Ident, span: Span) -> Diagnostic {
        let wrong = format!("{namespace}.{}", stage.name);
        let all = self.all_stage_names();
        let mut d = self
            .error(
                codes::UNKNOWN_STAGE,
                span,
                format!("unknown stage `{wrong}`"),
            )
            .with_label(
                stage.span,
                format!("no stage `{}` in `{namespace}`", stage.name),
            );
        // The same stage name in another namespace beats a near spelling.
        let suggestion = self
            .stage_named(&stage.name)
            .or_else(|| closest(&wrong, all.iter().map(String::as_str)).map(str::to_string));
        if let Some(s) = suggestion {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        d
    }

    fn unknown_namespace(&self, ns: &Ident, stage: &Ident) -> Diagnostic {
        let wrong = format!("{}.{}", ns.name, stage.name);
        let all = self.all_stage_names();
        let mut d = self
            .error(
                codes::UNKNOWN_NAMESPACE,
                ns.span,
                format!("unknown namespace `{}`", ns.name),
            )
            .with_label(ns.span, "not a namespace or a name");
        let suggestion = closest(&wrong, all.iter().map(String::as_str))
            .map(str::to_string)
            .or_else(|| {
                closest(&ns.name, self.catalog.namespaces().iter().copied()).map(str::to_string)
            });
        if let Some(s) = suggestion {
            d = d.with_help(format!("did you mean `{s}`?"));
        }
        d
    }

    fn stage_call(&mut self, e: &Expr, callee: &Expr, sig: &StageSig, args: &[Arg]) -> Type {
        let bound = self.bind_args(sig, args);
        if let Some(call) = resolved(sig, args, &bound) {
            self.out.calls.insert(e.span, call);
        }
        let mut swept = false;
        let mut task: Option<Task> = None;
        let mut missing = Vec::new();
        for (param, arg) in sig.params.iter().zip(&bound) {
            let Some(arg) = arg else {
                if param.default.is_none() {
                    missing.push(param.name);
                }
                continue;
            };
            let got = self.check_arg(sig, param, arg);
            swept |= matches!(got, Type::Sweep(_)) && broadcasts(&param.ty);
            if sig.output_task_from == Some(param.name) {
                task = dataset_task(&got);
            }
        }
        if !missing.is_empty() && !args.iter().any(is_unparsed) {
            let d = self.missing_args(e, callee, sig, &missing);
            self.report(d);
        }
        let out = with_task(sig.output.clone(), task);
        if swept {
            Type::sweep(out)
        } else {
            out
        }
    }

    fn missing_args(
        &self,
        e: &Expr,
        callee: &Expr,
        sig: &StageSig,
        missing: &[&str],
    ) -> Diagnostic {
        let list: Vec<String> = missing.iter().map(|m| format!("`{m}`")).collect();
        let plural = if missing.len() == 1 { "" } else { "s" };
        self.error(
            codes::MISSING_ARGUMENT,
            callee.span,
            format!(
                "missing argument{plural} {} to `{}`",
                list.join(", "),
                sig.full_name()
            ),
        )
        .with_label(e.span, format!("needs {}", list.join(", ")))
        .with_help(format!("add `{}: ...`", missing[0]))
    }

    /// Maps each argument to a parameter: positional ones in signature order, then
    /// named ones. Reports unknown, duplicated, surplus and misplaced arguments (and
    /// still types their values).
    fn bind_args<'x>(&mut self, sig: &StageSig, args: &'x [Arg]) -> Vec<Option<&'x Arg>> {
        let mut bound: Vec<Option<&Arg>> = vec![None; sig.params.len()];
        let mut next_positional = 0;
        let mut first_named: Option<Span> = None;
        for arg in args {
            // An argument the parser could not read (`input: )`) was reported
            // there; placing it would only add guesses about the user's intent.
            if arg.name.is_none() && is_unparsed(arg) {
                continue;
            }
            let slot = match &arg.name {
                Some(name) => {
                    first_named.get_or_insert(arg.span);
                    self.named_slot(sig, name, &bound)
                }
                None => self.positional_slot(sig, arg, first_named, &mut next_positional),
            };
            match slot {
                Some(i) => bound[i] = Some(arg),
                None => {
                    self.infer(&arg.value);
                }
            }
        }
        bound
    }

    fn named_slot(
        &mut self,
        sig: &StageSig,
        name: &Ident,
        bound: &[Option<&Arg>],
    ) -> Option<usize> {
        let Some(i) = sig.params.iter().position(|p| p.name == name.name) else {
            let mut d = self
                .error(
                    codes::UNKNOWN_ARGUMENT,
                    name.span,
                    format!("`{}` has no parameter `{}`", sig.full_name(), name.name),
                )
                .with_label(name.span, "unknown argument");
            if let Some(s) = closest(&name.name, sig.params.iter().map(|p| p.name)) {
                d = d.with_help(format!("did you mean `{s}`?"));
            } else {
                let all: Vec<&str> = sig.params.iter().map(|p| p.name).collect();
                d = d.with_help(format!("its parameters are {}", all.join(", ")));
            }
            self.report(d);
            return None;
        };
        if let Some(first) = bound[i] {
            let d = self
                .error(
                    codes::DUPLICATE_ARGUMENT,
                    name.span,
                    format!("argument `{}` is given twice", name.name),
                )
                .with_label(name.span, "given again here")
                .with_label(first.span, "first given here");
            self.report(d);
            return None;
        }
        Some(i)
    }

    fn positional_slot(
        &mut self,
        sig: &StageSig,
        arg: &Arg,
        first_named: Option<Span>,
        next: &mut usize,
    ) -> Option<usize> {
        if let Some(named) = first_named {
            let d = self
                .error(
                    codes::POSITIONAL_AFTER_NAMED,
                    arg.span,
                    "positional argument after a named one",
                )
                .with_label(arg.span, "positional")
                .with_label(named, "named argument before it")
                .with_help("name this argument, or move it before the named ones");
            self.report(d);
            return None;
        }
        if *next >= sig.params.len() {
            let d = self
                .error(
                    codes::TOO_MANY_ARGUMENTS,
                    arg.span,
                    format!(
                        "too many arguments: `{}` takes {} parameter{}",
                        sig.full_name(),
                        sig.params.len(),
                        if sig.params.len() == 1 { "" } else { "s" }
                    ),
                )
                .with_label(arg.span, "extra argument");
            self.report(d);
            return None;
        }
        *next += 1;
        Some(*next - 1)
    }

    /// Types one argument against its parameter and checks its value. Returns the
    /// argument's type (a sweep when broadcast), or `Error` after a mismatch.
    fn check_arg(&mut self, sig: &StageSig, param: &ParamSig, arg: &Arg) -> Type {
        let got = self.infer(&arg.value);
        let single = match &got {
            Type::Sweep(inner) if broadcasts(&param.ty) => inner.as_ref(),
            t => t,
        };
        if !Type::accepts(&param.ty, single) {
            let d = self.mismatch(sig, param, single, &arg.value);
            self.report(d);
            return Type::Error;
        }
        if let Some(d) = self.task_constraint(sig, param, single, arg.value.span) {
            self.report(d);
            return Type::Error;
        }
        self.check_values(sig, param, &arg.value);
        got
    }

    fn mismatch(&self, sig: &StageSig, param: &ParamSig, got: &Type, value: &Expr) -> Diagnostic {
        let expected = &param.ty;
        let stage = sig.full_name();
        let (code, message) = match (innermost(expected), innermost(got)) {
            (Type::Quantity(_), _) | (_, Type::Quantity(_)) => (
                codes::UNIT_MISMATCH,
                format!(
                    "unit mismatch: `{}` of `{stage}` wants `{expected}`, got `{got}`",
                    param.name
                ),
            ),
            (Type::Dataset(_), Type::Dataset(_)) => (
                codes::TASK_MISMATCH,
                format!(
                    "`{}` of `{stage}` wants `{expected}`, got `{got}`",
                    param.name
                ),
            ),
            _ => (
                codes::TYPE_MISMATCH,
                format!(
                    "mismatched types: `{}` of `{stage}` wants `{expected}`, got `{got}`",
                    param.name
                ),
            ),
        };
        let mut d = self
            .error(code, value.span, message)
            .with_label(value.span, format!("this is `{got}`"));
        if let Type::Quantity(dim) = innermost(expected) {
            let example = crate::units::UNITS
                .iter()
                .find(|(_, d, _)| d == dim)
                .map(|(s, _, _)| *s)
                .unwrap_or(dim.base_unit());
            d = d.with_help(format!(
                "write a {} quantity, e.g. `1{example}`",
                dim.type_name()
            ));
        }
        d
    }

    fn task_constraint(
        &self,
        sig: &StageSig,
        param: &ParamSig,
        got: &Type,
        span: Span,
    ) -> Option<Diagnostic> {
        let task = dataset_task(got)?;
        if param.tasks.is_empty() || param.tasks.contains(&task) {
            return None;
        }
        let allowed: Vec<&str> = param.tasks.iter().map(|t| t.name()).collect();
        Some(
            self.error(
                codes::TASK_MISMATCH,
                span,
                format!(
                    "`{}` of `{}` takes a {} dataset, got a {} dataset",
                    param.name,
                    sig.full_name(),
                    allowed.join(" or "),
                    task.name()
                ),
            )
            .with_label(span, format!("this is `{got}`"))
            .with_help(format!("pass a {} dataset", allowed.join(" or "))),
        )
    }

    /// Range and allowed-string checks on the value when it is known before running:
    /// a constant, or a sweep binder with constant values (each value checked).
    fn check_values(&mut self, sig: &StageSig, param: &ParamSig, value: &Expr) {
        if param.range.is_none() && param.choices.is_empty() {
            return;
        }
        let binder = match &value.kind {
            ExprKind::Name(id) => self.scopes.iter().rev().find(|b| b.name == id.name),
            _ => None,
        };
        let (values, from) = match binder {
            Some(b) => (b.values.clone().unwrap_or_default(), Some(b.name.clone())),
            None => match fold::const_value(value, &|n| self.const_lookup(n)) {
                Ok(v) => (vec![v], None),
                Err(_) => return,
            },
        };
        for v in &values {
            if let Some(d) = self.value_problem(sig, param, v, value.span, from.as_deref()) {
                self.report(d);
                return;
            }
        }
    }

    fn value_problem(
        &self,
        sig: &StageSig,
        param: &ParamSig,
        v: &Value,
        span: Span,
        from: Option<&str>,
    ) -> Option<Diagnostic> {
        if let Value::List(items) = v {
            return items
                .iter()
                .find_map(|item| self.value_problem(sig, param, item, span, from));
        }
        let origin = from
            .map(|b| format!(" (a value of `{b}`)"))
            .unwrap_or_default();
        if let (Some((lo, hi)), Some(x)) = (param.range, v.as_f64()) {
            if x < lo || x > hi || x.is_nan() {
                let unit = match v {
                    Value::Quantity { dim, .. } => dim.base_unit(),
                    _ => "",
                };
                return Some(
                    self.error(
                        codes::OUT_OF_RANGE,
                        span,
                        format!(
                            "`{}` of `{}` must be between {}{unit} and {}{unit}, got {v}{origin}",
                            param.name,
                            sig.full_name(),
                            number(lo),
                            number(hi)
                        ),
                    )
                    .with_label(span, "out of range"),
                );
            }
        }
        let s = v.as_str()?;
        if param.choices.is_empty() || param.choices.contains(&s) {
            return None;
        }
        let quoted: Vec<String> = param.choices.iter().map(|c| format!("\"{c}\"")).collect();
        let mut d = self
            .error(
                codes::NOT_A_CHOICE,
                span,
                format!(
                    "`{}` of `{}` must be one of {}, got \"{s}\"{origin}",
                    param.name,
                    sig.full_name(),
                    quoted.join(", ")
                ),
            )
            .with_label(span, "not an allowed value");
        if let Some(c) = closest(s, param.choices.iter().copied()) {
            d = d.with_help(format!("did you mean \"{c}\"?"));
        }
        Some(d)
    }

    /// `range(start, end[, step])` gives `list[int]`; `linspace`/`logspace(a, b, n)`
    /// give `list[float]`. Arguments must be constants; they are folded here so bad
    /// values (a zero step, a count of 0) are reported before anything runs.
    fn builtin_call(&mut self, e: &Expr, name: &str, args: &[Arg]) -> Type {
        let (wanted, result): (&[Type], Type) = match name {
            "range" => (&[Type::Int, Type::Int, Type::Int], Type::list(Type::Int)),
            _ => (
                &[Type::Float, Type::Float, Type::Int],
                Type::list(Type::Float),
            ),
        };
        let mut ok = true;
        for (i, a) in args.iter().enumerate() {
            let got = self.infer(&a.value);
            let Some(want) = wanted.get(i) else { continue };
            if !Type::accepts(want, &got) {
                let d = self
                    .error(
                        codes::TYPE_MISMATCH,
                        a.value.span,
                        format!("mismatched types: `{name}` wants `{want}` here, got `{got}`"),
                    )
                    .with_label(a.value.span, format!("this is `{got}`"));
                self.report(d);
                ok = false;
            }
            ok &= got != Type::Error;
        }
        if !ok {
            return result;
        }
        if let Err(err) = fold::const_value(e, &|n| self.const_lookup(n)) {
            if err.is_reportable() {
                let mut d = err.to_diagnostic(self.file);
                if let FoldErrorKind::NotConstant(what) = &err.kind {
                    d.message = format!("arguments of `{name}` must be constants: {what} is not");
                }
                self.report(d);
            }
        }
        result
    }
}

/// The call as lowering evaluates it, when every written argument found its
/// parameter and every required parameter is given (otherwise it was reported).
fn resolved(sig: &StageSig, args: &[Arg], bound: &[Option<&Arg>]) -> Option<ResolvedCall> {
    let mut params = Vec::with_capacity(args.len());
    for arg in args {
        let slot = bound
            .iter()
            .position(|b| b.is_some_and(|b| std::ptr::eq(b, arg)))?;
        params.push(sig.params[slot].name);
    }
    let mut defaults = Vec::new();
    for (param, arg) in sig.params.iter().zip(bound) {
        if arg.is_none() {
            defaults.push((param.name, param.default.clone()?));
        }
    }
    Some(ResolvedCall {
        namespace: sig.namespace,
        stage: sig.name,
        params,
        defaults,
    })
}

/// Whether a sweep passed for a parameter of this type maps the stage over its
/// points. A `Sweep` or `Any` parameter takes the whole sweep as one value
/// (`report.pareto(hw, ...)` plots every point).
fn broadcasts(param: &Type) -> bool {
    !matches!(param, Type::Sweep(_) | Type::Any)
}

/// The task of a dataset type (through a sweep), when known.
fn dataset_task(t: &Type) -> Option<Task> {
    match t {
        Type::Dataset(task) => *task,
        Type::Sweep(inner) => dataset_task(inner),
        _ => None,
    }
}

/// A stage output with `Dataset` (any task) made specific to the input's task.
fn with_task(out: Type, task: Option<Task>) -> Type {
    let Some(task) = task else { return out };
    match out {
        Type::Dataset(None) => Type::Dataset(Some(task)),
        Type::Record(fields) => Type::Record(
            fields
                .into_iter()
                .map(|(k, v)| match v {
                    Type::Dataset(None) => (k, Type::Dataset(Some(task))),
                    other => (k, other),
                })
                .collect(),
        ),
        other => other,
    }
}

/// The scalar inside lists and sweeps, to tell a unit mismatch from a type mismatch.
fn innermost(t: &Type) -> &Type {
    let mut t = t;
    while let Type::List(inner) | Type::Sweep(inner) = t {
        t = inner;
    }
    t
}

/// A bound as a user would write it: `2`, not `2.0`.
fn number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// Whether the parser replaced this argument with an error node.
fn is_unparsed(arg: &Arg) -> bool {
    matches!(arg.value.kind, ExprKind::Error)
}
