//! The import graph: loads every module reachable from the root through `use`
//! (a worklist, never recursion), reports missing imports and import cycles, and
//! orders modules imports-first with the root last. Knows nothing about types.

use crate::ast::{self, StmtKind};
use crate::codes;
use crate::diagnostic::Diagnostic;
use crate::program::SourceLoader;
use crate::span::Span;
use std::collections::HashMap;

/// One `use` statement and where it leads.
pub(crate) struct Edge {
    pub alias: String,
    pub path_span: Span,
    /// Index into the loaded modules; `None` when the import failed or closes a cycle.
    pub target: Option<usize>,
}

/// A module as read and parsed, before checking.
pub(crate) struct Loaded {
    pub name: String,
    pub text: String,
    pub ast: ast::File,
    pub diagnostics: Vec<Diagnostic>,
    pub edges: Vec<Edge>,
}

/// Every module reachable from `root`; index 0 is the root.
pub(crate) fn load(root: &str, loader: &dyn SourceLoader) -> Vec<Loaded> {
    load_with(root, loader, &mut crate::parse)
}

/// How a module's text is parsed: `(name, text)` to its tree.
pub(crate) type Parse<'a> = dyn FnMut(&str, &str) -> crate::Parsed + 'a;

/// `load`, parsing each module with `parse`.
pub(crate) fn load_with(root: &str, loader: &dyn SourceLoader, parse: &mut Parse) -> Vec<Loaded> {
    let root_module = read(root.to_string(), loader, None, parse).unwrap_or_else(|diag| Loaded {
        name: root.to_string(),
        text: String::new(),
        ast: ast::File {
            stmts: Vec::new(),
            comments: Vec::new(),
        },
        diagnostics: vec![*diag],
        edges: Vec::new(),
    });
    let mut modules = vec![root_module];
    let mut by_name: HashMap<String, usize> = HashMap::from([(root.to_string(), 0)]);
    let mut next = 0;
    while next < modules.len() {
        let uses: Vec<(String, StrSpan)> = imports_of(&modules[next].ast);
        let from = modules[next].name.clone();
        for (alias, (path, path_span)) in uses {
            let name = loader.resolve(&from, &path);
            let target = match by_name.get(&name) {
                Some(&i) => Some(i),
                None => match read(name.clone(), loader, Some((&from, &path, path_span)), parse) {
                    Ok(loaded) => {
                        by_name.insert(name, modules.len());
                        modules.push(loaded);
                        Some(modules.len() - 1)
                    }
                    Err(diag) => {
                        modules[next].diagnostics.push(*diag);
                        None
                    }
                },
            };
            modules[next].edges.push(Edge {
                alias,
                path_span,
                target,
            });
        }
        next += 1;
    }
    modules
}

type StrSpan = (String, Span);

fn imports_of(file: &ast::File) -> Vec<(String, StrSpan)> {
    file.stmts
        .iter()
        .filter_map(|s| match &s.kind {
            StmtKind::Use { path, alias } => {
                Some((alias.name.clone(), (path.value.clone(), path.span)))
            }
            _ => None,
        })
        .collect()
}

/// Reads and parses one module. A module that cannot be read gives one diagnostic,
/// in the importer's file at the `use` string when there is one.
fn read(
    name: String,
    loader: &dyn SourceLoader,
    importer: Option<(&str, &str, Span)>,
    parse: &mut Parse,
) -> Result<Loaded, Box<Diagnostic>> {
    match loader.load(&name) {
        Ok(text) => {
            let parsed = parse(&name, &text);
            Ok(Loaded {
                name,
                ast: parsed.ast,
                diagnostics: parsed.diagnostics,
                text,
                edges: Vec::new(),
            })
        }
        Err(reason) => Err(Box::new(match importer {
            Some((from, path, span)) => Diagnostic::error(
                codes::IMPORT_NOT_FOUND,
                from,
                span,
                format!("cannot import `{path}`: {reason}"),
            )
            .with_label(span, format!("`{name}`: {reason}"))
            .with_help("paths are relative to the importing file"),
            None => Diagnostic::error(
                codes::IMPORT_NOT_FOUND,
                &name,
                Span::default(),
                format!("cannot read `{name}`: {reason}"),
            ),
        })),
    }
}

/// Orders modules imports-first (a post-order of an iterative depth-first walk from
/// the root, so the root is last), reporting each import that closes a cycle and
/// cutting it (its target becomes `None`) so checking never waits on itself.
pub(crate) fn order(modules: &mut [Loaded]) -> Vec<usize> {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let mut state = vec![State::New; modules.len()];
    let mut post = Vec::with_capacity(modules.len());
    // (module, index of the next edge to follow)
    let mut stack: Vec<(usize, usize)> = vec![(0, 0)];
    state[0] = State::OnPath;
    while let Some(top) = stack.last_mut() {
        let (node, edge_index) = *top;
        let Some(e) = modules[node].edges.get(edge_index) else {
            state[node] = State::Done;
            post.push(node);
            stack.pop();
            continue;
        };
        top.1 += 1;
        let Some(target) = e.target else { continue };
        match state[target] {
            State::New => {
                state[target] = State::OnPath;
                stack.push((target, 0));
            }
            State::OnPath => {
                let start = stack.iter().position(|&(n, _)| n == target).unwrap_or(0);
                let mut names: Vec<&str> = stack[start..]
                    .iter()
                    .map(|&(n, _)| modules[n].name.as_str())
                    .collect();
                names.push(&modules[target].name);
                let cycle = names.join(" -> ");
                // Reported where the walk from the checked file entered the cycle
                // (the checked file's own `use` when it is on the cycle), so the
                // user sees it in the file they asked about.
                let entry_edge = stack[start].1 - 1;
                let span = modules[target].edges[entry_edge].path_span;
                let diag = Diagnostic::error(
                    codes::IMPORT_CYCLE,
                    &modules[target].name,
                    span,
                    format!("import cycle: {cycle}"),
                )
                .with_label(span, "this import leads back to this file")
                .with_help("move what both files need into a third file that imports neither");
                modules[target].diagnostics.push(diag);
                modules[node].edges[edge_index].target = None;
            }
            State::Done => {}
        }
    }
    post
}
