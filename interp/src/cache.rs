//! The content-addressed cache: one directory per node key under `entries/`,
//! holding `manifest.json` (what was run, with the blake3 of every file) and the
//! artifact files. Entries are immutable: written whole under `tmp/`, then renamed
//! into place, so a crash never leaves a half-written entry that is read back.
//! A lookup trusts an entry whose files still have the stat stamp (size, mtime,
//! ctime, inode) they had when the entry was written or last verified, and
//! re-hashes every file when a stamp changed; loading an entry for use always
//! checks every hash. The manifest is sealed with its own hash. A bad entry is
//! discarded and reported. The cache only ever touches names it writes, inside
//! a directory holding its marker file, and never follows a symbolic link
//! (see `cache_disk`).
//!
//! Concurrency: `pipe run` holds a shared lock on `lock` for its whole run; writers
//! of the same key race on the final rename and the loser drops its copy (both
//! copies are the same result). `gc`, and cleaning `tmp/` left by killed runs, take
//! the lock exclusively, so nothing is deleted under a running reader.
//! This module never runs stages and never decides what runs.

use crate::cache_disk::{self as disk, NotACache};
use crate::cache_pack::{self as pack, Record};
use crate::key::Key;
use pipe_stdlib::artifact::{Artifact, Files};
use pipe_stdlib::stage::{Outputs, StageOutput};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Output files of a single-artifact stage live under this directory of an entry.
const SINGLE: &str = "out";

