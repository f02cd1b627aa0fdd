//! Byte counts as people read them (`pipe cache ls`, `pipe runs gc`, reports).
//! Formatting only: it never reads the sizes it prints.

/// `512 B`, `1.5 KiB`, `3.2 MiB`, `1.25 GiB`.
pub fn human_size(bytes: u64) -> String {
    let b = bytes as f64;
    if b < 1024.0 {
        format!("{bytes} B")
    } else if b < 1024.0 * 1024.0 {
        format!("{:.1} KiB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1} MiB", b / 1024.0 / 1024.0)
    } else {
        format!("{:.2} GiB", b / 1024.0 / 1024.0 / 1024.0)
    }
}
