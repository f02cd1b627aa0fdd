//! pipe-sim: deterministic, plain-Rust hardware simulators and their workloads.
