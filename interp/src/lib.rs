//! pipe-interp: checked program -> stage graph -> cache lookups -> parallel
//! execution -> reports; watch mode. One module per subcommand (`cmd_*`) plus one
//! per concept of the interpreter.

pub mod cache;
pub mod cache_disk;
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
pub mod executor;
pub mod frontend;
pub mod graph;
pub mod input_hash;
pub mod key;
pub mod loader;
pub mod lower;
pub mod overrides;
pub mod progress;
pub mod report;
pub mod report_html;
pub mod run;
pub mod schedule;
pub mod slurm;
pub mod stage_input;
pub mod stage_set;
