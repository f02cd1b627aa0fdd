//! Lowering: a checked `Program` -> the stage graph. Evaluates every module's
//! statements in order (imports first), folding plain values and turning every
//! stage call into a node; sweeps expand to one node per point, a sweep passed
//! where one value is expected broadcasts, member access on a sweep maps.
//! Identical calls (same key) share one node. Expressions are evaluated with an
//! explicit work stack, so neither deep nesting nor long binding chains recurse.
//! It consumes what the checker resolved: each call's stage, the parameter of each
//! argument and the defaults (`Module::calls`), and each param's coerced value
//! (`Module::params`); it never matches arguments again. A node's plain arguments
//! are coerced to their parameter's type here, once (`Value::coerced_to`), so keys
//! and stage inputs read them as they are.
//! This module never runs a stage or reads the cache; its only I/O is hashing
//! `path` inputs (through `key`).

use crate::graph::{Graph, Lowered, Node, NodeId, Point};
use crate::input_hash::InputHasher;
use crate::key::{self, Key};
use crate::stage_set::StageSet;
use pipe_lang::ast::{Expr, ExprKind, Ident, StmtKind};
use pipe_lang::catalog::{StageSig, BUILTINS};
use pipe_lang::diagnostic::Diagnostic;
use pipe_lang::program::{ModuleId, Program, ResolvedCall};
use pipe_lang::span::Span;
use pipe_lang::types::Type;
use pipe_lang::units;
use pipe_lang::value::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Lowers `program`. `overrides` replace root params (already type-checked by
/// `overrides::parse`). Returns every problem found, not only the first.
pub fn lower(
    program: &Program,
    stages: &dyn StageSet,
    base_dir: &Path,
    overrides: &BTreeMap<String, Value>,
    inputs: &InputHasher,
) -> Result<Graph, Vec<Diagnostic>> {
    let mut l = Lowerer {
        program,
        stages,
        base_dir,
        inputs,
        graph: Graph {
            base_dir: base_dir.to_path_buf(),
            ..Graph::default()
        },
        by_key: HashMap::new(),
        values: vec![BTreeMap::new(); program.modules.len()],
        diags: Vec::new(),
        module: 0,
        binding: String::new(),
        segs: Vec::new(),
        frames: Vec::new(),
    };
    for m in 0..program.modules.len() {
        l.module(m, overrides);
    }
    if l.diags.is_empty() {
        Ok(l.graph)
    } else {
        Err(l.diags)
    }
}

/// A value during evaluation: a lowered value or an imported module.
#[derive(Clone)]
enum Ev {
    Val(Lowered),
    Module(ModuleId),
}

/// `None`: evaluation failed and the problem was already reported.
type Slot = Option<Ev>;

/// Sweep binders in scope: their values, and the coordinates they give node names.
struct Frame {
    binds: Vec<(String, Lowered)>,
    coords: Vec<(String, Value)>,
}

struct SweepState<'a> {
    body: &'a Expr,
    /// Per point: (binder, bound value, value shown in the point's name).
    points: Vec<Vec<(String, Lowered, Value)>>,
    next: usize,
    results: Vec<Point>,
}

