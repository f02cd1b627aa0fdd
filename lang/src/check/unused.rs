//! Unused-binding warnings for top-level names (sweep binders are reported where
//! their scope ends, in `expr`). The rules, written down in
//! docs/language-decisions.md: an unused `use` warns in every module; an unused
//! `param`, and an unused `let` whose value holds no stage result, warn in the root
//! module only (an imported module's bindings are what it exports); a `let` of a
//! stage result is a pipeline output and never warns; names starting with `_` never warn.

use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::program::{Binding, BindingKind};
use crate::types::Type;
use std::collections::{BTreeMap, HashSet};

pub(crate) fn warnings(
    file: &str,
    bindings: &BTreeMap<String, Binding>,
    used: &HashSet<String>,
    is_root: bool,
) -> Vec<Diagnostic> {
    let mut out: Vec<Diagnostic> = bindings
        .values()
        .filter(|b| !b.name.starts_with('_') && !used.contains(&b.name))
        .filter_map(|b| warning(file, b, is_root))
        .collect();
    out.sort_by_key(|d| d.span.start);
    out
}

fn warning(file: &str, b: &Binding, is_root: bool) -> Option<Diagnostic> {
    let (code, what, help) = match b.kind {
        BindingKind::Use => (codes::UNUSED_IMPORT, "import", "remove the `use`"),
        BindingKind::Param if is_root => (
            codes::UNUSED_PARAM,
            "param",
            "remove it, or use it: `--set` on an unused param changes nothing",
        ),
        BindingKind::Let if is_root && !holds_stage_result(&b.ty) => {
            (codes::UNUSED_LET, "let", "remove it, or pass it to a stage")
        }
        _ => return None,
    };
    Some(
        Diagnostic::warning(code, file, b.span, format!("unused {what} `{}`", b.name))
            .with_label(b.span, "never used")
            .with_help(format!(
                "{help}; names starting with `_` are never reported"
            )),
    )
}

/// Whether a value of this type comes out of a stage (so it is a pipeline output).
/// `Error` counts: its problem was already reported.
fn holds_stage_result(t: &Type) -> bool {
    match t {
        Type::Error => true,
        Type::List(inner) | Type::Sweep(inner) => holds_stage_result(inner),
        Type::Record(fields) => fields.values().any(holds_stage_result),
        other => other.is_artifact(),
    }
}
