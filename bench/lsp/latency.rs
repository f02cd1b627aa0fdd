//! Language-server latency on a 5,000-line file (docs/performance.md, "Language
//! server"): `didChange` -> `publishDiagnostics`, and completion (on a checked
//! document, and right after an edit, which includes the re-check). The server
//! runs in-process on lsp-server's memory connection with the real catalog, so
//! the figures are the server's own time without pipe transfer.
//! Run: `cargo bench -p pipe-lsp --bench lsp_latency` (release profile).

// The `pipe` binary (and so `pipe lsp`) runs on mimalloc; measure the same.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use lsp_server::{Connection, Message, Notification, Request, RequestId};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const BLOCKS: usize = 500;
const ROUNDS: usize = 40;
const URI: &str = "file:///bench/big.pipe";
const LONG_URI: &str = "file:///bench/long.pipe";
/// Version of the long-line document, apart from the big file's versions.
const LONG_VERSION: i32 = 1_000_000;
const LONG_ROUNDS: usize = 10;

/// Ten lines per block, 500 blocks: 5,000 lines of realistic statements.
fn big_file(rows: u32) -> String {
    let mut text = String::new();
    for i in 0..BLOCKS {
        let r = if i == 0 { rows } else { 16 };
        text.push_str(&format!(
            "## Block {i}.\n\
             param rows_{i}: int = {r}\n\
             let data_{i} = dataset.digits()\n\
             let parts_{i} = dataset.split(data_{i}, test: 0.2, seed: {i})\n\
             let net_{i} = model.mlp(input: parts_{i}.train, seed: {i})\n\
             let hw_{i} = sim.accelerator(model: net_{i}, pe: \"int8\", rows: rows_{i},\n    \
             cols: rows_{i}, glb: 128KiB, freq: 1GHz)\n\
             let sw_{i} = for pe in [\"int8\", \"int4\"] => sim.accelerator(model: net_{i}, pe: pe, rows: rows_{i})\n\
             let all_{i} = [hw_{i}, sw_{i}]\n\
             # end of block {i}\n"
        ));
    }
    text
}

struct Client {
    conn: Connection,
    next_id: i32,
}

impl Client {
    fn request(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = RequestId::from(self.next_id);
        let req = Request::new(id.clone(), method.to_string(), params);
        self.conn.sender.send(req.into()).expect("send request");
        loop {
            match self
                .conn
                .receiver
                .recv_timeout(Duration::from_secs(30))
                .expect("response")
            {
                Message::Response(r) if r.id == id => {
                    return r.response_result.unwrap_or(Value::Null)
                }
                _ => {}
            }
        }
    }

    fn notify(&self, method: &str, params: Value) {
        let n = Notification::new(method.to_string(), params);
        self.conn.sender.send(n.into()).expect("send notification");
    }

    /// Waits for the diagnostics of `URI` at `version`; returns how many there were.
    fn diagnostics(&self, version: i32) -> usize {
        loop {
            let msg = self
                .conn
                .receiver
                .recv_timeout(Duration::from_secs(30))
                .expect("diagnostics");
            if let Message::Notification(n) = msg {
                if n.method == "textDocument/publishDiagnostics" && n.params["version"] == version {
                    return n.params["diagnostics"].as_array().map_or(0, Vec::len);
                }
            }
        }
    }

    fn change(&self, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": URI, "version": version}, "contentChanges": [{"text": text}]}),
        );
    }
}

struct Stats {
    name: &'static str,
    samples: Vec<Duration>,
}

impl Stats {
    fn row(&mut self) -> String {
        self.samples.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        let n = self.samples.len();
        let median = self.samples[n / 2];
        let p95 = self.samples[(n * 95 / 100).min(n - 1)];
        let max = self.samples[n - 1];
        format!(
            "| {:<44} | {:>3} | {:>9.2} | {:>9.2} | {:>9.2} |",
            self.name,
            n,
            ms(median),
            ms(p95),
            ms(max)
        )
    }
}

/// The position (line, UTF-16 column) just after the last occurrence of `needle`.
fn after_last(text: &str, needle: &str) -> Value {
    let offset = text.rfind(needle).expect("needle") + needle.len();
    let line = text[..offset].matches('\n').count();
    let col = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1);
    json!({"line": line, "character": col})
}

