//! End-to-end, over stdio against `pipe lsp`: quick fixes (applied, the file
//! then checks clean), inlay hints, hierarchical document symbols, workspace
//! symbols, the cache state of bindings (hover and inlay hints, refreshed on
//! save), and a request answered while a long check runs.

mod lsp_support;

use lsp_support::{file_uri, Client};
use serde_json::{json, Value};
use std::path::Path;

fn whole_range() -> Value {
    json!({"start": {"line": 0, "character": 0}, "end": {"line": 10000, "character": 0}})
}

/// Applies LSP text edits to an ASCII text (columns are bytes there).
fn apply(text: &str, edits: &[Value]) -> String {
    let offset = |p: &Value| {
        let line = p["line"].as_u64().expect("line") as usize;
        let col = p["character"].as_u64().expect("character") as usize;
        let start: usize = text.split_inclusive('\n').take(line).map(str::len).sum();
        start + col
    };
    let mut spans: Vec<(usize, usize, &str)> = edits
        .iter()
        .map(|e| {
            (
                offset(&e["range"]["start"]),
                offset(&e["range"]["end"]),
                e["newText"].as_str().expect("newText"),
            )
        })
        .collect();
    spans.sort_by_key(|s| std::cmp::Reverse(s.0));
    let mut out = text.to_string();
    for (start, end, new) in spans {
        out.replace_range(start..end, new);
    }
    out
}

fn titles(actions: &Value) -> Vec<String> {
    actions
        .as_array()
        .expect("a list of actions")
        .iter()
        .map(|a| a["title"].as_str().unwrap_or("").to_string())
        .collect()
}

const BROKEN: &str = "\
let data = dataset.digits()
let net = model.mlp(seed: 1)
let other = modle.mlp(input: data)
param unused: int = 3
let typo = nett
let more = dataset.digts()
";

#[test]
fn quick_fixes_repair_every_hinted_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = file_uri(&dir.path().join("fix.pipe"));
    let mut client = Client::start();
    client.open(&uri, BROKEN);
    let before = client.diagnostics(&uri);
    assert_eq!(before.len(), 5, "{before:#?}");
    let params = json!({
        "textDocument": {"uri": uri},
        "range": whole_range(),
        "context": {"diagnostics": []},
    });
    let actions = client
        .request("textDocument/codeAction", params)
        .expect("code actions");
    let titles = titles(&actions);
    for expected in [
        "Add `input`",
        "Replace with `dataset.digits`",
        "Replace with `model.mlp`",
        "Remove the unused `unused`",
        "Rename to `_unused` (never reported as unused)",
        "Replace with `net`",
    ] {
        assert!(
            titles.iter().any(|t| t == expected),
            "{expected}: {titles:?}"
        );
    }
    // Every fix but the rename (which overlaps the removal), applied together.
    let edits: Vec<Value> = actions
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| !a["title"].as_str().unwrap().starts_with("Rename"))
        .flat_map(|a| {
            a["edit"]["changes"][uri.as_str()]
                .as_array()
                .unwrap()
                .clone()
        })
        .collect();
    let fixed = apply(BROKEN, &edits);
    assert_eq!(
        fixed,
        "let data = dataset.digits()\n\
         let net = model.mlp(seed: 1, input: data)\n\
         let other = model.mlp(input: data)\n\
         let typo = net\n\
         let more = dataset.digits()\n"
    );
    client.change(&uri, 2, &fixed);
    let after = client.diagnostics(&uri);
    assert!(after.is_empty(), "{after:#?}");
    assert!(client.shutdown().success());
}

#[test]
fn renaming_an_unused_binding_silences_its_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = file_uri(&dir.path().join("unused.pipe"));
    let text = "param bits: int = 3\nlet x = 1\n";
    let mut client = Client::start();
    client.open(&uri, text);
    assert_eq!(client.diagnostics(&uri).len(), 2);
    let params = json!({
        "textDocument": {"uri": uri},
        "range": {"start": {"line": 1, "character": 4}, "end": {"line": 1, "character": 5}},
        "context": {"diagnostics": []},
    });
    let actions = client
        .request("textDocument/codeAction", params)
        .expect("code actions");
    assert_eq!(
        titles(&actions),
        [
            "Remove the unused `x`",
            "Rename to `_x` (never reported as unused)"
        ],
        "only the fixes of the diagnostic in range"
    );
    let rename = &actions[1]["edit"]["changes"][uri.as_str()];
    let renamed = apply(text, rename.as_array().unwrap());
    assert_eq!(renamed, "param bits: int = 3\nlet _x = 1\n");
    client.change(&uri, 2, &renamed);
    let left = client.diagnostics(&uri);
    assert_eq!(left.len(), 1, "{left:#?}");
    assert!(left[0]["message"].as_str().unwrap().contains("`bits`"));
}

