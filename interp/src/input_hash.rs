//! Content digests of `path` inputs, for node keys: a file's bytes, or a
//! directory's relative names and the digests of the files under it.
//!
//! Files are streamed through one fixed buffer (constant memory whatever their
//! size) and an unchanged file's digest comes from the digest cache without
//! reading it. Directories are walked with an explicit stack, in sorted order.
//! Links are followed to files and to directories not yet entered in this walk;
//! a link to a directory already entered (a loop such as `ln -s . d/a`) counts as
//! its target text and is not entered again, directories being told apart by
//! (device, inode). FIFOs, sockets and devices are skipped with a warning; the
//! project's own `runs/` and cache directory (and any `.pipe-cache`) are skipped
//! silently, so a `dir: "."` input does not change with every run. The interrupt
//! flag (Ctrl-C) is checked between files and between chunks.
//!
//! This module reads inputs and the digest cache; it writes nothing but the
//! digest cache, and only when asked to `save` into an opened cache.

use crate::cache::Cache;
use crate::digest_cache::{DigestCache, Stamp};
use crate::loader::special_kind;
use std::collections::{HashMap, HashSet};
use std::fs::{self, File, Metadata};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// Bytes read from a file at a time: large enough for blake3's SIMD paths.
const CHUNK: usize = 256 << 10;

/// Computes and remembers input digests for one load of a pipeline.
pub struct InputHasher<'a> {
    /// Directories never entered: the project's `runs/` and its cache.
    skip: Vec<DirId>,
    interrupt: Option<&'a AtomicBool>,
    state: Mutex<State>,
}

struct State {
    digests: DigestCache,
    memo: HashMap<PathBuf, Result<String, String>>,
    warnings: Vec<String>,
    buf: Vec<u8>,
    bytes_read: u64,
}

impl<'a> InputHasher<'a> {
    /// A hasher for a pipeline in `base_dir` whose cache is `cache_dir`: skips
    /// `base_dir/runs` and `cache_dir`, and reuses the digests stored there.
    pub fn new(base_dir: &Path, cache_dir: &Path) -> InputHasher<'a> {
        let skip = [base_dir.join("runs"), cache_dir.to_path_buf()]
            .iter()
            .filter_map(|p| fs::metadata(p).ok().and_then(|m| dir_id(p, &m)))
            .collect();
        InputHasher::with_digests(skip, DigestCache::open(cache_dir))
    }

    /// A hasher that skips nothing of its own and starts from `digests`.
    pub fn detached(digests: DigestCache) -> InputHasher<'a> {
        InputHasher::with_digests(Vec::new(), digests)
    }

    fn with_digests(skip: Vec<DirId>, digests: DigestCache) -> InputHasher<'a> {
        InputHasher {
            skip,
            interrupt: None,
            state: Mutex::new(State {
                digests,
                memo: HashMap::new(),
                warnings: Vec::new(),
                buf: Vec::new(),
                bytes_read: 0,
            }),
        }
    }

    /// Stops hashing (with an error) once `flag` is set.
    pub fn interrupted_by(mut self, flag: &'a AtomicBool) -> InputHasher<'a> {
        self.interrupt = Some(flag);
        self
    }

    /// The digest of the file or directory at `path` (hex).
    pub fn hash_path(&self, path: &Path) -> Result<String, String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(known) = state.memo.get(path) {
            return known.clone();
        }
        let result = Walk {
            hasher: self,
            state: &mut state,
            root: path,
        }
        .hash_root();
        state.memo.insert(path.to_path_buf(), result.clone());
        result
    }

    /// Warnings raised so far (skipped special files), each once.
    pub fn take_warnings(&self) -> Vec<String> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::take(&mut state.warnings)
    }

    /// Bytes of file content read so far (digests taken from the cache read none).
    pub fn bytes_read(&self) -> u64 {
        self.state.lock().map(|s| s.bytes_read).unwrap_or(0)
    }

    /// Stores the digests learnt into `cache`'s directory.
    pub fn save(&self, cache: &Cache) -> io::Result<()> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.digests.save(cache.dir())
    }

    fn check_interrupt(&self, path: &Path) -> Result<(), String> {
        match self.interrupt {
            Some(flag) if flag.load(Ordering::SeqCst) => Err(format!(
                "input `{}`: interrupted while hashing",
                path.display()
            )),
            _ => Ok(()),
        }
    }
}

/// One `hash_path` call.
struct Walk<'h, 'a, 's> {
    hasher: &'h InputHasher<'a>,
    state: &'s mut State,
    root: &'h Path,
}

/// One entry of a directory's digest.
enum Item {
    File(String),
    Link(PathBuf),
}

