//! End-to-end sessions with `pipe lsp` over stdio: diagnostics on open and after
//! edits (with UTF-16 ranges), imports re-checked, completion, hover, signature
//! help, definition, references, rename, symbols, semantic tokens, formatting.
//! Positions come from `${name}` markers in the fixtures (tests/fixtures/lsp/).

mod lsp_support;

use lsp_support::{file_uri, range_of, Client, Fixture};
use serde_json::{json, Value};
use std::path::Path;

/// Copies the navigation fixtures into a fresh directory; returns the fixtures
/// (markers parsed) and their URIs.
fn workspace(dir: &Path) -> (Fixture, String, Fixture, String) {
    let main = Fixture::load("main.pipe");
    let common = Fixture::load("common.pipe");
    std::fs::write(dir.join("main.pipe"), &main.text).expect("write main");
    std::fs::write(dir.join("common.pipe"), &common.text).expect("write common");
    let main_uri = file_uri(&dir.join("main.pipe"));
    let common_uri = file_uri(&dir.join("common.pipe"));
    (main, main_uri, common, common_uri)
}

fn labels(items: &Value) -> Vec<String> {
    let list = items.get("items").unwrap_or(items);
    list.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|i| i["label"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

fn hover_text(client: &mut Client, uri: &str, pos: (u32, u32)) -> String {
    let hover = client
        .request("textDocument/hover", Client::at(uri, pos))
        .expect("hover");
    hover["contents"]["value"]
        .as_str()
        .unwrap_or("")
        .to_string()
}

#[test]
fn diagnostics_have_utf16_ranges_and_clear_when_fixed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = file_uri(&dir.path().join("broken.pipe"));
    let broken = Fixture::parse("# naïve 😀 comment\nlet s = \"😀é\" let b = ${start}nope${end}\n");
    let mut client = Client::start();
    client.open(&uri, &broken.text);
    let diags = client.diagnostics(&uri);
    let unknown: Vec<&Value> = diags.iter().filter(|d| d["severity"] == 1).collect();
    assert_eq!(unknown.len(), 1, "one error expected: {diags:#?}");
    assert_eq!(
        range_of(&unknown[0]["range"]),
        (broken.at("start"), broken.at("end"))
    );
    assert!(
        unknown[0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("nope"),
        "{diags:#?}"
    );

    client.change(
        &uri,
        2,
        "# naïve 😀 comment\nlet s = \"😀é\" let b = s\nlet c = [b]\n",
    );
    let errors: Vec<Value> = client
        .diagnostics(&uri)
        .into_iter()
        .filter(|d| d["severity"] == 1)
        .collect();
    assert!(
        errors.is_empty(),
        "fixed file still has errors: {errors:#?}"
    );
    assert!(client.shutdown().success());
}

#[test]
fn changing_an_open_import_rechecks_its_importer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (main, main_uri, common, common_uri) = workspace(dir.path());
    let mut client = Client::start();
    client.open(&common_uri, &common.text);
    client.open(&main_uri, &main.text);
    let before = client.diagnostics(&main_uri);
    assert!(
        before.iter().all(|d| d["severity"] != 1),
        "fixture has errors: {before:#?}"
    );
    client.diagnostics(&common_uri);

    // Rename `data` in the imported buffer only (not on disk): main must see it.
    let renamed = common.text.replace("let data", "let digits");
    client.change(&common_uri, 2, &renamed);
    let after = client.diagnostics(&main_uri);
    let errors: Vec<&Value> = after.iter().filter(|d| d["severity"] == 1).collect();
    assert!(
        !errors.is_empty(),
        "main should miss common.data: {after:#?}"
    );
    let line = main.at("imported").0;
    assert!(
        errors.iter().any(|d| range_of(&d["range"]).0 .0 == line),
        "{after:#?}"
    );

    client.change(&common_uri, 3, &common.text);
    let restored = client.diagnostics(&main_uri);
    assert!(restored.iter().all(|d| d["severity"] != 1), "{restored:#?}");
    assert!(client.shutdown().success());
}

#[test]
fn completion_offers_stages_params_choices_units_and_bindings() {
    let dir = tempfile::tempdir().expect("tempdir");
    let uri = file_uri(&dir.path().join("c.pipe"));
    let cases = [
        ("let d = dataset.digits()\nlet m = model.mlp(input: d)\nlet h = sim.${c}", "accelerator"),
        ("let d = dataset.digits()\nlet m = model.mlp(input: d)\nlet h = sim.accelerator(model: m, ${c})", "rows:"),
        ("let d = dataset.digits()\nlet m = model.mlp(input: d)\nlet h = sim.accelerator(model: m, pe: \"${c}\")", "lightpe1"),
        ("let d = dataset.digits()\nlet m = model.mlp(input: d)\nlet h = sim.accelerator(model: m, glb: 128Ki${c})", "KiB"),
        ("let digits = dataset.digits()\nlet m = model.mlp(input: di${c})", "digits"),
        ("let d = dataset.digits()\nlet p = dataset.split(d)\nlet t = p.${c}", "train"),
        ("${c}", "let"),
    ];
    let mut client = Client::start();
    for (version, (marked, expected)) in cases.iter().enumerate() {
        let fixture = Fixture::parse(marked);
        if version == 0 {
            client.open(&uri, &fixture.text);
        } else {
            client.change(&uri, version as i32 + 1, &fixture.text);
        }
        let items = client
            .request("textDocument/completion", Client::at(&uri, fixture.at("c")))
            .expect("completion");
        let got = labels(&items);
        assert!(
            got.iter().any(|l| l == expected),
            "{marked:?}: {expected} not in {got:?}"
        );
    }
    // Parameter items carry type, default and doc; already given names are left out.
    let fixture = Fixture::parse("let d = dataset.digits()\nlet m = model.mlp(input: d)\nlet h = sim.accelerator(model: m, ${c})");
    client.change(&uri, 99, &fixture.text);
    let items = client
        .request("textDocument/completion", Client::at(&uri, fixture.at("c")))
        .expect("completion");
    let list = items.as_array().cloned().unwrap_or_default();
    let rows = list
        .iter()
        .find(|i| i["label"] == "rows:")
        .expect("rows item");
    assert_eq!(rows["detail"], "int = 16");
    assert!(rows["documentation"]["value"]
        .as_str()
        .unwrap_or("")
        .contains("PE array rows"));
    assert!(!labels(&items).contains(&"model:".to_string()));
    assert!(client.shutdown().success());
}

#[test]
fn hover_signature_help_and_symbols() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (main, main_uri, _, _) = workspace(dir.path());
    let mut client = Client::start();
    client.open(&main_uri, &main.text);

    let stage = hover_text(&mut client, &main_uri, main.at("stage"));
    assert!(stage.contains("sim.accelerator(model: Model"), "{stage}");
    assert!(stage.contains("PE array"), "{stage}");
    let arg = hover_text(&mut client, &main_uri, main.at("arg"));
    assert!(
        arg.contains("rows: int = 16") && arg.contains("Range: 1 to 4096"),
        "{arg}"
    );
    let param = hover_text(&mut client, &main_uri, main.at("rows_use"));
    assert!(
        param.contains("param rows: int = 16") && param.contains("Rows of the PE array"),
        "{param}"
    );
    let binding = hover_text(&mut client, &main_uri, main.at("net_use"));
    assert!(binding.contains("let net: Model"), "{binding}");
    let imported = hover_text(&mut client, &main_uri, main.at("imported"));
    assert!(
        imported.contains("let data: Dataset") && imported.contains("handwritten"),
        "{imported}"
    );

    let (line, col) = main.at("arg");
    let help = client
        .request(
            "textDocument/signatureHelp",
            Client::at(&main_uri, (line, col + 6)),
        )
        .expect("signature help");
    let sig = &help["signatures"][0];
    assert!(sig["label"]
        .as_str()
        .unwrap_or("")
        .starts_with("sim.accelerator("));
    let active = help["activeParameter"].as_u64().expect("active parameter") as usize;
    let offsets = &sig["parameters"][active]["label"];
    let label: Vec<u16> = sig["label"].as_str().unwrap_or("").encode_utf16().collect();
    let (a, b) = (
        offsets[0].as_u64().unwrap_or(0) as usize,
        offsets[1].as_u64().unwrap_or(0) as usize,
    );
    assert!(String::from_utf16_lossy(&label[a..b]).starts_with("rows:"));

    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": main_uri}}),
        )
        .expect("symbols");
    let names: Vec<&str> = symbols
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["common", "rows", "net", "hw", "sweep", "both"]);

    let tokens = client
        .request(
            "textDocument/semanticTokens/full",
            json!({"textDocument": {"uri": main_uri}}),
        )
        .expect("semantic tokens");
    let data = tokens["data"].as_array().expect("data");
    assert_eq!(data.len() % 5, 0);
    assert!(data.len() > 5 * 20, "too few tokens: {}", data.len() / 5);
    assert!(client.shutdown().success());
}

