//! The content-addressed cache: one directory per node key under `entries/`,
//! holding `manifest.json` (what was run, with the blake3 of every file) and the
//! artifact files. Entries are immutable: written whole under `tmp/`, then renamed
//! into place, so a crash never leaves a half-written entry that is read back.
//! Every read checks every file's hash; a bad entry is discarded and reported.
//!
//! Concurrency: `pipe run` holds a shared lock on `lock` for its whole run; writers
//! of the same key race on the final rename and the loser drops its copy (both
//! copies are the same result). `gc`, and cleaning `tmp/` left by killed runs, take
//! the lock exclusively, so nothing is deleted under a running reader.
//! This module never runs stages and never decides what runs.

use crate::key::Key;
use pipe_stdlib::artifact::{Artifact, Files};
use pipe_stdlib::stage::{Outputs, StageOutput};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Output files of a single-artifact stage live under this directory of an entry.
const SINGLE: &str = "out";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache `{path}`: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cache: {0}")]
    Encode(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> CacheError + '_ {
    move |source| CacheError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// What a stage produced: one artifact (its kind) or named artifacts (their kinds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKinds {
    Single(String),
    Record(BTreeMap<String, String>),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub blake3: String,
}

/// `manifest.json` of one entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub key: String,
    pub stage: String,
    pub version: u32,
    /// Canonical arguments, as hashed into the key.
    pub args: BTreeMap<String, serde_json::Value>,
    pub inputs: Vec<String>,
    pub outputs: OutputKinds,
    pub metrics: BTreeMap<String, f64>,
    pub files: Vec<FileEntry>,
    /// Unix seconds.
    pub created: u64,
    /// How long the stage ran.
    pub seconds: f64,
}

impl Manifest {
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// What a stage call was, for the manifest.
pub struct EntryInfo<'a> {
    pub key: Key,
    pub stage: String,
    pub version: u32,
    pub args: &'a BTreeMap<String, serde_json::Value>,
    pub inputs: Vec<Key>,
    pub seconds: f64,
}

/// The result of looking a key up.
pub enum Lookup {
    Hit(Manifest),
    Miss,
    /// The entry existed but was damaged; it has been discarded.
    Corrupt(String),
}

/// `names/<name>.json`: the key a node name had at its last run, for `explain` and `ls`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NameRecord {
    pub name: String,
    pub key: String,
    pub stage: String,
    /// Unix seconds.
    pub time: u64,
}

