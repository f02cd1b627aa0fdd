//! From a `.pipe` path to a lowered graph, for every command that runs or
//! inspects a pipeline (`run`, `explain`, `graph`, `watch`, `cache gc`): read,
//! check, apply `--set`, lower; diagnostics rendered with `pipe_lang::render`.
//! This module never runs stages and never touches the cache.

use crate::graph::Graph;
use crate::input_hash::InputHasher;
use crate::loader::{normalize, DiskLoader};
use crate::stage_set::StageSet;
use pipe_lang::diagnostic::Diagnostic;
use pipe_lang::program::Program;
use std::path::{Path, PathBuf};

/// A checked and lowered file.
pub struct Loaded {
    pub program: Program,
    pub graph: Graph,
    /// Rendered warnings (errors stop loading).
    pub warnings: String,
}

#[derive(Debug, thiserror::Error)]
pub enum FrontendError {
    /// The command line or the file system (exit 2).
    #[error("{0}")]
    Usage(String),
    /// Errors in the program, rendered (exit 1).
    #[error("{0}")]
    Invalid(String),
}

impl FrontendError {
    /// Writes the error to stderr: usage problems as `error: ...`, diagnostics as rendered.
    pub fn print(&self) {
        match self {
            FrontendError::Usage(msg) => eprintln!("error: {msg}"),
            FrontendError::Invalid(rendered) => eprint!("{rendered}"),
        }
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            FrontendError::Usage(_) => 2,
            FrontendError::Invalid(_) => 1,
        }
    }
}

/// The directory `path` arguments, the cache and `runs/` are relative to.
pub fn base_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The cache directory for `file`: `flag` (`--cache DIR`), or `.pipe-cache/` beside it.
pub fn cache_dir(file: &Path, flag: Option<&Path>) -> PathBuf {
    match flag {
        Some(d) => d.to_path_buf(),
        None => base_dir(file).join(".pipe-cache"),
    }
}

/// `load` for a subcommand: on failure the errors are printed and the exit code
/// the subcommand should return is given back.
pub fn load_or_report(
    path: &Path,
    stages: &dyn StageSet,
    sets: &[String],
    color: bool,
    inputs: &InputHasher,
) -> Result<Loaded, std::process::ExitCode> {
    load(path, stages, sets, color, inputs).map_err(|e| {
        e.print();
        std::process::ExitCode::from(e.exit_code())
    })
}

/// Checks `path`, applies `sets` and lowers it; `inputs` hashes its `path` inputs.
pub fn load(
    path: &Path,
    stages: &dyn StageSet,
    sets: &[String],
    color: bool,
    inputs: &InputHasher,
) -> Result<Loaded, FrontendError> {
    let program = check(path, stages)?;
    let mut warnings = String::new();
    let errors: Vec<&Diagnostic> = program
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .collect();
    if !errors.is_empty() {
        return Err(FrontendError::Invalid(render_all(
            &program,
            &program.diagnostics,
            color,
        )));
    }
    if !program.diagnostics.is_empty() {
        warnings = render_all(&program, &program.diagnostics, color);
    }
    let overrides = crate::overrides::apply(&program, sets, stages.as_catalog(), color)?;
    let graph = crate::lower::lower(&program, stages, &base_dir(path), &overrides, inputs)
        .map_err(|diags| FrontendError::Invalid(render_all(&program, &diags, color)))?;
    for w in inputs.take_warnings() {
        warnings.push_str(&format!("warning: {w}\n"));
    }
    Ok(Loaded {
        program,
        graph,
        warnings,
    })
}

/// Reads and checks `path` (no lowering).
pub fn check(path: &Path, stages: &dyn StageSet) -> Result<Program, FrontendError> {
    if let Err(reason) = crate::loader::read_source(path) {
        return Err(FrontendError::Usage(format!(
            "{}: {reason}",
            path.display()
        )));
    }
    let name = normalize(path);
    Ok(pipe_lang::check(&name, &DiskLoader, stages.as_catalog()))
}

/// Diagnostics as text, each against the text of the module it points into
/// (each text indexed once, so this is linear in the number of diagnostics).
pub fn render_all(program: &Program, diags: &[Diagnostic], color: bool) -> String {
    pipe_lang::render::ProgramRenderer::new(program).render_all(diags, color)
}

/// Every file `watch` must watch: the modules of the program and the `path` inputs.
pub fn watched_files(program: &Program, graph: &Graph) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = program
        .modules
        .iter()
        .map(|m| PathBuf::from(&m.name))
        .collect();
    files.extend(graph.input_paths.iter().cloned());
    files
}
