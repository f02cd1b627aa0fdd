//! The per-epoch curve of the image training loop (`pipe_nn::train::EpochStats`)
//! as a stage's metrics and its `curve` table, shared by the stages that run
//! that loop. Never trains.

use crate::metrics::{Metrics, Table};
use pipe_nn::train::EpochStats;

pub fn metrics(curve: &[EpochStats]) -> Metrics {
    let series = |f: fn(&EpochStats) -> f32| curve.iter().map(|s| f64::from(f(s))).collect();
    Metrics::from_epochs(
        curve.len(),
        vec![
            ("train_loss", series(|s| s.loss)),
            ("train_accuracy", series(|s| s.accuracy)),
            ("lr", series(|s| s.lr)),
        ],
        &["train_loss", "train_accuracy"],
    )
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
