//! Golden rendered diagnostics, one file per code under
//! `tests/golden/diagnostics/`: for every code of `pipe_lang::codes::ALL`, the
//! first diagnostic with that code that the fixtures produce (syntax fixtures in
//! tests/fixtures/parse/errors/, checker fixtures in tests/fixtures/check/, and a
//! run of an unimplemented stage for E0901), rendered as `pipe check` prints it
//! without color. Regenerate after an intended change of wording or layout with
//! `UPDATE_GOLDEN=1 cargo test -p pipe-tests --test golden_diagnostics` and
//! review the diff.

use pipe_interp::run::{run_file, FileRun};
use pipe_interp::schedule::RunControl;
use pipe_interp::stage_set::StageTable;
use pipe_lang::catalog::StageSig;
use pipe_lang::codes;
use pipe_lang::render::ProgramRenderer;
use pipe_lang::types::Type;
use pipe_stdlib::stage::StageDef;
use pipe_tests::golden;
use pipe_tests::memory_loader::MemoryLoader;
use pipe_tests::test_catalog::TestCatalog;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// E0900 guards lowering against a checker bug: no checked program reaches it.
const UNREACHABLE: &[&str] = &[codes::LOWER_FAILED];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

fn pipe_files(dir: &Path) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = std::fs::read_dir(dir)
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "pipe"))
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read_to_string(&p).expect("UTF-8 fixture"))
        })
        .collect();
    out.sort();
    out
}

/// The first rendering of each code found in the checked fixtures.
fn from_fixtures(found: &mut BTreeMap<String, String>) {
    let check_dir = fixtures().join("check");
    let mut check_files = pipe_files(&check_dir);
    for (name, text) in pipe_files(&check_dir.join("lib")) {
        check_files.push((format!("lib/{name}"), text));
    }
    // Checker fixtures first: a checker code is shown on the file written for it.
    let mut sources: Vec<(String, String)> = check_files
        .iter()
        .filter(|(n, _)| !n.contains('/'))
        .cloned()
        .collect();
    sources.extend(pipe_files(&fixtures().join("parse/errors")));
    let loader = MemoryLoader::new(
        check_files
            .iter()
            .chain(sources.iter())
            .map(|(n, t)| (n.as_str(), t.as_str())),
    );
    let catalog = TestCatalog::new();
    for (root, _) in &sources {
        let program = pipe_lang::check(root, &loader, &catalog);
        let mut renderer = ProgramRenderer::new(&program);
        for d in &program.diagnostics {
            if !found.contains_key(d.code) {
                found.insert(d.code.to_string(), renderer.render(d, false));
            }
        }
    }
}

/// E0901: `pipe run` of a binding whose stage has no implementation.
fn not_implemented() -> String {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("todo.pipe");
    std::fs::write(&file, "let a = sim.todo()\n").expect("write the file");
    let sig = StageSig {
        namespace: "sim",
        name: "todo",
        version: 1,
        doc: "a stage without an implementation",
        params: Vec::new(),
        output: Type::Metrics,
        output_task_from: None,
        implemented: false,
    };
    let table = StageTable::new(vec![StageDef { sig, run: None }]);
    let cache = dir.path().join(".pipe-cache");
    let req = FileRun {
        file: &file,
        names: &[],
        sets: &[],
        cache_dir: &cache,
        jobs: 1,
    };
    match run_file(&req, &table, &RunControl::default()) {
        Ok(_) => panic!("a run of an unimplemented stage must be refused"),
        Err(e) => e
            .to_string()
            .replace(&dir.path().display().to_string(), "<dir>"),
    }
}

#[test]
fn every_code_renders_as_its_golden_file() {
    let mut found = BTreeMap::new();
    from_fixtures(&mut found);
    found.insert(codes::NOT_IMPLEMENTED.to_string(), not_implemented());
    let missing: Vec<&str> = codes::ALL
        .iter()
        .map(|c| c.code)
        .filter(|c| !found.contains_key(*c) && !UNREACHABLE.contains(c))
        .collect();
    assert!(
        missing.is_empty(),
        "no fixture produces {missing:?}; add one"
    );
    let dir = fixtures().join("../golden/diagnostics");
    for (code, text) in &found {
        golden::assert_golden(&dir.join(format!("{code}.txt")), text);
    }
    let stale: Vec<String> = std::fs::read_dir(&dir)
        .expect("golden directory")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| !found.contains_key(n.trim_end_matches(".txt")))
        .collect();
    assert!(stale.is_empty(), "golden files of no code: {stale:?}");
}
