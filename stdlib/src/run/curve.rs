//! The per-epoch curve of the image training loop (`pipe_nn::train::EpochStats`)
//! as a stage's metrics and its `curve` table, shared by the stages that run
//! that loop. Never trains.

use crate::metrics::{Metrics, Table};
use pipe_nn::train::EpochStats;
use std::collections::BTreeMap;

pub fn metrics(curve: &[EpochStats]) -> Metrics {
    let last = curve.last();
    let values = BTreeMap::from([
        (
            "train_loss".to_string(),
            last.map_or(f64::NAN, |s| f64::from(s.loss)),
        ),
        (
            "train_accuracy".to_string(),
            last.map_or(f64::NAN, |s| f64::from(s.accuracy)),
        ),
        ("epochs".to_string(), curve.len() as f64),
    ]);
    let series = |f: fn(&EpochStats) -> f32| curve.iter().map(|s| f64::from(f(s))).collect();
    let curves = BTreeMap::from([
        ("train_loss".to_string(), series(|s| s.loss)),
        ("train_accuracy".to_string(), series(|s| s.accuracy)),
        ("lr".to_string(), series(|s| s.lr)),
    ]);
    Metrics { values, curves }
}

pub fn table(curve: &[EpochStats]) -> Table {
    Table::numeric(
        "training curve",
        ["epoch", "loss", "accuracy", "lr"],
        curve.iter().map(|s| {
            [
                s.epoch as f64,
                f64::from(s.loss),
                f64::from(s.accuracy),
                f64::from(s.lr),
            ]
        }),
    )
}
