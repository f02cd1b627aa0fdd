//! One file per stage family; each exposes `defs()`.

use crate::stage::StageDef;

/// Every stage definition, in catalog order.
pub fn all() -> Vec<StageDef> {
    Vec::new()
}
