//! Packed small entries: a 100,000-point sweep of a few numbers and a small
//! table per point would otherwise cost a directory and three files (four disk
//! blocks) per point. Small results are collected, in memory, for the pack this
//! process is writing; `write` writes a pack whole as `packs/<blake3>.pack`
//! (temp file + rename, so a pack is never partial) with its stat stamp beside
//! it. Packs are immutable: gc rewrites them without the records it removes.
//!
//! Layout (`PIPEPACK2`): the magic line, then blocks `u32 LE len, block`. A
//! block holds up to `BLOCK_RECORDS` neighbouring records: `u32 LE count`, then
//! per record its key (32 bytes) and the raw lengths of its sealed manifest and
//! of its files (`u32 LE` each); then `u32 LE len` + the block's manifests
//! concatenated and deflated; then its files concatenated and deflated. A
//! record's files are frames `u8 form, u32 LE len, bytes` whose decoded bytes,
//! concatenated, are the files in manifest order: form 0 is bytes as they are,
//! form 1 a table in columns (`cache_table`). Deflating
//! neighbours together is what makes a record small: the points of a sweep share
//! most of their manifest and table text. A lookup inflates a block's manifests
//! once and keeps them; loading a record inflates its
//! block's files up to its own. Packs written by the previous layout
//! (`PIPEPACK1`: records `u32 LE len, body`, a body being the key, `u32 LE len` +
//! the sealed manifest raw, then the files deflated) are still read.
//!
//! A pack's name is the hash of its bytes: a pack whose stamp changed is hashed
//! again, and when that fails each record is checked on its own (seal, then
//! every file's hash) and only good ones are used. This module never decides
//! what is cached, never reads through a link, and never removes a name it did
//! not write.

use crate::cache_disk as disk;
use crate::cache_table;
use crate::key::Key;
use std::collections::HashMap;
use std::fs;
use std::io::{Read, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

const MAGIC_V1: &[u8] = b"PIPEPACK1\n";
const MAGIC: &[u8] = b"PIPEPACK2\n";
/// Collected records are written out as a pack when their raw size reaches this.
pub const FLUSH_BYTES: usize = 32 << 20;
/// Results whose files total at most this many bytes are packed.
pub const SMALL_BYTES: u64 = 64 << 10;
/// Records per block: enough neighbours to share text, few enough that loading
/// one record inflates little beside it.
const BLOCK_RECORDS: usize = 64;
/// A block is closed early once its raw files reach this size.
const BLOCK_FILE_BYTES: usize = 512 << 10;
/// At most this many manifest bytes in one block (a bound for damaged packs;
/// a block holds `BLOCK_RECORDS` manifests, each far smaller).
const MAX_BLOCK_MANIFESTS: usize = 256 << 20;
/// Bytes of one record's entry in a block's table: key and two lengths.
const ENTRY_BYTES: usize = 40;
/// Frame forms of a record's files.
const FORM_RAW: u8 = 0;
const FORM_TABLE: u8 = 1;

/// One record as stored: its key, its sealed manifest and its files as frames.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRecord {
    pub key: [u8; 32],
    pub manifest: Vec<u8>,
    pub files: Vec<u8>,
}

fn push_frame(out: &mut Vec<u8>, form: u8, bytes: &[u8]) -> Result<(), String> {
    out.push(form);
    put_u32(out, bytes.len())?;
    out.extend_from_slice(bytes);
    Ok(())
}

impl RawRecord {
    /// A record of `files` (path and bytes, in manifest order); tables are
    /// stored in columns when that gives their bytes back exactly.
    pub fn new(
        key: &Key,
        sealed_manifest: Vec<u8>,
        files: &[(&str, &[u8])],
    ) -> Result<Self, String> {
        let hash = blake3::Hash::from_hex(key.hex()).map_err(|e| e.to_string())?;
        let mut framed = Vec::new();
        for (path, bytes) in files {
            let is_table = path.rsplit('/').next() == Some(cache_table::TABLE_FILE);
            match is_table.then(|| cache_table::pack(bytes)).flatten() {
                Some(columns) => push_frame(&mut framed, FORM_TABLE, &columns)?,
                None => push_frame(&mut framed, FORM_RAW, bytes)?,
            }
        }
        Ok(RawRecord {
            key: *hash.as_bytes(),
            manifest: sealed_manifest,
            files: framed,
        })
    }

