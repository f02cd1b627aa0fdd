//! `eval.segment`: open-vocabulary semantic segmentation from region
//! classification. Every region of every image is classified among all nouns
//! (seen and unseen) as OVSeg does (masked crop, prompt-ensembled text
//! features, 100 · cosine); each pixel takes its region's predicted noun. IoU
//! per noun over the whole dataset, and mIoU as detectron2's evaluator (ov-seg
//! uses it) averages it: over nouns that occur in the truth or the prediction.
//! Reports `miou`, `miou_seen`, `miou_unseen`, region `accuracy` (also per
//! part) and `iou.<noun>`.

use crate::artifact::Artifact;
use crate::data::regions::{Noun, RegionSet};
use crate::metrics::Metrics;
use crate::run::ovseg::{classify, crops, text_features, Framing};
use crate::stage::{StageContext, StageError, StageInput, StageOutput};
use std::collections::BTreeMap;
use std::sync::Arc;

pub fn segment(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let mut model = input.model("model")?.dual_encoder()?;
    let data = input.dataset("data")?.regions()?;
    let regions = data.all_regions();
    if regions.is_empty() {
        return Err(StageError::Invalid("the dataset has no regions".into()));
    }
    ctx.check_cancelled()?;
    let nouns: Vec<&Noun> = data.nouns.iter().collect();
    let text = text_features(&mut model, &nouns)?;
    let crops = crops(data, &regions, &model.spec, Framing::Masked);
    let predicted: Vec<u32> = classify(&mut model, &crops, &text)
        .into_iter()
        .map(|k| k as u32)
        .collect();
    let metrics = score(data, &regions, &predicted);
    Ok(
        StageOutput::single(Artifact::Metrics(Arc::new(metrics.clone())))
            .with_metrics(&metrics.values),
    )
}

/// Pixel counts per noun: (intersection, truth, predicted).
fn pixel_counts(data: &RegionSet, regions: &[(usize, usize)], predicted: &[u32]) -> Vec<[u64; 3]> {
    let mut counts = vec![[0u64; 3]; data.nouns.len()];
    let mut by_region: BTreeMap<(usize, usize), u32> = BTreeMap::new();
    for (&key, &p) in regions.iter().zip(predicted) {
        by_region.insert(key, p);
    }
    for i in 0..data.len() {
        for &r in data.regions_of(i) {
            let truth = data.region_nouns[i][r as usize] as usize;
            let Some(&guess) = by_region.get(&(i, r as usize)) else {
                continue;
            };
            counts[truth][1] += 1;
            counts[guess as usize][2] += 1;
            if guess as usize == truth {
                counts[truth][0] += 1;
            }
        }
    }
    counts
}

/// mIoU per part, region accuracy and per-noun IoU of `predicted` (one noun per region).
pub fn score(data: &RegionSet, regions: &[(usize, usize)], predicted: &[u32]) -> Metrics {
    let counts = pixel_counts(data, regions, predicted);
    let iou: Vec<Option<f64>> = counts
        .iter()
        .map(|&[inter, truth, pred]| {
            let union = truth + pred - inter;
            (union > 0).then(|| inter as f64 / union as f64)
        })
        .collect();
    let mean = |keep: &dyn Fn(&Noun) -> bool| {
        let picked: Vec<f64> = data
            .nouns
            .iter()
            .zip(&iou)
            .filter(|(n, _)| keep(n))
            .filter_map(|(_, v)| *v)
            .collect();
        if picked.is_empty() {
            f64::NAN
        } else {
            picked.iter().sum::<f64>() / picked.len() as f64
        }
    };
    let accuracy = |keep: &dyn Fn(&Noun) -> bool| {
        let (mut hits, mut total) = (0usize, 0usize);
        for (&(i, r), &p) in regions.iter().zip(predicted) {
            let truth = data.region_nouns[i][r];
            if keep(&data.nouns[truth as usize]) {
                total += 1;
                hits += usize::from(p == truth);
            }
        }
        if total == 0 {
            f64::NAN
        } else {
            hits as f64 / total as f64
        }
    };
    let mut values = BTreeMap::from([
        ("miou".to_string(), mean(&|_| true)),
        ("miou_seen".to_string(), mean(&|n| n.seen)),
        ("miou_unseen".to_string(), mean(&|n| !n.seen)),
        ("accuracy".to_string(), accuracy(&|_| true)),
        ("accuracy_seen".to_string(), accuracy(&|n| n.seen)),
        ("accuracy_unseen".to_string(), accuracy(&|n| !n.seen)),
        ("regions".to_string(), regions.len() as f64),
    ]);
    for (noun, v) in data.nouns.iter().zip(&iou) {
        if let Some(v) = v {
            values.insert(format!("iou.{}", noun.name), *v);
        }
    }
    Metrics {
        values,
        curves: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::regions::vocabulary;

    /// Two 8×8 images: image 0 split into region 0 (left half) and 1 (right half).
    fn tiny() -> RegionSet {
        let size = 8;
        let mut region_map = vec![0u8; 2 * size * size];
        for (p, r) in region_map[..size * size].iter_mut().enumerate() {
            *r = u8::from(p % size >= 4);
        }
        RegionSet {
            size,
            nouns: vocabulary(12, 0.25).unwrap(),
            region_nouns: vec![vec![0, 11], vec![1]],
            x: vec![0.0; 2 * 3 * size * size],
            region_map,
        }
    }

    #[test]
    fn miou_follows_pixel_counts() {
        let data = tiny();
        assert!(!data.nouns[11].seen && data.nouns[0].seen && data.nouns[1].seen);
        let regions = data.all_regions();
        // Region (0,1) (noun 11, 32 px) predicted as noun 1; noun 1's image right.
        let m = score(&data, &regions, &[0, 1, 1]);
        // Noun 0: 32/32. Noun 1: truth 64, predicted 96, inter 64 -> 2/3. Noun 11: 0.
        assert_eq!(m.values["iou.red_plain"], 1.0);
        assert!((m.values["iou.green_striped"] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.values["miou_unseen"], 0.0);
        assert!((m.values["miou_seen"] - (1.0 + 2.0 / 3.0) / 2.0).abs() < 1e-12);
        assert!((m.values["miou"] - (1.0 + 2.0 / 3.0) / 3.0).abs() < 1e-12);
        assert!((m.values["accuracy"] - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(m.values["accuracy_unseen"], 0.0);
        let perfect = score(&data, &regions, &[0, 11, 1]);
        assert_eq!(perfect.values["miou"], 1.0);
    }
}
