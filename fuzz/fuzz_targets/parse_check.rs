//! Fuzz target: any bytes, read as lossy UTF-8 the way `pipe check` reports
//! non-UTF-8 files, through `parse` and `format`. A panic, a diagnostic span
//! outside the text, or a non-idempotent format is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = pipe_lang::parse("fuzz.pipe", &text);
    for d in &parsed.diagnostics {
        assert!(d.span.end <= text.len() && text.is_char_boundary(d.span.start));
    }
    if let Ok(once) = pipe_lang::format("fuzz.pipe", &text) {
        assert_eq!(pipe_lang::format("fuzz.pipe", &once).as_ref(), Ok(&once));
    }
});
