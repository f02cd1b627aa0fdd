//! Running Slurm's client commands (`sbatch`, `squeue`, `scancel`) and turning
//! their failures into errors that name the command line tried and what to do.
//! The commands are found on `PATH`, as a user's shell would. This module never
//! decides what to submit, poll or cancel.

use std::process::{Command, Stdio};

#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    #[error(
        "could not run `{command}`: `{program}` is not on PATH. Install Slurm's client \
         commands (sbatch, squeue, scancel) on this machine, or run with `--executor local`"
    )]
    NotFound { program: String, command: String },
    #[error("could not run `{command}`: {reason}")]
    Spawn { command: String, reason: String },
    #[error(
        "`{command}` failed ({status}): {stderr}\nIs the Slurm controller reachable? \
         `sinfo` shows the cluster's state; `--executor local` runs here instead"
    )]
    Failed {
        command: String,
        status: String,
        stderr: String,
    },
    #[error("`{command}` printed something unexpected: `{output}`")]
    Unexpected { command: String, output: String },
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

/// What a command printed on stdout, or why it failed.
pub fn run(program: &str, args: &[String]) -> Result<String, SlurmError> {
    let command = command_line(program, args);
    let out = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| spawn_error(program, &command, &e))?;
    if !out.status.success() {
        return Err(SlurmError::Failed {
            command,
            status: out.status.to_string(),
            stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn spawn_error(program: &str, command: &str, e: &std::io::Error) -> SlurmError {
    if e.kind() == std::io::ErrorKind::NotFound {
        SlurmError::NotFound {
            program: program.to_string(),
            command: command.to_string(),
        }
    } else {
        SlurmError::Spawn {
            command: command.to_string(),
            reason: e.to_string(),
        }
    }
}

/// `program arg...`, long argument lists shortened for messages.
fn command_line(program: &str, args: &[String]) -> String {
    let mut line = program.to_string();
    for a in args {
        line.push(' ');
        if a.chars().count() > 80 {
            line.extend(a.chars().take(77));
            line.push_str("...");
        } else {
            line.push_str(a);
        }
    }
    line
}

/// Checks that the commands exist and the controller answers, before anything
/// is submitted: `sbatch --version`, then a `squeue` of this user's jobs.
pub fn probe() -> Result<(), SlurmError> {
    run("sbatch", &["--version".to_string()])?;
    run("scancel", &["--version".to_string()])?;
    run(
        "squeue",
        &["--noheader".into(), "--me".into(), "--format=%i".into()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_command_is_named_with_what_to_do() {
        let err = run("pipe-no-such-sbatch", &["--version".into()]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("`pipe-no-such-sbatch --version`"), "{msg}");
        assert!(msg.contains("--executor local"), "{msg}");
    }

    #[test]
    fn a_failing_command_shows_its_stderr() {
        let err = run("sh", &["-c".into(), "echo boom >&2; exit 3".into()]).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("boom") && msg.contains("exit status: 3"),
            "{msg}"
        );
    }
}
