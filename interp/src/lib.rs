//! pipe-interp: checked program -> stage graph -> cache lookups -> parallel
//! execution -> reports; watch mode. A library that speaks stages: one module per
//! concept, with typed entry points the `pipe` binary (pipe-cli, which owns every
//! subcommand's command line and exit code) and the end-to-end tests call:
//! loading a file to a graph (`frontend`, `graph`, `key`), running it (`run`,
//! `schedule`, `executor`, `stage_set`), the cache (`cache`), reports and run
//! directories (`report`), `explain`, `graph_text`, `watch`, `doc` and input
//! hashing; everything else is `pub(crate)`. It never parses a command line,
//! chooses an allocator or installs a signal handler, and never links the tensor
//! library or the language server.

pub mod binding_state;
pub mod cache;
pub(crate) mod cache_disk;
pub mod cache_pack;
pub mod cache_table;
pub mod digest_cache;
pub mod doc;
pub mod error;
pub mod executor;
pub mod explain;
pub mod frontend;
pub mod graph;
pub mod graph_text;
pub mod human;
pub mod input_hash;
pub mod key;
pub mod loader;
pub(crate) mod lower;
pub(crate) mod overrides;
pub mod progress;
pub mod report;
pub(crate) mod report_html;
pub mod run;
pub mod schedule;
pub mod slurm;
pub(crate) mod stage_input;
pub mod stage_set;
pub mod watch;

/// What the cargo-fuzz targets (`fuzz/`) drive directly: the cache's reading of
/// entries, manifests and packs. Only with the `fuzzing` feature, so these stay
/// internal to every other user.
#[cfg(feature = "fuzzing")]
pub mod fuzzing {
    pub use crate::cache::{Cache, Lookup};
    pub use crate::cache_disk::seal;
}
