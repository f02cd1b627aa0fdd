//! The `SourceLoader` the language server checks with: open buffers first (so an
//! unsaved edit to an imported file is seen at once), then the disk. A disk read is
//! bounded in size so that a stray `use "/dev/zero"` cannot stall the server.

use crate::documents::Documents;
use pipe_lang::program::SourceLoader;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

/// Larger imports are refused rather than read: no `.pipe` file is this big.
const MAX_IMPORT_BYTES: u64 = 16 * 1024 * 1024;

pub struct OverlayLoader<'d> {
    pub documents: &'d Documents,
}

impl SourceLoader for OverlayLoader<'_> {
    fn resolve(&self, from: &str, relative: &str) -> String {
        resolve(from, relative)
    }

    fn load(&self, name: &str) -> Result<String, String> {
        if let Some(doc) = self.documents.get(name) {
            return Ok(doc.text.clone());
        }
        read_bounded(Path::new(name))
    }
}

/// `relative` joined to the directory of `from`, with `.` and `..` removed
/// lexically (no symlink lookups: the name must not depend on the disk).
pub fn resolve(from: &str, relative: &str) -> String {
    let base = Path::new(from).parent().unwrap_or(Path::new(""));
    let joined = base.join(relative);
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other),
        }
    }
    out.to_string_lossy().into_owned()
}

fn read_bounded(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("is a directory".to_string());
    }
    if !meta.is_file() {
        return Err("is not a regular file".to_string());
    }
    if meta.len() > MAX_IMPORT_BYTES {
        return Err(format!("is larger than {} MiB", MAX_IMPORT_BYTES >> 20));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_IMPORT_BYTES).read_to_end(&mut bytes))
        .map_err(|e| io_reason(&e))?;
    String::from_utf8(bytes).map_err(|_| "is not UTF-8".to_string())
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::documents::Document;
    use std::str::FromStr;

    #[test]
    fn resolves_relative_to_the_importing_file() {
        assert_eq!(resolve("/a/b/main.pipe", "common.pipe"), "/a/b/common.pipe");
        assert_eq!(resolve("/a/b/main.pipe", "../c/./x.pipe"), "/a/c/x.pipe");
        assert_eq!(resolve("/a/main.pipe", "/abs/x.pipe"), "/abs/x.pipe");
    }

    #[test]
    fn open_buffers_win_over_the_disk() {
        let dir = std::env::temp_dir().join(format!("pipe-lsp-loader-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
        let path = dir.join("m.pipe");
        std::fs::write(&path, "let a = 1\n").unwrap_or_else(|e| panic!("{e}"));
        let name = path.to_string_lossy().into_owned();
        let mut docs = Documents::default();
        let loader = OverlayLoader { documents: &docs };
        assert_eq!(loader.load(&name).as_deref(), Ok("let a = 1\n"));
        let uri = lsp_types::Uri::from_str("file:///m.pipe").unwrap_or_else(|e| panic!("{e}"));
        docs.open(
            name.clone(),
            Document::new(uri, 1, "let a = 2\n".to_string()),
        );
        let loader = OverlayLoader { documents: &docs };
        assert_eq!(loader.load(&name).as_deref(), Ok("let a = 2\n"));
        let missing = dir.join("nope.pipe").to_string_lossy().into_owned();
        assert_eq!(loader.load(&missing), Err("no such file".to_string()));
        assert_eq!(
            loader.load(&dir.to_string_lossy()),
            Err("is a directory".to_string())
        );
        std::fs::remove_dir_all(&dir).unwrap_or_else(|e| panic!("{e}"));
    }
}
