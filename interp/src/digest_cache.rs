//! The digest cache: blake3 digests of input files, keyed by the file's path and
//! stat stamp (device, inode, size, mtime, ctime), kept in one JSON file of the
//! cache directory, so an unchanged multi-GB input is read once, not on every run
//! (git's index and Bazel's digest cache do the same).
//!
//! Racy stamps: a file written in the same clock tick as it was hashed could change
//! again without changing its stamp. A digest is therefore only recorded when the
//! file's mtime and ctime are older than the start of the hash by `RACY_MARGIN`
//! and its stamp did not change while it was read; a younger file is re-read on
//! every run until it has been left alone that long.
//!
//! This module owns that one file. It never reads input contents, never decides a
//! digest itself, and writes only into a directory an opened `Cache` names.

use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The file, directly under the cache directory.
pub const FILE_NAME: &str = "input-digests.json";

/// How much older than the hash a stamp must be to be trusted: above the coarsest
/// timestamp granularity in common use (FAT's 2 s).
pub const RACY_MARGIN: Duration = Duration::from_secs(2);

/// Above this many entries, those not used by this process are dropped on save.
const MAX_ENTRIES: usize = 200_000;

/// A digest file larger than this is ignored (it is only a cache).
const MAX_FILE_BYTES: u64 = 256 << 20;

/// What identifies one version of a file without reading it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub dev: u64,
    pub ino: u64,
    pub size: u64,
    pub mtime_s: i64,
    pub mtime_ns: i64,
    pub ctime_s: i64,
    pub ctime_ns: i64,
}

impl Stamp {
    /// The stamp of `meta`; `None` where the platform gives no inode or ctime.
    #[cfg(unix)]
    pub fn of(meta: &fs::Metadata) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        Some(Stamp {
            dev: meta.dev(),
            ino: meta.ino(),
            size: meta.size(),
            mtime_s: meta.mtime(),
            mtime_ns: meta.mtime_nsec(),
            ctime_s: meta.ctime(),
            ctime_ns: meta.ctime_nsec(),
        })
    }

    #[cfg(not(unix))]
    pub fn of(_meta: &fs::Metadata) -> Option<Stamp> {
        None
    }

    /// Whether both times lie at least `margin` before `started`.
    fn settled(&self, started: SystemTime, margin: Duration) -> bool {
        let Some(limit) = started.checked_sub(margin) else {
            return false;
        };
        let Ok(limit) = limit.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let limit = (limit.as_secs() as i64, limit.subsec_nanos() as i64);
        (self.mtime_s, self.mtime_ns) < limit && (self.ctime_s, self.ctime_ns) < limit
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    path: String,
    stamp: Stamp,
    blake3: String,
}

/// The digests known to this process: those read from the cache directory plus
/// those recorded since.
#[derive(Debug)]
pub struct DigestCache {
    entries: HashMap<String, Record>,
    used: HashSet<String>,
    changed: bool,
    margin: Duration,
}

impl DigestCache {
    /// An empty cache that trusts stamps older than `margin` (tests use a short one).
    pub fn empty(margin: Duration) -> DigestCache {
        DigestCache {
            entries: HashMap::new(),
            used: HashSet::new(),
            changed: false,
            margin,
        }
    }

    /// The digests stored in `cache_dir`; none when the file is missing or damaged.
    pub fn open(cache_dir: &Path) -> DigestCache {
        let mut cache = DigestCache::empty(RACY_MARGIN);
        let Some(records) = read_records(&cache_dir.join(FILE_NAME)) else {
            return cache;
        };
        for r in records {
            cache.entries.insert(r.path.clone(), r);
        }
        cache
    }

    /// The digest recorded for `path` when the file still has `stamp`.
    pub fn get(&mut self, path: &Path, stamp: &Stamp) -> Option<String> {
        let name = path.to_string_lossy();
        let record = self.entries.get(name.as_ref())?;
        if record.stamp != *stamp {
            return None;
        }
        let digest = record.blake3.clone();
        self.used.insert(name.into_owned());
        Some(digest)
    }