#[test]
fn definition_references_and_rename() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (main, main_uri, common, common_uri) = workspace(dir.path());
    let mut client = Client::start();
    client.open(&main_uri, &main.text);
    client.open(&common_uri, &common.text);

    let def = client
        .request(
            "textDocument/definition",
            Client::at(&main_uri, main.at("rows_use")),
        )
        .expect("definition");
    assert_eq!(def["uri"], main_uri.as_str());
    assert_eq!(range_of(&def["range"]).0, main.at("rows_def"));

    let def = client
        .request(
            "textDocument/definition",
            Client::at(&main_uri, main.at("imported")),
        )
        .expect("definition");
    assert_eq!(def["uri"], common_uri.as_str());
    assert_eq!(range_of(&def["range"]).0, common.at("data_def"));

    let def = client
        .request(
            "textDocument/definition",
            Client::at(&main_uri, main.at("path")),
        )
        .expect("definition");
    assert_eq!(def["uri"], common_uri.as_str());

    let def = client
        .request(
            "textDocument/definition",
            Client::at(&main_uri, main.at("local_use")),
        )
        .expect("definition");
    assert_eq!(range_of(&def["range"]).0, main.at("local_def"));

    let refs = client
        .request(
            "textDocument/references",
            json!({"textDocument": {"uri": main_uri}, "position": pos(main.at("rows_use")), "context": {"includeDeclaration": true}}),
        )
        .expect("references");
    assert_eq!(refs.as_array().map(Vec::len), Some(2), "{refs:#}");

    // Renaming `data` from its use in main edits both files.
    let edit = client
        .request(
            "textDocument/rename",
            json!({"textDocument": {"uri": main_uri}, "position": pos(main.at("imported")), "newName": "digits"}),
        )
        .expect("rename");
    let changes = &edit["changes"];
    assert_eq!(
        changes[main_uri.as_str()].as_array().map(Vec::len),
        Some(1),
        "{edit:#}"
    );
    assert_eq!(
        changes[common_uri.as_str()].as_array().map(Vec::len),
        Some(1),
        "{edit:#}"
    );
    assert_eq!(changes[common_uri.as_str()][0]["newText"], "digits");

    for refused in ["let", "in", "quant", "range", "2x"] {
        let answer = client.request(
            "textDocument/rename",
            json!({"textDocument": {"uri": main_uri}, "position": pos(main.at("rows_use")), "newName": refused}),
        );
        assert!(answer.is_err(), "renaming to {refused} must be refused");
    }
    let answer = client.request(
        "textDocument/prepareRename",
        Client::at(&main_uri, main.at("stage_ns")),
    );
    assert!(answer.is_err(), "a namespace cannot be renamed");
    assert!(client.shutdown().success());
}

#[test]
fn formatting_matches_pipe_fmt() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fixture = Fixture::load("unformatted.pipe");
    let path = dir.path().join("u.pipe");
    let uri = file_uri(&path);
    let name = path.to_string_lossy().into_owned();
    let expected = pipe_lang::format(&name, &fixture.text).expect("fixture parses");
    assert_ne!(expected, fixture.text, "fixture must need formatting");
    let mut client = Client::start();
    client.open(&uri, &fixture.text);
    let edits = client
        .request(
            "textDocument/formatting",
            json!({"textDocument": {"uri": uri}, "options": {"tabSize": 4, "insertSpaces": true}}),
        )
        .expect("formatting");
    let edits = edits.as_array().expect("edits");
    assert_eq!(edits.len(), 1);
    assert_eq!(range_of(&edits[0]["range"]).0, (0, 0));
    assert_eq!(edits[0]["newText"], expected.as_str());
    assert!(client.shutdown().success());
}

fn pos((line, character): (u32, u32)) -> Value {
    json!({"line": line, "character": character})
}
