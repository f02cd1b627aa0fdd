//! A checked program: every module reached from the root through `use`, each with
//! its tree, its resolved bindings and their types, its resolved stage calls and
//! param values, plus every diagnostic found. This is what the checker produces
//! and what the interpreter lowers (it never matches arguments or coerces values
//! again) and the LSP queries. Imported text arrives through `SourceLoader`; this
//! crate does no I/O.

use crate::ast;
use crate::diagnostic::Diagnostic;
use crate::span::Span;
use crate::types::Type;
use crate::value::Value;
use std::collections::BTreeMap;

/// Index into `Program::modules`.
pub type ModuleId = usize;

/// How the checker gets at files. The interpreter reads the disk; the LSP serves
/// open buffers first.
pub trait SourceLoader {
    /// The canonical name of `relative` as imported from the module named `from`
    /// (used as the module's identity and in diagnostics).
    fn resolve(&self, from: &str, relative: &str) -> String;
    /// The text of a module, or a one-line reason it cannot be read
    /// ("no such file", "is a directory", "is not UTF-8").
    fn load(&self, name: &str) -> Result<String, String>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindingKind {
    Use,
    Param,
    Let,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub name: String,
    pub kind: BindingKind,
    /// Index of the defining statement in `Module::ast.stmts`.
    pub stmt: usize,
    /// The span of the name where it is defined.
    pub span: Span,
    pub ty: Type,
    pub doc: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Module {
    /// As `SourceLoader::resolve` named it.
    pub name: String,
    pub text: String,
    pub ast: ast::File,
    /// `use ... as alias` -> the imported module.
    pub imports: BTreeMap<String, ModuleId>,
    /// Top-level bindings by name.
    pub bindings: BTreeMap<String, Binding>,
    /// The type of every expression that was checked, by its span, for hover.
    pub expr_types: BTreeMap<Span, Type>,
    /// Every stage call whose arguments all found their parameter, by the span
    /// of the call expression.
    pub calls: BTreeMap<Span, ResolvedCall>,
    /// The value of every param that folded to a constant, coerced to the
    /// param's type (`Value::coerced_to`).
    pub params: BTreeMap<String, Value>,
}

/// A stage call as the checker resolved it: which stage, which parameter each
/// written argument binds, and the defaults of the parameters not written.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedCall {
    pub namespace: &'static str,
    pub stage: &'static str,
    /// Per written argument, in source order: the parameter it binds.
    pub params: Vec<&'static str>,
    /// The parameters not written, in signature order, with their defaults.
    pub defaults: Vec<(&'static str, Value)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Program {
    /// Imported modules come before the modules that import them; the root is last.
    pub modules: Vec<Module>,
    pub root: ModuleId,
    /// Every diagnostic of every module, in file then position order.
    pub diagnostics: Vec<Diagnostic>,
}

impl Program {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }

    pub fn root_module(&self) -> &Module {
        &self.modules[self.root]
    }
}
