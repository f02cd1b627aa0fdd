//! Canonical formatting (placeholder until the formatter lands).

use crate::diagnostic::Diagnostic;

/// Formats a file; refuses with its syntax errors when it does not parse cleanly.
pub fn format(file: &str, text: &str) -> Result<String, Vec<Diagnostic>> {
    let parsed = crate::parse(file, text);
    if parsed.diagnostics.iter().any(|d| d.is_error()) {
        return Err(parsed.diagnostics);
    }
    Ok(text.to_string())
}
