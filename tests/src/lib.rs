//! Shared helpers for the end-to-end tests: locating the `pipe` binary and
//! running it on real files in temporary directories.

pub mod ast_eq;
pub mod fixtures;
pub mod generate;
pub mod memory_loader;
pub mod test_catalog;

use std::path::PathBuf;
use std::process::Command;

/// The `pipe` binary of this build, built first if the test runner has not.
pub fn pipe_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps layout");
    let bin = profile_dir.join(format!("pipe{}", std::env::consts::EXE_SUFFIX));
    if !bin.exists() {
        let status = Command::new(env!("CARGO"))
            .args(["build", "-p", "pipe-interp", "--bin", "pipe"])
            .status()
            .expect("cargo build");
        assert!(status.success(), "building the pipe binary failed");
    }
    bin
}

/// A `pipe` command ready to run.
pub fn pipe() -> Command {
    Command::new(pipe_bin())
}
