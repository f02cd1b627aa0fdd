//! `pipe check [--format text|json] FILE...`: checks each file (and what it
//! imports) against the stdlib catalog without running anything, and prints every
//! diagnostic. Exit code: 0 clean or warnings only, 1 errors, 2 a file could not be read.

use pipe_interp::loader::{normalize, read_source, DiskLoader};
use pipe_lang::render;
use std::collections::HashSet;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Rendered diagnostics with source excerpts.
    Text,
    /// One JSON array of diagnostics on stdout.
    Json,
}

#[derive(clap::Args)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "text")]
    pub format: Format,
    /// Files to check.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let color = args.format == Format::Text && std::io::stdout().is_terminal();
    let mut unreadable = false;
    let mut seen: HashSet<(String, usize, usize, &'static str, String)> = HashSet::new();
    let mut json = Vec::new();
    let mut text = String::new();
    let (mut errors, mut warnings) = (0usize, 0usize);
    for path in &args.files {
        if let Err(reason) = read_source(path) {
            eprintln!("error: cannot read `{}`: {reason}", path.display());
            unreadable = true;
            continue;
        }
        let name = normalize(path);
        let program = pipe_lang::check(&name, &DiskLoader, pipe_stdlib::Stdlib::get());
        let mut renderer = render::ProgramRenderer::new(&program);
        for d in &program.diagnostics {
            let key = (
                d.file.clone(),
                d.span.start,
                d.span.end,
                d.code,
                d.message.clone(),
            );
            if !seen.insert(key) {
                continue;
            }
            if d.is_error() {
                errors += 1;
            } else {
                warnings += 1;
            }
            match args.format {
                Format::Text => text.push_str(&renderer.render(d, color)),
                Format::Json => json.push(renderer.json(d)),
            }
        }
    }
    if args.format == Format::Json {
        text = serde_json::to_string_pretty(&json)? + "\n";
    }
    write_stdout(&text)?;
    if args.format == Format::Text {
        eprintln!(
            "checked {} file{}: {errors} error{}, {warnings} warning{}",
            args.files.len(),
            plural(args.files.len()),
            plural(errors),
            plural(warnings)
        );
    }
    Ok(ExitCode::from(if unreadable {
        2
    } else if errors > 0 {
        1
    } else {
        0
    }))
}

/// Writes all of stdout at once; a closed pipe (`pipe check x | head`) is not an error.
fn write_stdout(text: &str) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}
