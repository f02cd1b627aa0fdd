//! Go to definition and find references. A name resolves to a target: a top-level
//! binding of some module, or a sweep binder. References of a top-level binding
//! are searched in its own module and in every open document that imports that
//! module (`alias.name`).

use crate::analysis::Analysis;
use crate::occurrences::{self, Occurrence, Symbol};
use crate::state::State;
use lsp_types::{Location, Position, Range};
use pipe_lang::program::Module;
use pipe_lang::span::Span;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `use` alias, `param` or `let` of the module named `module`.
    TopLevel { module: String, name: String },
    /// A sweep binder of the module named `module`, by its definition's span.
    Local { module: String, def: Span },
}

/// What the occurrence under the cursor refers to, when it is a user binding.
pub fn target_of(analysis: &Analysis, occ: &Occurrence) -> Option<Target> {
    let root = &analysis.root().name;
    match &occ.symbol {
        Symbol::Binding(name) => Some(Target::TopLevel {
            module: root.clone(),
            name: name.clone(),
        }),
        Symbol::Local { def, .. } => Some(Target::Local {
            module: root.clone(),
            def: *def,
        }),
        Symbol::Imported { alias, name } => Some(Target::TopLevel {
            module: analysis.imported(alias)?.name.clone(),
            name: name.clone(),
        }),
        _ => None,
    }
}

pub fn definition(state: &State, doc_name: &str, offset: usize) -> Option<Location> {
    let (_, analysis) = state.get(doc_name)?;
    let occ = occurrences::at(analysis.occurrences(), offset)?;
    if let Symbol::ImportPath { alias } = &occ.symbol {
        let module = analysis.imported(alias)?;
        let start = Position::new(0, 0);
        return Some(Location::new(
            state.uri_of(&module.name)?,
            Range::new(start, start),
        ));
    }
    match target_of(analysis, occ)? {
        Target::Local { def, .. } => state.location(analysis.root(), def),
        Target::TopLevel { module, name } => {
            let module = find_module(state, analysis, &module)?;
            state.location(module, module.bindings.get(&name)?.span)
        }
    }
}

/// Every place the target under the cursor is named, its definition first when
/// `include_declaration`.
pub fn references(
    state: &State,
    doc_name: &str,
    offset: usize,
    include_declaration: bool,
) -> Vec<Location> {
    let Some((_, analysis)) = state.get(doc_name) else {
        return Vec::new();
    };
    let Some(target) =
        occurrences::at(analysis.occurrences(), offset).and_then(|o| target_of(analysis, o))
    else {
        return Vec::new();
    };
    target_spans(state, analysis, &target)
        .into_iter()
        .filter(|(_, occ)| include_declaration || !occ.def)
        .filter_map(|(module, occ)| state.location(module, occ.span))
        .collect()
}

/// Every occurrence of `target`, with the module it is in, without duplicates.
pub fn target_spans<'s>(
    state: &'s State,
    analysis: &'s Analysis,
    target: &Target,
) -> Vec<(&'s Module, Occurrence)> {
    let mut out = Vec::new();
    match target {
        Target::Local { def, .. } => {
            let root = analysis.root();
            for occ in analysis.occurrences() {
                if matches!(&occ.symbol, Symbol::Local { def: d, .. } if d == def) {
                    out.push((root, occ.clone()));
                }
            }
        }
        Target::TopLevel { module, name } => {
            if let Some(home) = find_module(state, analysis, module) {
                for occ in module_occurrences(state, home) {
                    if matches!(&occ.symbol, Symbol::Binding(n) if n == name) {
                        out.push((home, occ));
                    }
                }
            }
            for (_, other) in state.analyses() {
                for occ in other.occurrences() {
                    let Symbol::Imported { alias, name: n } = &occ.symbol else {
                        continue;
                    };
                    let imports_home = other.imported(alias).is_some_and(|m| &m.name == module);
                    if n == name && imports_home {
                        out.push((other.root(), occ.clone()));
                    }
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    out.retain(|(m, occ)| seen.insert((m.name.clone(), occ.span)));
    out
}

/// The module named `name`: an open document's own analysis when it has one
/// (its text is the newest), else the copy in `analysis`'s program, else in any.
pub fn find_module<'s>(state: &'s State, analysis: &'s Analysis, name: &str) -> Option<&'s Module> {
    if let Some((_, own)) = state.get(name) {
        return Some(own.root());
    }
    let in_program = |a: &'s Analysis| a.program.modules.iter().find(|m| m.name == name);
    in_program(analysis).or_else(|| state.analyses().find_map(|(_, a)| in_program(a)))
}

fn module_occurrences(state: &State, module: &Module) -> Vec<Occurrence> {
    match state.get(&module.name) {
        Some((_, own)) => own.occurrences().to_vec(),
        None => occurrences::collect(&module.ast, state.catalog.namespaces()),
    }
}