/// One step of the explicit evaluation stack.
enum Task<'a> {
    Eval(&'a Expr),
    Member(&'a Ident),
    List(usize),
    Record(Vec<&'a str>),
    Call {
        sig: &'a StageSig,
        call: &'a ResolvedCall,
        span: Span,
    },
    Builtin {
        name: &'a str,
        n: usize,
        span: Span,
    },
    Sweep {
        names: Vec<&'a str>,
        span: Span,
        body: &'a Expr,
    },
    SweepStep(Box<SweepState<'a>>),
    PushSeg(String),
    PopSeg,
    PopScope,
}

struct Lowerer<'a> {
    program: &'a Program,
    stages: &'a dyn StageSet,
    base_dir: &'a Path,
    /// Digests of `path` inputs, shared by every node that reads one.
    inputs: &'a InputHasher<'a>,
    graph: Graph,
    by_key: HashMap<Key, NodeId>,
    /// Per module: top-level names -> values.
    values: Vec<BTreeMap<String, Slot>>,
    diags: Vec<Diagnostic>,
    /// Where evaluation is: the module, the binding (with module prefix), the
    /// path inside it (`calib`, `train`, `0`) and the sweep frames.
    module: ModuleId,
    binding: String,
    segs: Vec<String>,
    frames: Vec<Frame>,
}

impl<'a> Lowerer<'a> {
    fn module(&mut self, m: ModuleId, overrides: &BTreeMap<String, Value>) {
        let program = self.program;
        let module = &program.modules[m];
        let is_root = m == program.root;
        let prefix = if is_root {
            String::new()
        } else {
            format!("{}.", module_stem(&module.name))
        };
        self.module = m;
        for stmt in &module.ast.stmts {
            let (name, slot) = match &stmt.kind {
                StmtKind::Use { alias, .. } => {
                    let slot = module.imports.get(&alias.name).map(|&id| Ev::Module(id));
                    (&alias.name, slot)
                }
                StmtKind::Param { name, value, .. } => {
                    let set = overrides.get(&name.name).filter(|_| is_root);
                    let value = match set.or_else(|| module.params.get(&name.name)) {
                        Some(v) => Some(Ev::Val(Lowered::Plain(v.clone()))),
                        None => {
                            self.error(
                                value.span,
                                format!("param `{}` has no constant value", name.name),
                            );
                            None
                        }
                    };
                    (&name.name, value)
                }
                StmtKind::Let { name, value } => {
                    (&name.name, self.binding_value(&prefix, name, value))
                }
                StmtKind::Error => continue,
            };
            if is_root {
                if let Some(Ev::Val(v)) = &slot {
                    if !matches!(stmt.kind, StmtKind::Use { .. }) {
                        self.graph.bindings.push((name.clone(), v.clone()));
                    }
                }
            }
            self.values[m].insert(name.clone(), slot);
        }
    }

    fn binding_value(&mut self, prefix: &str, name: &Ident, value: &'a Expr) -> Slot {
        self.binding = format!("{prefix}{}", name.name);
        self.segs.clear();
        self.frames.clear();
        self.eval(value)
    }

    fn file(&self) -> &str {
        &self.program.modules[self.module].name
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        let d = Diagnostic::error(pipe_lang::codes::LOWER_FAILED, self.file(), span, message);
        self.diags.push(d);
    }

    /// Evaluates one expression with an explicit stack.
    fn eval(&mut self, root: &'a Expr) -> Slot {
        let mut tasks = vec![Task::Eval(root)];
        let mut stack: Vec<Slot> = Vec::new();
        while let Some(task) = tasks.pop() {
            match task {
                Task::Eval(e) => self.schedule(e, &mut tasks, &mut stack),
                Task::Member(field) => {
                    let target = stack.pop().flatten();
                    let slot = target.and_then(|t| self.member(t, field));
                    stack.push(slot);
                }
                Task::List(n) => {
                    let items = pop_n(&mut stack, n);
                    stack.push(items.and_then(|items| self.list(items)));
                }
                Task::Record(names) => {
                    let n = names.len();
                    let values = pop_n(&mut stack, n);
                    stack.push(values.and_then(|vals| self.record(&names, vals)));
                }
                Task::Call { sig, call, span } => {
                    let values = pop_n(&mut stack, call.params.len());
                    stack.push(values.and_then(|vals| self.call(sig, call, vals, span)));
                }
                Task::Builtin { name, n, span } => {
                    let values = pop_n(&mut stack, n);
                    stack.push(values.and_then(|vals| self.builtin(name, vals, span)));
                }
                Task::Sweep { names, span, body } => {
                    let lists = pop_n(&mut stack, names.len());
                    match lists.and_then(|l| self.sweep_points(&names, l, span)) {
                        Some(points) => tasks.push(Task::SweepStep(Box::new(SweepState {
                            body,
                            points,
                            next: 0,
                            results: Vec::new(),
                        }))),
                        None => stack.push(None),
                    }
                }
                Task::SweepStep(state) => self.sweep_step(state, &mut tasks, &mut stack),
                Task::PushSeg(s) => self.segs.push(s),
                Task::PopSeg => {
                    self.segs.pop();
                }
                Task::PopScope => {
                    self.frames.pop();
                }
            }
        }
        stack.pop().flatten()
    }

    /// Pushes what evaluating `e` takes, or its value when it is a leaf.
    fn schedule(&mut self, e: &'a Expr, tasks: &mut Vec<Task<'a>>, stack: &mut Vec<Slot>) {
        let plain = |v: Value| Some(Ev::Val(Lowered::Plain(v)));
        match &e.kind {
            ExprKind::Int(i) => stack.push(plain(Value::Int(*i))),
            ExprKind::Float(x) | ExprKind::Percent(x) => stack.push(plain(Value::Float(*x))),
            ExprKind::Str(s) => stack.push(plain(Value::Str(s.clone()))),
            ExprKind::Bool(b) => stack.push(plain(Value::Bool(*b))),
            ExprKind::Quantity { value, unit } => match units::lookup(unit) {
                Some((dim, factor)) => stack.push(plain(Value::Quantity {
                    value: value * factor,
                    dim,
                })),
                None => {
                    self.error(e.span, format!("unknown unit `{unit}`"));
                    stack.push(None);
                }
            },
            ExprKind::Name(id) => {
                let slot = self.lookup(id);
                stack.push(slot);
            }
            ExprKind::Member { target, field } => {
                tasks.push(Task::Member(field));
                tasks.push(Task::Eval(target));
            }
            ExprKind::Call { callee, args } => self.schedule_call(e, callee, args, tasks, stack),
            ExprKind::List(items) => {
                tasks.push(Task::List(items.len()));
                for (i, item) in items.iter().enumerate().rev() {
                    push_child(tasks, i.to_string(), item);
                }
            }
            ExprKind::Record(fields) => {
                tasks.push(Task::Record(
                    fields.iter().map(|f| f.name.name.as_str()).collect(),
                ));
                for f in fields.iter().rev() {
                    push_child(tasks, f.name.name.clone(), &f.value);
                }
            }
            ExprKind::Sweep { binders, body } => {
                tasks.push(Task::Sweep {
                    names: binders.iter().map(|b| b.name.name.as_str()).collect(),
                    span: e.span,
                    body,
                });
                for b in binders.iter().rev() {
                    tasks.push(Task::Eval(&b.values));
                }
            }
            ExprKind::Paren(inner) => tasks.push(Task::Eval(inner)),
            ExprKind::Error => stack.push(None),
        }
    }

    fn schedule_call(
        &mut self,
        e: &'a Expr,
        callee: &'a Expr,
        args: &'a [pipe_lang::ast::Arg],
        tasks: &mut Vec<Task<'a>>,
        stack: &mut Vec<Slot>,
    ) {
        let path: Vec<&str> = callee
            .dotted_path()
            .map(|p| p.iter().map(|i| i.name.as_str()).collect())
            .unwrap_or_default();
        if let [name] = path.as_slice() {
            if let Some(&builtin) = BUILTINS.iter().find(|b| *b == name) {
                tasks.push(Task::Builtin {
                    name: builtin,
                    n: args.len(),
                    span: e.span,
                });
                for a in args.iter().rev() {
                    tasks.push(Task::Eval(&a.value));
                }
                return;
            }
        }
        let program = self.program;
        let resolved = program.modules[self.module].calls.get(&e.span);
        let stages = self.stages;
        let Some((call, sig)) =
            resolved.and_then(|c| Some((c, stages.stage(c.namespace, c.stage)?)))
        else {
            self.error(callee.span, "only stages and builtins can be called");
            stack.push(None);
            return;
        };
        tasks.push(Task::Call {
            sig,
            call,
            span: e.span,
        });
        for (a, p) in args.iter().zip(&call.params).rev() {
            push_child(tasks, p.to_string(), &a.value);
        }
    }

    fn lookup(&mut self, id: &Ident) -> Slot {
        for frame in self.frames.iter().rev() {
            if let Some((_, v)) = frame.binds.iter().find(|(n, _)| *n == id.name) {
                return Some(Ev::Val(v.clone()));
            }
        }
        if let Some(slot) = self.values[self.module].get(&id.name) {
            return slot.clone();
        }
        self.error(id.span, format!("unknown name `{}`", id.name));
        None
    }

    fn member(&mut self, target: Ev, field: &Ident) -> Slot {
        let value = match target {
            Ev::Module(m) => {
                let slot = self.values[m].get(&field.name).cloned();
                return match slot {
                    Some(slot) => slot,
                    None => {
                        let module = &self.program.modules[m].name;
                        self.error(
                            field.span,
                            format!("`{module}` has no binding `{}`", field.name),
                        );
                        None
                    }
                };
            }
            Ev::Val(v) => v,
        };
        match member_of(&value, &field.name) {
            Ok(v) => Some(Ev::Val(v)),
            Err(msg) => {
                self.error(field.span, msg);
                None
            }
        }
    }

    fn list(&mut self, items: Vec<Ev>) -> Slot {
        let items = self.vals(items)?;
        if let Some(values) = all_plain(&items) {
            return Some(Ev::Val(Lowered::Plain(Value::List(values))));
        }
        Some(Ev::Val(Lowered::List(items)))
    }

    fn record(&mut self, names: &[&str], values: Vec<Ev>) -> Slot {
        let values = self.vals(values)?;
        if let Some(plain) = all_plain(&values) {
            let fields = names.iter().map(|n| n.to_string()).zip(plain).collect();
            return Some(Ev::Val(Lowered::Plain(Value::Record(fields))));
        }
        let fields = names.iter().map(|n| n.to_string()).zip(values).collect();
        Some(Ev::Val(Lowered::Record(fields)))
    }

    /// Values only: a module used as a value is an error.
    fn vals(&mut self, evs: Vec<Ev>) -> Option<Vec<Lowered>> {
        let mut out = Vec::with_capacity(evs.len());
        for ev in evs {
            match ev {
                Ev::Val(v) => out.push(v),
                Ev::Module(m) => {
                    let name = self.program.modules[m].name.clone();
                    let span = Span::default();
                    self.error(span, format!("the module `{name}` is not a value"));
                    return None;
                }
            }
        }
        Some(out)
    }

    fn builtin(&mut self, name: &str, args: Vec<Ev>, span: Span) -> Slot {
        let args = self.vals(args)?;
        let Some(values) = all_plain(&args) else {
            self.error(
                span,
                format!("`{name}` takes numbers known before anything runs"),
            );
            return None;
        };
        match fold_builtin(name, &values) {
            Ok(v) => Some(Ev::Val(Lowered::Plain(v))),
            Err(msg) => {
                self.error(span, msg);
                None
            }
        }
    }

    fn call(
        &mut self,
        sig: &'a StageSig,
        call: &ResolvedCall,
        values: Vec<Ev>,
        span: Span,
    ) -> Slot {
        let values = self.vals(values)?;
        let mut args: BTreeMap<String, Lowered> = BTreeMap::new();
        for (p, v) in call.params.iter().zip(values) {
            args.insert(p.to_string(), v);
        }
        for (p, default) in &call.defaults {
            args.insert(p.to_string(), Lowered::Plain(default.clone()));
        }
        let swept: Vec<String> = sig
            .params
            .iter()
            .filter(|p| !matches!(p.ty, Type::Sweep(_) | Type::Any))
            .filter(|p| matches!(args.get(p.name), Some(Lowered::Sweep(_))))
            .map(|p| p.name.to_string())
            .collect();
        if swept.is_empty() {
            let id = self.node(sig, args, &[], span);
            return Some(Ev::Val(Lowered::Output {
                node: id,
                field: None,
            }));
        }
        let sweeps: Vec<&Vec<Point>> = swept
            .iter()
            .filter_map(|p| match args.get(p) {
                Some(Lowered::Sweep(points)) => Some(points),
                _ => None,
            })
            .collect();
        let combos = join_sweeps(&sweeps);
        let mut points = Vec::with_capacity(combos.len());
        for (coords, picked) in combos {
            let mut point_args = args.clone();
            for (p, v) in swept.iter().zip(picked) {
                point_args.insert(p.clone(), v);
            }
            let id = self.node(sig, point_args, &coords, span);
            points.push(Point {
                coords,
                value: Lowered::Output {
                    node: id,
                    field: None,
                },
            });
        }
        Some(Ev::Val(Lowered::Sweep(points)))
    }

    /// The name of a node made here: binding, path inside it, sweep coordinates.
    fn node_name(&self, extra: &[(String, Value)]) -> String {
        let mut name = self.binding.clone();
        for s in &self.segs {
            name.push('.');
            name.push_str(s);
        }
        let mut coords: Vec<(String, Value)> = self
            .frames
            .iter()
            .flat_map(|f| f.coords.iter().cloned())
            .collect();
        for (k, v) in extra {
            if !coords.iter().any(|(c, _)| c == k) {
                coords.push((k.clone(), v.clone()));
            }
        }
        if !coords.is_empty() {
            name.push('[');
            name.push_str(&crate::graph::coords_label(&coords));
            name.push(']');
        }
        name
    }

    /// Makes (or finds, when an identical call exists) the node of one call.
    fn node(
        &mut self,
        sig: &'a StageSig,
        args: BTreeMap<String, Lowered>,
        extra: &[(String, Value)],
        span: Span,
    ) -> NodeId {
        let name = self.node_name(extra);
        let args = coerced_args(sig, args);
        let nodes = &self.graph.nodes;
        let canonical = key::canonical_args(sig, &args, self.base_dir, self.inputs, &|id| {
            nodes[id].key.clone()
        });
        let key = canonical
            .as_ref()
            .map(|canon| key::key_of(&sig.full_name(), sig.version, canon))
            .map_err(Clone::clone);
        if let Ok(k) = &key {
            if let Some(&existing) = self.by_key.get(k) {
                let node = &mut self.graph.nodes[existing];
                if node.name != name && !node.aliases.contains(&name) {
                    node.aliases.push(name);
                }
                return existing;
            }
        }
        self.note_paths(sig, &args);
        let mut inputs = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for v in args.values() {
            inputs.extend(v.nodes().into_iter().filter(|&n| seen.insert(n)));
        }
        let implemented = sig.implemented
            && self
                .stages
                .implementation(sig.namespace, sig.name)
                .is_some();
        let id = self.graph.nodes.len();
        self.graph.nodes.push(Node {
            name,
            aliases: Vec::new(),
            namespace: sig.namespace,
            stage: sig.name,
            version: sig.version,
            args,
            inputs,
            key: key.clone(),
            canonical,
            file: self.file().to_string(),
            span,
            implemented,
        });
        if let Ok(k) = key {
            self.by_key.insert(k, id);
        }
        id
    }

    /// Remembers input files read through `path` arguments (for `watch`).
    fn note_paths(&mut self, sig: &StageSig, args: &BTreeMap<String, Lowered>) {
        for p in sig.params.iter().filter(|p| p.path) {
            if let Some(Lowered::Plain(Value::Str(s))) = args
                .get(p.name)
                .filter(|v| !matches!(v, Lowered::Plain(Value::Str(s)) if s.is_empty()))
            {
                let path = key::resolve(self.base_dir, s);
                if !self.graph.input_paths.contains(&path) {
                    self.graph.input_paths.push(path);
                }
            }
        }
    }

    fn sweep_points(
        &mut self,
        names: &[&str],
        lists: Vec<Ev>,
        span: Span,
    ) -> Option<Vec<Vec<(String, Lowered, Value)>>> {
        let lists = self.vals(lists)?;
        let mut per_binder = Vec::with_capacity(lists.len());
        for (name, list) in names.iter().zip(lists) {
            let items: Vec<(Lowered, Value)> = match list {
                Lowered::Plain(Value::List(vs)) => vs
                    .into_iter()
                    .map(|v| (Lowered::Plain(v.clone()), v))
                    .collect(),
                Lowered::List(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, v)| (v, Value::Int(i as i64)))
                    .collect(),
                _ => {
                    self.error(span, format!("the values of `{name}` must be a list"));
                    return None;
                }
            };
            if items.is_empty() {
                self.error(span, format!("`{name}` sweeps over an empty list"));
                return None;
            }
            per_binder.push((name.to_string(), items));
        }
        let mut points: Vec<Vec<(String, Lowered, Value)>> = vec![Vec::new()];
        for (name, items) in per_binder {
            let mut next = Vec::with_capacity(points.len() * items.len());
            for p in &points {
                for (v, label) in &items {
                    let mut q = p.clone();
                    q.push((name.clone(), v.clone(), label.clone()));
                    next.push(q);
                }
            }
            points = next;
        }
        Some(points)
    }

    fn sweep_step(
        &mut self,
        mut state: Box<SweepState<'a>>,
        tasks: &mut Vec<Task<'a>>,
        stack: &mut Vec<Slot>,
    ) {
        if state.next > 0 {
            let coords: Vec<(String, Value)> = state.points[state.next - 1]
                .iter()
                .map(|(n, _, l)| (n.clone(), l.clone()))
                .collect();
            match stack.pop().flatten() {
                Some(Ev::Val(Lowered::Sweep(inner))) => {
                    for p in inner {
                        let mut c = coords.clone();
                        c.extend(
                            p.coords
                                .into_iter()
                                .filter(|(k, _)| !coords.iter().any(|(o, _)| o == k)),
                        );
                        state.results.push(Point {
                            coords: c,
                            value: p.value,
                        });
                    }
                }
                Some(Ev::Val(v)) => state.results.push(Point { coords, value: v }),
                Some(Ev::Module(_)) | None => {
                    stack.push(None);
                    return;
                }
            }
        }
        if state.next == state.points.len() {
            stack.push(Some(Ev::Val(Lowered::Sweep(std::mem::take(
                &mut state.results,
            )))));
            return;
        }
        let point = &state.points[state.next];
        self.frames.push(Frame {
            binds: point
                .iter()
                .map(|(n, v, _)| (n.clone(), v.clone()))
                .collect(),
            coords: point
                .iter()
                .map(|(n, _, l)| (n.clone(), l.clone()))
                .collect(),
        });
        state.next += 1;
        let body = state.body;
        tasks.push(Task::SweepStep(state));
        tasks.push(Task::PopScope);
        tasks.push(Task::Eval(body));
    }
}

fn push_child<'a>(tasks: &mut Vec<Task<'a>>, seg: String, e: &'a Expr) {
    tasks.push(Task::PopSeg);
    tasks.push(Task::Eval(e));
    tasks.push(Task::PushSeg(seg));
}