    /// Bytes held in memory until the pack is written.
    pub fn len(&self) -> usize {
        self.manifest.len() + self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

pub struct Pack {
    pub path: PathBuf,
    pub bytes: Vec<u8>,
}

/// How a block stores its records' manifests and files.
enum Layout {
    /// `PIPEPACK1`: one record, its manifest raw, its files deflated.
    Single {
        manifest: Range<usize>,
        files: Range<usize>,
    },
    /// `PIPEPACK2`: the manifests deflated as one stream, the files as another.
    Grouped {
        manifests: Range<usize>,
        files: Range<usize>,
    },
}

/// A block's table row: where a record's manifest and files are once inflated.
struct Entry {
    key: [u8; 32],
    manifest: Range<usize>,
    files: Range<usize>,
}

pub struct Block {
    pack: Arc<Pack>,
    /// The block's bytes in the pack (its share of the pack's size).
    stored: Range<usize>,
    entries: Vec<Entry>,
    layout: Layout,
    /// The manifests, inflated at the first lookup of any of them and kept
    /// while some record of the block has not been read yet: lookups do not
    /// come in the order records were stored (inflating the block per lookup
    /// would inflate 64 manifests each time), but a no-op rerun reads each
    /// record once, and keeping every block inflated held 1.4 KB per record
    /// (140 MB at 100,000 points) to the end of the run.
    inflated: Mutex<Inflated>,
}

/// A block's inflated manifests and how many manifest reads are left before
/// they are released.
struct Inflated {
    bytes: Option<Arc<Vec<u8>>>,
    unread: usize,
}

impl Inflated {
    fn new(records: usize) -> Mutex<Inflated> {
        Mutex::new(Inflated {
            bytes: None,
            unread: records,
        })
    }
}

/// Where one record is: its block and its place in it.
#[derive(Clone)]
pub struct Record {
    block: Arc<Block>,
    at: usize,
}

/// Inflates at most `limit` bytes (lengths come from the pack, so nothing is
/// reserved up front beyond a small amount).
fn inflate_upto(deflated: &[u8], limit: usize) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(limit.min(1 << 20));
    flate2::read::DeflateDecoder::new(deflated)
        .take(limit as u64)
        .read_to_end(&mut out)
        .map_err(|e| format!("packed bytes do not inflate: {e}"))?;
    Ok(out)
}

/// Inflates exactly the first `len` bytes of a stream.
fn inflate(deflated: &[u8], len: usize) -> Result<Vec<u8>, String> {
    let out = inflate_upto(deflated, len)?;
    if out.len() < len {
        return Err(format!(
            "packed bytes inflate to {} bytes, expected at least {len}",
            out.len()
        ));
    }
    Ok(out)
}

fn deflate(parts: &mut dyn Iterator<Item = &[u8]>) -> Result<Vec<u8>, String> {
    let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    for p in parts {
        d.write_all(p).map_err(|e| e.to_string())?;
    }
    d.finish().map_err(|e| e.to_string())
}

impl Block {
    fn manifests_len(&self) -> usize {
        self.entries.last().map_or(0, |e| e.manifest.end)
    }

    /// The block's manifests, inflated (see `inflated` for how long they stay).
    fn manifests(&self) -> Result<Arc<Vec<u8>>, String> {
        let Layout::Grouped { manifests, .. } = &self.layout else {
            return Err("not a grouped block".into());
        };
        let mut slot = self.inflated.lock().map_err(|_| "a lookup panicked")?;
        let all = match &slot.bytes {
            Some(all) => Arc::clone(all),
            None => Arc::new(inflate(
                &self.pack.bytes[manifests.clone()],
                self.manifests_len(),
            )?),
        };
        slot.unread = slot.unread.saturating_sub(1);
        slot.bytes = (slot.unread > 0).then(|| Arc::clone(&all));
        Ok(all)
    }
}

impl Record {
    fn entry(&self) -> &Entry {
        &self.block.entries[self.at]
    }

