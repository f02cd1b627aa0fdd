//! One checked open document: the `Program` the checker gave for it as the root
//! (imports included) and the occurrences of its identifiers. Rebuilt from scratch
//! on every change; nothing here runs a stage.

use crate::documents::Documents;
use crate::loader::OverlayLoader;
use crate::occurrences::{self, Occurrence};
use pipe_lang::catalog::Catalog;
use pipe_lang::program::{Module, Program};

pub struct Analysis {
    pub program: Program,
    /// The root module's occurrences, sorted by position.
    pub occurrences: Vec<Occurrence>,
}

impl Analysis {
    /// Checks the open document `name` with open buffers shadowing the disk.
    pub fn run(name: &str, documents: &Documents, catalog: &dyn Catalog) -> Analysis {
        let loader = OverlayLoader { documents };
        let program = pipe_lang::check(name, &loader, catalog);
        let occurrences = occurrences::collect(&program.root_module().ast);
        Analysis {
            program,
            occurrences,
        }
    }

    pub fn root(&self) -> &Module {
        self.program.root_module()
    }

    /// Whether the module `name` took part in this check (the root or an import).
    pub fn depends_on(&self, name: &str) -> bool {
        self.program.modules.iter().any(|m| m.name == name)
    }

    /// The module the root imports as `alias`.
    pub fn imported(&self, alias: &str) -> Option<&Module> {
        let id = *self.root().imports.get(alias)?;
        self.program.modules.get(id)
    }
}
