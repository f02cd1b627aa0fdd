//! JSON-RPC framing on stdio, in front of the message loop. lsp-server's own reader
//! ends the connection on the first malformed message; this one answers it and
//! reads on. It owns the byte stream only: `Content-Length` framing with a size
//! limit, UTF-8 and JSON decoding, and error replies for what cannot be decoded.
//! It never interprets a method and never holds more than one message in memory.
//!
//! What it does with bad input:
//! - an unparsable body (`{not json}`, invalid UTF-8): `-32700` parse error;
//! - JSON that is not a request, notification or response (`{"foo":1}`, `[1]`):
//!   `-32600` invalid request, with the message's `id` when it has one;
//! - a header block without a valid `Content-Length`, an over-long header line, or
//!   a `Content-Length` over [`MAX_MESSAGE_BYTES`]: `-32700`, then the input is
//!   skipped up to the next `Content-Length:` so the following messages are read;
//! - a lone UTF-16 surrogate escape (`"\ud800"`, valid JSON syntax that Rust
//!   strings cannot hold) becomes U+FFFD, one UTF-16 unit like the original, so
//!   the document keeps its positions in step with the editor's.

use lsp_server::{Connection, Message};
use serde_json::{json, Value};
use std::io::{self, BufRead, Read, Write};
use std::thread::{self, JoinHandle};

/// The largest message body read; a larger `Content-Length` is refused before
/// anything is allocated. A 50,000-line document is about 2.5 MB.
pub const MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// The longest header line accepted (real headers are under 100 bytes).
const MAX_HEADER_LINE: usize = 1024;

const PARSE_ERROR: i32 = -32700;
const INVALID_REQUEST: i32 = -32600;

const SYNC_MARK: &[u8] = b"Content-Length:";

/// One read from the stream.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Body(Vec<u8>),
    /// A framing error; the reader skips to the next `Content-Length:` next time.
    Bad(String),
    Eof,
}

/// An error reply to send for input that is not a message.
#[derive(Debug, PartialEq)]
pub struct Rejection {
    pub id: Value,
    pub code: i32,
    pub message: String,
}