    pub fn key(&self) -> Option<Key> {
        Key::parse(&blake3::Hash::from_bytes(self.entry().key).to_hex())
    }

    /// The sealed manifest's bytes.
    pub fn manifest(&self) -> Result<Vec<u8>, String> {
        match &self.block.layout {
            Layout::Single { manifest, .. } => Ok(self.block.pack.bytes[manifest.clone()].to_vec()),
            Layout::Grouped { .. } => {
                let all = self.block.manifests()?;
                Ok(all[self.entry().manifest.clone()].to_vec())
            }
        }
    }

    /// The record's files as stored: frames. A `PIPEPACK1` record stores its
    /// files unframed and without their size: they are inflated up to `expected`
    /// (the manifest's total) and one byte more, so a caller sees a wrong size,
    /// and framed as one raw frame.
    fn framed_files(&self, expected: usize) -> Result<Vec<u8>, String> {
        let e = self.entry();
        match &self.block.layout {
            Layout::Single { files, .. } => {
                let limit = expected.saturating_add(1);
                let bytes = inflate_upto(&self.block.pack.bytes[files.clone()], limit)?;
                let mut framed = Vec::with_capacity(bytes.len() + 5);
                push_frame(&mut framed, FORM_RAW, &bytes)?;
                Ok(framed)
            }
            Layout::Grouped { files, .. } => {
                let mut all = inflate(&self.block.pack.bytes[files.clone()], e.files.end)?;
                all.drain(..e.files.start);
                Ok(all)
            }
        }
    }

