//! Half-typed text in the editor gets sensible answers: an argument the parser
//! could not read gives that one error (not guesses about positional and missing
//! arguments on top), and the binding being written is not offered as its own
//! value.

mod lsp_support;

use lsp_support::{position, Client};
use serde_json::Value;

const URI: &str = "untitled:editing.pipe";

fn errors(diags: &[Value]) -> Vec<String> {
    diags
        .iter()
        .filter(|d| d["severity"] == 1)
        .map(|d| d["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn an_unreadable_named_argument_gives_one_error() {
    let mut client = Client::start();
    for text in [
        "let m = model.mlp(seed: 1, input: )\n",
        "let d = dataset.digits()\nlet p = dataset.split(data: )\n",
    ] {
        client.open(URI, text);
        let found = errors(&client.diagnostics(URI));
        assert_eq!(found.len(), 1, "{text}: {found:#?}");
        assert!(found[0].contains("expected an expression"), "{found:?}");
    }
    assert!(client.shutdown().success());
}

#[test]
fn the_binding_being_written_is_not_offered() {
    let mut client = Client::start();
    let text = "let a = 1\nlet z = ";
    client.open(URI, text);
    client.diagnostics(URI);
    let items = client
        .request(
            "textDocument/completion",
            Client::at(URI, position(text, text.len())),
        )
        .expect("completion");
    let labels: Vec<&str> = items
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["label"].as_str())
        .collect();
    assert!(labels.contains(&"a"), "{labels:?}");
    assert!(!labels.contains(&"z"), "{labels:?}");
    assert!(client.shutdown().success());
}

#[test]
fn folding_ranges_and_range_semantic_tokens() {
    let mut client = Client::start();
    let text = "# one\n# two\nlet a = [\n  1,\n  2,\n]\nlet _b = a\n";
    client.open(URI, text);
    client.diagnostics(URI);
    let folds = client
        .request(
            "textDocument/foldingRange",
            serde_json::json!({"textDocument": {"uri": URI}}),
        )
        .expect("folding ranges");
    let mut spans: Vec<(u64, u64, String)> = folds
        .as_array()
        .expect("folds")
        .iter()
        .map(|f| {
            (
                f["startLine"].as_u64().unwrap_or(99),
                f["endLine"].as_u64().unwrap_or(99),
                f["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    spans.sort();
    assert_eq!(spans, [(0, 1, "comment".into()), (2, 5, String::new())]);

    let mut tokens = |range: serde_json::Value| -> Vec<u64> {
        let answer = client
            .request(
                "textDocument/semanticTokens/range",
                serde_json::json!({"textDocument": {"uri": URI}, "range": range}),
            )
            .expect("range tokens");
        answer["data"]
            .as_array()
            .expect("data")
            .iter()
            .filter_map(Value::as_u64)
            .collect()
    };
    // Line 6 only: `let` (keyword), `_b` (declared binding), `a` (binding).
    let line6 = tokens(
        serde_json::json!({"start": {"line": 6, "character": 0}, "end": {"line": 7, "character": 0}}),
    );
    assert_eq!(line6.len(), 15, "{line6:?}");
    assert_eq!(&line6[..2], [6, 0], "first token is absolute: {line6:?}");
    assert!(client.shutdown().success());
}
