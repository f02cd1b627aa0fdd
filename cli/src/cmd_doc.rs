//! `pipe doc [NAME]`: prints the stage catalog, a namespace or one stage's
//! signature (`pipe_interp::doc::render`). Reads only the catalog.

use pipe_interp::doc::render;
use pipe_lang::catalog::StageSig;
use pipe_stdlib::Stdlib;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// A namespace (`sim`) or a stage (`sim.accelerator`); the whole catalog when omitted.
    pub name: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let stages: Vec<&StageSig> = Stdlib::get().all().collect();
    match render(&stages, args.name.as_deref()) {
        Ok(text) => {
            print!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        Err(message) => {
            eprintln!("error: {message}");
            Ok(ExitCode::from(2))
        }
    }
}
