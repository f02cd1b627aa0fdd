//! The cache's footing on disk: the marker file that says a directory is a pipe
//! cache, removal that never follows a symbolic link, sealed manifests (the
//! manifest's bytes carry their own blake3, so a hand edit is caught) and stat
//! stamps (size, mtime, ctime, inode of every file of an entry, taken when the
//! entry was last verified, so an unchanged entry is trusted without re-reading).
//! This module never decides what is cached; it must never delete or read
//! through a link, and never remove a name the cache did not write.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// The marker file: its presence says every entry name below was written by pipe.
pub const MARKER: &str = "PIPE-CACHE";
const MARKER_TEXT: &str = "This directory is a pipe cache (see docs/interpreter.md in pipe).\n\
pipe creates, reads and deletes only the names it writes here; keep other files elsewhere.\n";

/// Top-level names a cache written before the marker existed may hold.
const LEGACY_NAMES: [&str; 5] = ["lock", "entries", "names", "tmp", "slurm"];

/// Deepest JSON nesting a manifest may have. The checker bounds a literal's
/// nesting at 128 and a canonical argument adds a few levels; parsing recurses
/// once per level, so this bound also bounds the stack it uses.
pub const MAX_JSON_DEPTH: usize = 1024;

/// Why a directory cannot be used as a cache.
#[derive(Debug, thiserror::Error)]
pub enum NotACache {
    #[error(
        "`{dir}` is not a pipe cache: it has no `{MARKER}` file and holds `{found}`; \
         pipe only uses an empty or new directory, so give `--cache` a new directory"
    )]
    Foreign { dir: PathBuf, found: String },
    #[error(
        "`{path}` is a symbolic link (or not a plain file); pipe never follows links \
         inside its cache: remove it (pipe recreates it)"
    )]
    Link { path: PathBuf },
    #[error("`{path}` is not a directory; remove it (pipe recreates the directory)")]
    NotDir { path: PathBuf },
    #[error("no cache at `{dir}` (no `{MARKER}` file)")]
    Missing { dir: PathBuf },
    #[error("cache `{path}`: {source}")]
    Io { path: PathBuf, source: io::Error },
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> NotACache + '_ {
    move |source| NotACache::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Makes `dir` a cache: creates it (and the marker) when it is new or empty,
/// adopts a cache written before the marker existed, and refuses anything else.
pub fn claim(dir: &Path) -> Result<(), NotACache> {
    fs::create_dir_all(dir).map_err(io_at(dir))?;
    if dir.join(MARKER).is_file() {
        return Ok(());
    }
    let mut foreign = None;
    let mut legacy = false;
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let entry = entry.map_err(io_at(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !LEGACY_NAMES.contains(&name.as_str()) {
            foreign = Some(name);
            break;
        }
        legacy |= name == "lock";
    }
    let adoptable = legacy && dir.join("entries").is_dir();
    match foreign {
        Some(found) => Err(NotACache::Foreign {
            dir: dir.to_path_buf(),
            found,
        }),
        None if adoptable || is_empty(dir)? => write_marker(dir),
        None => Err(NotACache::Foreign {
            dir: dir.to_path_buf(),
            found: first_name(dir)?,
        }),
    }
}

/// Checks that `dir` is an existing cache (for `ls` and `gc`, which never create one).
pub fn existing(dir: &Path) -> Result<(), NotACache> {
    if !dir.is_dir() {
        return Err(NotACache::Missing {
            dir: dir.to_path_buf(),
        });
    }
    if dir.join(MARKER).is_file() {
        return Ok(());
    }
    let legacy = dir.join("lock").is_file() && dir.join("entries").is_dir();
    match first_foreign(dir)? {
        None if legacy => write_marker(dir),
        None => Err(NotACache::Missing {
            dir: dir.to_path_buf(),
        }),
        Some(found) => Err(NotACache::Foreign {
            dir: dir.to_path_buf(),
            found,
        }),
    }
}

fn first_foreign(dir: &Path) -> Result<Option<String>, NotACache> {
    for entry in fs::read_dir(dir).map_err(io_at(dir))? {
        let name = entry.map_err(io_at(dir))?.file_name();
        let name = name.to_string_lossy();
        if !LEGACY_NAMES.contains(&name.as_ref()) {
            return Ok(Some(name.into_owned()));
        }
    }
    Ok(None)
}

fn is_empty(dir: &Path) -> Result<bool, NotACache> {
    Ok(fs::read_dir(dir).map_err(io_at(dir))?.next().is_none())
}

fn first_name(dir: &Path) -> Result<String, NotACache> {
    let first = fs::read_dir(dir).map_err(io_at(dir))?.flatten().next();
    Ok(first
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .unwrap_or_default())
}

fn write_marker(dir: &Path) -> Result<(), NotACache> {
    let path = dir.join(MARKER);
    fs::write(&path, MARKER_TEXT).map_err(io_at(&path))
}

/// Creates `dir/sub` when missing; refuses a link or a non-directory in its place.
pub fn real_subdir(dir: &Path, sub: &str) -> Result<PathBuf, NotACache> {
    let path = dir.join(sub);
    match fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => Err(NotACache::Link { path }),
        Ok(m) if !m.is_dir() => Err(NotACache::NotDir { path }),
        Ok(_) => Ok(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir(&path).map_err(io_at(&path))?;
            Ok(path)
        }
        Err(e) => Err(NotACache::Io { path, source: e }),
    }
}

