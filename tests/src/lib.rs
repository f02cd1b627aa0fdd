//! Shared helpers for the end-to-end tests: locating the `pipe` binary and
//! running it on real files in temporary directories.

pub mod adversarial;
pub mod ast_eq;
pub mod fixtures;
pub mod generate;
pub mod golden;
pub mod memory_loader;
pub mod run_json;
pub mod test_catalog;

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The `pipe` binary of this build. Built (or brought up to date) once per test
/// process, so a test never runs a binary older than the sources it tests.
pub fn pipe_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(build_pipe).clone()
}

fn build_pipe() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps layout");
    let mut cargo = Command::new(env!("CARGO"));
    cargo.args(["build", "--quiet", "-p", "pipe-cli", "--bin", "pipe"]);
    if profile_dir.ends_with("release") {
        cargo.arg("--release");
    }
    let status = cargo.status().expect("running cargo build");
    assert!(status.success(), "building the pipe binary failed");
    profile_dir.join(format!("pipe{}", std::env::consts::EXE_SUFFIX))
}

/// A `pipe` command ready to run.
pub fn pipe() -> Command {
    Command::new(pipe_bin())
}
