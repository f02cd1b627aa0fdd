//! The bit-for-bit guard of lowering: every node of every shipped pipeline
//! (`pipelines/*.pipe`), in graph order, with its stage, its content key (or why
//! it has none) and the root's bindings as lowered. Equal keys mean equal cached
//! results, so a change to the checker, lowering or key computation that moves
//! any of these lines changes what users get. The expected text lives in
//! `tests/golden/shipped_keys.txt`; `UPDATE_GOLDEN=1 cargo test -p pipe-tests
//! --test shipped_keys` rewrites it (only do so for an intended change of keys).

use pipe_interp::frontend;
use pipe_interp::input_hash::InputHasher;
use pipe_tests::golden;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the repository")
        .to_path_buf()
}

fn shipped_pipelines(root: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root.join("pipelines"))
        .expect("pipelines/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pipe"))
        .collect();
    files.sort();
    files
}

/// The keys of one pipeline as text; absolute paths in reasons are made relative
/// to the repository so the text is the same in every checkout.
fn keys_of(file: &Path, root: &Path) -> String {
    let cache = tempfile::tempdir().expect("temp dir");
    let inputs = InputHasher::new(&frontend::base_dir(file), cache.path());
    let stages = pipe_stdlib::Stdlib::get();
    let loaded = match frontend::load(file, stages, &[], false, &inputs) {
        Ok(l) => l,
        Err(e) => panic!("{} does not load: {e}", file.display()),
    };
    let mut out = String::new();
    for (id, node) in loaded.graph.nodes.iter().enumerate() {
        let key = match &node.key {
            Ok(k) => k.hex(),
            Err(why) => format!("no key: {why}"),
        };
        let _ = writeln!(out, "  n{id} {} {} {key}", node.name, node.stage_name());
    }
    for (name, value) in &loaded.graph.bindings {
        let _ = writeln!(out, "  let {name} = {value:?}");
    }
    out.replace(&format!("{}/", root.display()), "<repo>/")
}

#[test]
fn every_shipped_pipeline_keeps_its_node_keys() {
    let root = repo_root();
    let mut text = String::new();
    for file in shipped_pipelines(&root) {
        let name = file.strip_prefix(&root).unwrap_or(&file).display();
        let _ = writeln!(text, "{name}");
        text.push_str(&keys_of(&file, &root));
    }
    golden::assert_golden(&root.join("tests/golden/shipped_keys.txt"), &text);
}
