//! The cache and the run directory touch only what pipe created, with the real
//! binary (issue 20): a directory holding other files is refused as a cache, a
//! linked `tmp/` is refused and its target untouched, `cache gc` removes only
//! entry names pipe writes and counts exactly what it removed, a hand-edited
//! manifest is caught, output files never collide, a full disk leaves no
//! truncated `summary.json`, and cached nodes' detail tables are not copied.

use pipe_tests::pipe;
use serde_json::Value;
use std::path::Path;
use std::process::Output;

const SMALL: &str = "\
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let calib = dataset.sample(parts.train, n: 64, seed: 2)
";

const PRICED: &str = "\
let net = sim.workload(name: \"resnet50\")
let caches = for tech in [\"sram\", \"stt\"] =>
    sim.nvm_cache(tech: tech, capacity: 4MiB, node: 22nm, workload: net, mode: \"iso_capacity\")
let t = report.table(caches, columns: [\"area_mm2\"])
";

fn run_in(dir: &Path, args: &[&str]) -> Output {
    pipe()
        .current_dir(dir)
        .arg("run")
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "pipe run failed:\n{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn node<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node `{name}` in {v}"))
}

fn project(text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.pipe"), text).unwrap();
    dir
}

#[test]
fn a_directory_with_the_users_files_is_not_used_as_a_cache() {
    let dir = project(SMALL);
    let notes = dir.path().join("proj/tmp/notes");
    std::fs::create_dir_all(&notes).unwrap();
    std::fs::write(notes.join("todo.txt"), "buy milk").unwrap();
    let out = run_in(dir.path(), &["p.pipe", "--cache", "proj"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("`proj` is not a pipe cache") && stderr(&out).contains("--cache"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        std::fs::read_to_string(notes.join("todo.txt")).unwrap(),
        "buy milk"
    );
    for (fresh, made) in [("empty", true), ("new", false)] {
        if made {
            std::fs::create_dir(dir.path().join(fresh)).unwrap();
        }
        let out = run_in(
            dir.path(),
            &["p.pipe", "--cache", fresh, "--format", "json"],
        );
        assert_eq!(json_of(&out)["ok"], true);
        assert!(dir.path().join(fresh).join("PIPE-CACHE").is_file());
    }
}

#[test]
fn a_linked_tmp_is_refused_and_its_target_untouched() {
    let dir = project(SMALL);
    assert!(run_in(dir.path(), &["p.pipe"]).status.success());
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::fs::write(elsewhere.join("keep.txt"), "mine").unwrap();
    let tmp = dir.path().join(".pipe-cache/tmp");
    std::fs::remove_dir_all(&tmp).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &tmp).unwrap();
    for args in [&["run", "p.pipe"][..], &["cache", "gc", "p.pipe"][..]] {
        let out = pipe().current_dir(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains("symbolic link"), "{}", stderr(&out));
        assert_eq!(
            std::fs::read_to_string(elsewhere.join("keep.txt")).unwrap(),
            "mine"
        );
    }
}

#[test]
fn gc_removes_only_its_own_entries_and_counts_them_exactly() {
    let dir = project(SMALL);
    let first = json_of(&run_in(
        dir.path(),
        &["p.pipe", "--cache", "p2", "--format", "json"],
    ));
    let calib_key = node(&first, "calib")["key"].as_str().unwrap().to_string();
    let photos = dir.path().join("p2/entries/photos");
    std::fs::create_dir_all(&photos).unwrap();
    std::fs::write(photos.join("cat.jpg"), "not a cache entry").unwrap();
    // `calib` is small, so it lives in a pack; gc rewrites the pack without it.
    let pack_bytes = || -> u64 {
        std::fs::read_dir(dir.path().join("p2/packs"))
            .unwrap()
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "pack"))
            .map(|e| e.metadata().unwrap().len())
            .sum()
    };
    let before = pack_bytes();
    std::fs::write(
        dir.path().join("p.pipe"),
        SMALL.replace("seed: 2", "seed: 9"),
    )
    .unwrap();
    let gc = pipe()
        .current_dir(dir.path())
        .args(["cache", "gc", "p.pipe", "--cache", "p2"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&gc.stdout);
    assert!(gc.status.success(), "{}", stderr(&gc));
    let bytes = before - pack_bytes();
    assert!(bytes > 0);
    let human = pipe_interp::human::human_size(bytes);
    assert!(
        text.contains(&format!("freed {human} in 1 entries")),
        "expected {bytes} bytes in 1 entry:\n{text}"
    );
    assert!(
        text.contains(&format!("removed {}", &calib_key[..12])),
        "{text}"
    );
    assert!(photos.join("cat.jpg").is_file());
    let foreign = pipe()
        .current_dir(dir.path())
        .args([
            "cache",
            "gc",
            "--older-than",
            "1s",
            "--cache",
            "p2/entries/photos",
        ])
        .output()
        .unwrap();
    assert_eq!(foreign.status.code(), Some(2));
    assert!(photos.join("cat.jpg").is_file());
}

/// `pack` with `edit` applied to the first block whose inflated manifests it
/// changes (it returns `None` for a block it leaves alone).
fn edit_pack_manifests(pack: &[u8], mut edit: impl FnMut(&mut Vec<u8>) -> Option<()>) -> Vec<u8> {
    use std::io::{Read, Write};
    let u32_at =
        |b: &[u8], at: usize| u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize;
    let magic = b"PIPEPACK2\n";
    assert!(pack.starts_with(magic), "a version-2 pack");
    let mut out = magic.to_vec();
    let mut at = magic.len();
    let mut edited = false;
    while at < pack.len() {
        let len = u32_at(pack, at);
        let mut block = pack[at + 4..at + 4 + len].to_vec();
        at += 4 + len;
        let table_end = 4 + u32_at(&block, 0) * 40;
        let deflated_len = u32_at(&block, table_end);
        let deflated = &block[table_end + 4..table_end + 4 + deflated_len];
        let mut manifests = Vec::new();
        flate2::read::DeflateDecoder::new(deflated)
            .read_to_end(&mut manifests)
            .unwrap();
        if !edited && edit(&mut manifests).is_some() {
            edited = true;
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            enc.write_all(&manifests).unwrap();
            let again = enc.finish().unwrap();
            let files = block[table_end + 4 + deflated_len..].to_vec();
            block.truncate(table_end);
            block.extend_from_slice(&(again.len() as u32).to_le_bytes());
            block.extend_from_slice(&again);
            block.extend_from_slice(&files);
        }
        out.extend_from_slice(&(block.len() as u32).to_le_bytes());
        out.extend_from_slice(&block);
    }
    assert!(edited, "the manifest to edit is in the pack");
    out
}

#[test]
fn a_hand_edited_manifest_is_detected_and_the_true_value_reported() {
    let dir = project(PRICED);
    let first = json_of(&run_in(dir.path(), &["p.pipe", "--format", "json"]));
    let point = node(&first, "caches[tech=sram]");
    let area = point["metrics"]["area_mm2"].as_f64().unwrap();
    let key = point["key"].as_str().unwrap();
    // The point is small, so its sealed manifest is a record of a pack, inside
    // a block whose manifests are deflated together (PIPEPACK2, cache_pack.rs):
    // inflate them, edit the metric's first digit (same length, so every
    // recorded length still holds), deflate again and put the block back.
    let pack = std::fs::read_dir(dir.path().join(".pipe-cache/packs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "pack"))
        .unwrap();
    let needle = format!("\"area_mm2\":{}", serde_json::to_string(&area).unwrap());
    let bytes = edit_pack_manifests(&std::fs::read(&pack).unwrap(), |manifests| {
        let at = manifests
            .windows(needle.len())
            .position(|w| w == needle.as_bytes())?
            + "\"area_mm2\":".len();
        manifests[at] = if manifests[at] == b'9' {
            b'1'
        } else {
            manifests[at] + 1
        };
        Some(())
    });
    std::thread::sleep(std::time::Duration::from_millis(30));
    std::fs::write(&pack, &bytes).unwrap();
    let out = run_in(dir.path(), &["p.pipe", "--format", "json"]);
    let second = json_of(&out);
    assert!(stderr(&out).contains(&key[..12]), "{}", stderr(&out));
    let point = node(&second, "caches[tech=sram]");
    assert_eq!(point["status"], "ran");
    assert_eq!(point["metrics"]["area_mm2"].as_f64(), Some(area));
}

#[test]
fn output_names_that_differ_only_in_punctuation_get_distinct_files() {
    let dir = project(&format!(
        "{PRICED}let plots = for nm in [\"run A\", \"run_A\", \"run:A\"] => report.bar(caches, y: \"area_mm2\", title: nm)\n"
    ));
    json_of(&run_in(dir.path(), &["p.pipe", "--format", "json"]));
    let run_dir = std::fs::read_dir(dir.path().join("runs/p"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let mut titles = Vec::new();
    for e in std::fs::read_dir(&run_dir).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.starts_with("plots") && name.ends_with(".svg") {
            let svg = std::fs::read_to_string(e.path()).unwrap();
            titles.extend(
                ["run A", "run_A", "run:A"]
                    .into_iter()
                    .filter(|t| svg.contains(t)),
            );
        }
    }
    titles.sort();
    assert_eq!(titles, ["run A", "run:A", "run_A"], "{}", run_dir.display());
}

#[test]
fn cached_detail_tables_are_not_copied_but_reports_are() {
    let dir = project(
        "let net = sim.workload(name: \"mobilenet_v2\")\n\
         let hw = for rows in [8, 16] =>\n    \
         sim.accelerator(model: net, pe: \"int8\", rows: rows, cols: rows, dataflow: \"os\",\n\
                         glb: 128KiB, spad: 64B, freq: 1GHz, bandwidth: 16.0)\n\
         let t = report.table(hw.metrics, columns: [\"area_mm2\"])\n",
    );
    json_of(&run_in(dir.path(), &["p.pipe", "--format", "json"]));
    let second = json_of(&run_in(dir.path(), &["p.pipe", "--format", "json"]));
    assert!(second["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["status"] == "cached"));
    let mut runs: Vec<_> = std::fs::read_dir(dir.path().join("runs/p"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    runs.sort();
    let files = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        files(&runs[1]),
        ["report.html", "report.md", "summary.json", "t.csv", "t.md"],
        "a no-op rerun writes the summary and the reports the file asks for"
    );
    let first = files(&runs[0]);
    assert!(
        first.iter().any(|f| f.starts_with("hw_rows=8_.layers")),
        "the first run writes the layer tables of the points it ran: {first:?}"
    );
}

#[test]
fn runs_are_pruned_to_the_retention_setting() {
    let dir = project(SMALL);
    for _ in 0..4 {
        let out = pipe()
            .current_dir(dir.path())
            .args(["run", "p.pipe"])
            .env("PIPE_KEEP_RUNS", "2")
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let count = || {
        std::fs::read_dir(dir.path().join("runs/p"))
            .unwrap()
            .count()
    };
    assert_eq!(count(), 2);
    std::fs::create_dir(dir.path().join("runs/p/my-notes")).unwrap();
    let gc = pipe()
        .current_dir(dir.path())
        .args(["runs", "gc", "p.pipe", "--keep", "1"])
        .output()
        .unwrap();
    assert!(gc.status.success(), "{}", stderr(&gc));
    assert!(String::from_utf8_lossy(&gc.stdout).contains("removed 1 run directories"));
    assert_eq!(
        count(),
        2,
        "the newest run and the user's directory are left"
    );
    assert!(dir.path().join("runs/p/my-notes").is_dir());
    let bad = pipe()
        .current_dir(dir.path())
        .args(["run", "p.pipe"])
        .env("PIPE_KEEP_RUNS", "lots")
        .output()
        .unwrap();
    assert!(stderr(&bad).contains("PIPE_KEEP_RUNS"), "{}", stderr(&bad));
}

/// A file-size limit (`ulimit -f`, with SIGXFSZ ignored so writes fail with
/// EFBIG) stands in for a full disk: every write past 1 KiB fails.
#[test]
fn a_full_disk_leaves_no_run_directory_rather_than_a_truncated_one() {
    let dir = project(PRICED);
    let script = format!(
        "trap '' XFSZ; ulimit -f 1; exec '{}' run p.pipe --format json",
        pipe_tests::pipe_bin().display()
    );
    let out = std::process::Command::new("bash")
        .current_dir(dir.path())
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("could not write the run directory"),
        "{}",
        stderr(&out)
    );
    // The run directory is staged and renamed into place whole: after the
    // failed write there is none, and no staging directory is left either.
    let left: Vec<String> = std::fs::read_dir(dir.path().join("runs/p"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let ok = run_in(dir.path(), &["p.pipe", "--format", "json"]);
    assert!(ok.status.success(), "{}", stderr(&ok));
    let run_dir = std::fs::read_dir(dir.path().join("runs/p"))
        .unwrap()
        .flatten()
        .next()
        .unwrap()
        .path();
    let bytes = std::fs::read(run_dir.join("summary.json")).unwrap();
    assert!(
        serde_json::from_slice::<Value>(&bytes).is_ok(),
        "truncated summary"
    );
}

#[test]
fn a_damaged_pack_is_reported_and_its_entries_recomputed() {
    let dir = project(SMALL);
    let first = json_of(&run_in(dir.path(), &["p.pipe", "--format", "json"]));
    let packs: Vec<_> = std::fs::read_dir(dir.path().join(".pipe-cache/packs"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "pack"))
        .collect();
    assert_eq!(packs.len(), 1, "`calib` (17 KB) is packed");
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut bytes = std::fs::read(&packs[0]).unwrap();
    // Inside the deflated files, not their last byte: inflating stops once a
    // record's bytes are out, so a flip in the stream's final bits damages no
    // file (and rightly reruns nothing).
    let inside = bytes.len() - 64;
    bytes[inside] ^= 0x55;
    std::fs::write(&packs[0], &bytes).unwrap();
    let out = run_in(dir.path(), &["p.pipe", "--format", "json"]);
    let second = json_of(&out);
    let calib = node(&first, "calib")["key"].as_str().unwrap().to_string();
    assert!(
        stderr(&out).contains(&format!("cache entry {}", &calib[..12])),
        "{}",
        stderr(&out)
    );
    assert_eq!(node(&second, "calib")["status"], "ran");
    assert_eq!(
        node(&second, "calib")["metrics"],
        node(&first, "calib")["metrics"]
    );
    let third = run_in(dir.path(), &["p.pipe", "--format", "json"]);
    assert!(json_of(&third)["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .all(|n| n["status"] == "cached"));
    assert!(!stderr(&third).contains("warning"), "{}", stderr(&third));
}
