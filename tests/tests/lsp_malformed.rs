//! `pipe lsp` answers malformed JSON-RPC with an error reply (-32700 parse error,
//! -32600 invalid request) and keeps serving: each input below is followed by a
//! request that must still be answered and a clean shutdown. A lone UTF-16
//! surrogate in a change is valid JSON: the edit is applied with U+FFFD (one
//! UTF-16 unit, like the original) so positions stay in step with the editor.

mod lsp_support;

use lsp_support::{position, range_of, Client};
use serde_json::{json, Value};

const URI: &str = "untitled:malformed.pipe";
const TEXT: &str = "let a = 1\nlet _b = a\n";

fn started() -> Client {
    let mut client = Client::start();
    client.open(URI, TEXT);
    assert!(client.diagnostics(URI).is_empty());
    client
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// The server still answers, sees the document as before, and exits cleanly.
fn still_serving(mut client: Client) {
    let symbols = client
        .request(
            "textDocument/documentSymbol",
            json!({"textDocument": {"uri": URI}}),
        )
        .expect("documentSymbol answered");
    let names: Vec<&str> = symbols
        .as_array()
        .expect("symbols")
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["a", "_b"]);
    assert!(client.shutdown().success());
}

fn rejected_with(raw: &[u8], code: i64, says: &str) {
    let mut client = started();
    client.send_raw(raw);
    let error = client.rejection();
    assert_eq!(error["code"], json!(code), "{error}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(message.contains(says), "{message}");
    still_serving(client);
}

#[test]
fn a_body_that_is_not_json_gets_a_parse_error() {
    rejected_with(
        b"Content-Length: 10\r\n\r\n{not json}",
        -32700,
        "parse error",
    );
}

#[test]
fn json_that_is_not_a_message_gets_invalid_request() {
    rejected_with(&framed(br#"{"foo":1}"#), -32600, "invalid request");
}

#[test]
fn a_header_without_colon_or_with_a_bad_length_gets_a_parse_error() {
    rejected_with(b"garbage\r\n\r\n", -32700, "malformed header");
    rejected_with(
        b"Content-Length: ten\r\n\r\n",
        -32700,
        "is not a byte count",
    );
}

#[test]
fn invalid_utf8_in_a_change_gets_a_parse_error_and_the_change_is_not_applied() {
    let mut body = br#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"untitled:malformed.pipe","version":2},"contentChanges":[{"text":"let "#.to_vec();
    body.extend_from_slice(b"\xff\xfe");
    body.extend_from_slice(br#" = 1\n"}]}}"#);
    rejected_with(&framed(&body), -32700, "not UTF-8");
}

#[test]
fn an_oversized_length_is_refused_without_allocating_it() {
    rejected_with(
        b"Content-Length: 99999999999\r\n\r\n",
        -32700,
        "over the 64 MiB limit",
    );
}

#[test]
fn a_lone_surrogate_in_a_change_becomes_a_replacement_character() {
    let mut client = started();
    let body = br#"{"jsonrpc":"2.0","method":"textDocument/didChange","params":{"textDocument":{"uri":"untitled:malformed.pipe","version":2},"contentChanges":[{"text":"let a = [\"\ud800\", zz]\n"}]}}"#;
    client.send_raw(&framed(body));
    let diags = client.diagnostics(URI);
    let applied = "let a = [\"\u{fffd}\", zz]\n";
    let zz = applied.find("zz").unwrap_or(0);
    let unknown: Vec<&Value> = diags
        .iter()
        .filter(|d| d["message"].as_str().unwrap_or_default().contains("`zz`"))
        .collect();
    assert_eq!(unknown.len(), 1, "{diags:?}");
    assert_eq!(
        range_of(&unknown[0]["range"]),
        (position(applied, zz), position(applied, zz + 2))
    );
    client.change(URI, 3, TEXT);
    assert!(client.diagnostics(URI).is_empty());
    still_serving(client);
}