/// Pops `n` values in push order; `None` when any of them failed.
fn pop_n(stack: &mut Vec<Slot>, n: usize) -> Option<Vec<Ev>> {
    let at = stack.len().saturating_sub(n);
    stack.split_off(at).into_iter().collect()
}

fn all_plain(items: &[Lowered]) -> Option<Vec<Value>> {
    items
        .iter()
        .map(|v| match v {
            Lowered::Plain(p) => Some(p.clone()),
            _ => None,
        })
        .collect()
}

/// `x.field` on a lowered value; maps over sweeps.
fn member_of(value: &Lowered, field: &str) -> Result<Lowered, String> {
    match value {
        Lowered::Plain(Value::Record(fields)) => fields
            .get(field)
            .map(|v| Lowered::Plain(v.clone()))
            .ok_or_else(|| format!("the record has no field `{field}`")),
        Lowered::Record(fields) => fields
            .get(field)
            .cloned()
            .ok_or_else(|| format!("the record has no field `{field}`")),
        Lowered::Output { node, field: None } => Ok(Lowered::Output {
            node: *node,
            field: Some(field.to_string()),
        }),
        Lowered::Sweep(points) => {
            let mut out = Vec::with_capacity(points.len());
            for p in points {
                out.push(Point {
                    coords: p.coords.clone(),
                    value: member_of(&p.value, field)?,
                });
            }
            Ok(Lowered::Sweep(out))
        }
        _ => Err(format!("this value has no field `{field}`")),
    }
}