pub struct Cache {
    dir: PathBuf,
    lock: File,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// Opens (creating when needed) the cache at `dir`.
    pub fn open(dir: &Path) -> Result<Cache, CacheError> {
        for sub in ["entries", "tmp", "names"] {
            let p = dir.join(sub);
            fs::create_dir_all(&p).map_err(io_err(&p))?;
        }
        let lock_path = dir.join("lock");
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Takes the lock for a run (shared). When no one else holds it, first cleans
    /// `tmp/` of copies left by killed runs.
    pub fn lock_for_run(&self) -> Result<(), CacheError> {
        let lock_path = self.dir.join("lock");
        if self.lock.try_lock().is_ok() {
            self.clean_tmp();
            self.lock.unlock().map_err(io_err(&lock_path))?;
        }
        self.lock.lock_shared().map_err(io_err(&lock_path))
    }

    /// Takes the lock exclusively (gc): waits for running `pipe run`s to finish.
    pub fn lock_exclusive(&self) -> Result<(), CacheError> {
        self.lock.lock().map_err(io_err(&self.dir.join("lock")))?;
        self.clean_tmp();
        Ok(())
    }

    fn clean_tmp(&self) {
        let Ok(entries) = fs::read_dir(self.dir.join("tmp")) else {
            return;
        };
        for e in entries.flatten() {
            remove_any(&e.path());
        }
    }

    fn entry_dir(&self, key: &Key) -> PathBuf {
        self.dir.join("entries").join(key.hex())
    }

    fn fresh_tmp(&self, what: &str) -> PathBuf {
        let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        self.dir
            .join("tmp")
            .join(format!("{what}-{}-{n}", std::process::id()))
    }

    /// Whether `key` has an entry, without reading it (a cheap existence check;
    /// `lookup` verifies).
    pub fn has_entry(&self, key: &Key) -> bool {
        self.entry_dir(key).join("manifest.json").is_file()
    }

    /// Looks `key` up and checks every file of the entry against its hash.
    pub fn lookup(&self, key: &Key) -> Lookup {
        let dir = self.entry_dir(key);
        let manifest_path = dir.join("manifest.json");
        let bytes = match fs::read(&manifest_path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.exists() => return Lookup::Miss,
            Err(e) => return self.corrupt(key, format!("manifest.json: {e}")),
        };
        let manifest: Manifest = match serde_json::from_slice(&bytes) {
            Ok(m) => m,
            Err(e) => return self.corrupt(key, format!("manifest.json does not parse: {e}")),
        };
        if manifest.key != key.hex() {
            return self.corrupt(key, "manifest.json names another key".into());
        }
        match read_verified(&dir, &manifest) {
            Ok(_) => Lookup::Hit(manifest),
            Err(reason) => self.corrupt(key, reason),
        }
    }

    /// Loads the artifacts of a hit, checking the hashes again (the entry may have
    /// been damaged since the lookup).
    pub fn load(&self, key: &Key, manifest: &Manifest) -> Result<StageOutput, String> {
        let files = match read_verified(&self.entry_dir(key), manifest) {
            Ok(f) => f,
            Err(reason) => {
                self.discard(key);
                return Err(reason);
            }
        };
        let outputs =
            decode_outputs(&manifest.outputs, files).inspect_err(|_| self.discard(key))?;
        Ok(StageOutput {
            outputs,
            metrics: manifest.metrics.clone(),
        })
    }

    fn corrupt(&self, key: &Key, reason: String) -> Lookup {
        self.discard(key);
        Lookup::Corrupt(reason)
    }

    /// Moves an entry out of `entries/` atomically, then deletes it.
    pub fn discard(&self, key: &Key) {
        let dir = self.entry_dir(key);
        let aside = self.fresh_tmp(&format!("discard-{}", key.short()));
        if fs::rename(&dir, &aside).is_ok() {
            remove_any(&aside);
        }
    }

    /// Stores a stage's result under `info.key`. When another writer got there
    /// first, keeps theirs and drops this copy.
    pub fn store(&self, info: &EntryInfo, output: &StageOutput) -> Result<Manifest, CacheError> {
        let tmp = self.fresh_tmp(&info.key.short());
        let result = self.write_entry(&tmp, info, output);
        if result.is_err() {
            remove_any(&tmp);
        }
        let manifest = result?;
        let dest = self.entry_dir(&info.key);
        if fs::rename(&tmp, &dest).is_err() {
            // Lost the race (or a damaged entry is in the way: the next lookup
            // discards it). Either way ours is not needed.
            remove_any(&tmp);
        }
        Ok(manifest)
    }

    fn write_entry(
        &self,
        tmp: &Path,
        info: &EntryInfo,
        output: &StageOutput,
    ) -> Result<Manifest, CacheError> {
        fs::create_dir_all(tmp).map_err(io_err(tmp))?;
        let (kinds, groups) = encode_outputs(&output.outputs)?;
        let mut files = Vec::new();
        for (group, artifact_files) in groups {
            let gdir = tmp.join(&group);
            fs::create_dir_all(&gdir).map_err(io_err(&gdir))?;
            for (name, bytes) in artifact_files {
                let rel = format!("{group}/{name}");
                let path = tmp.join(&rel);
                fs::write(&path, &bytes).map_err(io_err(&path))?;
                files.push(FileEntry {
                    path: rel,
                    size: bytes.len() as u64,
                    blake3: blake3::hash(&bytes).to_hex().to_string(),
                });
            }
        }
        let manifest = Manifest {
            key: info.key.hex(),
            stage: info.stage.clone(),
            version: info.version,
            args: info.args.clone(),
            inputs: info.inputs.iter().map(Key::hex).collect(),
            outputs: kinds,
            metrics: output.metrics.clone(),
            files,
            created: now_secs(),
            seconds: info.seconds,
        };
        let bytes =
            serde_json::to_vec_pretty(&manifest).map_err(|e| CacheError::Encode(e.to_string()))?;
        let path = tmp.join("manifest.json");
        fs::write(&path, bytes).map_err(io_err(&path))?;
        Ok(manifest)
    }

    /// Every entry with a readable manifest (hashes not checked), oldest first.
    pub fn entries(&self) -> Vec<Manifest> {
        let mut out = Vec::new();
        let Ok(dirs) = fs::read_dir(self.dir.join("entries")) else {
            return out;
        };
        for d in dirs.flatten() {
            let Ok(bytes) = fs::read(d.path().join("manifest.json")) else {
                continue;
            };
            if let Ok(m) = serde_json::from_slice::<Manifest>(&bytes) {
                out.push(m);
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.key.cmp(&b.key)));
        out
    }

    /// Directories under `entries/` that are not a readable entry (left by old
    /// versions or damaged); gc removes them.
    pub fn unreadable_entries(&self) -> Vec<PathBuf> {
        let Ok(dirs) = fs::read_dir(self.dir.join("entries")) else {
            return Vec::new();
        };
        dirs.flatten()
            .map(|d| d.path())
            .filter(|p| {
                fs::read(p.join("manifest.json"))
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Manifest>(&b).ok())
                    .is_none()
            })
            .collect()
    }

