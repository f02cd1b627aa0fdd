//! Packed small entries: a 100,000-point sweep of a few numbers and a small
//! table per point would otherwise cost a directory and three files (four disk
//! blocks) per point. Small results are appended, in memory, to the pack this
//! process is writing; `flush` writes it whole as `packs/<blake3>.pack` (temp
//! file + rename, so a pack is never partial) with its stat stamp beside it.
//! Packs are immutable: gc rewrites them without the records it removes.
//!
//! Pack layout: `PIPEPACK1\n`, then records `u32 LE len, body`; a body is the
//! key (32 bytes), `u32 LE len` + the sealed manifest, then the entry's files
//! concatenated in manifest order, deflated. A pack's name is the hash of its
//! bytes: a pack whose stamp changed is hashed again, and when that fails each
//! record is checked on its own (seal, then every file's hash) and only good
//! ones are used. This module never decides what is cached, never reads
//! through a link, and never removes a name it did not write.

use crate::cache_disk as disk;
use crate::key::Key;
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

const MAGIC: &[u8] = b"PIPEPACK1\n";
/// A pending pack is written out when it reaches this size.
pub const FLUSH_BYTES: usize = 8 << 20;
/// Results whose files total at most this many bytes are packed.
pub const SMALL_BYTES: u64 = 64 << 10;

/// Where one record is: its pack's bytes and the body's range.
#[derive(Clone)]
pub struct Record {
    pub pack: Arc<Pack>,
    pub start: usize,
    pub end: usize,
}

pub struct Pack {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

impl Record {
    fn body(&self) -> &[u8] {
        &self.pack.bytes[self.start..self.end]
    }

    /// The whole record body, to copy into a rewritten pack.
    pub fn body_bytes(&self) -> &[u8] {
        self.body()
    }

    /// The sealed manifest's bytes.
    pub fn manifest(&self) -> Result<&[u8], String> {
        let body = self.body();
        let len = read_u32(body, 32).ok_or("pack record is cut short")? as usize;
        body.get(36..36 + len)
            .ok_or_else(|| "pack record is cut short".to_string())
    }

    /// The entry's files, inflated and split by the sizes in the manifest.
    pub fn files(&self, sizes: &[u64]) -> Result<Vec<Vec<u8>>, String> {
        let body = self.body();
        let len = read_u32(body, 32).ok_or("pack record is cut short")? as usize;
        let packed = body.get(36 + len..).ok_or("pack record is cut short")?;
        let total: u64 = sizes.iter().sum();
        let mut all = Vec::with_capacity(total as usize);
        flate2::read::DeflateDecoder::new(packed)
            .take(total + 1)
            .read_to_end(&mut all)
            .map_err(|e| format!("packed files do not inflate: {e}"))?;
        if all.len() as u64 != total {
            return Err(format!(
                "packed files are {} bytes, expected {total}",
                all.len()
            ));
        }
        let mut out = Vec::with_capacity(sizes.len());
        let mut at = 0usize;
        for &s in sizes {
            out.push(all[at..at + s as usize].to_vec());
            at += s as usize;
        }
        Ok(out)
    }

    pub fn key(&self) -> Option<Key> {
        let hex = blake3::Hash::from_bytes(self.body().get(..32)?.try_into().ok()?).to_hex();
        Key::parse(&hex)
    }
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

/// One record's body.
pub fn encode(key: &Key, sealed_manifest: &[u8], files: &[&[u8]]) -> Result<Vec<u8>, String> {
    let mut deflate =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    for f in files {
        deflate.write_all(f).map_err(|e| e.to_string())?;
    }
    let packed = deflate.finish().map_err(|e| e.to_string())?;
    let manifest_len = u32::try_from(sealed_manifest.len()).map_err(|e| e.to_string())?;
    let hash = blake3::Hash::from_hex(key.hex()).map_err(|e| e.to_string())?;
    let mut body = Vec::with_capacity(36 + sealed_manifest.len() + packed.len());
    body.extend_from_slice(hash.as_bytes());
    body.extend_from_slice(&manifest_len.to_le_bytes());
    body.extend_from_slice(sealed_manifest);
    body.extend_from_slice(&packed);
    Ok(body)
}

/// The records of one pack file, split (not verified).
fn split(pack: &Arc<Pack>) -> Result<Vec<Record>, String> {
    let bytes = &pack.bytes;
    if !bytes.starts_with(MAGIC) {
        return Err("not a pipe pack".into());
    }
    let mut out = Vec::new();
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let len = read_u32(bytes, at).ok_or("pack is cut short")? as usize;
        let start = at + 4;
        let end = start.checked_add(len).filter(|&e| e <= bytes.len());
        let end = end.ok_or("pack is cut short")?;
        if len < 36 {
            return Err("pack record is cut short".into());
        }
        out.push(Record {
            pack: Arc::clone(pack),
            start,
            end,
        });
        at = end;
    }
    Ok(out)
}

/// Whether `name` is one this module gives a pack (`<64 hex>.pack`) and its hash.
fn pack_hash(name: &str) -> Option<&str> {
    let hex = name.strip_suffix(".pack")?;
    (hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then_some(hex)
}

/// What [`load_all`] finds: every good record by key, and each problem as the
/// damaged record's key (when it could be read) and what is wrong.
pub type LoadedPacks = (HashMap<Key, Record>, Vec<(Option<Key>, String)>);

/// Every record of the packs under `dir`, by key. A pack whose stamp is
/// unchanged is trusted; another is hashed, and when the hash fails each of its
/// records is checked by `check`: bad ones are left out and reported, and the
/// pack is replaced by one of its good records (written via `tmp()`), so the
/// damage costs one check, not one per run.
pub fn load_all(
    dir: &Path,
    tmp: &dyn Fn() -> PathBuf,
    check: &dyn Fn(&Record) -> Result<(), String>,
) -> LoadedPacks {
    let mut index = HashMap::new();
    let mut problems = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else {
        return (index, problems);
    };
    let mut names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().map(str::to_string))
        .filter(|n| pack_hash(n).is_some())
        .collect();
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let Ok(bytes) = read_regular(&path) else {
            continue;
        };
        let pack = Arc::new(Pack { path, bytes });
        let records = match split(&pack) {
            Ok(r) => r,
            Err(e) => {
                problems.push((None, format!("pack {name}: {e}")));
                continue;
            }
        };
        let trusted = stamp_ok(&pack.path) || {
            let whole = pack_hash(&name) == Some(blake3::hash(&pack.bytes).to_hex().as_str());
            if whole {
                write_stamp(&pack.path);
            }
            whole
        };
        if trusted {
            index.extend(records.into_iter().filter_map(|r| Some((r.key()?, r))));
            continue;
        }
        let mut good = Vec::new();
        for r in records {
            let Some(key) = r.key() else { continue };
            match check(&r) {
                Ok(()) => good.push(r.body_bytes().to_vec()),
                Err(e) => problems.push((Some(key), e)),
            }
        }
        index.extend(repair(dir, &tmp(), &pack.path, &good));
    }
    (index, problems)
}

