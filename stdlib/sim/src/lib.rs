//! pipe-sim: deterministic, plain-Rust hardware simulators and the architecture
//! descriptor they price: an accelerator model (QUIDAM-style, SCALE-Sim-exact
//! compute cycles), last-level NVM caches (DeepNVM++-style), a phone SoC thermal
//! model (dynamic shifting vs throttling) with the fit of its RC to a measured
//! heating curve, reference workloads and SVG plots.
//! No file is read here except through the explicit `read` functions.

pub mod accelerator;
pub mod arch;
pub mod cache_lru;
pub mod csv;
pub mod dataflow;
pub mod error;
pub mod governor;
pub mod l2_stream;
pub mod nvm;
pub mod nvsim;
pub mod plot;
pub mod ppa;
pub mod rc_fit;
pub mod scalesim;
pub mod soc;
pub mod thermal;
pub mod workload;

pub use error::SimError;
