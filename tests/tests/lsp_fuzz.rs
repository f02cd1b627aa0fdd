//! `pipe lsp` survives any input: a seeded run of random edits (insertions of
//! language fragments, non-ASCII text and junk, deletions, truncations) each
//! followed by a random request at a random position (including positions past
//! the end and inside surrogate pairs), plus malformed parameters and unknown
//! methods. Every request must be answered and the server must shut down cleanly.

mod lsp_support;

use lsp_support::{file_uri, Client, Fixture};
use serde_json::{json, Value};

/// Fixed seed and bounded count: the run is the same every time and short.
const SEED: u64 = 0x5eed_1a5e;
const ROUNDS: usize = 300;

const FRAGMENTS: &[&str] = &[
    "let ",
    "param ",
    "use ",
    " as ",
    "for x in ",
    " => ",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    ".",
    "=",
    "\"",
    "\"int8\"",
    "sim.",
    "sim.accelerator(",
    "model: ",
    "rows: ",
    "128KiB",
    "1e-3",
    "20%",
    "-3",
    "\n",
    "## doc\n",
    "# c\n",
    "😀",
    "é",
    "中",
    "\\",
    "\u{0}",
    "\r\n",
    "range(1, 9, 2)",
    "dataset.digits()",
    "x",
    "true",
    "false",
    "use \"missing.pipe\" as m\n",
    "use \"/dev\" as d\n",
];

const REQUESTS: &[&str] = &[
    "textDocument/completion",
    "textDocument/hover",
    "textDocument/signatureHelp",
    "textDocument/definition",
    "textDocument/references",
    "textDocument/rename",
    "textDocument/prepareRename",
    "textDocument/documentSymbol",
    "textDocument/formatting",
    "textDocument/semanticTokens/full",
];

/// xorshift64*: enough randomness for choosing edits, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn char_boundary(text: &str, rng: &mut Rng) -> usize {
    let mut i = rng.below(text.len() + 1);
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn edit(text: &mut String, rng: &mut Rng) {
    match rng.below(10) {
        0..=5 => {
            let at = char_boundary(text, rng);
            text.insert_str(at, FRAGMENTS[rng.below(FRAGMENTS.len())]);
        }
        6..=8 => {
            let a = char_boundary(text, rng);
            let b = char_boundary(text, rng);
            text.replace_range(a.min(b)..a.max(b), "");
        }
        _ => {
            let a = char_boundary(text, rng);
            text.truncate(a);
        }
    }
}

fn params(method: &str, uri: &str, line: u32, character: u32, rng: &mut Rng) -> Value {
    let doc = json!({"uri": uri});
    let position = json!({"line": line, "character": character});
    match method {
        "textDocument/documentSymbol" | "textDocument/semanticTokens/full" => {
            json!({"textDocument": doc})
        }
        "textDocument/formatting" => {
            json!({"textDocument": doc, "options": {"tabSize": 4, "insertSpaces": true}})
        }
        "textDocument/references" => {
            json!({"textDocument": doc, "position": position, "context": {"includeDeclaration": true}})
        }
        "textDocument/rename" => {
            let names = ["renamed", "let", "é", "", "sim", "x"];
            json!({"textDocument": doc, "position": position, "newName": names[rng.below(names.len())]})
        }
        _ => json!({"textDocument": doc, "position": position}),
    }
}

#[test]
fn random_edits_and_requests_are_always_answered() {
    let dir = tempfile::tempdir().expect("tempdir");
    let main = Fixture::load("main.pipe");
    let common = Fixture::load("common.pipe");
    std::fs::write(dir.path().join("common.pipe"), &common.text).expect("write common");
    let uri = file_uri(&dir.path().join("main.pipe"));
    let common_uri = file_uri(&dir.path().join("common.pipe"));
    let mut rng = Rng(SEED);
    let mut client = Client::start();
    let mut text = main.text.clone();
    client.open(&uri, &text);
    client.open(&common_uri, &common.text);
    let mut common_text = common.text.clone();
    for round in 0..ROUNDS {
        let version = round as i32 + 2;
        if rng.below(5) == 0 {
            edit(&mut common_text, &mut rng);
            client.change(&common_uri, version, &common_text);
        } else {
            edit(&mut text, &mut rng);
            client.change(&uri, version, &text);
        }
        if text.len() > 20_000 || text.is_empty() {
            text = main.text.clone();
        }
        let method = REQUESTS[rng.below(REQUESTS.len())];
        let lines = text.lines().count() as u32 + 2;
        let line = rng.below(lines as usize) as u32;
        let character = rng.below(90) as u32;
        let p = params(method, &uri, line, character, &mut rng);
        // Either a result or an error response; a missing answer fails in `request`.
        let _answer = client.request(method, p);
        client.notifications.clear();
    }
    // Malformed parameters, an unknown method and a document never opened.
    assert!(client
        .request("textDocument/hover", json!({"bogus": 1}))
        .is_err());
    assert!(client.request("pipe/unknownMethod", json!({})).is_err());
    let stranger = file_uri(&dir.path().join("never-opened.pipe"));
    assert!(client
        .request("textDocument/hover", Client::at(&stranger, (0, 0)))
        .is_err());
    client.notify(
        "textDocument/didChange",
        json!({"textDocument": {"uri": stranger, "version": 1}, "contentChanges": [{"text": "x"}]}),
    );
    client.notify("textDocument/didOpen", json!({"garbage": true}));
    // Still healthy: a fresh valid document gets its diagnostics and a hover.
    client.change(&uri, 10_000, &main.text);
    // Hover answers from the last finished check, so wait for this version's.
    client.diagnostics_of(&uri, 10_000);
    let hover = client.request("textDocument/hover", Client::at(&uri, main.at("stage")));
    assert!(hover.is_ok_and(|h| h["contents"]["value"]
        .as_str()
        .is_some_and(|s| s.contains("sim.accelerator"))));
    assert!(client.shutdown().success());
}
