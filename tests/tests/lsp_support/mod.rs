//! A minimal LSP client for the end-to-end tests: spawns `pipe lsp`, frames
//! JSON-RPC over its stdin/stdout, matches responses to requests and keeps the
//! notifications it sees. Also the fixture convention: `${name}` in a fixture
//! marks a position (removed from the text, recorded as an LSP position).

#![allow(dead_code)]

use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long any single answer may take before the test fails.
pub const TIMEOUT: Duration = Duration::from_secs(20);

pub struct Client {
    child: Child,
    stdin: Option<ChildStdin>,
    rx: Receiver<Value>,
    next_id: i64,
    /// Notifications received and not yet consumed.
    pub notifications: Vec<Value>,
}

impl Client {
    /// Starts `pipe lsp` and completes the initialize handshake.
    pub fn start() -> Client {
        Client::start_with(json!({}))
    }

    /// `start`, announcing the client capabilities `capabilities`.
    pub fn start_with(capabilities: Value) -> Client {
        let mut child = Command::new(pipe_tests::pipe_bin())
            .arg("lsp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn pipe lsp");
        let stdout = child.stdout.take().expect("stdout");
        let stdin = child.stdin.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            while let Some(msg) = read_message(&mut reader) {
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        let mut client = Client {
            child,
            stdin,
            rx,
            next_id: 0,
            notifications: Vec::new(),
        };
        let init = client.request(
            "initialize",
            json!({"processId": null, "rootUri": null, "capabilities": capabilities}),
        );
        let caps = &init.expect("initialize succeeds")["capabilities"];
        assert_eq!(
            caps["textDocumentSync"]["change"],
            json!(1),
            "full document sync"
        );
        client.notify("initialized", json!({}));
        client
    }

    fn send(&mut self, msg: &Value) {
        let body = msg.to_string();
        let stdin = self.stdin.as_mut().expect("stdin open");
        write!(stdin, "Content-Length: {}\r\n\r\n{}", body.len(), body).expect("write to server");
        stdin.flush().expect("flush");
    }

    /// Writes `bytes` to the server as they are: for malformed input.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(bytes).expect("write to server");
        stdin.flush().expect("flush");
    }

