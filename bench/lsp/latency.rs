//! Language-server latency on a 5,000-line file (docs/performance.md, "Language
//! server"): `didChange` -> `publishDiagnostics`, completion (on a checked
//! document, and right after an edit, which waits for the re-check), hover right
//! after an edit (answered from the last analysis while the re-check runs); the
//! same on a 50,000-line file; semantic tokens of one 1 MB line. The server
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
const HUGE_URI: &str = "file:///bench/huge.pipe";
/// Version of the 50,000-line document, apart from the others' versions.
const HUGE_VERSION: i32 = 2_000_000;
const HUGE_ROUNDS: usize = 10;
const LONG_URI: &str = "file:///bench/long.pipe";
/// Version of the long-line document, apart from the big file's versions.
const LONG_VERSION: i32 = 1_000_000;
const LONG_ROUNDS: usize = 10;

/// Ten lines per block, 500 blocks: 5,000 lines of realistic statements.
fn big_file(rows: u32) -> String {
    file_of(BLOCKS, rows)
}

/// `blocks` blocks of ten lines; the first block's `rows` is `rows`.
fn file_of(blocks: usize, rows: u32) -> String {
    let mut text = String::new();
    for i in 0..blocks {
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
    /// `(uri, version)` of diagnostics that arrived while waiting for a response.
    published: Vec<(String, i32)>,
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
                Message::Notification(n) if n.method == "textDocument/publishDiagnostics" => {
                    let uri = n.params["uri"].as_str().unwrap_or("").to_string();
                    let version = n.params["version"].as_i64().unwrap_or(-1) as i32;
                    self.published.push((uri, version));
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
    fn diagnostics(&mut self, version: i32) -> usize {
        self.diagnostics_of(URI, version)
    }

    /// Waits for the diagnostics of `uri` at `version` (seen already or to come);
    /// returns how many there were (0 when it had arrived already).
    fn diagnostics_of(&mut self, uri: &str, version: i32) -> usize {
        let before = self.published.len();
        self.published
            .retain(|(u, v)| (u.as_str(), *v) != (uri, version));
        if self.published.len() < before {
            return 0;
        }
        loop {
            let msg = self
                .conn
                .receiver
                .recv_timeout(Duration::from_secs(30))
                .expect("diagnostics");
            if let Message::Notification(n) = msg {
                if n.method == "textDocument/publishDiagnostics"
                    && n.params["version"] == version
                    && n.params["uri"] == uri
                {
                    return n.params["diagnostics"].as_array().map_or(0, Vec::len);
                }
            }
        }
    }

    fn change(&self, version: i32, text: &str) {
        self.change_of(URI, version, text);
    }

    fn change_of(&self, uri: &str, version: i32, text: &str) {
        self.notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]}),
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
        published: Vec::new(),
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
    let mut hover_after_edit = Stats {
        name: "hover right after an edit (last analysis)",
        samples: Vec::new(),
    };
    let hover_at = after_last(&texts[0], "let net_499");
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

        version += 1;
        client.change(version, &texts[round % 2]);
        let start = Instant::now();
        let hover = client.request("textDocument/hover", at(&hover_at));
        hover_after_edit.samples.push(start.elapsed());
        assert!(!hover.is_null(), "hover returned nothing");
        client.diagnostics(version);
    }
    let mut huge_change = Stats {
        name: "50,000 lines: didChange -> publishDiagnostics",
        samples: Vec::new(),
    };
    let mut huge_hover = Stats {
        name: "50,000 lines: hover during the re-check",
        samples: Vec::new(),
    };
    measure_huge(&mut client, &mut huge_change, &mut huge_hover);
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

    let mut phases = check_phases();
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
        &mut hover_after_edit,
        &mut huge_change,
        &mut huge_hover,
        &mut long_line,
    ] {
        println!("{}", stats.row());
    }
    println!();
    println!("Where a re-check's time goes, on this thread (the same edit, no server):");
    for stats in &mut phases {
        println!("{}", stats.row());
    }
}

