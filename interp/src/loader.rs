//! The disk `SourceLoader`: an import path is relative to the importing file's
//! directory; module names are those paths normalized lexically (`a/./b/../c.pipe`
//! is `a/c.pipe`), so one file has one name however it is reached and diagnostics
//! show the paths the user wrote. Reading reports one-line reasons, never panics,
//! never blocks on a special file and never reads more than a size cap.

use pipe_lang::program::SourceLoader;
use std::io::Read;
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

/// The largest source file read: far above any pipeline, far below what would
/// hurt to hold in memory.
pub const MAX_SOURCE_BYTES: u64 = 8 << 20;

/// The text of a source file, or a one-line reason it cannot be read. Only
/// regular files are opened (a FIFO would block, `/dev/zero` never ends), and
/// never more than `MAX_SOURCE_BYTES` of them.
pub fn read_source(path: &Path) -> Result<String, String> {
    let meta = std::fs::metadata(path).map_err(|e| io_reason(&e))?;
    if meta.is_dir() {
        return Err("is a directory, not a .pipe file".into());
    }
    if !meta.is_file() {
        return Err(format!(
            "is {}, not a regular file; a .pipe file must be one",
            special_kind(&meta)
        ));
    }
    if meta.len() > MAX_SOURCE_BYTES {
        return Err(too_large());
    }
    let file = std::fs::File::open(path).map_err(|e| io_reason(&e))?;
    let mut bytes = Vec::new();
    file.take(MAX_SOURCE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| io_reason(&e))?;
    // The file may have grown since it was measured.
    if bytes.len() as u64 > MAX_SOURCE_BYTES {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "is not UTF-8 (invalid byte at offset {}); save it as UTF-8",
            e.utf8_error().valid_up_to()
        )
    })
}

fn too_large() -> String {
    format!(
        "is larger than {} MiB, the most a .pipe file may hold",
        MAX_SOURCE_BYTES >> 20
    )
}

/// What a file that is neither a regular file nor a directory is, for messages.
#[cfg(unix)]
pub fn special_kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else {
        "a special file"
    }
}

#[cfg(not(unix))]
pub fn special_kind(_meta: &std::fs::Metadata) -> &'static str {
    "a special file"
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
        let big = dir.path().join("big.pipe");
        std::fs::File::create(&big)
            .unwrap()
            .set_len(MAX_SOURCE_BYTES + 1)
            .unwrap();
        assert!(read_source(&big).unwrap_err().contains("larger than 8 MiB"));
    }
}
