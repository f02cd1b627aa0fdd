//! An in-memory `SourceLoader` for checker tests: files by name, imports resolved
//! relative to the importing file's directory with `.` and `..` removed, like the
//! disk loader does.

use pipe_lang::program::SourceLoader;
use std::collections::BTreeMap;

#[derive(Debug, Default, Clone)]
pub struct MemoryLoader {
    files: BTreeMap<String, String>,
}

impl MemoryLoader {
    pub fn new<'a>(files: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        MemoryLoader {
            files: files
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn insert(&mut self, name: &str, text: &str) {
        self.files.insert(name.to_string(), text.to_string());
    }
}

impl SourceLoader for MemoryLoader {
    fn resolve(&self, from: &str, relative: &str) -> String {
        let dir = from.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for part in relative.split('/') {
            match part {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        parts.join("/")
    }

    fn load(&self, name: &str) -> Result<String, String> {
        self.files
            .get(name)
            .cloned()
            .ok_or_else(|| "no such file".to_string())
    }
}
