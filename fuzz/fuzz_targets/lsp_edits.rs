//! Fuzz target: the language server under incremental edits. The input is
//! decoded into a starting text and a run of `didChange` range edits (positions
//! may be past the end of a line or of the file, or inside a surrogate pair),
//! each followed by a request at a position taken from the input. The server
//! runs in process over an in-memory connection. Every request must be answered
//! without an internal error (the server turns a caught panic into one), and
//! the server must shut down cleanly; a panic or a hang is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lsp_server::{Connection, Message, Notification, Request, RequestId, Response};
use serde_json::{json, Value};

const URI: &str = "file:///fuzz/main.pipe";

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

/// Reads the input front to back; past its end every read is zero.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        let Some((&b, rest)) = self.0.split_first() else {
            return 0;
        };
        self.0 = rest;
        b
    }

    /// Up to `len` bytes as lossy UTF-8.
    fn text(&mut self, len: usize) -> String {
        let n = len.min(self.0.len());
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        String::from_utf8_lossy(head).into_owned()
    }

    fn position(&mut self) -> Value {
        json!({"line": self.byte() % 64, "character": self.byte()})
    }
}

struct Client {
    conn: Connection,
    next_id: i32,
}

impl Client {
    fn notify(&self, method: &str, params: Value) {
        let n = Notification::new(method.to_string(), params);
        self.conn
            .sender
            .send(n.into())
            .expect("server is listening");
    }

    /// Sends a request and waits for its response, skipping notifications.
    fn request(&mut self, method: &str, params: Value) -> Response {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let r = Request::new(id.clone(), method.to_string(), params);
        self.conn
            .sender
            .send(r.into())
            .expect("server is listening");
        loop {
            match self.conn.receiver.recv().expect("server answers") {
                Message::Response(resp) if resp.id == id => return resp,
                _ => {}
            }
        }
    }
}

fn params(method: &str, position: Value, new_name: &str) -> Value {
    let doc = json!({"uri": URI});
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
            json!({"textDocument": doc, "position": position, "newName": new_name})
        }
        _ => json!({"textDocument": doc, "position": position}),
    }
}

fn run(data: &[u8]) {
    let (server, client) = Connection::memory();
    let handle = std::thread::spawn(move || pipe_lsp::serve(&server, pipe_stdlib::Stdlib::get()));
    let mut client = Client {
        conn: client,
        next_id: 0,
    };
    client.request(
        "initialize",
        json!({"processId": null, "rootUri": null, "capabilities": {}}),
    );
    client.notify("initialized", json!({}));

    let mut input = Bytes(data);
    let first = usize::from(input.byte()) * 4;
    let text = input.text(first);
    let doc = json!({"uri": URI, "languageId": "pipe", "version": 1, "text": text});
    client.notify("textDocument/didOpen", json!({"textDocument": doc}));
    let mut version = 1;
    while !input.0.is_empty() {
        version += 1;
        let range = json!({"start": input.position(), "end": input.position()});
        let len = usize::from(input.byte() % 32);
        let inserted = input.text(len);
        client.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": URI, "version": version},
                "contentChanges": [{"range": range, "text": inserted}],
            }),
        );
        let method = REQUESTS[usize::from(input.byte()) % REQUESTS.len()];
        let p = params(method, input.position(), &inserted);
        let resp = client.request(method, p);
        if let Err(err) = resp.response_result {
            assert!(
                !err.message.starts_with("internal error"),
                "{method}: {}",
                err.message
            );
        }
    }
    let resp = client.request("shutdown", Value::Null);
    assert!(resp.response_result.is_ok(), "shutdown: {resp:?}");
    client.notify("exit", Value::Null);
    let served = handle.join().expect("the server thread does not panic");
    assert!(served.is_ok(), "the server stops cleanly: {served:?}");
}

fuzz_target!(|data: &[u8]| run(data));