#[test]
fn inlay_hints_give_the_types_of_unannotated_bindings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = file_uri(&dir.path().join("hints.pipe"));
    let text =
        "param bits: int = 3\nparam lr = 0.5\nlet data = dataset.digits()\nlet n = [bits, 2]\n";
    let mut client = Client::start();
    client.open(&uri, text);
    client.diagnostics(&uri);
    let params = json!({"textDocument": {"uri": uri}, "range": whole_range()});
    let hints = client
        .request("textDocument/inlayHint", params)
        .expect("inlay hints");
    let got: Vec<(u64, u64, String)> = hints
        .as_array()
        .expect("hints")
        .iter()
        .map(|h| {
            (
                h["position"]["line"].as_u64().unwrap(),
                h["position"]["character"].as_u64().unwrap(),
                h["label"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (1, 8, ": float".to_string()),
            (2, 8, ": Dataset[classify]".to_string()),
            (3, 5, ": list[int]".to_string()),
        ],
        "no hint for the annotated `bits`"
    );
    let second_line = json!({"textDocument": {"uri": uri}, "range": {
        "start": {"line": 1, "character": 0}, "end": {"line": 1, "character": 3}}});
    let hints = client
        .request("textDocument/inlayHint", second_line)
        .expect("inlay hints");
    assert_eq!(hints.as_array().map(Vec::len), Some(1), "{hints:#}");
}

#[test]
fn document_symbols_nest_record_fields_and_sweep_binders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = file_uri(&dir.path().join("symbols.pipe"));
    let text = "let cfg = {train: {lr: 0.1, epochs: 3}, seed: 1}\n\
                let xs = for pe in [1, 2] => {width: pe}\n\
                let _n = [cfg, xs]\n";
    let mut client = Client::start();
    client.open(&uri, text);
    client.diagnostics(&uri);
    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": uri}}),
        )
        .expect("symbols");
    let tree = |s: &Value| -> Value {
        let mut out = json!({});
        let mut stack = vec![(s.clone(), "".to_string())];
        while let Some((node, path)) = stack.pop() {
            let name = format!("{path}/{}", node["name"].as_str().unwrap());
            out[&name] = node["kind"].clone();
            for child in node["children"].as_array().into_iter().flatten() {
                stack.push((child.clone(), name.clone()));
            }
        }
        out
    };
    let all = symbols.as_array().expect("symbols");
    assert_eq!(all.len(), 3);
    assert_eq!(
        tree(&all[0]),
        json!({"/cfg": 13, "/cfg/train": 8, "/cfg/train/lr": 8, "/cfg/train/epochs": 8, "/cfg/seed": 8})
    );
    assert_eq!(
        tree(&all[1]),
        json!({"/xs": 13, "/xs/pe": 26, "/xs/width": 8})
    );
    let names: Vec<&str> = all[0]["children"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["train", "seed"], "children in source order");
    assert_eq!(
        all[2]["children"],
        Value::Null,
        "a list of names has no children"
    );
}

#[test]
fn workspace_symbols_search_open_files_and_their_imports() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("lib.pipe"), "let hw_base = 16\n").expect("lib");
    let a = file_uri(&dir.path().join("a.pipe"));
    let b = file_uri(&dir.path().join("b.pipe"));
    let mut client = Client::start();
    client.open(&a, "use \"lib.pipe\" as lib\nlet hw_int8 = lib.hw_base\n");
    client.open(&b, "let hw_int4 = 4\nlet other = 1\n");
    client.diagnostics(&a);
    client.diagnostics(&b);
    let found = client
        .request("workspace/symbol", json!({"query": "HWi"}))
        .expect("workspace symbols");
    let got: Vec<(String, String)> = found
        .as_array()
        .expect("symbols")
        .iter()
        .map(|s| {
            let uri = s["location"]["uri"].as_str().unwrap();
            let file = uri.rsplit('/').next().unwrap().to_string();
            (s["name"].as_str().unwrap().to_string(), file)
        })
        .collect();
    assert_eq!(
        got,
        [
            ("hw_int4".to_string(), "b.pipe".to_string()),
            ("hw_int8".to_string(), "a.pipe".to_string()),
        ]
    );
    let base = client
        .request("workspace/symbol", json!({"query": "base"}))
        .expect("workspace symbols");
    assert_eq!(base[0]["name"], "hw_base");
    assert!(base[0]["location"]["uri"]
        .as_str()
        .unwrap()
        .ends_with("/lib.pipe"));
}

const PIPELINE: &str = "\
param seed: int = 0
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let calib = dataset.sample(parts.train, n: 64, seed: seed)
";

