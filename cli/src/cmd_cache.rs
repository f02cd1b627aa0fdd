//! `pipe cache ls | gc`: inspect and prune the cache. `ls` lists every entry (key,
//! stage, size, age, the node names that last used it); `gc` removes entries not
//! reachable from the given files and/or older than `--older-than`, under the
//! exclusive lock, and prints what it freed. Never runs a stage.

use pipe_interp::cache::{Cache, Manifest};
use pipe_interp::explain::human_duration;
use pipe_interp::frontend;
use pipe_interp::human::human_size;
use pipe_interp::input_hash::InputHasher;
use pipe_interp::stage_set::StageSet;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: CacheCommand,
}

#[derive(clap::Subcommand)]
pub enum CacheCommand {
    /// List the entries of a cache.
    Ls {
        /// A .pipe file whose cache (`.pipe-cache/` beside it) to list.
        file: Option<PathBuf>,
        /// Cache directory (overrides FILE's).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
    /// Remove entries not reachable from FILES, and/or older than --older-than.
    Gc {
        /// Files whose nodes (all bindings, default params) are kept.
        files: Vec<PathBuf>,
        /// Remove entries older than this (`30m`, `12h`, `7d`); with FILES, only unreachable ones.
        #[arg(long, value_name = "AGE")]
        older_than: Option<String>,
        /// Cache directory (default: `.pipe-cache/` beside the first file).
        #[arg(long, value_name = "DIR")]
        cache: Option<PathBuf>,
    },
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    run_with(args, pipe_stdlib::Stdlib::get())
}

pub fn run_with(args: Args, stages: &dyn StageSet) -> anyhow::Result<ExitCode> {
    match args.command {
        CacheCommand::Ls { file, cache } => ls(&dir_for(file.as_deref(), cache.as_deref())),
        CacheCommand::Gc {
            files,
            older_than,
            cache,
        } => gc(
            stages,
            &files,
            older_than.as_deref(),
            &dir_for(files.first().map(PathBuf::as_path), cache.as_deref()),
        ),
    }
}

fn dir_for(file: Option<&Path>, flag: Option<&Path>) -> PathBuf {
    match (flag, file) {
        (Some(d), _) => d.to_path_buf(),
        (None, Some(f)) => pipe_interp::frontend::cache_dir(f, None),
        (None, None) => PathBuf::from(".pipe-cache"),
    }
}

/// Opens an existing cache, or says why not (exit 2).
fn open_existing(dir: &Path) -> Result<Cache, ExitCode> {
    Cache::open_existing(dir).map_err(|e| {
        eprintln!("error: {e}");
        ExitCode::from(2)
    })
}

fn ls(dir: &Path) -> anyhow::Result<ExitCode> {
    let cache = match open_existing(dir) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let mut by_key: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for n in cache.names() {
        by_key.entry(n.key).or_default().push(n.name);
    }
    let entries = cache.entries();
    println!(
        "{:<12}  {:<24}  {:>9}  {:>5}  names",
        "key", "stage", "size", "age"
    );
    let mut total = 0;
    for m in &entries {
        let mut names = by_key.remove(&m.key).unwrap_or_default();
        names.sort();
        total += m.size();
        println!(
            "{:<12}  {:<24}  {:>9}  {:>5}  {}",
            &m.key[..12],
            m.stage,
            human_size(m.size()),
            human_duration(pipe_interp::cache::now_secs().saturating_sub(m.created)),
            names.join(", ")
        );
    }
    println!("{} entries, {}", entries.len(), human_size(total));
    Ok(ExitCode::SUCCESS)
}

fn gc(
    stages: &dyn StageSet,
    files: &[PathBuf],
    older_than: Option<&str>,
    dir: &Path,
) -> anyhow::Result<ExitCode> {
    if files.is_empty() && older_than.is_none() {
        eprintln!("error: give the .pipe files whose results to keep, and/or --older-than AGE");
        return Ok(ExitCode::from(2));
    }
    let max_age = match older_than.map(parse_age).transpose() {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("error: {msg}");
            return Ok(ExitCode::from(2));
        }
    };
    let mut keep: HashSet<String> = HashSet::new();
    for f in files {
        let inputs = InputHasher::new(&frontend::base_dir(f), dir);
        match frontend::load(f, stages, &[], std::io::stderr().is_terminal(), &inputs) {
            Ok(loaded) => {
                let roots = loaded.graph.roots(&[]).unwrap_or_default();
                for id in loaded.graph.needed(&roots) {
                    if let Ok(k) = &loaded.graph.nodes[id].key {
                        keep.insert(k.hex());
                    }
                }
            }
            Err(e) => {
                e.print();
                eprintln!(
                    "error: `{}` does not load; nothing was removed",
                    f.display()
                );
                return Ok(ExitCode::from(e.exit_code()));
            }
        }
    }
    let cache = match open_existing(dir) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    cache.lock_exclusive()?;
    let now = pipe_interp::cache::now_secs();
    let doomed: Vec<Manifest> = cache
        .entries()
        .into_iter()
        .filter(|m| files.is_empty() || !keep.contains(&m.key))
        .filter(|m| max_age.is_none_or(|a| now.saturating_sub(m.created) > a))
        .collect();
    // Counted from what was actually deleted: an entry another gc removed first
    // is not counted, and bytes are those of the files removed.
    let (mut freed, mut removed) = (0, 0);
    let stages: HashMap<&str, &str> = doomed
        .iter()
        .map(|m| (m.key.as_str(), m.stage.as_str()))
        .collect();
    let keys: Vec<String> = doomed.iter().map(|m| m.key.clone()).collect();
    for (key, bytes) in cache.remove(&keys) {
        freed += bytes;
        removed += 1;
        println!(
            "removed {}  {}  {}",
            &key[..12],
            stages.get(key.as_str()).copied().unwrap_or(""),
            human_size(bytes)
        );
    }
    for bad in cache.unreadable_entries() {
        let Some(bytes) = cache.discard(&bad) else {
            continue;
        };
        freed += bytes;
        removed += 1;
        println!(
            "removed unreadable entry {}  {}",
            bad.short(),
            human_size(bytes)
        );
    }
    println!("freed {} in {removed} entries", human_size(freed));
    Ok(ExitCode::SUCCESS)
}

/// `45s`, `30m`, `12h`, `7d` -> seconds.
pub fn parse_age(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (num, unit) = text.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{text}` is not an age; write e.g. `30m`, `12h` or `7d`"))?;
    let factor = match unit {
        "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("`{text}`: unknown unit `{unit}`; use s, m, h or d")),
    };
    Ok(n * factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_parse() {
        assert_eq!(parse_age("30m"), Ok(1800));
        assert_eq!(parse_age("7d"), Ok(604_800));
        assert!(parse_age("7w").unwrap_err().contains("unknown unit"));
        assert!(parse_age("soon").is_err());
    }
}
