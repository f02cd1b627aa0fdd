//! Rename of user bindings (`use` aliases, params, lets, sweep binders) across the
//! module that defines them and the open documents that import it. It refuses
//! anything else (stages, namespaces, builtins, arguments) and any new name that is
//! not an identifier, is a keyword, a namespace or a builtin, or is already bound.

use crate::navigation::{self, Target};
use crate::occurrences;
use crate::state::State;
use crate::tokens::KEYWORDS;
use lsp_types::{Range, TextEdit, Uri, WorkspaceEdit};
use pipe_lang::catalog::BUILTINS;
use std::collections::HashMap;

/// The range of the name to rename, or why it cannot be renamed.
pub fn prepare(state: &State, doc_name: &str, offset: usize) -> Result<Range, String> {
    let (doc, analysis) = state
        .get(doc_name)
        .ok_or("the document is not checked yet")?;
    let occ =
        occurrences::at(analysis.occurrences(), offset).ok_or("there is no name here to rename")?;
    navigation::target_of(analysis, occ).ok_or_else(|| refusal(&occ.symbol))?;
    Ok(doc.index.range(&doc.text, occ.span))
}

// `lsp_types::Uri` caches parse results in cells, but its `Hash` and `Eq` use only
// the URI string, so it is a sound map key (lsp-types' own `WorkspaceEdit` uses it).
#[allow(clippy::mutable_key_type)]
pub fn rename(
    state: &State,
    doc_name: &str,
    offset: usize,
    new_name: &str,
) -> Result<WorkspaceEdit, String> {
    check_new_name(new_name, state.catalog.namespaces())?;
    let (_, analysis) = state
        .get(doc_name)
        .ok_or("the document is not checked yet")?;
    let occ =
        occurrences::at(analysis.occurrences(), offset).ok_or("there is no name here to rename")?;
    let target = navigation::target_of(analysis, occ).ok_or_else(|| refusal(&occ.symbol))?;
    if let Target::TopLevel { module, .. } = &target {
        let home = navigation::find_module(state, analysis, module);
        if home.is_some_and(|m| m.bindings.contains_key(new_name)) {
            return Err(format!("`{new_name}` is already defined in {module}"));
        }
    }
    let mut changes: HashMap<Uri, Vec<TextEdit>> = HashMap::new();
    for (module, occ) in navigation::target_spans(state, analysis, &target) {
        let Some(location) = state.location(module, occ.span) else {
            continue;
        };
        changes
            .entry(location.uri)
            .or_default()
            .push(TextEdit::new(location.range, new_name.to_string()));
    }
    Ok(WorkspaceEdit::new(changes))
}

/// Why `new_name` cannot be a binding's name, if it cannot; `namespaces` are the
/// catalog's.
pub fn check_new_name(new_name: &str, namespaces: &[&str]) -> Result<(), String> {
    let mut chars = new_name.chars();
    let starts_well = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !starts_well || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "`{new_name}` is not an identifier: use letters, digits and `_`, not starting with a digit"
        ));
    }
    if KEYWORDS.contains(&new_name) {
        return Err(format!("`{new_name}` is a keyword"));
    }
    if namespaces.contains(&new_name) {
        return Err(format!(
            "`{new_name}` is a stage namespace; a binding may not shadow it"
        ));
    }
    if BUILTINS.contains(&new_name) {
        return Err(format!(
            "`{new_name}` is a builtin; a binding may not shadow it"
        ));
    }
    Ok(())
}

fn refusal(symbol: &occurrences::Symbol) -> String {
    use occurrences::Symbol;
    match symbol {
        Symbol::Namespace(ns) => format!("`{ns}` is a stage namespace and cannot be renamed"),
        Symbol::Stage { namespace, name } => {
            format!("`{namespace}.{name}` is a stage of the catalog and cannot be renamed")
        }
        Symbol::Builtin(name) => format!("`{name}` is a builtin and cannot be renamed"),
        Symbol::Argument { param, .. } => {
            format!("`{param}` is a stage parameter and cannot be renamed")
        }
        Symbol::TypeName(name) => format!("`{name}` is a type and cannot be renamed"),
        Symbol::Unresolved(name) => format!("`{name}` is not defined"),
        _ => "only bindings can be renamed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::check_new_name;

    /// A catalog's namespaces, one of them not the standard library's: the
    /// refusal follows the catalog given.
    const NAMESPACES: &[&str] = &["quant", "optics"];

    #[test]
    fn refuses_keywords_namespaces_builtins_and_non_identifiers() {
        for bad in ["use", "as", "param", "let", "for", "in", "true", "false"] {
            assert!(
                check_new_name(bad, NAMESPACES)
                    .unwrap_err()
                    .contains("keyword"),
                "{bad}"
            );
        }
        for ns in NAMESPACES {
            assert!(check_new_name(ns, NAMESPACES)
                .unwrap_err()
                .contains("namespace"));
        }
        assert_eq!(check_new_name("optics", &["quant"]), Ok(()));
        assert!(check_new_name("range", NAMESPACES)
            .unwrap_err()
            .contains("builtin"));
        for bad in ["", "1x", "a-b", "é", "a b"] {
            assert!(
                check_new_name(bad, NAMESPACES)
                    .unwrap_err()
                    .contains("identifier"),
                "{bad:?}"
            );
        }
        assert_eq!(check_new_name("_tmp2", NAMESPACES), Ok(()));
    }
}
