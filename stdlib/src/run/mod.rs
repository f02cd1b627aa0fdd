//! Stage implementations, one file per family; the signatures in `stages/` point here.

pub mod ave;
pub mod coco;
pub mod curve;
pub mod detect_eval;
pub mod detector;
pub mod eval;
pub mod finetune;
pub mod fits;
pub mod model;
pub mod ovseg;
pub mod pseudolabel;
pub mod quant;
pub mod report;
pub mod segment;
pub mod sim;
pub mod slimmable;