impl Walk<'_, '_, '_> {
    fn hash_root(&mut self) -> Result<String, String> {
        let root = self.root;
        let meta = fs::metadata(root).map_err(|e| io_error(root, &e))?;
        if meta.is_file() {
            let abs = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
            return self.file_digest(&abs, &meta);
        }
        if !meta.is_dir() {
            return Err(format!(
                "input `{}`: is {}, not a file or directory",
                root.display(),
                special_kind(&meta)
            ));
        }
        let items = self.walk_dir(&meta)?;
        let mut h = blake3::Hasher::new();
        h.update(b"dir/2\n");
        for (rel, item) in &items {
            let (tag, payload) = match item {
                Item::File(d) => ("f", d.clone()),
                Item::Link(target) => ("l", target.to_string_lossy().into_owned()),
            };
            h.update(tag.as_bytes());
            h.update(b"\0");
            h.update(rel.as_bytes());
            h.update(b"\0");
            h.update(payload.as_bytes());
            h.update(b"\n");
        }
        Ok(h.finalize().to_hex().to_string())
    }

    /// Every file and unentered link under the root, by relative path (sorted).
    fn walk_dir(&mut self, root_meta: &Metadata) -> Result<Vec<(String, Item)>, String> {
        let root = std::fs::canonicalize(self.root).map_err(|e| io_error(self.root, &e))?;
        let mut visited: HashSet<DirId> = dir_id(&root, root_meta).into_iter().collect();
        let mut items = Vec::new();
        let mut stack = vec![PathBuf::new()];
        while let Some(rel) = stack.pop() {
            let dir = root.join(&rel);
            for name in sorted_names(&dir)?.into_iter().rev() {
                self.hasher.check_interrupt(self.root)?;
                let rel = rel.join(&name);
                let abs = root.join(&rel);
                let Some(found) = self.entry(&abs, &rel, &mut visited)? else {
                    continue;
                };
                match found {
                    Found::Dir => stack.push(rel),
                    Found::Item(item) => items.push((rel.to_string_lossy().into_owned(), item)),
                }
            }
        }
        items.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(items)
    }

    /// What one directory entry contributes; `None` when it is skipped.
    fn entry(
        &mut self,
        abs: &Path,
        rel: &Path,
        visited: &mut HashSet<DirId>,
    ) -> Result<Option<Found>, String> {
        let lmeta = fs::symlink_metadata(abs).map_err(|e| io_error(abs, &e))?;
        let is_link = lmeta.file_type().is_symlink();
        let meta = if is_link {
            match fs::metadata(abs) {
                Ok(m) => m,
                // A dangling link: its text is all there is.
                Err(_) => return link_item(abs),
            }
        } else {
            lmeta
        };
        if meta.is_dir() {
            let id = dir_id(abs, &meta);
            if id.as_ref().is_some_and(|id| self.hasher.skip.contains(id)) {
                return Ok(None);
            }
            let fresh = id.is_none_or(|id| visited.insert(id));
            return match (fresh, is_link) {
                (true, _) => Ok(Some(Found::Dir)),
                (false, true) => link_item(abs),
                // A second way into a directory without a link (a bind mount).
                (false, false) => Ok(None),
            };
        }
        if meta.is_file() {
            return Ok(Some(Found::Item(Item::File(self.file_digest(abs, &meta)?))));
        }
        let warning = format!(
            "input `{}`: skipped `{}` ({}, not a regular file)",
            self.root.display(),
            rel.display(),
            special_kind(&meta)
        );
        if !self.state.warnings.contains(&warning) {
            self.state.warnings.push(warning);
        }
        Ok(None)
    }

    /// The digest of one regular file: from the digest cache when its stamp is
    /// unchanged, else streamed through the buffer.
    fn file_digest(&mut self, abs: &Path, meta: &Metadata) -> Result<String, String> {
        let stamp = Stamp::of(meta);
        if let Some(known) = stamp.and_then(|s| self.state.digests.get(abs, &s)) {
            return Ok(known);
        }
        let started = SystemTime::now();
        let mut file = File::open(abs).map_err(|e| io_error(abs, &e))?;
        let mut h = blake3::Hasher::new();
        h.update(b"file\n");
        if self.state.buf.len() < CHUNK {
            self.state.buf = vec![0; CHUNK];
        }
        loop {
            self.hasher.check_interrupt(self.root)?;
            let n = match file.read(&mut self.state.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(abs, &e)),
            };
            h.update(&self.state.buf[..n]);
            self.state.bytes_read += n as u64;
        }
        let digest = h.finalize().to_hex().to_string();
        if let Some(stamp) = stamp {
            let after = file.metadata().ok().and_then(|m| Stamp::of(&m));
            self.state.digests.put(abs, stamp, after, started, &digest);
        }
        Ok(digest)
    }
}

enum Found {
    Dir,
    Item(Item),
}

fn link_item(abs: &Path) -> Result<Option<Found>, String> {
    let target = fs::read_link(abs).map_err(|e| io_error(abs, &e))?;
    Ok(Some(Found::Item(Item::Link(target))))
}

/// The names in `dir`, sorted, without any pipeline's `.pipe-cache`.
fn sorted_names(dir: &Path) -> Result<Vec<std::ffi::OsString>, String> {
    let entries = fs::read_dir(dir).map_err(|e| io_error(dir, &e))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| io_error(dir, &e))?;
        let name = entry.file_name();
        if name != ".pipe-cache" {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(unix)]