    /// The entry's files, inflated, decoded and split by the manifest's sizes.
    pub fn files(&self, sizes: &[u64]) -> Result<Vec<Vec<u8>>, String> {
        let total: u64 = sizes.iter().sum();
        let expected = usize::try_from(total).map_err(|e| e.to_string())?;
        let all = unframe(&self.framed_files(expected)?)?;
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

    /// The record as stored, to write into another pack (gc, repair).
    pub fn raw(&self) -> Result<RawRecord, String> {
        Ok(RawRecord {
            key: self.entry().key,
            manifest: self.manifest()?,
            files: self.framed_files(SMALL_BYTES as usize)?,
        })
    }

    /// The pack this record is in.
    pub fn pack_path(&self) -> &Path {
        &self.block.pack.path
    }

    /// The record's share of its pack's bytes (its block's bytes split by raw size).
    pub fn stored_bytes(&self) -> u64 {
        let b = &self.block;
        if b.entries.len() == 1 {
            return b.stored.len() as u64;
        }
        let raw_total: usize = b
            .entries
            .iter()
            .map(|e| e.manifest.len() + e.files.len())
            .sum();
        let e = self.entry();
        let share = (e.manifest.len() + e.files.len()) as f64 / raw_total.max(1) as f64;
        (b.stored.len() as f64 * share).round() as u64
    }
}

/// The decoded bytes of a record's frames, concatenated.
fn unframe(framed: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(framed.len());
    let mut at = 0;
    while at < framed.len() {
        let form = framed[at];
        let len = read_u32(framed, at + 1).ok_or("packed files are cut short")?;
        let start = at + 5;
        let end = start
            .checked_add(len)
            .filter(|&e| e <= framed.len())
            .ok_or("packed files are cut short")?;
        let bytes = &framed[start..end];
        match form {
            FORM_RAW => out.extend_from_slice(bytes),
            FORM_TABLE => out.extend_from_slice(&cache_table::unpack(bytes)?),
            other => return Err(format!("packed file of unknown form {other}")),
        }
        at = end;
    }
    Ok(out)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<usize> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_le_bytes(b.try_into().ok()?) as usize)
}

fn put_u32(out: &mut Vec<u8>, n: usize) -> Result<(), String> {
    let n = u32::try_from(n).map_err(|e| e.to_string())?;
    out.extend_from_slice(&n.to_le_bytes());
    Ok(())
}

/// One block of `records`.
fn encode_block(records: &[RawRecord]) -> Result<Vec<u8>, String> {
    let manifests = deflate(&mut records.iter().map(|r| r.manifest.as_slice()))?;
    let files = deflate(&mut records.iter().map(|r| r.files.as_slice()))?;
    let mut out =
        Vec::with_capacity(8 + records.len() * ENTRY_BYTES + manifests.len() + files.len());
    put_u32(&mut out, records.len())?;
    for r in records {
        out.extend_from_slice(&r.key);
        put_u32(&mut out, r.manifest.len())?;
        put_u32(&mut out, r.files.len())?;
    }
    put_u32(&mut out, manifests.len())?;
    out.extend_from_slice(&manifests);
    out.extend_from_slice(&files);
    Ok(out)
}

/// The bytes of a pack holding `records`, in blocks of neighbours.
pub fn encode(records: &[RawRecord]) -> Result<Vec<u8>, String> {
    let mut out = MAGIC.to_vec();
    let mut start = 0;
    while start < records.len() {
        let mut end = start;
        let mut file_bytes = 0;
        while end < records.len() && end - start < BLOCK_RECORDS && file_bytes < BLOCK_FILE_BYTES {
            file_bytes += records[end].files.len();
            end += 1;
        }
        let block = encode_block(&records[start..end])?;
        put_u32(&mut out, block.len())?;
        out.extend_from_slice(&block);
        start = end;
    }
    Ok(out)
}

const SHORT: &str = "pack is cut short";

/// A `PIPEPACK2` block at `range` of the pack.
fn parse_block(pack: &Arc<Pack>, range: Range<usize>) -> Result<Block, String> {
    let bytes = &pack.bytes[range.clone()];
    let count = read_u32(bytes, 0).ok_or(SHORT)?;
    let table_end = count
        .checked_mul(ENTRY_BYTES)
        .and_then(|n| n.checked_add(4))
        .filter(|&n| n <= bytes.len())
        .ok_or(SHORT)?;
    let mut entries = Vec::with_capacity(count);
    let (mut m_at, mut f_at) = (0usize, 0usize);
    for i in 0..count {
        let row = 4 + i * ENTRY_BYTES;
        let key: [u8; 32] = bytes[row..row + 32].try_into().map_err(|_| SHORT)?;
        let m_len = read_u32(bytes, row + 32).ok_or(SHORT)?;
        let f_len = read_u32(bytes, row + 36).ok_or(SHORT)?;
        let m_end = m_at.checked_add(m_len).ok_or(SHORT)?;
        let f_end = f_at.checked_add(f_len).ok_or(SHORT)?;
        entries.push(Entry {
            key,
            manifest: m_at..m_end,
            files: f_at..f_end,
        });
        (m_at, f_at) = (m_end, f_end);
    }
    if m_at > MAX_BLOCK_MANIFESTS || f_at > BLOCK_FILE_BYTES + SMALL_BYTES as usize {
        return Err("pack block declares more bytes than pipe writes in one".into());
    }
    let m_len = read_u32(bytes, table_end).ok_or(SHORT)?;
    let m_start = range.start + table_end + 4;
    let m_end = m_start
        .checked_add(m_len)
        .filter(|&e| e <= range.end)
        .ok_or(SHORT)?;
    Ok(Block {
        pack: Arc::clone(pack),
        stored: range.clone(),
        entries,
        layout: Layout::Grouped {
            manifests: m_start..m_end,
            files: m_end..range.end,
        },
        inflated: Inflated::new(count),
    })
}

/// A `PIPEPACK1` record at `range` of the pack, as a block of one.
fn parse_v1_record(pack: &Arc<Pack>, range: Range<usize>) -> Result<Block, String> {
    let body = &pack.bytes[range.clone()];
    let key: [u8; 32] = body.get(..32).ok_or(SHORT)?.try_into().map_err(|_| SHORT)?;
    let m_len = read_u32(body, 32).ok_or(SHORT)?;
    let m_start = range.start + 36;
    let m_end = m_start
        .checked_add(m_len)
        .filter(|&e| e <= range.end)
        .ok_or(SHORT)?;
    // The files' raw size is known only from the manifest (`all_files`).
    Ok(Block {
        pack: Arc::clone(pack),
        stored: range.clone(),
        entries: vec![Entry {
            key,
            manifest: 0..m_len,
            files: 0..0,
        }],
        layout: Layout::Single {
            manifest: m_start..m_end,
            files: m_end..range.end,
        },
        inflated: Inflated::new(1),
    })
}

/// The records of one pack file, split (not verified).
fn split(pack: &Arc<Pack>) -> Result<Vec<Record>, String> {
    let bytes = &pack.bytes;
    let v1 = bytes.starts_with(MAGIC_V1);
    if !v1 && !bytes.starts_with(MAGIC) {
        return Err("not a pipe pack".into());
    }
    let mut out = Vec::new();
    let mut at = MAGIC.len();
    while at < bytes.len() {
        let len = read_u32(bytes, at).ok_or(SHORT)?;
        let start = at + 4;
        let end = start.checked_add(len).filter(|&e| e <= bytes.len());
        let end = end.ok_or(SHORT)?;
        let block = if v1 {
            parse_v1_record(pack, start..end)?
        } else {
            parse_block(pack, start..end)?
        };
        let block = Arc::new(block);
        out.extend((0..block.entries.len()).map(|at| Record {
            block: Arc::clone(&block),
            at,
        }));
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
            match check(&r).and_then(|()| r.raw()) {
                Ok(raw) => good.push(raw),
                Err(e) => problems.push((Some(key), e)),
            }
        }
        index.extend(repair(dir, &tmp(), &pack.path, &good));
    }
    (index, problems)
}

