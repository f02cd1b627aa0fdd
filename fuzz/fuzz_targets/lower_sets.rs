//! Fuzz target: a program and `--set` overrides through the whole front end as
//! `pipe run` and `pipe graph` use it (`frontend::load`: check, `--set` parsing
//! and checking, lowering, input hashing). The input is the program text, then
//! optionally a NUL byte and NUL-separated `name=value` overrides. An error is
//! fine; a panic is a finding. Lowering hashes the files a program names, so
//! nothing may name a file outside the fuzzer's temporary directory: `/`
//! becomes `*` (division stays arithmetic), a backslash `_`, and `..` becomes `.`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipe_interp::digest_cache::DigestCache;
use pipe_interp::input_hash::InputHasher;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

/// One empty directory per fuzzing process; each input overwrites `fuzz.pipe`.
fn work_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pipe-fuzz-lower-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fn confined(text: &str) -> String {
    let mut text = text.replace('/', "*").replace('\\', "_");
    while text.contains("..") {
        text = text.replace("..", ".");
    }
    text
}

fuzz_target!(|data: &[u8]| {
    let text = confined(&String::from_utf8_lossy(data));
    let mut parts = text.split('\0');
    let program = parts.next().unwrap_or_default();
    let sets: Vec<String> = parts.map(str::to_string).collect();
    let path = work_dir().join("fuzz.pipe");
    std::fs::write(&path, program).expect("write fuzz.pipe");
    let inputs = InputHasher::detached(DigestCache::empty(Duration::ZERO));
    let stages = pipe_stdlib::Stdlib::get();
    let _ = pipe_interp::frontend::load(&path, stages, &sets, false, &inputs);
});