fn main() {
    let (server, client_conn) = Connection::memory();
    let thread = std::thread::spawn(move || pipe_lsp::serve(&server, pipe_stdlib::Stdlib::get()));
    let mut client = Client {
        conn: client_conn,
        next_id: 0,
    };
    client.request("initialize", json!({"capabilities": {}}));
    client.notify("initialized", json!({}));

    let texts = [big_file(16), big_file(17)];
    println!(
        "file: {} lines, {} bytes",
        texts[0].lines().count(),
        texts[0].len()
    );
    let doc = json!({"uri": URI, "languageId": "pipe", "version": 1, "text": texts[0]});
    client.notify("textDocument/didOpen", json!({ "textDocument": doc }));
    let count = client.diagnostics(1);
    println!("diagnostics on open: {count}");

    let mut change = Stats {
        name: "didChange -> publishDiagnostics",
        samples: Vec::new(),
    };
    let mut fresh = Stats {
        name: "completion in a call (checked document)",
        samples: Vec::new(),
    };
    let mut member = Stats {
        name: "completion after `sim.` (checked document)",
        samples: Vec::new(),
    };
    let mut after_edit = Stats {
        name: "completion right after an edit (re-check)",
        samples: Vec::new(),
    };
    let mut version = 1;
    let in_call = after_last(&texts[0], "sim.accelerator(model: net_499, ");
    let after_dot = after_last(&texts[0], "=> sim.");
    let at = |pos: &Value| json!({"textDocument": {"uri": URI}, "position": pos});
    for round in 0..ROUNDS {
        version += 1;
        let start = Instant::now();
        client.change(version, &texts[round % 2]);
        client.diagnostics(version);
        change.samples.push(start.elapsed());

        let start = Instant::now();
        let items = client.request("textDocument/completion", at(&in_call));
        fresh.samples.push(start.elapsed());
        assert!(
            items.as_array().is_some_and(|a| !a.is_empty()),
            "completion returned nothing"
        );

        let start = Instant::now();
        client.request("textDocument/completion", at(&after_dot));
        member.samples.push(start.elapsed());

        version += 1;
        client.change(version, &texts[(round + 1) % 2]);
        let start = Instant::now();
        client.request("textDocument/completion", at(&in_call));
        after_edit.samples.push(start.elapsed());
    }
    let mut long_line = Stats {
        name: "semantic tokens, one 1 MB line (checked)",
        samples: Vec::new(),
    };
    measure_long_line(&mut client, &mut long_line);
    client.request("shutdown", Value::Null);
    client.notify("exit", Value::Null);
    thread
        .join()
        .expect("server thread")
        .expect("server ran cleanly");

    println!();
    println!(
        "| {:<44} | {:>3} | {:>9} | {:>9} | {:>9} |",
        "measurement (5,000-line file)", "n", "median ms", "p95 ms", "max ms"
    );
    println!(
        "|{}|-----|-----------|-----------|-----------|",
        "-".repeat(46)
    );
    for stats in [
        &mut change,
        &mut fresh,
        &mut member,
        &mut after_edit,
        &mut long_line,
    ] {
        println!("{}", stats.row());
    }
}

/// Semantic tokens of one line of about 1 MB: every token's column is converted,
/// so a conversion that counts from the line start is quadratic here.
fn measure_long_line(client: &mut Client, stats: &mut Stats) {
    let mut text = String::from("let x = [1");
    while text.len() < 1 << 20 {
        text.push_str(", 1");
    }
    text.push_str("]\n");
    let doc = json!({"uri": LONG_URI, "languageId": "pipe", "version": LONG_VERSION, "text": text});
    client.notify("textDocument/didOpen", json!({ "textDocument": doc }));
    client.diagnostics(LONG_VERSION);
    let params = json!({"textDocument": {"uri": LONG_URI}});
    for _ in 0..LONG_ROUNDS {
        let start = Instant::now();
        let tokens = client.request("textDocument/semanticTokens/full", params.clone());
        stats.samples.push(start.elapsed());
        let n = tokens["data"].as_array().map_or(0, Vec::len) / 5;
        assert!(n > 300_000, "only {n} semantic tokens");
    }
}
