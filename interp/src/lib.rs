//! pipe-interp: checked program -> stage graph -> cache lookups -> parallel
//! execution -> reports; watch mode. One module per subcommand (`cmd_*`, which the
//! `pipe` binary in pipe-cli dispatches to) plus one per concept of the
//! interpreter. The public surface is what the binary and the end-to-end tests
//! use: the subcommands, loading a file to a graph (`frontend`, `graph`, `key`),
//! running one (`run`, `schedule`, `stage_set`) and input hashing; everything
//! else is `pub(crate)`. It never chooses an allocator and never links the
//! tensor library or the language server.

pub mod binding_state;
pub(crate) mod cache;
pub(crate) mod cache_disk;
pub mod cache_pack;
pub mod cache_table;
pub mod cmd_cache;
pub mod cmd_check;
pub mod cmd_doc;
pub mod cmd_explain;
pub mod cmd_fmt;
pub mod cmd_graph;
pub mod cmd_run;
pub mod cmd_runs;
pub mod cmd_watch;
pub mod digest_cache;
pub mod error;
pub(crate) mod executor;
pub mod frontend;
pub mod graph;
pub mod input_hash;
pub mod key;
pub(crate) mod loader;
pub(crate) mod lower;
pub(crate) mod overrides;
pub(crate) mod progress;
pub(crate) mod report;
pub(crate) mod report_html;
pub mod run;
pub mod schedule;
pub mod slurm;
pub(crate) mod stage_input;
pub mod stage_set;

/// What the cargo-fuzz targets (`fuzz/`) drive directly: the cache's reading of
/// entries, manifests and packs. Only with the `fuzzing` feature, so these stay
/// internal to every other user.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::cache::{Cache, Lookup};
    pub use crate::cache_disk::seal;
}
