//! Golden LSP answers on a fixture: the hover text and the completion items
//! (label and detail) of `pipe lsp` at every `${name}` marker of
//! tests/fixtures/lsp/main.pipe (with common.pipe beside it), in
//! `tests/golden/lsp/main.txt`. A change to what an editor shows is a reviewed
//! diff of that file: `UPDATE_GOLDEN=1 cargo test -p pipe-tests --test golden_lsp`.

mod lsp_support;

use lsp_support::{file_uri, Client, Fixture};
use pipe_tests::golden;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;

fn hover(client: &mut Client, uri: &str, pos: (u32, u32)) -> String {
    let answer = client
        .request("textDocument/hover", Client::at(uri, pos))
        .expect("hover answers");
    match answer["contents"]["value"].as_str() {
        Some(text) => text.to_string(),
        None => "(no hover)".to_string(),
    }
}

fn completion(client: &mut Client, uri: &str, pos: (u32, u32)) -> Vec<String> {
    let answer = client
        .request("textDocument/completion", Client::at(uri, pos))
        .expect("completion answers");
    let items = answer.get("items").unwrap_or(&answer);
    let Some(items) = items.as_array() else {
        return Vec::new();
    };
    items.iter().map(item_line).collect()
}

fn item_line(item: &Value) -> String {
    let label = item["label"].as_str().unwrap_or("?");
    match item["detail"].as_str() {
        Some(detail) => format!("{label} — {detail}"),
        None => label.to_string(),
    }
}

#[test]
fn hover_and_completion_at_every_marker_match_the_golden_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let main = Fixture::load("main.pipe");
    let common = Fixture::load("common.pipe");
    std::fs::write(dir.path().join("main.pipe"), &main.text).expect("write main");
    std::fs::write(dir.path().join("common.pipe"), &common.text).expect("write common");
    let uri = file_uri(&dir.path().join("main.pipe"));
    let mut client = Client::start();
    client.open(&uri, &main.text);
    let mut out = String::new();
    for (mark, &pos) in &main.marks {
        let _ = writeln!(out, "## ${{{mark}}} at {}:{}", pos.0 + 1, pos.1 + 1);
        let _ = writeln!(out, "hover:");
        for line in hover(&mut client, &uri, pos).lines() {
            let _ = writeln!(out, "  {line}");
        }
        let _ = writeln!(out, "completion:");
        for item in completion(&mut client, &uri, pos) {
            let _ = writeln!(out, "  {item}");
        }
    }
    assert!(client.shutdown().success());
    let out = out.replace(&dir.path().display().to_string(), "<dir>");
    let golden_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden/lsp/main.txt");
    golden::assert_golden(&golden_file, &out);
}
