//! Fuzz target: the data loaders on any file content. The first byte picks the
//! loader, the rest is the file (written to a temporary directory, since the
//! loaders read paths): 0 IDX images and labels (a 2-byte length splits the
//! rest into the two files), 1 a CIFAR-10 batch (`test_batch.bin`), 2 a COCO
//! ground-truth JSON file, 3 AVE's HDF5 features (the same bytes as each of the
//! four files), 4 a SCALE-Sim topology CSV. An error is fine; a panic or an
//! allocation the file's size does not justify is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipe_stdlib::data::{ave_h5, cifar, coco_json, idx};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One directory per fuzzing process; each input overwrites its files.
fn work_dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("pipe-fuzz-data-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    })
}

fn file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write fuzz file");
    path
}

fn idx(dir: &Path, body: &[u8]) {
    let Some((len, rest)) = body.split_first_chunk::<2>() else {
        return;
    };
    let cut = usize::from(u16::from_le_bytes(*len)).min(rest.len());
    let images = file(dir, "images.idx", &rest[..cut]);
    let labels = file(dir, "labels.idx", &rest[cut..]);
    let _ = idx::load(&images, &labels);
}

fn ave(dir: &Path, body: &[u8]) {
    for name in [
        "audio_feature.h5",
        "visual_feature.h5",
        "labels.h5",
        "test_order.h5",
    ] {
        file(dir, name, body);
    }
    let _ = ave_h5::load(dir, "test", || Ok(()));
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let dir = work_dir();
    match which % 5 {
        0 => idx(dir, body),
        1 => {
            file(dir, "test_batch.bin", body);
            let _ = cifar::load(dir, "test");
        }
        2 => {
            let _ = coco_json::GroundTruthFile::read(&file(dir, "truth.json", body));
        }
        3 => ave(dir, body),
        _ => {
            let _ = pipe_sim::workload::topology_from_text("fuzz.csv", &String::from_utf8_lossy(body));
        }
    }
});
