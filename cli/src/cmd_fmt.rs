//! `pipe fmt [--check] FILE...`: rewrites each file in canonical form, in place.
//! `--check` changes nothing and lists the files that would change. A file with
//! syntax errors is never rewritten; its errors are printed. Exit code: 0 done (or
//! nothing to change), 1 syntax errors or (with `--check`) files to reformat, 2 a
//! file could not be read or written.

use pipe_interp::loader::{normalize, read_source};
use pipe_lang::render;
use std::io::IsTerminal;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// Change nothing; list the files that are not formatted and exit 1 if any.
    #[arg(long)]
    pub check: bool,
    /// Files to format.
    #[arg(required = true)]
    pub files: Vec<std::path::PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let color = std::io::stderr().is_terminal();
    let (mut io_failed, mut failed) = (false, false);
    for path in &args.files {
        let text = match read_source(path) {
            Ok(text) => text,
            Err(reason) => {
                eprintln!("error: cannot read `{}`: {reason}", path.display());
                io_failed = true;
                continue;
            }
        };
        let name = normalize(path);
        let formatted = match pipe_lang::format(&name, &text) {
            Ok(formatted) => formatted,
            Err(diags) => {
                let renderer = render::Renderer::new(&text);
                for d in &diags {
                    eprint!("{}", renderer.render(d, color));
                }
                eprintln!("error: not formatting `{name}`: it has syntax errors");
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        if args.check {
            println!("would reformat {name}");
            failed = true;
            continue;
        }
        match std::fs::write(path, formatted) {
            Ok(()) => println!("formatted {name}"),
            Err(e) => {
                eprintln!("error: cannot write `{name}`: {e}");
                io_failed = true;
            }
        }
    }
    Ok(ExitCode::from(if io_failed {
        2
    } else if failed {
        1
    } else {
        0
    }))
}