/// The points of several sweeps combined: points agreeing on every coordinate
/// they share are combined (so sweeps over the same binder zip, others multiply).
/// One combination of sweep points: merged coordinates and one value per sweep.
type Combo = (Vec<(String, Value)>, Vec<Lowered>);

fn join_sweeps(sweeps: &[&Vec<Point>]) -> Vec<Combo> {
    let mut combos: Vec<Combo> = vec![(Vec::new(), Vec::new())];
    for sweep in sweeps {
        let mut next = Vec::new();
        for (coords, vals) in &combos {
            for p in sweep.iter() {
                let agrees = p.coords.iter().all(|(k, v)| {
                    coords
                        .iter()
                        .find(|(c, _)| c == k)
                        .is_none_or(|(_, cv)| cv == v)
                });
                if !agrees {
                    continue;
                }
                let mut c = coords.clone();
                for (k, v) in &p.coords {
                    if !c.iter().any(|(o, _)| o == k) {
                        c.push((k.clone(), v.clone()));
                    }
                }
                let mut vs = vals.clone();
                vs.push(p.value.clone());
                next.push((c, vs));
            }
        }
        combos = next;
    }
    combos
}

/// A node's arguments with every plain value coerced to its parameter's type
/// (through records, lists and sweeps of the parameter's type); the one place
/// the interpreter converts values.
fn coerced_args(sig: &StageSig, args: BTreeMap<String, Lowered>) -> BTreeMap<String, Lowered> {
    args.into_iter()
        .map(|(name, value)| {
            let ty = sig.param(&name).map(|p| p.ty.clone()).unwrap_or(Type::Any);
            let value = coerced(value, &ty);
            (name, value)
        })
        .collect()
}