/// Replaces a damaged pack by one holding only its good records; returns them.
fn repair(dir: &Path, tmp: &Path, damaged: &Path, good: &[RawRecord]) -> Vec<(Key, Record)> {
    let fresh = if good.is_empty() {
        None
    } else {
        match write(dir, tmp, good) {
            Ok(p) => Some(p),
            Err(_) => return Vec::new(),
        }
    };
    remove(damaged);
    fresh.map(records_of).unwrap_or_default()
}

/// The records of a pack this process wrote, by key.
pub fn records_of(pack: Arc<Pack>) -> Vec<(Key, Record)> {
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

/// Writes `records` as one pack under `dir` via `tmp`; returns it.
pub fn write(dir: &Path, tmp: &Path, records: &[RawRecord]) -> std::io::Result<Arc<Pack>> {
    let bytes = encode(records).map_err(std::io::Error::other)?;
    let path = dir.join(format!("{}.pack", blake3::hash(&bytes).to_hex()));
    let written = fs::File::create(tmp).and_then(|mut f| f.write_all(&bytes));
    let renamed = written.and_then(|()| fs::rename(tmp, &path));
    if let Err(e) = renamed {
        let _ = fs::remove_file(tmp);
        return Err(e);
    }
    write_stamp(&path);
    Ok(Arc::new(Pack { path, bytes }))
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

    fn key(i: u32) -> Key {
        let args = [("i".to_string(), serde_json::json!(i))].into();
        crate::key::key_of("t.x", 1, &crate::key::Canonical::new(args))
    }

    fn raw(i: u32) -> RawRecord {
        let files = format!("file of record {i}");
        let parts: [(&str, &[u8]); 2] = [("out/a", b"abc"), ("out/b", files.as_bytes())];
        RawRecord::new(&key(i), format!("{{sealed {i}}}").into_bytes(), &parts).unwrap()
    }

    /// The files of `raw(i)`, concatenated.
    fn files_of(i: u32) -> Vec<u8> {
        format!("abcfile of record {i}").into_bytes()
    }

    #[test]
    fn records_round_trip_across_blocks_and_damage_is_caught_per_record() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<RawRecord> = (0..BLOCK_RECORDS as u32 + 3).map(raw).collect();
        let path = write(dir.path(), &dir.path().join("t"), &records)
            .unwrap()
            .path
            .clone();
        let ok = |_: &Record| Ok(());
        let tmp = || dir.path().join("tmp-file");
        let (index, problems) = load_all(dir.path(), &tmp, &ok);
        assert!(problems.is_empty());
        assert_eq!(index.len(), records.len());
        for (i, want) in records.iter().enumerate() {
            let r = &index[&key(i as u32)];
            assert_eq!(&r.raw().unwrap(), want);
            let n = files_of(i as u32).len() as u64;
            assert_eq!(r.files(&[3, n - 3]).unwrap().concat(), files_of(i as u32));
            assert!(r.files(&[3, n]).unwrap_err().contains("expected"));
        }
        std::thread::sleep(std::time::Duration::from_millis(30));
        let mut bytes = fs::read(&path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        fs::write(&path, &bytes).unwrap();
        let bad_last = |r: &Record| match r.key() == Some(key(BLOCK_RECORDS as u32 + 2)) {
            true => Err("damaged".to_string()),
            false => Ok(()),
        };
        let (index, problems) = load_all(dir.path(), &tmp, &bad_last);
        assert_eq!(index.len(), records.len() - 1, "the good records are kept");
        assert!(!path.exists(), "the damaged pack is replaced");
        assert_eq!(
            problems,
            [(Some(key(BLOCK_RECORDS as u32 + 2)), "damaged".to_string())]
        );
    }

    /// A `PIPEPACK1` pack as the previous pipe wrote it.
    fn v1_pack(records: &[RawRecord]) -> Vec<u8> {
        let mut out = MAGIC_V1.to_vec();
        for (i, r) in records.iter().enumerate() {
            let plain = files_of(i as u32);
            let files = deflate(&mut std::iter::once(plain.as_slice())).unwrap();
            let mut body = r.key.to_vec();
            put_u32(&mut body, r.manifest.len()).unwrap();
            body.extend_from_slice(&r.manifest);
            body.extend_from_slice(&files);
            put_u32(&mut out, body.len()).unwrap();
            out.extend_from_slice(&body);
        }
        out
    }

    #[test]
    fn packs_of_the_previous_layout_are_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let records: Vec<RawRecord> = (0..3).map(raw).collect();
        let bytes = v1_pack(&records);
        let name = format!("{}.pack", blake3::hash(&bytes).to_hex());
        fs::write(dir.path().join(name), &bytes).unwrap();
        let tmp = || dir.path().join("tmp-file");
        let (index, problems) = load_all(dir.path(), &tmp, &|_| Ok(()));
        assert!(problems.is_empty());
        for (i, want) in records.iter().enumerate() {
            let r = &index[&key(i as u32)];
            assert_eq!(r.manifest().unwrap(), want.manifest);
            let n = files_of(i as u32).len() as u64;
            assert_eq!(r.files(&[3, n - 3]).unwrap().concat(), files_of(i as u32));
            assert!(r.files(&[n + 1]).unwrap_err().contains("expected"));
            // Copied into a new pack (gc), it reads the same.
            let copy = write(dir.path(), &dir.path().join("t"), &[r.raw().unwrap()]).unwrap();
            let (_, again) = records_of(copy).remove(0);
            assert_eq!(again.files(&[n]).unwrap().concat(), files_of(i as u32));
        }
    }

    #[test]
    fn cut_or_inconsistent_packs_are_errors_not_panics() {
        let records: Vec<RawRecord> = (0..5).map(raw).collect();
        let good = encode(&records).unwrap();
        let pack = |bytes: Vec<u8>| {
            Arc::new(Pack {
                path: PathBuf::from("x.pack"),
                bytes,
            })
        };
        for cut in 0..good.len() {
            let Ok(records) = split(&pack(good[..cut].to_vec())) else {
                continue;
            };
            for r in records {
                let _ = r.raw();
            }
        }
        // A table claiming more manifest bytes than the stream holds.
        let mut bad = good.clone();
        let first_len = MAGIC.len() + 4 + 4 + 32;
        bad[first_len..first_len + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let records = split(&pack(bad)).unwrap_or_default();
        assert!(records.iter().any(|r| r.manifest().is_err()) || records.is_empty());
    }
}
