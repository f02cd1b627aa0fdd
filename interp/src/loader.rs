//! The disk `SourceLoader`: an import path is relative to the importing file's
//! directory; module names are those paths normalized lexically (`a/./b/../c.pipe`
//! is `a/c.pipe`), so one file has one name however it is reached and diagnostics
//! show the paths the user wrote. Reading reports one-line reasons, never panics.

use pipe_lang::program::SourceLoader;
use std::path::{Component, Path, PathBuf};

#[derive(Debug, Default, Clone, Copy)]
pub struct DiskLoader;

impl SourceLoader for DiskLoader {
    fn resolve(&self, from: &str, relative: &str) -> String {
        let base = Path::new(from).parent().unwrap_or(Path::new(""));
        normalize(&base.join(relative))
    }

    fn load(&self, name: &str) -> Result<String, String> {
        read_source(Path::new(name))
    }
}

/// The text of a source file, or a one-line reason it cannot be read.
pub fn read_source(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("is a directory, not a .pipe file".into());
    }
    let bytes = std::fs::read(path).map_err(|e| io_reason(&e))?;
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "is not UTF-8 (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

/// A module name for a path: lexically normalized, `/`-separated.
pub fn normalize(path: &Path) -> String {
    let mut parts: Vec<Component> = Vec::new();
    for c in path.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match parts.last() {
                Some(Component::Normal(_)) => {
                    parts.pop();
                }
                Some(Component::RootDir | Component::Prefix(_)) => {}
                _ => parts.push(c),
            },
            other => parts.push(other),
        }
    }
    let joined: PathBuf = parts.iter().collect();
    let text = joined.to_string_lossy().replace('\\', "/");
    if text.is_empty() {
        ".".into()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imports_resolve_next_to_the_importer() {
        let l = DiskLoader;
        assert_eq!(l.resolve("exp/main.pipe", "common.pipe"), "exp/common.pipe");
        assert_eq!(l.resolve("exp/main.pipe", "./lib/../c.pipe"), "exp/c.pipe");
        assert_eq!(l.resolve("main.pipe", "../up.pipe"), "../up.pipe");
        assert_eq!(l.resolve("/abs/a.pipe", "../../b.pipe"), "/b.pipe");
    }

    #[test]
    fn reasons_are_one_line_and_specific() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.pipe");
        assert_eq!(read_source(&missing).unwrap_err(), "no such file");
        assert!(read_source(dir.path())
            .unwrap_err()
            .contains("is a directory"));
        let bad = dir.path().join("bad.pipe");
        std::fs::write(&bad, b"let a = 1\n\xff\xfe").unwrap();
        let reason = read_source(&bad).unwrap_err();
        assert!(
            reason.contains("not UTF-8") && reason.contains("offset 10"),
            "{reason}"
        );
    }
}