/// `value` coerced to `ty`. Recursion is bounded by the parser's nesting limit:
/// a lowered value nests only as deep as the expression that wrote it.
fn coerced(value: Lowered, ty: &Type) -> Lowered {
    match value {
        Lowered::Plain(v) => Lowered::Plain(v.coerced_to(ty)),
        Lowered::Output { .. } => value,
        Lowered::Record(fields) => Lowered::Record(
            fields
                .into_iter()
                .map(|(k, v)| {
                    let fty = match ty {
                        Type::Record(ts) => ts.get(&k).cloned().unwrap_or(Type::Any),
                        _ => Type::Any,
                    };
                    let v = coerced(v, &fty);
                    (k, v)
                })
                .collect(),
        ),
        Lowered::List(items) => {
            let ety = match ty {
                Type::List(t) => t.as_ref(),
                _ => &Type::Any,
            };
            Lowered::List(items.into_iter().map(|v| coerced(v, ety)).collect())
        }
        Lowered::Sweep(points) => {
            let ety = match ty {
                Type::Sweep(t) => t.as_ref(),
                _ => &Type::Any,
            };
            Lowered::Sweep(
                points
                    .into_iter()
                    .map(|p| Point {
                        coords: p.coords,
                        value: coerced(p.value, ety),
                    })
                    .collect(),
            )
        }
    }
}

/// `common` for `lib/common.pipe`: the prefix of node names from an imported module.
fn module_stem(name: &str) -> String {
    Path::new(name)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| name.to_string())
}

/// The value builtins, folded before anything runs.
fn fold_builtin(name: &str, args: &[Value]) -> Result<Value, String> {
    match name {
        "range" => pipe_lang::fold::range(args),
        "linspace" => pipe_lang::fold::spaced(args, false),
        _ => pipe_lang::fold::spaced(args, true),
    }
}