    /// Deletes one entry by its hex key (gc).
    pub fn remove(&self, key_hex: &str) -> bool {
        match Key::parse(key_hex) {
            Some(k) => {
                self.discard(&k);
                true
            }
            None => false,
        }
    }

    /// Remembers which key each node name had in this run (written only on change).
    pub fn record_names(&self, names: &[(String, Key, String)]) {
        for (name, key, stage) in names {
            let path = self.name_path(name);
            if let Some(old) = read_name(&path) {
                if old.key == key.hex() {
                    continue;
                }
            }
            let record = NameRecord {
                name: name.clone(),
                key: key.hex(),
                stage: stage.clone(),
                time: now_secs(),
            };
            let Ok(bytes) = serde_json::to_vec(&record) else {
                continue;
            };
            let tmp = self.fresh_tmp("name");
            if fs::write(&tmp, bytes).is_ok() && fs::rename(&tmp, &path).is_err() {
                remove_any(&tmp);
            }
        }
    }

    /// The key a node name had at its last run.
    pub fn last_key(&self, name: &str) -> Option<NameRecord> {
        read_name(&self.name_path(name))
    }

    /// All name records (for `cache ls`).
    pub fn names(&self) -> Vec<NameRecord> {
        let Ok(files) = fs::read_dir(self.dir.join("names")) else {
            return Vec::new();
        };
        files
            .flatten()
            .filter_map(|f| read_name(&f.path()))
            .collect()
    }

    fn name_path(&self, name: &str) -> PathBuf {
        self.dir
            .join("names")
            .join(format!("{}.json", escape_name(name)))
    }

    /// The manifest of an entry without checking its files (for `explain`).
    pub fn manifest(&self, key_hex: &str) -> Option<Manifest> {
        let bytes = fs::read(self.dir.join("entries").join(key_hex).join("manifest.json")).ok()?;
        serde_json::from_slice(&bytes).ok()
    }
}

fn read_name(path: &Path) -> Option<NameRecord> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// File-name-safe form of a node name: `[`, `]`, `/`, ... become `%XX`.
fn escape_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for b in name.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'=' | b',') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn remove_any(path: &Path) {
    if path.is_dir() {
        let _ = fs::remove_dir_all(path);
    } else {
        let _ = fs::remove_file(path);
    }
}

pub fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Reads every file of an entry and checks its size and hash.
fn read_verified(dir: &Path, manifest: &Manifest) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let mut out = BTreeMap::new();
    for f in &manifest.files {
        if f.path.contains("..") || f.path.starts_with('/') {
            return Err(format!(
                "manifest names a file outside the entry: `{}`",
                f.path
            ));
        }
        let bytes = fs::read(dir.join(&f.path)).map_err(|e| format!("`{}`: {e}", f.path))?;
        if bytes.len() as u64 != f.size {
            return Err(format!(
                "`{}` is {} bytes, expected {}",
                f.path,
                bytes.len(),
                f.size
            ));
        }
        if blake3::hash(&bytes).to_hex().as_str() != f.blake3 {
            return Err(format!("`{}` does not match its hash", f.path));
        }
        out.insert(f.path.clone(), bytes);
    }
    Ok(out)
}

