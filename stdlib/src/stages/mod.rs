//! One file per stage family; each exposes `defs()` with one function per stage.
//! `common` holds the constructors they share.

use crate::stage::StageDef;

pub mod common;
pub mod dataset;
pub mod eval;
pub mod finetune;
pub mod model;
pub mod pseudolabel;
pub mod quant;
pub mod report;
pub mod sim;
pub mod train;

/// Every stage definition, in catalog order (namespaces as in `registry::NAMESPACES`).
pub fn all() -> Vec<StageDef> {
    let families: [fn() -> Vec<StageDef>; 9] = [
        dataset::defs,
        model::defs,
        train::defs,
        finetune::defs,
        pseudolabel::defs,
        quant::defs,
        eval::defs,
        sim::defs,
        report::defs,
    ];
    families.iter().flat_map(|defs| defs()).collect()
}

#[cfg(test)]
mod tests;
