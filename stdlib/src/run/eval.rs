//! Implementation of `eval.classify`: accuracy, per-class accuracy
//! (`accuracy.<class>`) and the confusion matrix (curves `confusion.<true
//! class>`, counts per predicted class in class order); a slimmable network
//! runs at the chosen `width`.

use crate::artifact::Artifact;
use crate::metrics::Metrics;
use crate::run::fits::check_fits;
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use pipe_nn::train::classify_source;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Samples per inference batch.
const BATCH: usize = 256;

pub fn classify(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut net = input.model("model")?.network()?;
    select_width(&mut net, input.f64("width")?)?;
    let data = input.dataset("data")?.image_view()?;
    check_fits(data, &net.spec)?;
    ctx.check_cancelled()?;
    let predicted = classify_source(&mut net, &data, BATCH)?;
    let metrics = score(&predicted, data.labels(), data.class_names());
    Ok(
        StageOutput::single(Artifact::Metrics(Arc::new(metrics.clone())))
            .with_metrics(&metrics.values),
    )
}

/// Runs a slimmable network at `width`, which must be one of its widths;
/// other networks ignore it.
fn select_width(net: &mut pipe_nn::Network, width: f64) -> Result<(), StageError> {
    let Some(widths) = pipe_nn::slim::widths(&net.spec) else {
        return Ok(());
    };
    let index = widths
        .iter()
        .position(|w| (w - width).abs() < 1e-9)
        .ok_or_else(|| {
            StageError::Invalid(format!(
                "`width` {width} is not one of the network's widths {widths:?}"
            ))
        })?;
    pipe_nn::slim::set_width(net, index).map_err(crate::model::nn_error)
}

fn score(predicted: &[u32], truth: &[u32], classes: &[String]) -> Metrics {
    let k = classes.len();
    let mut confusion = vec![vec![0.0f64; k]; k];
    for (&p, &t) in predicted.iter().zip(truth) {
        if let Some(row) = confusion.get_mut(t as usize) {
            if let Some(cell) = row.get_mut(p as usize) {
                *cell += 1.0;
            }
        }
    }
    let correct: f64 = (0..k).map(|i| confusion[i][i]).sum();
    let mut values = BTreeMap::from([
        ("accuracy".to_string(), correct / truth.len().max(1) as f64),
        ("samples".to_string(), truth.len() as f64),
    ]);
    let mut curves = BTreeMap::new();
    for (i, (name, row)) in classes.iter().zip(confusion).enumerate() {
        let total: f64 = row.iter().sum();
        if total > 0.0 {
            values.insert(format!("accuracy.{name}"), row[i] / total);
        }
        curves.insert(format!("confusion.{name}"), row);
    }
    Metrics { values, curves }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_class_accuracy_and_confusion_rows() {
        let classes = ["a", "b", "c"].map(String::from);
        let m = score(&[0, 1, 1, 2, 0], &[0, 1, 2, 2, 1], &classes);
        assert_eq!(m.values["accuracy"], 3.0 / 5.0);
        assert_eq!(m.values["accuracy.a"], 1.0);
        assert_eq!(m.values["accuracy.b"], 0.5);
        assert_eq!(m.values["accuracy.c"], 0.5);
        assert_eq!(m.curves["confusion.b"], vec![1.0, 1.0, 0.0]);
        assert_eq!(m.curves["confusion.c"], vec![0.0, 1.0, 1.0]);
    }
}
