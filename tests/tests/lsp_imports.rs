//! Errors in imported files reach the editor: a check of an open document
//! publishes the diagnostics of the imported files that are not open on their own
//! URIs, puts one summary error on the `use` line that leads to them, and clears
//! both when the import is fixed. An import cycle is reported on the `use` line of
//! each open file on it.

mod lsp_support;

use lsp_support::{file_uri, range_of, Client};
use serde_json::{json, Value};
use std::path::Path;

fn write(dir: &Path, name: &str, text: &str) -> String {
    std::fs::write(dir.join(name), text).expect("write fixture");
    file_uri(&dir.join(name))
}

fn codes(diags: &[Value]) -> Vec<&str> {
    diags.iter().filter_map(|d| d["code"].as_str()).collect()
}

fn message(d: &Value) -> &str {
    d["message"].as_str().unwrap_or_default()
}

#[test]
fn errors_of_an_unopened_import_are_published_on_its_uri_and_summarised_at_the_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let lib = write(dir.path(), "lib.pipe", "let good = 1\nlet bad = nope\n");
    let main = write(
        dir.path(),
        "main.pipe",
        "## Uses lib.\nuse \"lib.pipe\" as lib\nlet x = lib.good\n",
    );
    let mut client = Client::start();
    client.open(
        &main,
        &std::fs::read_to_string(dir.path().join("main.pipe")).expect("read"),
    );
    let main_diags = client.diagnostics(&main);
    let lib_diags = client.diagnostics(&lib);

    let unknown: Vec<&Value> = lib_diags
        .iter()
        .filter(|d| message(d).contains("unknown name `nope`"))
        .collect();
    assert_eq!(unknown.len(), 1, "{lib_diags:#?}");
    assert_eq!(range_of(&unknown[0]["range"]), ((1, 10), (1, 14)));

    let summaries: Vec<&Value> = main_diags.iter().filter(|d| d["severity"] == 1).collect();
    assert_eq!(summaries.len(), 1, "{main_diags:#?}");
    assert_eq!(range_of(&summaries[0]["range"]), ((1, 4), (1, 14)));
    let text = message(summaries[0]);
    assert!(
        text.contains("`lib.pipe` has 1 error") && text.contains("unknown name `nope`"),
        "{text}"
    );
    let link = &summaries[0]["relatedInformation"][0]["location"];
    assert_eq!(link["uri"], json!(lib));
    assert_eq!(range_of(&link["range"]), ((1, 10), (1, 14)));

    // Fixed on disk: both lists clear.
    write(dir.path(), "lib.pipe", "let good = 1\nlet bad = good\n");
    client.notify(
        "workspace/didChangeWatchedFiles",
        json!({"changes": [{"uri": lib, "type": 2}]}),
    );
    let main_diags = client.diagnostics(&main);
    assert!(
        main_diags.iter().all(|d| d["severity"] != 1),
        "{main_diags:#?}"
    );
    assert!(client.diagnostics(&lib).is_empty());
    assert!(client.shutdown().success());
}

#[test]
fn an_import_cycle_is_reported_on_the_use_line_of_each_open_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let a_text = "use \"b.pipe\" as b\nlet x = 1\n";
    let b_text = "## B.\nlet y = 2\nuse \"a.pipe\" as a\n";
    let a = write(dir.path(), "a.pipe", a_text);
    let b = write(dir.path(), "b.pipe", b_text);
    let mut client = Client::start();
    client.open(&a, a_text);
    let a_diags = client.diagnostics(&a);
    let cycle: Vec<&Value> = a_diags.iter().filter(|d| d["code"] == "E0502").collect();
    assert_eq!(cycle.len(), 1, "{a_diags:#?}");
    assert_eq!(range_of(&cycle[0]["range"]), ((0, 4), (0, 12)));
    assert!(
        message(cycle[0]).contains("a.pipe -> "),
        "{}",
        message(cycle[0])
    );

    // Not open yet: what a's check found in b is published on b's URI.
    let seen_from_a = client.diagnostics(&b);
    assert!(codes(&seen_from_a).contains(&"W0601"), "{seen_from_a:#?}");

    client.open(&b, b_text);
    let b_diags = client.diagnostics(&b);
    let cycle: Vec<&Value> = b_diags.iter().filter(|d| d["code"] == "E0502").collect();
    assert_eq!(cycle.len(), 1, "{b_diags:#?}");
    assert_eq!(range_of(&cycle[0]["range"]), ((2, 4), (2, 12)));
    assert!(client.shutdown().success());
}
