//! Submitting one job array: its directory (task list, batch script), one
//! `sbatch --array=0-(n-1)` call, and the job-state file once Slurm answered
//! with the job id. Array task i runs `pipe worker` on line i of the task list.
//! This module never decides which nodes go together; the executor does.

use super::commands::{self, SlurmError};
use super::state::ArrayDir;
use crate::key::Key;
use std::path::{Path, PathBuf};

/// How a worker is started: the same `pipe`, file, `--set`s and cache as this run.
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    pub exe: PathBuf,
    pub file: PathBuf,
    pub cache: PathBuf,
    pub sets: Vec<String>,
}

impl WorkerCommand {
    /// The batch script of an array whose task list is `tasks`.
    fn script(&self, tasks: &Path) -> Result<String, SlurmError> {
        let mut line = format!(
            "exec {} worker {} --cache {} --tasks {}",
            quote(&self.exe)?,
            quote(&self.file)?,
            quote(&self.cache)?,
            quote(tasks)?
        );
        for s in &self.sets {
            line.push_str(" --set ");
            line.push_str(&quote_str(s));
        }
        Ok(format!(
            "#!/bin/sh\n# Written by `pipe run --executor slurm`: array task \
             $SLURM_ARRAY_TASK_ID runs the nodes whose keys are on that line of `tasks`.\n{line}\n"
        ))
    }
}

/// A submitted job array.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub job_id: u64,
    pub dir: ArrayDir,
}

/// Submits `tasks` (the keys each array task runs) as one job array with `options`.
pub fn submit(
    worker: &WorkerCommand,
    arrays: &Path,
    options: &[String],
    tasks: &[Vec<Key>],
) -> Result<Submitted, SlurmError> {
    let dir = ArrayDir::create(arrays)?;
    dir.write_tasks(tasks)?;
    let script = worker.script(&dir.tasks_file())?;
    super::state::write_atomic(&dir.script(), script.as_bytes())?;
    let mut args = vec![
        "--parsable".to_string(),
        format!("--array=0-{}", tasks.len().saturating_sub(1)),
        format!("--job-name=pipe:{}", job_name(&worker.file)),
        format!("--output={}", dir.log_pattern().display()),
    ];
    args.extend(options.iter().cloned());
    args.push(dir.script().display().to_string());
    let out = commands::run("sbatch", &args)?;
    let job_id = parse_job_id(&out).ok_or_else(|| SlurmError::Unexpected {
        command: "sbatch --parsable".into(),
        output: out.trim().to_string(),
    })?;
    dir.record_job(job_id, tasks)?;
    Ok(Submitted { job_id, dir })
}

/// `sbatch --parsable` prints `<job id>` or `<job id>;<cluster>`.
fn parse_job_id(out: &str) -> Option<u64> {
    out.trim().split(';').next()?.trim().parse().ok()
}

fn job_name(file: &Path) -> String {
    file.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "pipeline".into())
}

/// A path as one single-quoted shell word; paths must be UTF-8 to be written
/// into the script.
fn quote(path: &Path) -> Result<String, SlurmError> {
    let s = path.to_str().ok_or_else(|| SlurmError::File {
        path: path.display().to_string(),
        reason: "the path is not UTF-8, so it cannot be written into a batch script".into(),
    })?;
    Ok(quote_str(s))
}

fn quote_str(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_ids_parse_with_and_without_cluster() {
        assert_eq!(parse_job_id("123\n"), Some(123));
        assert_eq!(parse_job_id("77;big\n"), Some(77));
        assert_eq!(parse_job_id("Submitted batch job 5"), None);
    }

    #[test]
    fn the_script_quotes_every_word() {
        let w = WorkerCommand {
            exe: "/bin/pipe".into(),
            file: "/d/it's.pipe".into(),
            cache: "/d/c".into(),
            sets: vec!["name=\"a b\"".into()],
        };
        let s = w.script(Path::new("/d/c/tasks")).unwrap();
        assert!(s.starts_with("#!/bin/sh\n"));
        assert!(
            s.contains("exec '/bin/pipe' worker '/d/it'\\''s.pipe' --cache '/d/c' --tasks '/d/c/tasks' --set 'name=\"a b\"'"),
            "{s}"
        );
    }
}
