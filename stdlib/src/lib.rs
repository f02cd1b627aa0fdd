//! pipe-stdlib: the stage catalog. Every stage is a signature (for the checker,
//! `pipe doc` and the LSP) plus an implementation on the tensor backend
//! (`pipe-nn`) or a simulator (`pipe-sim`).

pub mod artifact;
pub mod data;
pub mod dataset;
pub mod detection;
pub mod flow;
pub mod metrics;
pub mod model;
pub mod output_file;
pub mod params;
pub mod registry;
pub mod run;
pub mod stage;
pub mod stages;
pub mod task_kinds;

pub use artifact::Artifact;
pub use registry::{Stdlib, NAMESPACES};
pub use stage::{Input, StageContext, StageError, StageInput, StageOutput};