#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cache `{path}`: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("cache: {0}")]
    Encode(String),
    #[error(transparent)]
    NotACache(#[from] NotACache),
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

/// A manifest read without its arguments: what a lookup, `ls` and `gc` need.
/// Skipping the arguments (serde_json skips a value without recursing or
/// allocating) keeps a no-op rerun of a large sweep from building a tree of
/// JSON values per node only to drop it.
#[derive(Deserialize)]
struct ManifestNoArgs {
    key: String,
    stage: String,
    version: u32,
    inputs: Vec<String>,
    outputs: OutputKinds,
    metrics: BTreeMap<String, f64>,
    files: Vec<FileEntry>,
    created: u64,
    seconds: f64,
}

impl From<ManifestNoArgs> for Manifest {
    fn from(m: ManifestNoArgs) -> Manifest {
        Manifest {
            key: m.key,
            stage: m.stage,
            version: m.version,
            args: BTreeMap::new(),
            inputs: m.inputs,
            outputs: m.outputs,
            metrics: m.metrics,
            files: m.files,
            created: m.created,
            seconds: m.seconds,
        }
    }
}

/// Whether to read a manifest's canonical arguments (only `explain` shows them).
#[derive(Clone, Copy, PartialEq)]
enum Args {
    Read,
    Skip,
}

fn parse_manifest(body: &[u8], args: Args) -> Result<Manifest, String> {
    match args {
        Args::Read => disk::parse_deep::<Manifest>(body),
        Args::Skip => disk::parse_deep::<ManifestNoArgs>(body).map(Manifest::from),
    }
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
    /// Whether small results go into packs (a run in this process; not a Slurm
    /// worker, whose results the submitting process looks for as directories).
    pack_small: AtomicBool,
    /// The packed records on disk, read at the first lookup.
    packed: OnceLock<Packed>,
    /// Records stored by this process and not yet written as a pack.
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Packed {
    /// Grows when this process writes a pack (`flush`), so a long-lived
    /// process (`pipe watch`) finds what its earlier runs packed.
    index: RwLock<HashMap<Key, Record>>,
    /// Packed records found damaged (reported once, at their lookup).
    bad: Mutex<HashMap<Key, String>>,
}

#[derive(Default)]
struct Pending {
    records: Vec<pack::RawRecord>,
    bytes: usize,
}

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl Cache {
    /// Opens (creating when needed) the cache at `dir`. Refuses a directory that
    /// holds other files and no marker, and links in place of its directories.
    pub fn open(dir: &Path) -> Result<Cache, CacheError> {
        disk::claim(dir)?;
        Cache::open_claimed(dir)
    }

    /// Opens the cache at `dir` only when it is one already (`ls`, `gc`).
    pub fn open_existing(dir: &Path) -> Result<Cache, CacheError> {
        disk::existing(dir)?;
        Cache::open_claimed(dir)
    }

    fn open_claimed(dir: &Path) -> Result<Cache, CacheError> {
        for sub in ["entries", "tmp", "names", "packs"] {
            disk::real_subdir(dir, sub)?;
        }
        let lock_path = dir.join("lock");
        if fs::symlink_metadata(&lock_path).is_ok_and(|m| !m.is_file()) {
            return Err(NotACache::Link { path: lock_path }.into());
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        Ok(Cache {
            dir: dir.to_path_buf(),
            lock,
            pack_small: AtomicBool::new(false),
            packed: OnceLock::new(),
            pending: Mutex::new(Pending::default()),
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

    /// Removes the copies killed runs left in `tmp/`: only names pipe gives them,
    /// and only when `tmp/` is still a real directory.
    fn clean_tmp(&self) {
        let Ok(tmp) = disk::real_subdir(&self.dir, "tmp") else {
            return;
        };
        let Ok(entries) = fs::read_dir(tmp) else {
            return;
        };
        for e in entries.flatten() {
            if disk::is_tmp_name(&e.file_name().to_string_lossy()) {
                disk::remove_tree(&e.path());
            }
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
        self.entry_dir(key).join("manifest.json").is_file() || self.packed_record(key).is_some()
    }

    /// Whether `key` has anything a lookup would read: an entry, or a packed one
    /// found damaged that no lookup has reported and discarded yet.
    pub fn has_entry_or_damage(&self, key: &Key) -> bool {
        self.has_entry(key)
            || self
                .packed()
                .bad
                .lock()
                .is_ok_and(|bad| bad.contains_key(key))
    }

    /// Looks `key` up. An entry whose files all kept the stamp taken when it
    /// was written or last verified is trusted; otherwise every file is re-hashed
    /// (and, when they all match, stamped again).
    pub fn lookup(&self, key: &Key) -> Lookup {
        if let Some(found) = self.lookup_packed(key) {
            return found;
        }
        let dir = self.entry_dir(key);
        if fs::symlink_metadata(&dir).is_err() {
            return Lookup::Miss;
        }
        let manifest = match read_manifest(&dir, Args::Skip) {
            Ok(m) => m,
            Err(reason) => return self.corrupt(key, reason),
        };
        if manifest.key != key.hex() {
            return self.corrupt(key, "manifest.json names another key".into());
        }
        if stamp_matches(&dir, &manifest) {
            return Lookup::Hit(manifest);
        }
        match read_verified(&dir, &manifest) {
            Ok(_) => {
                self.restamp(&dir, &manifest);
                Lookup::Hit(manifest)
            }
            Err(reason) => self.corrupt(key, reason),
        }
    }

    /// Records the stamps of a just-verified entry (atomically; a failure only
    /// means the next lookup verifies again).
    fn restamp(&self, dir: &Path, manifest: &Manifest) {
        let Some(text) = stamp_text(dir, manifest) else {
            return;
        };
        let tmp = self.fresh_tmp("stamp");
        if fs::write(&tmp, text).is_err() || fs::rename(&tmp, dir.join(STAMP)).is_err() {
            disk::remove_tree(&tmp);
        }
    }

    /// Loads the artifacts of a hit, checking the hashes again (the entry may have
    /// been damaged since the lookup).
    pub fn load(&self, key: &Key, manifest: &Manifest) -> Result<StageOutput, String> {
        let read = match self.packed_record(key) {
            Some(record) => verified_packed(&record, manifest),
            None => read_verified(&self.entry_dir(key), manifest),
        };
        let files = match read {
            Ok(f) => f,
            Err(reason) => {
                self.discard(key);
                return Err(reason);
            }
        };
        let outputs = decode_outputs(&manifest.outputs, files).inspect_err(|_| {
            self.discard(key);
        })?;
        Ok(StageOutput {
            outputs,
            metrics: manifest.metrics.clone(),
        })
    }

    fn corrupt(&self, key: &Key, reason: String) -> Lookup {
        self.discard(key);
        Lookup::Corrupt(reason)
    }

    /// Moves an entry out of `entries/` atomically, then deletes it; returns the
    /// bytes freed, or `None` when there was no entry to move.
    pub fn discard(&self, key: &Key) -> Option<u64> {
        let dir = self.entry_dir(key);
        let aside = self.fresh_tmp(&format!("discard-{}", key.short()));
        fs::rename(&dir, &aside).ok()?;
        Some(disk::remove_tree(&aside))
    }

    /// Packs small results from now on (see `cache_pack`); `flush` writes them.
    pub fn pack_small_entries(&self) {
        self.pack_small.store(true, Ordering::SeqCst);
    }

    fn packed(&self) -> &Packed {
        self.packed.get_or_init(|| {
            let check = |r: &Record| check_record(r);
            let tmp = || self.fresh_tmp("pack");
            let (index, problems) = pack::load_all(&self.dir.join("packs"), &tmp, &check);
            let bad = problems
                .into_iter()
                .filter_map(|(k, why)| Some((k?, why)))
                .filter(|(k, _)| !index.contains_key(k))
                .collect();
            Packed {
                index: RwLock::new(index),
                bad: Mutex::new(bad),
            }
        })
    }

    fn packed_record(&self, key: &Key) -> Option<Record> {
        let index = self.packed().index.read().ok()?;
        index.get(key).cloned()
    }

    fn lookup_packed(&self, key: &Key) -> Option<Lookup> {
        let packed = self.packed();
        if let Some(why) = packed.bad.lock().ok().and_then(|mut b| b.remove(key)) {
            return Some(Lookup::Corrupt(why));
        }
        let record = self.packed_record(key)?;
        Some(match packed_manifest(&record, Args::Skip) {
            Ok(m) if m.key == key.hex() => Lookup::Hit(m),
            Ok(_) => Lookup::Corrupt("packed manifest names another key".into()),
            Err(why) => Lookup::Corrupt(why),
        })
    }

    /// Writes the results packed so far as one pack file.
    pub fn flush(&self) -> Result<(), CacheError> {
        let records = match self.pending.lock() {
            Ok(mut p) => std::mem::take(&mut *p).records,
            Err(_) => return Ok(()),
        };
        if records.is_empty() {
            return Ok(());
        }
        let dir = self.dir.join("packs");
        let written = pack::write(&dir, &self.fresh_tmp("pack"), &records).map_err(io_err(&dir))?;
        if let Some(packed) = self.packed.get() {
            if let Ok(mut index) = packed.index.write() {
                index.extend(pack::records_of(written));
            }
        }
        Ok(())
    }

    fn store_packed(
        &self,
        info: &EntryInfo,
        output: &StageOutput,
    ) -> Result<Option<Manifest>, CacheError> {
        let (kinds, groups) = encode_outputs(&output.outputs)?;
        let total: u64 = groups
            .iter()
            .flat_map(|(_, files)| files.values().map(|b| b.len() as u64))
            .sum();
        if total > pack::SMALL_BYTES {
            return Ok(None);
        }
        let mut files = Vec::new();
        let mut blobs: Vec<&[u8]> = Vec::new();
        for (group, artifact_files) in &groups {
            for (name, bytes) in artifact_files {
                files.push(FileEntry {
                    path: format!("{group}/{name}"),
                    size: bytes.len() as u64,
                    blake3: blake3::hash(bytes).to_hex().to_string(),
                });
                blobs.push(bytes);
            }
        }
        let paths: Vec<String> = files.iter().map(|f| f.path.clone()).collect();
        let named: Vec<(&str, &[u8])> = paths
            .iter()
            .map(String::as_str)
            .zip(blobs.iter().copied())
            .collect();
        let manifest = self.manifest_for(info, output, kinds, files);
        let bytes = serde_json::to_vec(&manifest).map_err(|e| CacheError::Encode(e.to_string()))?;
        let record = pack::RawRecord::new(&info.key, disk::seal(&bytes), &named)
            .map_err(CacheError::Encode)?;
        let full = match self.pending.lock() {
            Ok(mut p) => {
                p.bytes += record.len();
                p.records.push(record);
                p.bytes >= pack::FLUSH_BYTES
            }
            Err(_) => return Ok(None),
        };
        if full {
            self.flush()?;
        }
        Ok(Some(manifest))
    }

    fn manifest_for(
        &self,
        info: &EntryInfo,
        output: &StageOutput,
        outputs: OutputKinds,
        files: Vec<FileEntry>,
    ) -> Manifest {
        Manifest {
            key: info.key.hex(),
            stage: info.stage.clone(),
            version: info.version,
            args: info.args.clone(),
            inputs: info.inputs.iter().map(Key::hex).collect(),
            outputs,
            metrics: output.metrics.clone(),
            files,
            created: now_secs(),
            seconds: info.seconds,
        }
    }

    /// Stores a stage's result under `info.key`. When another writer got there
    /// first, keeps theirs and drops this copy.
    pub fn store(&self, info: &EntryInfo, output: &StageOutput) -> Result<Manifest, CacheError> {
        if self.pack_small.load(Ordering::SeqCst) {
            if let Some(m) = self.store_packed(info, output)? {
                return Ok(m);
            }
        }
        let tmp = self.fresh_tmp(&info.key.short());
        let result = self.write_entry(&tmp, info, output);
        if result.is_err() {
            disk::remove_tree(&tmp);
        }
        let manifest = result?;
        let dest = self.entry_dir(&info.key);
        if fs::rename(&tmp, &dest).is_err() {
            // Lost the race (or a damaged entry is in the way: the next lookup
            // discards it). Either way ours is not needed.
            disk::remove_tree(&tmp);
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
        let manifest = self.manifest_for(info, output, kinds, files);
        let bytes = serde_json::to_vec(&manifest).map_err(|e| CacheError::Encode(e.to_string()))?;
        let path = tmp.join("manifest.json");
        fs::write(&path, disk::seal(&bytes)).map_err(io_err(&path))?;
        // Files we just wrote from bytes we hashed: stamped as verified. Renaming
        // the directory keeps their inodes and times.
        if let Some(text) = stamp_text(tmp, &manifest) {
            let path = tmp.join(STAMP);
            fs::write(&path, text).map_err(io_err(&path))?;
        }
        Ok(manifest)
    }

    /// The names under `entries/` that pipe writes (a key in hex); anything
    /// else there is not ours and is never read or removed.
    fn entry_keys(&self) -> Vec<Key> {
        let Ok(dirs) = fs::read_dir(self.dir.join("entries")) else {
            return Vec::new();
        };
        dirs.flatten()
            .filter_map(|d| {
                let name = d.file_name();
                let name = name.to_str()?;
                Key::parse(name).filter(|k| k.hex() == name)
            })
            .collect()
    }

    /// Every entry with a readable manifest (files not checked), oldest first.
    pub fn entries(&self) -> Vec<Manifest> {
        let dirs = self.entry_keys();
        let in_dirs: HashSet<&Key> = dirs.iter().collect();
        let mut out: Vec<Manifest> = dirs
            .iter()
            .filter_map(|k| read_manifest(&self.entry_dir(k), Args::Skip).ok())
            .collect();
        if let Ok(index) = self.packed().index.read() {
            out.extend(
                index
                    .iter()
                    .filter(|(k, _)| !in_dirs.contains(k))
                    .filter_map(|(_, r)| packed_manifest(r, Args::Skip).ok()),
            );
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.key.cmp(&b.key)));
        out
    }

    /// Entries (by key) whose manifest does not read (damaged, or written by an
    /// older pipe); gc removes them.
    pub fn unreadable_entries(&self) -> Vec<Key> {
        self.entry_keys()
            .into_iter()
            .filter(|k| read_manifest(&self.entry_dir(k), Args::Skip).is_err())
            .collect()
    }

    /// Deletes entries by their hex keys (gc, under the exclusive lock): a
    /// directory entry is removed, a pack holding a doomed record is rewritten
    /// without it. Returns each removed key with the bytes it freed.
    pub fn remove(&self, keys_hex: &[String]) -> Vec<(String, u64)> {
        let doomed: HashSet<Key> = keys_hex.iter().filter_map(|k| Key::parse(k)).collect();
        let mut out = Vec::new();
        for k in &doomed {
            if let Some(bytes) = self.discard(k) {
                out.push((k.hex(), bytes));
            }
        }
        let mut by_pack: BTreeMap<PathBuf, Vec<Record>> = BTreeMap::new();
        if let Ok(index) = self.packed().index.read() {
            for r in index.values() {
                by_pack
                    .entry(r.pack_path().to_path_buf())
                    .or_default()
                    .push(r.clone());
            }
        }
        for (path, records) in by_pack {
            if !records
                .iter()
                .any(|r| r.key().is_some_and(|k| doomed.contains(&k)))
            {
                continue;
            }
            let (gone, kept): (Vec<Record>, Vec<Record>) = records
                .into_iter()
                .partition(|r| r.key().is_some_and(|k| doomed.contains(&k)));
            // A kept record that no longer reads is dropped with the pack
            // (the next run recomputes it).
            let kept: Vec<pack::RawRecord> = kept.iter().filter_map(|r| r.raw().ok()).collect();
            if !kept.is_empty()
                && pack::write(&self.dir.join("packs"), &self.fresh_tmp("pack"), &kept).is_err()
            {
                continue;
            }
            pack::remove(&path);
            for r in gone {
                if let Some(k) = r.key() {
                    out.push((k.hex(), r.stored_bytes()));
                }
            }
        }
        out
    }

    /// Remembers which key each node name had in this run. Names live in
    /// `NAME_SHARDS` files (`names/shard-XX.json`, by the name's hash), so a run
    /// of 100,000 nodes reads a few files, and rewrites (atomically) only the
    /// shards where a name's key changed.
    pub fn record_names(&self, names: &[(String, Key, String)]) {
        let mut by_shard: BTreeMap<usize, Vec<&(String, Key, String)>> = BTreeMap::new();
        for n in names {
            by_shard.entry(shard_of(&n.0)).or_default().push(n);
        }
        let now = now_secs();
        for (shard, items) in by_shard {
            let path = self.shard_path(shard);
            let mut records = read_shard(&path);
            let mut changed = false;
            for (name, key, stage) in items {
                let hex = key.hex();
                if records.get(name).is_some_and(|r| r.key == hex) {
                    continue;
                }
                changed = true;
                let record = NameRecord {
                    name: name.clone(),
                    key: hex,
                    stage: stage.clone(),
                    time: now,
                };
                records.insert(name.clone(), record);
            }
            if changed {
                self.write_shard(&path, &records);
            }
        }
    }

    fn write_shard(&self, path: &Path, records: &BTreeMap<String, NameRecord>) {
        let list: Vec<&NameRecord> = records.values().collect();
        let Ok(bytes) = serde_json::to_vec(&list) else {
            return;
        };
        let tmp = self.fresh_tmp("names");
        if fs::write(&tmp, bytes).is_err() || fs::rename(&tmp, path).is_err() {
            disk::remove_tree(&tmp);
        }
    }

    /// The key a node name had at its last run (a record written by an older
    /// pipe, one file per name, still counts).
    pub fn last_key(&self, name: &str) -> Option<NameRecord> {
        read_shard(&self.shard_path(shard_of(name)))
            .remove(name)
            .or_else(|| read_name(&self.legacy_name_path(name)))
    }

    /// All name records (for `cache ls`).
    pub fn names(&self) -> Vec<NameRecord> {
        let Ok(files) = fs::read_dir(self.dir.join("names")) else {
            return Vec::new();
        };
        let mut out: BTreeMap<String, NameRecord> = BTreeMap::new();
        for f in files.flatten() {
            let file = f.file_name();
            let file = file.to_string_lossy();
            if file.starts_with(SHARD_PREFIX) {
                out.extend(read_shard(&f.path()));
            } else if let Some(r) = read_name(&f.path()) {
                out.entry(r.name.clone()).or_insert(r);
            }
        }
        out.into_values().collect()
    }

    fn shard_path(&self, shard: usize) -> PathBuf {
        self.dir
            .join("names")
            .join(format!("{SHARD_PREFIX}{shard:02x}.json"))
    }

    fn legacy_name_path(&self, name: &str) -> PathBuf {
        self.dir
            .join("names")
            .join(format!("{}.json", escape_name(name)))
    }

    /// The manifest of an entry without checking its files (for `explain`).
    pub fn manifest(&self, key_hex: &str) -> Option<Manifest> {
        let key = Key::parse(key_hex)?;
        match self.packed_record(&key) {
            Some(r) => packed_manifest(&r, Args::Read).ok(),
            None => read_manifest(&self.entry_dir(&key), Args::Read).ok(),
        }
    }
}

fn read_name(path: &Path) -> Option<NameRecord> {
    serde_json::from_slice(&read_regular(path).ok()?).ok()
}

const NAME_SHARDS: usize = 64;
const SHARD_PREFIX: &str = "shard-";

fn shard_of(name: &str) -> usize {
    usize::from(blake3::hash(name.as_bytes()).as_bytes()[0]) % NAME_SHARDS
}

/// A names shard; an unreadable one counts as empty (it is only an index).
fn read_shard(path: &Path) -> BTreeMap<String, NameRecord> {
    let list: Vec<NameRecord> = read_regular(path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    list.into_iter().map(|r| (r.name.clone(), r)).collect()
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

impl Drop for Cache {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

fn packed_manifest(record: &Record, args: Args) -> Result<Manifest, String> {
    let sealed = record.manifest()?;
    let body = disk::unseal(&sealed)?;
    parse_manifest(body, args).map_err(|e| format!("packed manifest does not parse: {e}"))
}

/// A packed record checked in full: its seal, then every file's size and hash.
fn check_record(record: &Record) -> Result<(), String> {
    verified_packed(record, &packed_manifest(record, Args::Skip)?).map(|_| ())
}

fn verified_packed(
    record: &Record,
    manifest: &Manifest,
) -> Result<BTreeMap<String, Vec<u8>>, String> {
    let sizes: Vec<u64> = manifest.files.iter().map(|f| f.size).collect();
    let mut out = BTreeMap::new();
    for (f, bytes) in manifest.files.iter().zip(record.files(&sizes)?) {
        if blake3::hash(&bytes).to_hex().as_str() != f.blake3 {
            return Err(format!("`{}` does not match its hash", f.path));
        }
        out.insert(f.path.clone(), bytes);
    }
    Ok(out)
}

/// The stamps of an entry's files: written beside them, trusted by `lookup`.
const STAMP: &str = "stamp";

/// Reads a regular file, never through a link.
fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(io::Error::other(
            "not a regular file (pipe never follows links in its cache)",
        ));
    }
    fs::read(path)
}

/// Reads, unseals and parses an entry's manifest.
fn read_manifest(dir: &Path, args: Args) -> Result<Manifest, String> {
    let bytes =
        read_regular(&dir.join("manifest.json")).map_err(|e| format!("manifest.json: {e}"))?;
    let body = disk::unseal(&bytes)?;
    parse_manifest(body, args).map_err(|e| format!("manifest.json does not parse: {e}"))
}

/// The files a stamp covers: the manifest, then every file it lists.
fn stamped_files(manifest: &Manifest) -> Vec<&str> {
    std::iter::once("manifest.json")
        .chain(manifest.files.iter().map(|f| f.path.as_str()))
        .collect()
}

fn stamp_text(dir: &Path, manifest: &Manifest) -> Option<String> {
    if manifest.files.iter().any(|f| !safe_rel_path(&f.path)) {
        return None;
    }
    disk::stamps_of(dir, &stamped_files(manifest)).map(|s| disk::encode_stamps(&s))
}

/// Whether every file of the entry still has the stamp recorded for it.
fn stamp_matches(dir: &Path, manifest: &Manifest) -> bool {
    let Ok(text) = read_regular(&dir.join(STAMP)) else {
        return false;
    };
    let Some(recorded) = std::str::from_utf8(&text)
        .ok()
        .and_then(disk::decode_stamps)
    else {
        return false;
    };
    if manifest.files.iter().any(|f| !safe_rel_path(&f.path)) {
        return false;
    }
    disk::stamps_of(dir, &stamped_files(manifest)).is_some_and(|now| now == recorded)
}

fn safe_rel_path(path: &str) -> bool {
    !path.contains("..") && !path.starts_with('/')
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
        if !safe_rel_path(&f.path) {
            return Err(format!(
                "manifest names a file outside the entry: `{}`",
                f.path
            ));
        }
        let bytes = read_regular(&dir.join(&f.path)).map_err(|e| format!("`{}`: {e}", f.path))?;
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
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
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
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
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

    fn entry_path(dir: &Path, key: &Key, rel: &str) -> PathBuf {
        dir.join("entries").join(key.hex()).join(rel)
    }

    /// Filesystem times are coarse (a few ms); a change right after a write
    /// could keep the stamp, so the tests change files a tick later, as users do.
    fn after_a_tick() {
        std::thread::sleep(std::time::Duration::from_millis(30));
    }

    #[test]
    fn a_same_size_rewrite_or_a_deleted_file_is_caught_despite_the_stamp() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        cache.store(&info(key, &args), &output(1.0)).unwrap();
        assert!(entry_path(dir.path(), &key, STAMP).is_file());
        assert!(matches!(cache.lookup(&key), Lookup::Hit(_)));
        let file = entry_path(dir.path(), &key, "out/metrics.json");
        let mut bytes = fs::read(&file).unwrap();
        after_a_tick();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'1' { b'2' } else { b'1' };
        fs::write(&file, &bytes).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Corrupt(r) if r.contains("hash")));
        cache.store(&info(key, &args), &output(1.0)).unwrap();
        after_a_tick();
        fs::remove_file(&file).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Corrupt(_)));
    }

    #[test]
    fn an_unchanged_entry_is_trusted_and_a_touched_one_verified_again() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        cache.store(&info(key, &args), &output(1.0)).unwrap();
        let stamp = entry_path(dir.path(), &key, STAMP);
        let before = fs::read(&stamp).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Hit(_)));
        assert_eq!(
            fs::read(&stamp).unwrap(),
            before,
            "a trusted hit restamps nothing"
        );
        after_a_tick();
        let file = entry_path(dir.path(), &key, "out/metrics.json");
        let same = fs::read(&file).unwrap();
        fs::write(&file, &same).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Hit(_)));
        assert_ne!(
            fs::read(&stamp).unwrap(),
            before,
            "verified again, then restamped"
        );
    }

    #[test]
    fn a_hand_edited_manifest_is_caught() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        cache.store(&info(key, &args), &output(3.0)).unwrap();
        let path = entry_path(dir.path(), &key, "manifest.json");
        let text = fs::read_to_string(&path).unwrap();
        assert!(text.contains("\"v\":3.0"), "{text}");
        after_a_tick();
        fs::write(&path, text.replace("\"v\":3.0", "\"v\":4.0")).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Corrupt(r) if r.contains("manifest.json")));
        assert!(matches!(cache.lookup(&key), Lookup::Miss));
    }

    #[test]
    fn arguments_nested_as_deep_as_the_checker_allows_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let mut deep = serde_json::json!(1);
        for _ in 0..128 {
            deep = serde_json::json!({ "list": [deep] });
        }
        let args = BTreeMap::from([("x".to_string(), deep)]);
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        cache.store(&info(key, &args), &output(1.0)).unwrap();
        assert!(
            matches!(cache.lookup(&key), Lookup::Hit(_)),
            "a deep argument must not make the entry unreadable"
        );
        assert_eq!(cache.manifest(&key.hex()).unwrap().args, args);
    }

    #[test]
    fn foreign_files_are_never_touched() {
        let dir = tempfile::tempdir().unwrap();
        let proj = dir.path().join("proj");
        fs::create_dir_all(proj.join("tmp/notes")).unwrap();
        fs::write(proj.join("tmp/notes/todo.txt"), b"buy milk").unwrap();
        let err = Cache::open(&proj)
            .err()
            .expect("a foreign directory is refused");
        assert!(err.to_string().contains("not a pipe cache"), "{err}");
        assert!(Cache::open(&dir.path().join("new")).is_ok());
        let cache_dir = dir.path().join("new");
        let cache = Cache::open(&cache_dir).unwrap();
        fs::write(cache_dir.join("tmp/mine.txt"), b"keep").unwrap();
        let planted = cache_dir.join("entries/photos");
        fs::create_dir_all(&planted).unwrap();
        fs::write(planted.join("cat.jpg"), b"jpeg").unwrap();
        cache.lock_exclusive().unwrap();
        assert!(cache.unreadable_entries().is_empty());
        assert!(cache.entries().is_empty());
        assert!(cache_dir.join("tmp/mine.txt").is_file());
        assert!(planted.join("cat.jpg").is_file());
    }

    #[test]
    fn links_inside_the_cache_are_refused_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        fs::create_dir_all(&target).unwrap();
        fs::write(target.join("precious"), b"x").unwrap();
        let cache_dir = dir.path().join("c");
        let cache = Cache::open(&cache_dir).unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        cache.store(&info(key, &args), &output(1.0)).unwrap();
        let file = entry_path(&cache_dir, &key, "out/metrics.json");
        let copy = target.join("metrics.json");
        fs::copy(&file, &copy).unwrap();
        fs::remove_file(&file).unwrap();
        std::os::unix::fs::symlink(&copy, &file).unwrap();
        assert!(matches!(cache.lookup(&key), Lookup::Corrupt(_)));
        assert!(copy.is_file(), "the link's target survives the discard");
        drop(cache);
        fs::remove_dir_all(cache_dir.join("tmp")).unwrap();
        std::os::unix::fs::symlink(&target, cache_dir.join("tmp")).unwrap();
        let err = Cache::open(&cache_dir)
            .err()
            .expect("a linked tmp/ is refused");
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert!(target.join("precious").is_file());
    }

    #[test]
    fn removing_an_entry_counts_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        let m = cache.store(&info(key, &args), &output(1.0)).unwrap();
        let entry = dir.path().join("entries").join(key.hex());
        let on_disk: u64 = ["manifest.json", STAMP, "out/metrics.json"]
            .iter()
            .map(|f| fs::metadata(entry.join(f)).unwrap().len())
            .sum();
        assert!(on_disk > m.size());
        assert_eq!(cache.remove(&[key.hex()]), [(key.hex(), on_disk)]);
        assert!(cache.remove(&[key.hex()]).is_empty());
    }

    #[test]
    fn small_entries_are_packed_found_loaded_and_removed_by_gc() {
        let dir = tempfile::tempdir().unwrap();
        let keys: Vec<Key> = (0..3)
            .map(|i| {
                let args = BTreeMap::from([("i".to_string(), serde_json::json!(i))]);
                crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()))
            })
            .collect();
        {
            let cache = Cache::open(dir.path()).unwrap();
            cache.pack_small_entries();
            for (i, k) in keys.iter().enumerate() {
                cache
                    .store(&info(*k, &BTreeMap::new()), &output(i as f64))
                    .unwrap();
            }
            cache.flush().unwrap();
        }
        assert_eq!(fs::read_dir(dir.path().join("entries")).unwrap().count(), 0);
        let cache = Cache::open(dir.path()).unwrap();
        let Lookup::Hit(m) = cache.lookup(&keys[1]) else {
            panic!("a packed entry is found")
        };
        assert_eq!(m.metrics["v"], 1.0);
        let Outputs::Single(Artifact::Metrics(loaded)) = cache.load(&keys[1], &m).unwrap().outputs
        else {
            panic!("wrong output")
        };
        assert_eq!(loaded.values["v"], 1.0);
        assert_eq!(cache.entries().len(), 3);
        cache.lock_exclusive().unwrap();
        let removed = cache.remove(&[keys[0].hex()]);
        assert_eq!(removed.len(), 1);
        assert!(removed[0].1 > 0);
        drop(cache);
        let cache = Cache::open(dir.path()).unwrap();
        assert!(matches!(cache.lookup(&keys[0]), Lookup::Miss));
        assert!(matches!(cache.lookup(&keys[2]), Lookup::Hit(_)));
        assert_eq!(fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0);
    }

    #[test]
    fn a_long_lived_process_finds_what_it_packed_in_an_earlier_run() {
        let dir = tempfile::tempdir().unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        let cache = Cache::open(dir.path()).unwrap();
        cache.pack_small_entries();
        // The first run reads the (empty) packs, then stores and flushes.
        assert!(matches!(cache.lookup(&key), Lookup::Miss));
        cache.store(&info(key, &args), &output(4.0)).unwrap();
        cache.flush().unwrap();
        let Lookup::Hit(m) = cache.lookup(&key) else {
            panic!("the second run must find the packed result")
        };
        assert_eq!(cache.load(&key, &m).unwrap().metrics["v"], 4.0);
        assert!(cache.has_entry(&key));
    }

    #[test]
    fn an_entry_in_a_pack_of_the_first_layout_is_found_and_loaded() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let args = BTreeMap::new();
        let key = crate::key::key_of("test.add", 1, &crate::key::Canonical::new(args.clone()));
        let cache = Cache::open(dir.path()).unwrap();
        cache.store(&info(key, &args), &output(6.0)).unwrap();
        let entry = dir.path().join("entries").join(key.hex());
        let sealed = fs::read(entry.join("manifest.json")).unwrap();
        let files = fs::read(entry.join("out/metrics.json")).unwrap();
        drop(cache);
        fs::remove_dir_all(&entry).unwrap();
        // `PIPEPACK1`: records `u32 len, body`; a body is the key, `u32 len` +
        // the sealed manifest, then the files deflated.
        let mut deflate =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        deflate.write_all(&files).unwrap();
        let mut body = blake3::Hash::from_hex(key.hex())
            .unwrap()
            .as_bytes()
            .to_vec();
        body.extend_from_slice(&(sealed.len() as u32).to_le_bytes());
        body.extend_from_slice(&sealed);
        body.extend_from_slice(&deflate.finish().unwrap());
        let mut pack = b"PIPEPACK1\n".to_vec();
        pack.extend_from_slice(&(body.len() as u32).to_le_bytes());
        pack.extend_from_slice(&body);
        let name = format!("{}.pack", blake3::hash(&pack).to_hex());
        fs::write(dir.path().join("packs").join(name), &pack).unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let Lookup::Hit(m) = cache.lookup(&key) else {
            panic!("an old pack's entry is found")
        };
        assert_eq!(cache.load(&key, &m).unwrap().metrics["v"], 6.0);
    }

    #[test]
    fn names_are_escaped_and_remembered() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::open(dir.path()).unwrap();
        let key = crate::key::key_of("x", 1, &crate::key::Canonical::new(BTreeMap::new()));
        cache.record_names(&[("hw[pe=int8,rows=16]".into(), key, "sim.accelerator".into())]);
        assert_eq!(
            cache.last_key("hw[pe=int8,rows=16]").unwrap().key,
            key.hex()
        );
        assert_eq!(escape_name("a/b[c]"), "a%2Fb%5Bc%5D");
    }
}