/// Removes `path` and, when it is a real directory, everything under it, never
/// following a link (a link is removed, its target untouched). Returns the bytes
/// of the regular files removed. Walks with an explicit stack.
pub fn remove_tree(path: &Path) -> u64 {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return if fs::remove_file(path).is_ok() && meta.is_file() {
            meta.len()
        } else {
            0
        };
    }
    let mut freed = 0;
    let mut dirs = vec![path.to_path_buf()];
    let mut stack = vec![path.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() {
                dirs.push(e.path());
                stack.push(e.path());
                continue;
            }
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            if fs::remove_file(e.path()).is_ok() && ft.is_file() {
                freed += len;
            }
        }
    }
    for dir in dirs.iter().rev() {
        let _ = fs::remove_dir(dir);
    }
    freed
}

/// Whether `name` is one pipe gives the copies it writes under `tmp/`:
/// `<what>-<pid>-<n>`.
pub fn is_tmp_name(name: &str) -> bool {
    let mut parts = name.rsplitn(3, '-');
    let digits =
        |s: Option<&str>| s.is_some_and(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()));
    digits(parts.next()) && digits(parts.next()) && parts.next().is_some_and(|s| !s.is_empty())
}

/// `{"blake3":"<hex of the manifest's bytes>","manifest":<manifest>}`: valid
/// JSON that still carries the exact bytes its hash covers.
const SEAL_HEAD: &str = "{\"blake3\":\"";
const SEAL_MID: &str = "\",\"manifest\":";

pub fn seal(manifest_json: &[u8]) -> Vec<u8> {
    let hash = blake3::hash(manifest_json).to_hex();
    let mut out = Vec::with_capacity(manifest_json.len() + 96);
    out.extend_from_slice(SEAL_HEAD.as_bytes());
    out.extend_from_slice(hash.as_bytes());
    out.extend_from_slice(SEAL_MID.as_bytes());
    out.extend_from_slice(manifest_json);
    out.extend_from_slice(b"}\n");
    out
}

/// The manifest's bytes of a sealed file, when its hash matches.
pub fn unseal(bytes: &[u8]) -> Result<&[u8], String> {
    let head = SEAL_HEAD.len();
    let body_start = head + 64 + SEAL_MID.len();
    let sealed = bytes.len() > body_start + 2
        && bytes.starts_with(SEAL_HEAD.as_bytes())
        && &bytes[head + 64..body_start] == SEAL_MID.as_bytes()
        && bytes.ends_with(b"}\n");
    if !sealed {
        return Err(
            "manifest.json is not sealed with its hash (edited, or written by an older pipe)"
                .into(),
        );
    }
    let body = &bytes[body_start..bytes.len() - 2];
    if blake3::hash(body).to_hex().as_bytes() != &bytes[head..head + 64] {
        return Err("manifest.json does not match its hash (edited by hand?)".into());
    }
    Ok(body)
}