type DirId = (u64, u64);

#[cfg(unix)]
fn dir_id(_path: &Path, meta: &Metadata) -> Option<DirId> {
    use std::os::unix::fs::MetadataExt;
    Some((meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
type DirId = PathBuf;

#[cfg(not(unix))]
fn dir_id(path: &Path, _meta: &Metadata) -> Option<DirId> {
    fs::canonicalize(path).ok()
}

fn io_error(path: &Path, e: &io::Error) -> String {
    let reason = match e.kind() {
        io::ErrorKind::NotFound => "no such file or directory".into(),
        io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    };
    format!("input `{}`: {reason}", path.display())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn hasher() -> InputHasher<'static> {
        InputHasher::detached(DigestCache::empty(Duration::ZERO))
    }

    #[test]
    fn directory_hash_follows_content_and_names() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("sub")).unwrap();
        fs::write(dir.path().join("sub/a.txt"), b"one").unwrap();
        let h1 = hasher().hash_path(dir.path()).unwrap();
        fs::write(dir.path().join("sub/a.txt"), b"two").unwrap();
        let h2 = hasher().hash_path(dir.path()).unwrap();
        fs::rename(dir.path().join("sub/a.txt"), dir.path().join("sub/b.txt")).unwrap();
        let h3 = hasher().hash_path(dir.path()).unwrap();
        assert!(h1 != h2 && h2 != h3 && h1 != h3);
        let missing = hasher().hash_path(&dir.path().join("missing")).unwrap_err();
        assert!(missing.contains("no such file"), "{missing}");
    }

    #[test]
    fn a_file_streams_to_the_same_digest_as_its_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("big.bin");
        let bytes: Vec<u8> = (0..CHUNK * 2 + 17).map(|i| (i % 251) as u8).collect();
        fs::write(&file, &bytes).unwrap();
        let mut whole = blake3::Hasher::new();
        whole.update(b"file\n");
        whole.update(&bytes);
        let h = hasher();
        assert_eq!(
            h.hash_path(&file).unwrap(),
            whole.finalize().to_hex().as_str()
        );
        assert_eq!(h.bytes_read(), bytes.len() as u64);
    }

    #[test]
    fn a_set_interrupt_flag_stops_hashing() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("a"), b"a").unwrap();
        let flag = AtomicBool::new(true);
        let err = hasher()
            .interrupted_by(&flag)
            .hash_path(dir.path())
            .unwrap_err();
        assert!(err.contains("interrupted"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn an_unchanged_file_is_not_read_twice() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("data.bin");
        fs::write(&file, vec![7u8; 100_000]).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let first = hasher();
        let d1 = first.hash_path(dir.path()).unwrap();
        assert_eq!(first.bytes_read(), 100_000);
        let digests = first.state.into_inner().unwrap().digests;
        let second = InputHasher::detached(digests);
        assert_eq!(second.hash_path(dir.path()).unwrap(), d1);
        assert_eq!(second.bytes_read(), 0, "the digest cache was not used");
    }

    #[cfg(unix)]
    #[test]
    fn a_fifo_or_a_device_given_as_the_input_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("in.fifo");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status();
        assert!(made.unwrap().success());
        let err = hasher().hash_path(&fifo).unwrap_err();
        assert!(err.contains("is a FIFO, not a file or directory"), "{err}");
        let err = hasher().hash_path(Path::new("/dev/zero")).unwrap_err();
        assert!(err.contains("is a device"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn the_projects_runs_and_cache_do_not_count() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("data.txt"), b"x").unwrap();
        let cache = dir.path().join("my-cache");
        fs::create_dir_all(dir.path().join("runs/p")).unwrap();
        fs::create_dir(&cache).unwrap();
        let before = InputHasher::new(dir.path(), &cache)
            .hash_path(dir.path())
            .unwrap();
        fs::write(dir.path().join("runs/p/summary.json"), b"{}").unwrap();
        fs::write(cache.join("entry"), b"y").unwrap();
        let after = InputHasher::new(dir.path(), &cache)
            .hash_path(dir.path())
            .unwrap();
        assert_eq!(before, after);
        fs::write(dir.path().join("data.txt"), b"z").unwrap();
        let changed = InputHasher::new(dir.path(), &cache)
            .hash_path(dir.path())
            .unwrap();
        assert_ne!(before, changed);
    }

    #[cfg(unix)]
    #[test]
    fn a_link_into_an_outside_file_counts_its_content() {
        let outside = tempfile::tempdir().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let target = outside.path().join("t.bin");
        fs::write(&target, b"v1").unwrap();
        std::os::unix::fs::symlink(&target, dir.path().join("link")).unwrap();
        let h1 = hasher().hash_path(dir.path()).unwrap();
        fs::write(&target, b"v2").unwrap();
        assert_ne!(h1, hasher().hash_path(dir.path()).unwrap());
    }
}