fn run_pipeline(dir: &Path) {
    let status = pipe_tests::pipe()
        .current_dir(dir)
        .args(["run", "p.pipe"])
        .output()
        .expect("pipe run");
    assert!(status.status.success(), "{status:?}");
}

fn hover_at(client: &mut Client, uri: &str, pos: (u32, u32)) -> String {
    let hover = client
        .request("textDocument/hover", Client::at(uri, pos))
        .expect("hover");
    hover["contents"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

fn cache_hints(client: &mut Client, uri: &str) -> Vec<String> {
    let params = json!({"textDocument": {"uri": uri}, "range": whole_range()});
    let hints = client
        .request("textDocument/inlayHint", params)
        .expect("inlay hints");
    hints
        .as_array()
        .expect("hints")
        .iter()
        .filter(|h| h["kind"].is_null())
        .map(|h| h["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn bindings_show_their_cache_state_refreshed_on_save() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("p.pipe");
    std::fs::write(&path, PIPELINE).expect("write");
    let uri = file_uri(&path);
    let caps = json!({"workspace": {"inlayHint": {"refreshSupport": true}}});

    let mut client = Client::start_with(caps.clone());
    client.open(&uri, PIPELINE);
    client.server_request("workspace/inlayHint/refresh");
    assert_eq!(
        cache_hints(&mut client, &uri),
        Vec::<String>::new(),
        "no cache yet"
    );
    assert!(!hover_at(&mut client, &uri, (3, 5)).contains("Cache"));
    assert!(client.shutdown().success());

    run_pipeline(dir.path());
    let mut client = Client::start_with(caps);
    client.open(&uri, PIPELINE);
    client.server_request("workspace/inlayHint/refresh");
    let hints = cache_hints(&mut client, &uri);
    assert_eq!(hints.len(), 3, "digits, parts, calib: {hints:?}");
    assert!(
        hints.iter().all(|h| h.starts_with("cached (key ")),
        "{hints:?}"
    );
    let hover = hover_at(&mut client, &uri, (3, 5));
    assert!(
        hover.contains("**Cache** (as saved): cached (key "),
        "{hover}"
    );
    assert!(hover.contains("`calib` is cached"), "{hover}");

    let edited = PIPELINE.replace("test: 0.2", "test: 0.3");
    std::fs::write(&path, &edited).expect("save");
    client.change(&uri, 2, &edited);
    client.notify(
        "textDocument/didSave",
        json!({"textDocument": {"uri": uri}}),
    );
    client.server_request("workspace/inlayHint/refresh");
    let hints = cache_hints(&mut client, &uri);
    assert_eq!(hints.len(), 3, "{hints:?}");
    assert!(hints[0].starts_with("cached (key "), "digits: {hints:?}");
    assert_eq!(hints[1], "will rerun: argument `test` changed: 0.2 -> 0.3");
    assert!(
        hints[2].starts_with("will rerun: input `data` changed"),
        "calib: {hints:?}"
    );
    let hover = hover_at(&mut client, &uri, (2, 5));
    assert!(
        hover.contains("`parts` would run")
            && hover.contains("argument `test` changed: 0.2 -> 0.3"),
        "{hover}"
    );
    assert!(client.shutdown().success());
}

/// A file whose check takes long: many blocks of stage calls.
fn big_file(blocks: usize, rows: u32) -> String {
    let mut text = String::new();
    for i in 0..blocks {
        text.push_str(&format!(
            "param rows_{i}: int = {rows}\n\
             let data_{i} = dataset.digits()\n\
             let parts_{i} = dataset.split(data_{i}, test: 0.2, seed: {i})\n\
             let net_{i} = model.mlp(input: parts_{i}.train, seed: rows_{i})\n"
        ));
    }
    text
}

#[test]
fn a_request_is_answered_while_a_long_check_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = file_uri(&dir.path().join("big.pipe"));
    let mut client = Client::start();
    client.open(&uri, &big_file(5000, 16));
    client.diagnostics(&uri);
    client.change(&uri, 2, &big_file(5000, 17));
    // Give the worker time to start the check before the request arrives.
    std::thread::sleep(std::time::Duration::from_millis(30));
    let hover = hover_at(&mut client, &uri, (0, 7));
    assert!(
        hover.contains("param rows_0: int = 16"),
        "the last analysis: {hover}"
    );
    let published_first = client
        .notifications
        .iter()
        .any(|n| n["method"] == "textDocument/publishDiagnostics" && n["params"]["version"] == 2);
    assert!(!published_first, "the hover waited for the re-check");
    client.diagnostics(&uri);
    let hover = hover_at(&mut client, &uri, (0, 7));
    assert!(hover.contains("param rows_0: int = 17"), "{hover}");
}