/// Replaces a damaged pack by one holding only its good records; returns them.
fn repair(dir: &Path, tmp: &Path, damaged: &Path, good: &[Vec<u8>]) -> Vec<(Key, Record)> {
    let fresh = if good.is_empty() {
        None
    } else {
        match write(dir, tmp, good) {
            Ok(p) => Some(p),
            Err(_) => return Vec::new(),
        }
    };
    remove(damaged);
    let Some(path) = fresh else {
        return Vec::new();
    };
    let Ok(bytes) = read_regular(&path) else {
        return Vec::new();
    };
    let pack = Arc::new(Pack { path, bytes });
    split(&pack)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|r| Some((r.key()?, r)))
        .collect()
}

fn read_regular(path: &Path) -> std::io::Result<Vec<u8>> {
    let meta = fs::symlink_metadata(path)?;
    if !meta.file_type().is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    fs::read(path)
}

fn stamp_path(pack: &Path) -> PathBuf {
    pack.with_extension("stamp")
}

fn stamp_ok(pack: &Path) -> bool {
    let Ok(text) = read_regular(&stamp_path(pack)) else {
        return false;
    };
    let recorded = std::str::from_utf8(&text)
        .ok()
        .and_then(disk::decode_stamps);
    let now = disk::stamp_of(pack).map(|s| vec![s]);
    recorded.is_some() && recorded == now
}

fn write_stamp(pack: &Path) {
    if let Some(s) = disk::stamp_of(pack) {
        let _ = fs::write(stamp_path(pack), disk::encode_stamps(&[s]));
    }
}

/// Writes `bodies` as one pack under `dir` via `tmp`; returns its path.
pub fn write(dir: &Path, tmp: &Path, bodies: &[Vec<u8>]) -> std::io::Result<PathBuf> {
    let mut bytes =
        Vec::with_capacity(MAGIC.len() + bodies.iter().map(|b| b.len() + 4).sum::<usize>());
    bytes.extend_from_slice(MAGIC);
    for b in bodies {
        let len = u32::try_from(b.len()).map_err(std::io::Error::other)?;
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(b);
    }
    let path = dir.join(format!("{}.pack", blake3::hash(&bytes).to_hex()));
    let written = fs::File::create(tmp).and_then(|mut f| f.write_all(&bytes));
    let renamed = written.and_then(|()| fs::rename(tmp, &path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(tmp);
        return Err(e);
    }
    write_stamp(&path);
    Ok(path)
}

/// Removes a pack and its stamp; returns the bytes freed.
pub fn remove(pack: &Path) -> u64 {
    disk::remove_tree(pack) + disk::remove_tree(&stamp_path(pack))
}

/// The pack files under `dir` (names this module writes).
pub fn pack_paths(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter(|e| e.file_name().to_str().and_then(pack_hash).is_some())
        .map(|e| e.path())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_and_damage_is_caught_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let key = crate::key::key_of("t.x", 1, &Default::default());
        let body = encode(&key, b"{sealed}", &[b"abc", b"defg"]).unwrap();
        let path = write(dir.path(), &dir.path().join("t"), &[body]).unwrap();
        let ok = |_: &Record| Ok(());
        let tmp = || dir.path().join("tmp-file");
        let (index, problems) = load_all(dir.path(), &tmp, &ok);
        assert!(problems.is_empty());
        let r = &index[&key];
        assert_eq!(r.manifest().unwrap(), b"{sealed}");
        assert_eq!(
            r.files(&[3, 4]).unwrap(),
            [b"abc".to_vec(), b"defg".to_vec()]
        );
        assert!(r.files(&[3, 5]).unwrap_err().contains("expected 8"));
        std::thread::sleep(std::time::Duration::from_millis(30));
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let bad = |_: &Record| Err("damaged".to_string());
        let (index, problems) = load_all(dir.path(), &tmp, &bad);
        assert!(index.is_empty());
        assert!(!path.exists(), "a pack with no good record is removed");
        assert_eq!(problems, [(Some(key), "damaged".to_string())]);
    }
}
