//! Incremental checking, for the language server: a check of an edited
//! program that reuses, per module, the previous parse of each unchanged
//! statement (`parser::ParseMemo`) and the previous check of each statement
//! whose text and whose reads of the rest of the program are unchanged
//! (`reuse`). Name resolution of the whole module, import loading, unused
//! warnings and the assembly of the `Program` run in full every time, so the
//! result is exactly what `check` gives. It can be told to stop: between
//! modules and between statements it asks whether the check is still wanted.
//! It does no I/O of its own (imports come through the `SourceLoader`), and
//! `pipe check` never uses it.

use super::module::ModuleResult;
use super::reuse::{check_module_reusing, StmtMemo};
use super::{check_loaded_with, graph};
use crate::catalog::Catalog;
use crate::parser::{parse_reusing, ParseMemo};
use crate::program::{Program, SourceLoader};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;

/// A module's memo is forgotten when this many checks in a row did not reach it.
const FORGET_AFTER_CHECKS: u64 = 16;

/// What the previous checks left for the next one, per module name. Use one
/// `Incremental` with one catalog: the catalog's signatures are not part of
/// what a reused statement is compared on.
#[derive(Default)]
pub struct Incremental {
    modules: RefCell<HashMap<String, ModuleMemo>>,
    checks: u64,
}

/// How much of the last check was reused, over all its modules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reuse {
    /// Statements whose check results were reused.
    pub reused: usize,
    /// Statements checked again.
    pub checked: usize,
}

#[derive(Default)]
struct ModuleMemo {
    parse: ParseMemo,
    stmts: StmtMemo,
    last_check: u64,
}

impl Incremental {
    pub fn new() -> Self {
        Self::default()
    }

    /// How much the last check reused.
    pub fn last_reuse(&self) -> Reuse {
        let modules = self.modules.borrow();
        let reached = modules.values().filter(|m| m.last_check == self.checks);
        reached.fold(Reuse::default(), |sum, m| Reuse {
            reused: sum.reused + m.stmts.reused,
            checked: sum.checked + m.stmts.checked,
        })
    }

    /// `check(root, loader, catalog)`, reusing what earlier checks found;
    /// `None` when `cancelled` returned true before the check ended.
    pub fn check(
        &mut self,
        root: &str,
        loader: &dyn SourceLoader,
        catalog: &dyn Catalog,
        cancelled: &dyn Fn() -> bool,
    ) -> Option<Program> {
        self.checks += 1;
        let checks = self.checks;
        let modules = &self.modules;
        let loaded = graph::load_with(root, loader, &mut |name, text| {
            let mut modules = modules.borrow_mut();
            let memo = modules.entry(name.to_string()).or_default();
            memo.last_check = checks;
            parse_reusing(name, text, &mut memo.parse)
        });
        let stopped = Cell::new(cancelled());
        let program = check_loaded_with(loaded, &mut |module, exports| {
            if stopped.get() {
                return ModuleResult::default();
            }
            let mut modules = modules.borrow_mut();
            let memo = &mut modules.entry(module.name.clone()).or_default().stmts;
            check_module_reusing(module, catalog, exports, memo, cancelled).unwrap_or_else(|| {
                stopped.set(true);
                ModuleResult::default()
            })
        });
        self.modules
            .borrow_mut()
            .retain(|_, m| m.last_check + FORGET_AFTER_CHECKS > checks);
        (!stopped.get()).then_some(program)
    }
}
