//! Checker fixtures: every `.pipe` file directly under tests/fixtures/check/ is
//! checked as a root (with the small test catalog; imports come from the same
//! tree through an in-memory loader), and the diagnostics of every module it
//! reaches must be exactly the `#~` expectations written in that module.
//! Files under lib/ are checked only as imports; each must be imported by a root.

use pipe_lang::program::Program;
use pipe_lang::types::Type;
use pipe_tests::fixtures::assert_matches;
use pipe_tests::memory_loader::MemoryLoader;
use pipe_tests::test_catalog::TestCatalog;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/check")
}

/// Every file under the fixture directory, by its path relative to it.
fn all_files() -> Vec<(String, String)> {
    let root = fixture_dir();
    let mut out = Vec::new();
    let mut dirs = vec![root.clone()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).expect("fixture directory is readable");
        for entry in entries {
            let path = entry.expect("fixture entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let name = path
                .strip_prefix(&root)
                .expect("under the fixture dir")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path).expect("fixtures are UTF-8");
            out.push((name, text));
        }
    }
    out.sort();
    out
}

fn check(loader: &MemoryLoader, root: &str) -> Program {
    pipe_lang::check(root, loader, &TestCatalog::new())
}

#[test]
fn every_fixture_gets_exactly_its_expected_diagnostics() {
    let files = all_files();
    let loader = MemoryLoader::new(files.iter().map(|(n, t)| (n.as_str(), t.as_str())));
    let roots: Vec<&str> = files
        .iter()
        .map(|(n, _)| n.as_str())
        .filter(|n| n.ends_with(".pipe") && !n.contains('/'))
        .collect();
    assert!(roots.len() >= 8, "fixtures missing: {roots:?}");
    let mut reached = BTreeSet::new();
    for root in &roots {
        let program = check(&loader, root);
        for module in &program.modules {
            let own: Vec<_> = program
                .diagnostics
                .iter()
                .filter(|d| d.file == module.name)
                .cloned()
                .collect();
            assert_matches(&module.name, &module.text, &own);
            reached.insert(module.name.clone());
        }
        let stray: Vec<_> = program
            .diagnostics
            .iter()
            .filter(|d| !program.modules.iter().any(|m| m.name == d.file))
            .collect();
        assert!(
            stray.is_empty(),
            "{root}: diagnostics for unknown files: {stray:?}"
        );
    }
    for (name, _) in files.iter().filter(|(n, _)| n.ends_with(".pipe")) {
        assert!(
            reached.contains(name),
            "{name} is imported by no root fixture"
        );
    }
}

#[test]
fn every_checker_code_is_covered_by_a_fixture() {
    let all: String = all_files().into_iter().map(|(_, t)| t).collect();
    // The code table is checked against docs/diagnostics.md by diagnostic_codes.rs.
    let codes: BTreeSet<&str> = pipe_lang::codes::ALL
        .iter()
        .filter(|c| c.phase == "checker")
        .map(|c| c.code)
        .collect();
    assert!(codes.len() >= 30, "too few checker codes: {codes:?}");
    let missing: Vec<_> = codes
        .iter()
        .filter(|c| !all.contains(&format!("[{c}]")))
        .collect();
    assert!(missing.is_empty(), "no fixture expects {missing:?}");
}

fn program_of(text: &str) -> Program {
    let loader = MemoryLoader::new([("main.pipe", text)]);
    check(&loader, "main.pipe")
}

fn binding_type(p: &Program, name: &str) -> Type {
    p.root_module().bindings[name].ty.clone()
}

