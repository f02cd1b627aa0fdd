//! The job-state files of the Slurm executor, under `<cache>/slurm/arrays/`:
//! one directory per submitted job array, holding `tasks` (line i: the keys
//! array task i runs), `job.sh` (the batch script), `log-<i>.txt` (each task's
//! output), `error-<key>.txt` (a node whose stage failed) and `job.json` (the
//! Slurm job id and the keys per task, written once `sbatch` answered). A rerun
//! reads `job.json` files to adopt tasks still queued or running instead of
//! submitting their nodes again. Every file is written whole and renamed into
//! place. This module only reads and writes these files.

use super::commands::SlurmError;
use crate::key::Key;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The directory of one job array.
#[derive(Debug, Clone)]
pub struct ArrayDir {
    pub dir: PathBuf,
}

/// `job.json`: what was submitted under which Slurm job id.
#[derive(Debug, Serialize, Deserialize)]
struct JobRecord {
    job_id: u64,
    tasks: Vec<Vec<String>>,
}

/// A job array submitted by this or an earlier run.
pub struct Recorded {
    pub dir: ArrayDir,
    pub job_id: u64,
    pub tasks: Vec<Vec<Key>>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn file_error(path: &Path, e: impl std::fmt::Display) -> SlurmError {
    SlurmError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes `bytes` to `path` whole: a temporary file beside it, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SlurmError> {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    std::fs::write(&tmp, bytes).map_err(|e| file_error(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        file_error(path, e)
    })
}

impl ArrayDir {
    /// A fresh, uniquely named directory under `arrays`.
    pub fn create(arrays: &Path) -> Result<ArrayDir, SlurmError> {
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = arrays.join(format!("{millis}-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| file_error(&dir, e))?;
        Ok(ArrayDir { dir })
    }

    /// The array directory a worker's `--tasks` file lives in.
    pub fn of_tasks_file(tasks: &Path) -> ArrayDir {
        ArrayDir {
            dir: tasks.parent().unwrap_or(Path::new(".")).to_path_buf(),
        }
    }

    pub fn tasks_file(&self) -> PathBuf {
        self.dir.join("tasks")
    }

    pub fn script(&self) -> PathBuf {
        self.dir.join("job.sh")
    }

    /// The log of array task `index` (`sbatch --output=<dir>/log-%a.txt`).
    pub fn log(&self, index: u32) -> PathBuf {
        self.dir.join(format!("log-{index}.txt"))
    }

    pub fn log_pattern(&self) -> PathBuf {
        self.dir.join("log-%a.txt")
    }

    /// Where a worker leaves the error of a node whose stage failed.
    pub fn error_file(&self, key: &Key) -> PathBuf {
        self.dir.join(format!("error-{}.txt", key.hex()))
    }

    pub fn write_tasks(&self, tasks: &[Vec<Key>]) -> Result<(), SlurmError> {
        let mut text = String::new();
        for task in tasks {
            let line: Vec<String> = task.iter().map(Key::hex).collect();
            text.push_str(&line.join(" "));
            text.push('\n');
        }
        write_atomic(&self.tasks_file(), text.as_bytes())
    }

    /// Records the Slurm job id of this array (the job-state file).
    pub fn record_job(&self, job_id: u64, tasks: &[Vec<Key>]) -> Result<(), SlurmError> {
        let record = JobRecord {
            job_id,
            tasks: tasks
                .iter()
                .map(|t| t.iter().map(Key::hex).collect())
                .collect(),
        };
        let bytes = serde_json::to_vec(&record).map_err(|e| file_error(&self.dir, e))?;
        write_atomic(&self.dir.join("job.json"), &bytes)
    }
}

/// The keys of array task `index` in a `tasks` file.
pub fn read_task(tasks: &Path, index: usize) -> Result<Vec<Key>, SlurmError> {
    let text = std::fs::read_to_string(tasks).map_err(|e| file_error(tasks, e))?;
    let line = text
        .lines()
        .nth(index)
        .ok_or_else(|| file_error(tasks, format!("has no line for array task {index}")))?;
    line.split_whitespace()
        .map(|hex| {
            Key::parse(hex).ok_or_else(|| file_error(tasks, format!("`{hex}` is not a node key")))
        })
        .collect()
}

/// Every array with a readable `job.json` under `arrays` (others are skipped:
/// an array whose `sbatch` never answered has nothing to adopt).
pub fn recorded(arrays: &Path) -> Vec<Recorded> {
    let Ok(dirs) = std::fs::read_dir(arrays) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for d in dirs.flatten() {
        let dir = ArrayDir { dir: d.path() };
        let Ok(bytes) = std::fs::read(dir.dir.join("job.json")) else {
            continue;
        };
        let Ok(record) = serde_json::from_slice::<JobRecord>(&bytes) else {
            continue;
        };
        let tasks: Option<Vec<Vec<Key>>> = record
            .tasks
            .iter()
            .map(|t| t.iter().map(|h| Key::parse(h)).collect())
            .collect();
        if let Some(tasks) = tasks {
            out.push(Recorded {
                dir,
                job_id: record.job_id,
                tasks,
            });
        }
    }
    out
}

/// The last `lines` lines of a log (at most its last 16 KiB are read).
pub fn tail(path: &Path, lines: usize) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = std::fs::File::open(path) else {
        return "(no log was written)".into();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut bytes = Vec::new();
    let _ = f.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tasks_and_job_records_round_trip() {
        let root = tempfile::tempdir().unwrap();
        let a = ArrayDir::create(root.path()).unwrap();
        let k1 = crate::key::key_of("sim.a", 1, &crate::key::Canonical::new(Default::default()));
        let k2 = crate::key::key_of("sim.b", 1, &crate::key::Canonical::new(Default::default()));
        let tasks = vec![vec![k1, k2], vec![k2]];
        a.write_tasks(&tasks).unwrap();
        assert_eq!(read_task(&a.tasks_file(), 0).unwrap(), vec![k1, k2]);
        assert_eq!(read_task(&a.tasks_file(), 1).unwrap(), vec![k2]);
        let err = read_task(&a.tasks_file(), 2).unwrap_err().to_string();
        assert!(err.contains("no line for array task 2"), "{err}");
        assert!(recorded(root.path()).is_empty(), "no job id yet");
        a.record_job(42, &tasks).unwrap();
        let r = recorded(root.path());
        assert_eq!((r.len(), r[0].job_id), (1, 42));
        assert_eq!(r[0].tasks, tasks);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let root = tempfile::tempdir().unwrap();
        let log = root.path().join("log.txt");
        std::fs::write(&log, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail(&log, 2), "c\nd");
        assert_eq!(tail(&root.path().join("none"), 2), "(no log was written)");
    }
}
