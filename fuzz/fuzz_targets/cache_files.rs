//! Fuzz target: damaged or hand-made cache files read through the cache as a
//! run reads them (open, lookup, load, `cache ls`). The first byte picks the
//! file the rest becomes, in a fresh cache: 0 an entry's manifest, sealed with
//! its hash so the JSON parser sees it; 1 the same manifest unsealed; 2 a pack
//! named by its own hash (so it is trusted and its records are parsed); 3 a pack
//! under another name (so each record is checked on its own); 4 a name shard.
//! A miss, a corrupt entry or an error is fine; a panic is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipe_interp::fuzzing::{seal, Cache, Lookup};
use pipe_interp::key::Key;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

const KEY: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";

/// One directory per fuzzing process; each input starts a fresh cache in it.
fn work_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pipe-fuzz-cache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fn write(path: &Path, bytes: &[u8]) {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).expect("create cache subdirectory");
    }
    std::fs::write(path, bytes).expect("write cache file");
}

/// Looks up and loads every key the cache lists, and the fixed one.
fn read_back(cache: &Cache) {
    let mut keys: Vec<Key> = cache
        .entries()
        .iter()
        .filter_map(|m| Key::parse(&m.key))
        .collect();
    keys.extend(Key::parse(KEY));
    for key in keys {
        if let Lookup::Hit(manifest) = cache.lookup(&key) {
            let _ = cache.load(&key, &manifest);
        }
    }
    for record in cache.names() {
        let _ = cache.last_key(&record.name);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let dir = work_dir().join("cache");
    let _ = std::fs::remove_dir_all(&dir);
    let cache = Cache::open(&dir).expect("open a fresh cache");
    let entry = dir.join("entries").join(KEY);
    match which % 5 {
        0 => write(&entry.join("manifest.json"), &seal(body)),
        1 => write(&entry.join("manifest.json"), body),
        2 => {
            let name = format!("{}.pack", blake3::hash(body).to_hex());
            write(&dir.join("packs").join(name), body);
        }
        3 => write(&dir.join("packs").join(format!("{KEY}.pack")), body),
        _ => write(&dir.join("names").join("shard-00.json"), body),
    }
    read_back(&cache);
});