#[test]
fn stage_outputs_sweeps_and_broadcasts_have_the_documented_types() {
    let p = program_of(
        "let d = dataset.moving_shapes()\n\
         let parts = dataset.split(d)\n\
         let m = model.vit(input: d)\n\
         let hw = for pe in [\"int8\", \"int4\"], r in [8, 16] => sim.accelerator(model: m, pe: pe, rows: r)\n\
         let totals = hw.metrics\n\
         let per_point = report.table(hw)\n\
         let qs = for b in [2, 4] => quant.evolq(model: m, calib: d, bits: b)\n\
         let evals = sim.accelerator(model: qs.model)\n\
         let nested = for a in [1, 2] => for b in [3] => model.vit(input: d, depth: a, dim: b)\n\
         let xs = [1, 2.5]\n\
         let out = {p: parts, t: totals, e: evals, n: nested, x: xs, pp: per_point}\n",
    );
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
    let video = Type::Dataset(Some(pipe_tests::test_catalog::VIDEO_DETECT));
    assert_eq!(
        binding_type(&p, "parts"),
        Type::record([("train", video.clone()), ("test", video)])
    );
    let sim_out = Type::record([("layers", Type::Table), ("metrics", Type::Metrics)]);
    assert_eq!(binding_type(&p, "hw"), Type::sweep(sim_out.clone()));
    assert_eq!(binding_type(&p, "totals"), Type::sweep(Type::Metrics));
    assert_eq!(binding_type(&p, "per_point"), Type::Table);
    assert_eq!(binding_type(&p, "evals"), Type::sweep(sim_out));
    assert_eq!(binding_type(&p, "nested"), Type::sweep(Type::Model));
    assert_eq!(binding_type(&p, "xs"), Type::list(Type::Float));
    let hover = &p.root_module().expr_types;
    assert!(
        hover.values().any(|t| *t == Type::Model),
        "expr_types filled"
    );
}

#[test]
fn modules_come_imports_first_with_the_root_last() {
    let loader = MemoryLoader::new([
        (
            "main.pipe",
            "use \"a/b.pipe\" as b\nuse \"c.pipe\" as c\nlet x = {b: b.v, c: c.v}\n",
        ),
        ("a/b.pipe", "use \"../c.pipe\" as c\nlet v = c.v\n"),
        ("c.pipe", "let v = dataset.digits()\n"),
    ]);
    let p = check(&loader, "main.pipe");
    let names: Vec<&str> = p.modules.iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["c.pipe", "a/b.pipe", "main.pipe"]);
    assert_eq!(p.root, 2);
    assert_eq!(p.root_module().imports["c"], 0);
    assert!(p.diagnostics.is_empty(), "{:?}", p.diagnostics);
}

#[test]
fn a_long_import_chain_does_not_recurse() {
    let n = 3000;
    let mut files: Vec<(String, String)> = (0..n)
        .map(|i| {
            (
                format!("m{i}.pipe"),
                format!("use \"m{}.pipe\" as next\nlet v = next.v\n", i + 1),
            )
        })
        .collect();
    files.push((format!("m{n}.pipe"), "let v = 1\n".to_string()));
    let loader = MemoryLoader::new(files.iter().map(|(a, b)| (a.as_str(), b.as_str())));
    let p = check(&loader, "m0.pipe");
    assert_eq!(p.modules.len(), n + 1);
    assert_eq!(binding_type(&p, "v"), Type::Int);
    assert!(!p.has_errors(), "{:?}", p.diagnostics.first());
}

#[test]
fn an_unreadable_root_is_one_clear_error() {
    let p = check(&MemoryLoader::default(), "gone.pipe");
    assert_eq!(p.diagnostics.len(), 1);
    assert_eq!(p.diagnostics[0].code, "E0501");
    assert!(p.diagnostics[0].message.contains("no such file"));
}

#[test]
fn one_mistake_does_not_cascade() {
    let p = program_of(
        "let d = dataset.digitz()\nlet m = model.vit(input: d)\nlet t = train.supervised(model: m, data: d)\nlet e = eval.classify(model: t.model, data: d)\n",
    );
    let codes: Vec<&str> = p.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["E0203"], "{:?}", p.diagnostics);
    assert_eq!(
        p.diagnostics[0].help.as_deref(),
        Some("did you mean `dataset.digits`?")
    );
}