impl Rejection {
    fn parse(message: impl Into<String>) -> Self {
        Rejection {
            id: Value::Null,
            code: PARSE_ERROR,
            message: message.into(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({
            "jsonrpc": "2.0",
            "id": self.id,
            "error": {"code": self.code, "message": self.message},
        })
    }
}

/// Reads frames from `input`, recovering after a bad one.
pub struct FrameReader<R> {
    input: R,
    resync: bool,
    /// The resync consumed a `Content-Length:` that the next header line starts with.
    after_mark: bool,
}

impl<R: BufRead> FrameReader<R> {
    pub fn new(input: R) -> Self {
        FrameReader {
            input,
            resync: false,
            after_mark: false,
        }
    }

    pub fn next_frame(&mut self) -> io::Result<Frame> {
        if self.resync {
            self.resync = false;
            if !self.skip_to_sync_mark()? {
                return Ok(Frame::Eof);
            }
        }
        let frame = self.read_frame()?;
        self.resync = matches!(frame, Frame::Bad(_));
        Ok(frame)
    }

    fn read_frame(&mut self) -> io::Result<Frame> {
        let mut length: Option<Result<u64, String>> = None;
        let mut first = true;
        loop {
            let Some(line) = self.header_line()? else {
                return Ok(if first {
                    Frame::Eof
                } else {
                    Frame::Bad("the input ended inside a message header".into())
                });
            };
            let Ok(line) = line else {
                return Ok(Frame::Bad(format!(
                    "a header line is longer than {MAX_HEADER_LINE} bytes"
                )));
            };
            // Blank lines between messages are tolerated.
            if line.is_empty() && first {
                continue;
            }
            first = false;
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Ok(Frame::Bad(format!(
                    "malformed header `{}`: expected `Name: value`",
                    shorten(&line)
                )));
            };
            if name.trim().eq_ignore_ascii_case("content-length") {
                length = Some(value.trim().parse::<u64>().map_err(|_| shorten(value)));
            }
        }
        let length = match length {
            None => {
                return Ok(Frame::Bad(
                    "the message has no `Content-Length` header".into(),
                ))
            }
            Some(Err(value)) => {
                return Ok(Frame::Bad(format!(
                    "`Content-Length: {value}` is not a byte count"
                )))
            }
            Some(Ok(n)) => n,
        };
        if length > MAX_MESSAGE_BYTES {
            return Ok(Frame::Bad(format!(
                "a message of {length} bytes is over the {} MiB limit; it was skipped",
                MAX_MESSAGE_BYTES >> 20
            )));
        }
        let mut body = Vec::new();
        let read = (&mut self.input).take(length).read_to_end(&mut body)?;
        if (read as u64) < length {
            return Ok(Frame::Eof);
        }
        Ok(Frame::Body(body))
    }

    /// One header line without its terminator; `None` at end of input, `Err` when
    /// it is longer than the limit (the rest of the line is left for the resync).
    fn header_line(&mut self) -> io::Result<Option<Result<String, ()>>> {
        let mut line = Vec::new();
        if std::mem::take(&mut self.after_mark) {
            line.extend_from_slice(SYNC_MARK);
        }
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok((!line.is_empty()).then(|| Ok(to_text(&line))));
            }
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            if line.len() + chunk.len() > MAX_HEADER_LINE + 2 {
                return Ok(Some(Err(())));
            }
            line.extend_from_slice(chunk);
            let n = chunk.len();
            self.input.consume(n);
            if done {
                return Ok(Some(Ok(to_text(&line))));
            }
        }
    }

    /// Discards input up to and including the next `Content-Length:`, which the
    /// next header line then starts with; `false` at the end of input. Matches
    /// byte by byte across buffer refills, so nothing is held.
    fn skip_to_sync_mark(&mut self) -> io::Result<bool> {
        let mut matched = 0;
        loop {
            let buf = self.input.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let mut used = 0;
            for &b in buf {
                used += 1;
                // The mark's first byte occurs in it only once, so a mismatch
                // restarts the match at this byte.
                matched = if b == SYNC_MARK[matched] {
                    matched + 1
                } else {
                    usize::from(b == SYNC_MARK[0])
                };
                if matched == SYNC_MARK.len() {
                    break;
                }
            }
            self.input.consume(used);
            if matched == SYNC_MARK.len() {
                self.after_mark = true;
                return Ok(true);
            }
        }
    }
}

fn to_text(line: &[u8]) -> String {
    let s = String::from_utf8_lossy(line);
    s.trim_end_matches(['\r', '\n']).to_string()
}

fn shorten(s: &str) -> String {
    let s = s.trim();
    match s.char_indices().nth(60) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

/// Decodes one body into a message, or the error reply it deserves.
pub fn decode(body: &[u8]) -> Result<Message, Rejection> {
    let text = std::str::from_utf8(body)
        .map_err(|e| Rejection::parse(format!("parse error: the message is not UTF-8 ({e})")))?;
    let value = parse_json(text)?;
    let id = match value.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => Value::Null,
    };
    let invalid = |message: String| Rejection {
        id: id.clone(),
        code: INVALID_REQUEST,
        message,
    };
    if !value.is_object() {
        return Err(invalid(
            "invalid request: a message must be a JSON object (batches are not supported)".into(),
        ));
    }
    serde_json::from_value::<Message>(value).map_err(|e| {
        invalid(format!(
            "invalid request: not a JSON-RPC request, notification or response ({e})"
        ))
    })
}