/// The checker alone on the bench's edit (the first param's value), 5,000 and
/// 50,000 lines: parse, the full check `pipe check` runs, and the language
/// server's incremental check.
fn check_phases() -> Vec<Stats> {
    struct Text(String);
    impl pipe_lang::program::SourceLoader for Text {
        fn resolve(&self, _: &str, relative: &str) -> String {
            relative.to_string()
        }
        fn load(&self, _: &str) -> Result<String, String> {
            Ok(self.0.clone())
        }
    }
    let catalog = pipe_stdlib::Stdlib::get();
    let mut out = Vec::new();
    for (blocks, label) in [(BLOCKS, "5,000"), (BLOCKS * 10, "50,000")] {
        let texts = [file_of(blocks, 16), file_of(blocks, 17)];
        let rounds = if blocks == BLOCKS {
            ROUNDS
        } else {
            HUGE_ROUNDS
        };
        let mut parse = Stats {
            name: if blocks == BLOCKS {
                "parse, 5,000 lines"
            } else {
                "parse, 50,000 lines"
            },
            samples: Vec::new(),
        };
        let mut full = Stats {
            name: if blocks == BLOCKS {
                "full check, 5,000 lines"
            } else {
                "full check, 50,000 lines"
            },
            samples: Vec::new(),
        };
        let mut incremental = Stats {
            name: if blocks == BLOCKS {
                "incremental check, 5,000 lines"
            } else {
                "incremental check, 50,000 lines"
            },
            samples: Vec::new(),
        };
        let mut memo = pipe_lang::check::Incremental::new();
        for round in 0..rounds {
            let text = &texts[round % 2];
            let start = Instant::now();
            drop(pipe_lang::parse("big.pipe", text));
            parse.samples.push(start.elapsed());
            let loader = Text(text.clone());
            let start = Instant::now();
            drop(pipe_lang::check("big.pipe", &loader, catalog));
            full.samples.push(start.elapsed());
            let start = Instant::now();
            let program = memo.check("big.pipe", &loader, catalog, &|| false);
            incremental.samples.push(start.elapsed());
            drop(program);
        }
        let reuse = memo.last_reuse();
        println!(
            "{label} lines, last incremental check: {} statements reused, {} checked",
            reuse.reused, reuse.checked
        );
        out.extend([parse, full, incremental]);
    }
    out
}

/// A 50,000-line file: `didChange` -> `publishDiagnostics`, and a hover sent
/// right after a change, which must not wait for that change's re-check.
fn measure_huge(client: &mut Client, change: &mut Stats, hover: &mut Stats) {
    let texts = [file_of(BLOCKS * 10, 16), file_of(BLOCKS * 10, 17)];
    let doc =
        json!({"uri": HUGE_URI, "languageId": "pipe", "version": HUGE_VERSION, "text": texts[0]});
    client.notify("textDocument/didOpen", json!({ "textDocument": doc }));
    client.diagnostics_of(HUGE_URI, HUGE_VERSION);
    let pos = after_last(&texts[0], "let net_0");
    let params = json!({"textDocument": {"uri": HUGE_URI}, "position": pos});
    let mut version = HUGE_VERSION;
    for round in 0..HUGE_ROUNDS {
        version += 1;
        let start = Instant::now();
        client.change_of(HUGE_URI, version, &texts[(round + 1) % 2]);
        client.diagnostics_of(HUGE_URI, version);
        change.samples.push(start.elapsed());

        version += 1;
        client.change_of(HUGE_URI, version, &texts[round % 2]);
        let start = Instant::now();
        client.request("textDocument/hover", params.clone());
        hover.samples.push(start.elapsed());
        client.diagnostics_of(HUGE_URI, version);
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
    client.diagnostics_of(LONG_URI, LONG_VERSION);
    let params = json!({"textDocument": {"uri": LONG_URI}});
    for _ in 0..LONG_ROUNDS {
        let start = Instant::now();
        let tokens = client.request("textDocument/semanticTokens/full", params.clone());
        stats.samples.push(start.elapsed());
        let n = tokens["data"].as_array().map_or(0, Vec::len) / 5;
        assert!(n > 300_000, "only {n} semantic tokens");
    }
}