type Groups = Vec<(String, Files)>;

fn encode_outputs(outputs: &Outputs) -> Result<(OutputKinds, Groups), CacheError> {
    let enc = |a: &Artifact| a.to_files().map_err(|e| CacheError::Encode(e.to_string()));
    match outputs {
        Outputs::Single(a) => Ok((
            OutputKinds::Single(a.kind().to_string()),
            vec![(SINGLE.to_string(), enc(a)?)],
        )),
        Outputs::Record(fields) => {
            let mut kinds = BTreeMap::new();
            let mut groups = Vec::new();
            for (name, a) in fields {
                kinds.insert(name.clone(), a.kind().to_string());
                groups.push((format!("field-{name}"), enc(a)?));
            }
            Ok((OutputKinds::Record(kinds), groups))
        }
    }
}

fn decode_outputs(
    kinds: &OutputKinds,
    files: BTreeMap<String, Vec<u8>>,
) -> Result<Outputs, String> {
    let group_files = |group: &str| -> Files {
        let prefix = format!("{group}/");
        files
            .iter()
            .filter_map(|(p, b)| p.strip_prefix(&prefix).map(|n| (n.to_string(), b.clone())))
            .collect()
    };
    let decode = |kind: &str, group: &str| {
        Artifact::from_files(kind, &group_files(group)).map_err(|e| e.to_string())
    };
    match kinds {
        OutputKinds::Single(kind) => Ok(Outputs::Single(decode(kind, SINGLE)?)),
        OutputKinds::Record(fields) => {
            let mut out = BTreeMap::new();
            for (name, kind) in fields {
                out.insert(name.clone(), decode(kind, &format!("field-{name}"))?);
            }
            Ok(Outputs::Record(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pipe_stdlib::metrics::Metrics;
    use std::sync::Arc;

    fn output(v: f64) -> StageOutput {
        let mut m = Metrics::default();
        m.values.insert("v".into(), v);
        StageOutput::single(Artifact::Metrics(Arc::new(m)))
            .with_metrics(&BTreeMap::from([("v".to_string(), v)]))
    }

    fn info(key: Key, args: &BTreeMap<String, serde_json::Value>) -> EntryInfo<'_> {
        EntryInfo {
            key,
            stage: "test.add".into(),
            version: 1,
            args,
            inputs: vec![],
            seconds: 0.5,
        }
    }

    #[test]
    fn store_then_lookup_then_load() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        cache.lock_for_run().unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &args);
        assert!(matches!(cache.lookup(&key), Lookup::Miss));
        cache.store(&info(key, &args), &output(3.0)).unwrap();
        let Lookup::Hit(m) = cache.lookup(&key) else {
            panic!("expected a hit")
        };
        assert_eq!(m.metrics["v"], 3.0);
        let loaded = cache.load(&key, &m).unwrap();
        let Outputs::Single(Artifact::Metrics(metrics)) = loaded.outputs else {
            panic!("wrong output")
        };
        assert_eq!(metrics.values["v"], 3.0);
        // A second writer of the same key keeps the first entry intact.
        cache.store(&info(key, &args), &output(3.0)).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Hit(_)));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn damaged_entries_are_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &args);
        cache.store(&info(key, &args), &output(1.0)).unwrap();
        let file = dir
            .path()
            .join("entries")
            .join(key.hex())
            .join("out/metrics.json");
        let mut bytes = fs::read(&file).unwrap();
        bytes[0] ^= 0x20;
        fs::write(&file, &bytes).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Corrupt(r) if r.contains("hash")));
        assert!(matches!(cache.lookup(&key), Lookup::Miss));
        cache.store(&info(key, &args), &output(1.0)).unwrap();
        fs::write(&file, &bytes[..3]).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Corrupt(r) if r.contains("bytes")));
    }

    #[test]
    fn names_are_escaped_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let key = crate::key::key_of("x", 1, &BTreeMap::new());
        cache.record_names(&[("hw[pe=int8,rows=16]".into(), key, "sim.accelerator".into())]);
        assert_eq!(
            cache.last_key("hw[pe=int8,rows=16]").unwrap().key,
            key.hex()
        );
        assert_eq!(escape_name("a/b[c]"), "a%2Fb%5Bc%5D");
    }
}