    /// Records a digest computed from a read that began at `started` and saw
    /// `stamp` before and `after` behind it; racy or changing files are not kept.
    pub fn put(
        &mut self,
        path: &Path,
        stamp: Stamp,
        after: Option<Stamp>,
        started: SystemTime,
        digest: &str,
    ) {
        if after != Some(stamp) || !stamp.settled(started, self.margin) {
            return;
        }
        let name = path.to_string_lossy().into_owned();
        self.used.insert(name.clone());
        let record = Record {
            path: name.clone(),
            stamp,
            blake3: digest.to_string(),
        };
        self.entries.insert(name, record);
        self.changed = true;
    }

    /// Writes the digests into `cache_dir` (an opened cache), atomically, when
    /// anything was recorded since they were read.
    pub fn save(&mut self, cache_dir: &Path) -> io::Result<()> {
        if !self.changed {
            return Ok(());
        }
        if self.entries.len() > MAX_ENTRIES {
            let used = &self.used;
            self.entries.retain(|k, _| used.contains(k));
        }
        let mut records: Vec<&Record> = self.entries.values().collect();
        records.sort_by(|a, b| a.path.cmp(&b.path));
        let text = serde_json::to_vec(&records).map_err(io::Error::other)?;
        let tmp = cache_dir.join(format!("{FILE_NAME}.{}.tmp", std::process::id()));
        let written = fs::File::create(&tmp).and_then(|mut f| {
            f.write_all(&text)?;
            f.sync_all()
        });
        if let Err(e) = written.and_then(|()| fs::rename(&tmp, cache_dir.join(FILE_NAME))) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        self.changed = false;
        Ok(())
    }
}

fn read_records(path: &Path) -> Option<Vec<Record>> {
    let file = fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut text).ok()?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return None;
    }
    serde_json::from_slice(&text).ok()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn stamp_of(p: &Path) -> Stamp {
        Stamp::of(&fs::metadata(p).unwrap()).unwrap()
    }

    #[test]
    fn a_settled_digest_survives_a_save_and_a_changed_stamp_misses() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.bin");
        fs::write(&file, b"abc").unwrap();
        let stamp = stamp_of(&file);
        std::thread::sleep(Duration::from_millis(20));
        let mut cache = DigestCache::empty(Duration::ZERO);
        cache.put(&file, stamp, Some(stamp), SystemTime::now(), "d1");
        cache.save(dir.path()).unwrap();
        let mut again = DigestCache::open(dir.path());
        assert_eq!(again.get(&file, &stamp).as_deref(), Some("d1"));
        fs::write(&file, b"abcd").unwrap();
        assert_eq!(again.get(&file, &stamp_of(&file)), None);
    }

    #[test]
    fn racy_and_changing_files_are_not_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.bin");
        fs::write(&file, b"abc").unwrap();
        let stamp = stamp_of(&file);
        let mut cache = DigestCache::empty(RACY_MARGIN);
        // Written just now: its stamp could still hide a second write.
        cache.put(&file, stamp, Some(stamp), SystemTime::now(), "d1");
        assert_eq!(cache.get(&file, &stamp), None);
        // Changed while it was read.
        let mut other = stamp;
        other.size += 1;
        let mut lenient = DigestCache::empty(Duration::ZERO);
        let later = SystemTime::now() + Duration::from_secs(10);
        lenient.put(&file, stamp, Some(other), later, "d1");
        assert_eq!(lenient.get(&file, &stamp), None);
        lenient.put(&file, stamp, Some(stamp), later, "d1");
        assert_eq!(lenient.get(&file, &stamp).as_deref(), Some("d1"));
    }

    #[test]
    fn a_damaged_digest_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join(FILE_NAME), b"[{\"path\": 3").unwrap();
        let file = dir.path().join("x");
        fs::write(&file, b"x").unwrap();
        let mut cache = DigestCache::open(dir.path());
        assert_eq!(cache.get(&file, &stamp_of(&file)), None);
    }
}