    /// The `error` of the next response with a null id: the server's answer to
    /// input that was not a message.
    pub fn rejection(&mut self) -> Value {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, "an error reply");
            if msg.get("id") == Some(&Value::Null) && msg.get("error").is_some() {
                return msg["error"].clone();
            }
            if msg.get("id").is_none() {
                self.notifications.push(msg);
            }
        }
    }

    pub fn notify(&mut self, method: &str, params: Value) {
        self.send(&json!({"jsonrpc": "2.0", "method": method, "params": params}));
    }

    /// Sends a request and waits for its response: `Ok(result)` or `Err(error)`.
    pub fn request(&mut self, method: &str, params: Value) -> Result<Value, Value> {
        self.next_id += 1;
        let id = self.next_id;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, method);
            if msg.get("id") == Some(&json!(id)) && msg.get("method").is_none() {
                return match msg.get("error") {
                    Some(err) => Err(err.clone()),
                    None => Ok(msg.get("result").cloned().unwrap_or(Value::Null)),
                };
            }
            if msg.get("method").is_some() {
                self.notifications.push(msg);
            }
        }
    }

    fn recv(&mut self, deadline: Instant, waiting_for: &str) -> Value {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.rx.recv_timeout(left) {
            Ok(msg) => msg,
            Err(RecvTimeoutError::Timeout) => {
                panic!("no answer to {waiting_for} within {TIMEOUT:?}")
            }
            Err(RecvTimeoutError::Disconnected) => {
                panic!("the server exited while waiting for {waiting_for}")
            }
        }
    }

    /// The next `publishDiagnostics` for `uri` (seen already or still to come).
    pub fn diagnostics(&mut self, uri: &str) -> Vec<Value> {
        self.diagnostics_where(uri, |_| true)
    }

    /// The `publishDiagnostics` for version `version` of `uri`: checks run off
    /// the request thread, so an older version's may come first.
    pub fn diagnostics_of(&mut self, uri: &str, version: i32) -> Vec<Value> {
        self.diagnostics_where(uri, |params| params["version"] == version)
    }

    fn diagnostics_where(&mut self, uri: &str, wanted: impl Fn(&Value) -> bool) -> Vec<Value> {
        let is_for = |n: &Value| {
            n["method"] == "textDocument/publishDiagnostics"
                && n["params"]["uri"] == uri
                && wanted(&n["params"])
        };
        if let Some(i) = self.notifications.iter().position(is_for) {
            let n = self.notifications.remove(i);
            return n["params"]["diagnostics"]
                .as_array()
                .cloned()
                .unwrap_or_default();
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, "publishDiagnostics");
            if is_for(&msg) {
                return msg["params"]["diagnostics"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default();
            }
            if msg.get("method").is_some() {
                self.notifications.push(msg);
            }
        }
    }

    /// The next request the server sends with `method` (seen already or still
    /// to come); it is not answered.
    pub fn server_request(&mut self, method: &str) -> Value {
        let is_it = |m: &Value| m["method"] == method && m.get("id").is_some();
        if let Some(i) = self.notifications.iter().position(is_it) {
            return self.notifications.remove(i);
        }
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let msg = self.recv(deadline, method);
            if is_it(&msg) {
                return msg;
            }
            if msg.get("method").is_some() {
                self.notifications.push(msg);
            }
        }
    }

    pub fn open(&mut self, uri: &str, text: &str) {
        let doc = json!({"uri": uri, "languageId": "pipe", "version": 1, "text": text});
        self.notify("textDocument/didOpen", json!({ "textDocument": doc }));
    }

    pub fn change(&mut self, uri: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({
                "textDocument": {"uri": uri, "version": version},
                "contentChanges": [{"text": text}],
            }),
        );
    }

    /// `{textDocument, position}` params.
    pub fn at(uri: &str, pos: (u32, u32)) -> Value {
        json!({"textDocument": {"uri": uri}, "position": {"line": pos.0, "character": pos.1}})
    }

    /// `shutdown` then `exit`; the server's exit status.
    pub fn shutdown(mut self) -> ExitStatus {
        let answer = self.request("shutdown", Value::Null);
        assert!(answer.is_ok(), "shutdown answered {answer:?}");
        self.notify("exit", Value::Null);
        drop(self.stdin.take());
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit after `exit`"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn read_message(reader: &mut impl BufRead) -> Option<Value> {
    let mut length = None;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some(v) = line.strip_prefix("Content-Length: ") {
            length = v.parse::<usize>().ok();
        }
    }
    let mut body = vec![0; length?];
    reader.read_exact(&mut body).ok()?;
    serde_json::from_slice(&body).ok()
}

/// A fixture's text with its `${name}` markers removed, and where each was.
pub struct Fixture {
    pub text: String,
    pub marks: BTreeMap<String, (u32, u32)>,
}

impl Fixture {
    pub fn parse(marked: &str) -> Fixture {
        let mut text = String::new();
        let mut marks = BTreeMap::new();
        let mut rest = marked;
        while let Some(start) = rest.find("${") {
            text.push_str(&rest[..start]);
            let end = rest[start..].find('}').expect("unclosed ${ marker") + start;
            let name = rest[start + 2..end].to_string();
            marks.insert(name, position(&text, text.len()));
            rest = &rest[end + 1..];
        }
        text.push_str(rest);
        Fixture { text, marks }
    }

    pub fn load(name: &str) -> Fixture {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fixtures/lsp")
            .join(name);
        let marked =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        Fixture::parse(&marked)
    }

    pub fn at(&self, mark: &str) -> (u32, u32) {
        *self
            .marks
            .get(mark)
            .unwrap_or_else(|| panic!("no marker ${{{mark}}}"))
    }
}

/// LSP position (line, UTF-16 column) of a byte offset.
pub fn position(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset];
    let line = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col: usize = before[line_start..].chars().map(char::len_utf16).sum();
    (line as u32, col as u32)
}

pub fn file_uri(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// `{start: {line, character}, end: ...}` as a pair of pairs.
pub fn range_of(v: &Value) -> ((u32, u32), (u32, u32)) {
    let p = |p: &Value| {
        (
            p["line"].as_u64().expect("line") as u32,
            p["character"].as_u64().expect("character") as u32,
        )
    };
    (p(&v["start"]), p(&v["end"]))
}
