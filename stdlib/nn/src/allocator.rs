//! The allocator setting the `pipe` binary and the tensor benchmark run
//! with. It only sets a mimalloc runtime option; it never allocates, and it is
//! harmless (no effect) in a process whose global allocator is not mimalloc.
//!
//! A training step frees and reallocates the same large activation buffers
//! every step. By default mimalloc (v3) returns freed pages to the OS after a
//! delay (1 s) that steps of a second or more outlast, so each step faults them in again and the kernel zeroes them: measured on a
//! MobileNetV2 28×28 training step (`bench/tensor`), 238,150 page faults with
//! the default and 496 without purging, and 29% less CPU time. The cost is
//! that a process keeps its peak heap resident until it exits, which suits a
//! run of stages.

/// mimalloc's `mi_option_purge_delay` (mimalloc.h, v2 and v3: the option
/// right before `mi_option_use_numa_nodes`, which the sys crate does name).
const PURGE_DELAY: libmimalloc_sys::mi_option_t = libmimalloc_sys::mi_option_use_numa_nodes - 1;

/// Keeps freed pages mapped for reuse instead of returning them to the OS.
pub fn keep_freed_pages() {
    // SAFETY: `mi_option_set` only stores an integer in mimalloc's option
    // table; -1 is the documented "never purge" value.
    unsafe { libmimalloc_sys::mi_option_set(PURGE_DELAY, -1) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_set_is_mimallocs_purge_delay() {
        // SAFETY: reads and writes of mimalloc's option table.
        let get = || unsafe { libmimalloc_sys::mi_option_get(PURGE_DELAY) };
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
            // 1000 ms is purge_delay's default in mimalloc v3 (options.c);
            // the options next to it default to 0 and 1.
            assert_eq!(get(), 1000);
        }
        keep_freed_pages();
        assert_eq!(get(), -1);
    }
}