fn parse_json(text: &str) -> Result<Value, Rejection> {
    let first = match serde_json::from_str::<Value>(text) {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    replace_lone_surrogates(text)
        .and_then(|repaired| serde_json::from_str(&repaired).ok())
        .ok_or_else(|| Rejection::parse(format!("parse error: {first}")))
}

/// `text` with each `\uXXXX` escape of an unpaired surrogate replaced by
/// `\ufffd`; `None` when there is none.
fn replace_lone_surrogates(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::new();
    let (mut i, mut copied, mut in_string) = (0, 0, false);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => in_string = !in_string,
            b'\\' if in_string => {
                let len = lone_surrogate_at(bytes, i);
                if len == 0 {
                    i += 2;
                    continue;
                }
                out.push_str(&text[copied..i]);
                out.push_str("\\ufffd");
                i += len;
                copied = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    if copied == 0 {
        return None;
    }
    out.push_str(&text[copied..]);
    Some(out)
}

/// The length of the escape at `i` (a backslash inside a string) when it is an
/// unpaired surrogate, else 0. A valid pair is skipped by the caller two bytes
/// at a time, which never lands inside its second escape's hex digits.
fn lone_surrogate_at(bytes: &[u8], i: usize) -> usize {
    let Some(unit) = unicode_escape(bytes, i) else {
        return 0;
    };
    match unit {
        0xD800..=0xDBFF => {
            let paired = matches!(unicode_escape(bytes, i + 6), Some(0xDC00..=0xDFFF));
            if paired {
                0
            } else {
                6
            }
        }
        0xDC00..=0xDFFF if !follows_high_surrogate(bytes, i) => 6,
        _ => 0,
    }
}

fn follows_high_surrogate(bytes: &[u8], i: usize) -> bool {
    i >= 6 && matches!(unicode_escape(bytes, i - 6), Some(0xD800..=0xDBFF))
}

/// The code unit of a `\uXXXX` escape starting at `i`.
fn unicode_escape(bytes: &[u8], i: usize) -> Option<u32> {
    if bytes.get(i) != Some(&b'\\') || bytes.get(i + 1) != Some(&b'u') {
        return None;
    }
    let hex = std::str::from_utf8(bytes.get(i + 2..i + 6)?).ok()?;
    u32::from_str_radix(hex, 16).ok()
}

/// The threads that move bytes between stdio and the server's connection.
pub struct IoThreads {
    reader: JoinHandle<io::Result<()>>,
    writer: JoinHandle<io::Result<()>>,
}

impl IoThreads {
    pub fn join(self) -> io::Result<()> {
        for handle in [self.writer, self.reader] {
            handle
                .join()
                .map_err(|_| io::Error::other("a language server i/o thread panicked"))??;
        }
        Ok(())
    }
}

/// The server's end of a connection on stdin/stdout.
pub fn stdio() -> io::Result<(Connection, IoThreads)> {
    let (server, client) = Connection::memory();
    let Connection { sender, receiver } = client;
    let writer = thread::Builder::new()
        .name("pipe-lsp-writer".into())
        .spawn(move || {
            for msg in receiver {
                msg.write(&mut io::stdout().lock())?;
            }
            Ok(())
        })?;
    let reader = thread::Builder::new()
        .name("pipe-lsp-reader".into())
        .spawn(move || {
            let stdin = io::stdin().lock();
            read_loop(stdin, |msg| sender.send(msg).is_ok(), write_rejection)
        })?;
    Ok((server, IoThreads { reader, writer }))
}

fn write_rejection(rejection: &Rejection) -> io::Result<()> {
    let text = rejection.to_json().to_string();
    let mut out = io::stdout().lock();
    write!(out, "Content-Length: {}\r\n\r\n{text}", text.len())?;
    out.flush()
}

/// Reads messages from `input` and hands them to `deliver` (which says whether
/// the server still listens) until the input ends or an `exit` has been passed.
pub fn read_loop<R: BufRead>(
    input: R,
    mut deliver: impl FnMut(Message) -> bool,
    mut reject: impl FnMut(&Rejection) -> io::Result<()>,
) -> io::Result<()> {
    let mut frames = FrameReader::new(input);
    loop {
        let body = match frames.next_frame()? {
            Frame::Eof => return Ok(()),
            Frame::Bad(reason) => {
                reject(&Rejection::parse(format!("parse error: {reason}")))?;
                continue;
            }
            Frame::Body(body) => body,
        };
        let msg = match decode(&body) {
            Ok(msg) => msg,
            Err(rejection) => {
                reject(&rejection)?;
                continue;
            }
        };
        let is_exit = matches!(&msg, Message::Notification(n) if n.method == "exit");
        if !deliver(msg) || is_exit {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufReader;

    fn framed(body: &str) -> String {
        format!("Content-Length: {}\r\n\r\n{body}", body.len())
    }

    const VALID: &str = r#"{"jsonrpc":"2.0","id":1,"method":"shutdown"}"#;

    fn frames(input: &[u8], capacity: usize) -> Vec<Frame> {
        let mut reader = FrameReader::new(BufReader::with_capacity(capacity, input));
        let mut out = Vec::new();
        loop {
            match reader.next_frame() {
                Ok(Frame::Eof) => return out,
                Ok(frame) => out.push(frame),
                Err(e) => panic!("{e}"),
            }
        }
    }

    fn is_bad(frame: &Frame, says: &str) -> bool {
        matches!(frame, Frame::Bad(reason) if reason.contains(says))
    }

    #[test]
    fn reads_back_to_back_messages() {
        let input = format!("{}{}", framed(VALID), framed("{}"));
        let got = frames(input.as_bytes(), 8192);
        assert_eq!(
            got,
            vec![Frame::Body(VALID.into()), Frame::Body(b"{}".to_vec())]
        );
    }

    #[test]
    fn recovers_after_a_bad_header_even_across_small_buffers() {
        let input = format!("Content-Lenght: 5\r\n\r\n{{\"a\"}}{}", framed(VALID));
        for capacity in [1, 3, 7, 8192] {
            let got = frames(input.as_bytes(), capacity);
            assert_eq!(got.len(), 2, "capacity {capacity}: {got:?}");
            assert!(is_bad(&got[0], "no `Content-Length`"), "{got:?}");
            assert_eq!(got[1], Frame::Body(VALID.into()));
        }
    }

    #[test]
    fn refuses_an_oversized_length_without_reading_it() {
        let input = format!("Content-Length: 99999999999\r\n\r\n{}", framed(VALID));
        let got = frames(input.as_bytes(), 8192);
        assert!(is_bad(&got[0], "over the 64 MiB limit"), "{got:?}");
        assert_eq!(got[1..], [Frame::Body(VALID.into())]);
    }

    #[test]
    fn refuses_a_length_that_is_not_a_number_and_an_endless_header_line() {
        let input = format!("Content-Length: ten\r\n\r\n{}", framed(VALID));
        let got = frames(input.as_bytes(), 16);
        assert!(is_bad(&got[0], "not a byte count"), "{got:?}");
        assert_eq!(got[1..], [Frame::Body(VALID.into())]);
        let input = format!("{}\r\n{}", "x".repeat(5000), framed(VALID));
        let got = frames(input.as_bytes(), 64);
        assert!(is_bad(&got[0], "longer than 1024 bytes"), "{got:?}");
        assert_eq!(got[1..], [Frame::Body(VALID.into())]);
    }

    fn rejected(body: &[u8]) -> Rejection {
        match decode(body) {
            Ok(msg) => panic!("decoded {msg:?}"),
            Err(r) => r,
        }
    }

    #[test]
    fn undecodable_bodies_get_the_json_rpc_codes() {
        assert_eq!(rejected(b"{not json}").code, PARSE_ERROR);
        assert_eq!(rejected(b"{\"a\": \"\xff\xfe\"}").code, PARSE_ERROR);
        let r = rejected(br#"{"foo":1}"#);
        assert_eq!((r.code, r.id), (INVALID_REQUEST, Value::Null));
        let r = rejected(br#"{"jsonrpc":"2.0","id":7,"params":{}}"#);
        assert_eq!((r.code, r.id), (INVALID_REQUEST, json!(7)));
        assert_eq!(rejected(b"[1, 2]").code, INVALID_REQUEST);
    }

    fn change_text(body: &str) -> String {
        match decode(body.as_bytes()) {
            Ok(Message::Notification(n)) => n.params["contentChanges"][0]["text"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let body = |text: &str| {
            format!(
                r#"{{"jsonrpc":"2.0","method":"textDocument/didChange","params":{{"contentChanges":[{{"text":"{text}"}}]}}}}"#
            )
        };
        assert_eq!(change_text(&body(r"a\ud800b")), "a\u{fffd}b");
        assert_eq!(change_text(&body(r"\udc00")), "\u{fffd}");
        assert_eq!(change_text(&body(r"\ud800\ud800x")), "\u{fffd}\u{fffd}x");
        assert_eq!(change_text(&body(r"\ud83d\ude00\ud800")), "😀\u{fffd}");
        assert_eq!(change_text(&body(r"\\ud800")), r"\ud800");
    }
}
