//! Document URIs <-> the module names the checker uses. A `file:` URI names its
//! decoded path (the same name `pipe check` gives the file); any other URI
//! (`untitled:`, ...) is its own name and can import nothing from disk.

use lsp_types::Uri;
use std::str::FromStr;

/// The module name of a document.
pub fn name_of(uri: &Uri) -> String {
    path_of(uri.as_str()).unwrap_or_else(|| uri.as_str().to_string())
}

/// The URI of a module name: open documents keep the URI the client sent; a path
/// becomes a `file:` URI.
pub fn uri_of(name: &str) -> Option<Uri> {
    if !name.starts_with('/') {
        return Uri::from_str(name).ok();
    }
    Uri::from_str(&format!("file://{}", encode_path(name))).ok()
}

/// The decoded path of a `file:` URI (`file:///a%20b.pipe` -> `/a b.pipe`).
fn path_of(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("file://")?;
    let path = match rest.find('/') {
        Some(0) => rest,
        Some(i) if rest[..i].eq_ignore_ascii_case("localhost") => &rest[i..],
        _ => return None,
    };
    let path = path.split(['?', '#']).next().unwrap_or(path);
    decode(path)
}

fn decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        let keep = b.is_ascii_alphanumeric() || b"/-._~".contains(&b);
        if keep {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Uri {
        Uri::from_str(s).unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn file_uris_name_their_decoded_path() {
        assert_eq!(
            name_of(&uri("file:///tmp/a%20b/m%C3%BC.pipe")),
            "/tmp/a b/mü.pipe"
        );
        assert_eq!(name_of(&uri("file://localhost/x.pipe")), "/x.pipe");
    }

    #[test]
    fn other_uris_are_their_own_name() {
        assert_eq!(name_of(&uri("untitled:Untitled-1")), "untitled:Untitled-1");
    }

    #[test]
    fn paths_roundtrip_through_uris() {
        for path in ["/tmp/a b/mü.pipe", "/x/y_1-2.pipe", "/p/%41.pipe"] {
            let u = uri_of(path).unwrap_or_else(|| panic!("no uri for {path}"));
            assert_eq!(name_of(&u), path);
        }
    }

    #[test]
    fn malformed_escapes_are_not_paths() {
        assert_eq!(path_of("file:///a%ZZ"), None);
        assert_eq!(path_of("file:///a%FF"), None);
    }
}
