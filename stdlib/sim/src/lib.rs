//! pipe-sim: deterministic, plain-Rust hardware simulators and the architecture
//! descriptor they price.

pub mod arch;
