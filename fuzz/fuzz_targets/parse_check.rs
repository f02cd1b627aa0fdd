//! Fuzz target: any bytes, read as lossy UTF-8 the way `pipe check` reports
//! non-UTF-8 files, through `parse`, `format` and the whole checker against the
//! real stage catalog. A panic, a diagnostic span outside the text, or a
//! non-idempotent format is a finding.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pipe_lang::program::SourceLoader;

/// One file in memory; every import resolves to a file that does not exist.
struct OneFile<'a>(&'a str);

impl SourceLoader for OneFile<'_> {
    fn resolve(&self, _from: &str, relative: &str) -> String {
        relative.to_string()
    }

    fn load(&self, name: &str) -> Result<String, String> {
        if name == "fuzz.pipe" {
            Ok(self.0.to_string())
        } else {
            Err("no such file".to_string())
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let parsed = pipe_lang::parse("fuzz.pipe", &text);
    for d in &parsed.diagnostics {
        assert!(d.span.end <= text.len() && text.is_char_boundary(d.span.start));
    }
    if let Ok(once) = pipe_lang::format("fuzz.pipe", &text) {
        assert_eq!(pipe_lang::format("fuzz.pipe", &once).as_ref(), Ok(&once));
    }
    let program = pipe_lang::check("fuzz.pipe", &OneFile(&text), pipe_stdlib::Stdlib::get());
    for d in &program.diagnostics {
        assert!(d.span.end <= text.len());
    }
});