/// Parses JSON nested up to `MAX_JSON_DEPTH` (deeper is an error, not a stack
/// overflow): the depth is counted first without recursion.
pub fn parse_deep<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, String> {
    let depth = json_depth(bytes);
    if depth > MAX_JSON_DEPTH {
        return Err(format!(
            "nested {depth} levels deep (at most {MAX_JSON_DEPTH})"
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let value = T::deserialize(&mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

/// The deepest nesting of `[` and `{` outside strings.
pub fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut max, mut in_str, mut escaped) = (0usize, 0usize, false, false);
    for &b in bytes {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// One file's identity as `lstat` sees it: any write, truncation, replacement or
/// `touch` changes at least one field (ctime cannot be set back by a user).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
}

/// The stamp of a regular file (not a link), or `None`.
pub fn stamp_of(path: &Path) -> Option<Stamp> {
    let m = fs::symlink_metadata(path).ok()?;
    if !m.file_type().is_file() {
        return None;
    }
    Some(Stamp {
        size: m.len(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        ctime_ns: i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()),
        ino: m.ino(),
    })
}

/// The stamps of `files` (relative to `dir`), or `None` when one is not a regular file.
pub fn stamps_of(dir: &Path, files: &[&str]) -> Option<Vec<Stamp>> {
    files.iter().map(|f| stamp_of(&dir.join(f))).collect()
}

/// Text form: one `size mtime ctime ino` line per file, in the order given.
pub fn encode_stamps(stamps: &[Stamp]) -> String {
    stamps
        .iter()
        .map(|s| format!("{} {} {} {}\n", s.size, s.mtime_ns, s.ctime_ns, s.ino))
        .collect()
}

pub fn decode_stamps(text: &str) -> Option<Vec<Stamp>> {
    text.lines()
        .map(|line| {
            let mut it = line.split(' ');
            let stamp = Stamp {
                size: it.next()?.parse().ok()?,
                mtime_ns: it.next()?.parse().ok()?,
                ctime_ns: it.next()?.parse().ok()?,
                ino: it.next()?.parse().ok()?,
            };
            it.next().is_none().then_some(stamp)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tmp_names_are_recognised() {
        assert!(is_tmp_name("abc123def456-42-7"));
        assert!(is_tmp_name("discard-abc-42-0"));
        assert!(!is_tmp_name("notes"));
        assert!(!is_tmp_name("-1-2"));
        assert!(!is_tmp_name("a-b-2"));
    }

    #[test]
    fn seals_catch_edits() {
        let sealed = seal(br#"{"metrics":{"a":1.0}}"#);
        assert_eq!(unseal(&sealed).unwrap(), br#"{"metrics":{"a":1.0}}"#);
        let text = String::from_utf8(sealed).unwrap().replace("1.0", "2.0");
        assert!(unseal(text.as_bytes()).unwrap_err().contains("hash"));
        assert!(unseal(br#"{"metrics":{}}"#).unwrap_err().contains("sealed"));
    }

    #[test]
    fn depth_is_counted_outside_strings() {
        assert_eq!(json_depth(br#"{"a":[[1],"[[[["]}"#), 3);
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let v: serde_json::Value = parse_deep(deep.as_bytes()).unwrap();
        assert!(v.is_array());
        let too_deep = "[".repeat(MAX_JSON_DEPTH + 1);
        assert!(parse_deep::<serde_json::Value>(too_deep.as_bytes())
            .unwrap_err()
            .contains("levels deep"));
    }

    #[test]
    fn stamps_round_trip_and_change_on_write() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        fs::write(&f, b"one").unwrap();
        let s = stamps_of(dir.path(), &["f"]).unwrap();
        assert_eq!(decode_stamps(&encode_stamps(&s)).unwrap(), s);
        fs::write(&f, b"three").unwrap();
        assert_ne!(stamps_of(dir.path(), &["f"]).unwrap(), s);
    }
}
