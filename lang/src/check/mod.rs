//! The checker: from a root file name to a checked `Program`. Loads the import
//! graph (`graph`), then checks each module imports-first (`module`, `expr`,
//! `call`), then reports unused bindings (`unused`). It reports, never panics, and
//! never stops at the first error: an error gives `Type::Error`, accepted everywhere.

mod call;
mod expr;
mod graph;
mod incremental;
mod module;
mod overrides;
mod reuse;
mod trace;
mod unused;

pub use incremental::{Incremental, Reuse};

use crate::catalog::Catalog;
use crate::program::{Binding, BindingKind, Module, Program, SourceLoader};
use crate::value::Value;
use std::collections::{BTreeMap, HashMap, HashSet};

/// What later modules can see of a checked module.
pub(crate) struct Exports {
    pub bindings: BTreeMap<String, Binding>,
    pub consts: HashMap<String, Value>,
}

/// Parses every module reachable from `root` through `use`, resolves names, checks
/// types, units, arguments and values, and returns all of it with every diagnostic
/// (parse diagnostics included), sorted by module then position.
pub fn check(root: &str, loader: &dyn SourceLoader, catalog: &dyn Catalog) -> Program {
    check_loaded(graph::load(root, loader), catalog)
}

/// How one module is checked, given what the modules it imports export.
type CheckModule<'a> = dyn FnMut(&graph::Loaded, &[Option<Exports>]) -> module::ModuleResult + 'a;

/// `check` with the root's params set to `overrides` (`--set`) instead of the
/// values written in the file: an overridden value meets every check, with the
/// same codes, as if it were written there; its diagnostics point at the use
/// (or at the param's value in the file). Names that are not root params are
/// ignored here.
pub fn check_with_overrides(
    root: &str,
    loader: &dyn SourceLoader,
    catalog: &dyn Catalog,
    overrides: &BTreeMap<String, Value>,
) -> Program {
    let mut loaded = graph::load(root, loader);
    // The root is loaded first; nothing else sees its params.
    if let Some(root) = loaded.first_mut() {
        overrides::substitute(&mut root.ast, overrides);
    }
    check_loaded(loaded, catalog)
}

fn check_loaded(loaded: Vec<graph::Loaded>, catalog: &dyn Catalog) -> Program {
    check_loaded_with(loaded, &mut |m, exports| {
        module::check_module(m, catalog, exports)
    })
}

fn check_loaded_with(mut loaded: Vec<graph::Loaded>, check_module: &mut CheckModule) -> Program {
    let order = graph::order(&mut loaded);
    let mut exports: Vec<Option<Exports>> = (0..loaded.len()).map(|_| None).collect();
    let mut used: Vec<HashSet<String>> = vec![HashSet::new(); loaded.len()];
    let mut checked = Vec::with_capacity(order.len());
    for &i in &order {
        let result = check_module(&loaded[i], &exports);
        for (target, name) in &result.cross_used {
            used[*target].insert(name.clone());
        }
        used[i].extend(result.used.iter().cloned());
        // Nothing imports the root (an import of it closes a cycle and is cut),
        // so only imported modules pay for a copy of what they export.
        if i != 0 {
            exports[i] = Some(Exports {
                bindings: result.bindings.clone(),
                consts: result.consts.clone(),
            });
        }
        checked.push((i, result));
    }
    let position: HashMap<usize, usize> = order.iter().enumerate().map(|(p, &i)| (i, p)).collect();
    let mut modules = Vec::with_capacity(checked.len());
    let mut diagnostics = Vec::new();
    for (i, result) in checked {
        let source = &mut loaded[i];
        diagnostics.append(&mut source.diagnostics);
        diagnostics.extend(result.diagnostics);
        let is_root = i == 0;
        diagnostics.extend(unused::warnings(
            &source.name,
            &result.bindings,
            &used[i],
            is_root,
        ));
        let imports = source
            .edges
            .iter()
            .filter_map(|e| Some((e.alias.clone(), position[&e.target?])))
            .collect();
        modules.push(Module {
            name: source.name.clone(),
            text: std::mem::take(&mut source.text),
            ast: std::mem::replace(
                &mut source.ast,
                crate::ast::File {
                    stmts: Vec::new(),
                    comments: Vec::new(),
                },
            ),
            imports,
            params: param_values(&result.bindings, &result.consts),
            bindings: result.bindings,
            expr_types: result.expr_types,
            calls: result.calls,
        });
    }
    let file_rank: HashMap<&str, usize> = modules
        .iter()
        .enumerate()
        .map(|(p, m)| (m.name.as_str(), p))
        .collect();
    diagnostics.sort_by_key(|d| (file_rank.get(d.file.as_str()).copied(), d.span.start));
    Program {
        root: modules.len() - 1,
        modules,
        diagnostics,
    }
}

/// The constant value of every param (already coerced to its type by the checker).
fn param_values(
    bindings: &BTreeMap<String, Binding>,
    consts: &HashMap<String, Value>,
) -> BTreeMap<String, Value> {
    bindings
        .values()
        .filter(|b| b.kind == BindingKind::Param)
        .filter_map(|b| Some((b.name.clone(), consts.get(&b.name)?.clone())))
        .collect()
}
