//! SSVOD benchmark: the time to pseudo-label one unlabelled frame (teacher
//! inference on the window, optical flow, warping and selection), SSVOD and
//! the threshold baseline, and the time of one detector training step (forward,
//! loss, backward, AdamW) at batch 16, on `dataset.moving_shapes` frames of
//! 32 and 64 pixels with a `model.cnn` [16, 32] backbone. Prints a Markdown
//! table of medians over repeats.
//! Run: `RAYON_NUM_THREADS=2 cargo run --release -p pipe-stdlib --example ssvod_bench`.

use pipe_lang::value::Value;
use pipe_nn::models::detector::{loss, LossConfig};
use pipe_nn::optim::{Optimizer, OptimizerKind};
use pipe_nn::{Family, Mode, ModelSpec, Network, Tensor};
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::dataset::VideoSet;
use pipe_stdlib::run::detector::{predict_per_frame, targets};
use pipe_stdlib::run::pseudolabel::{
    label_frames, unlabeled_frames, Flows, Labeller, SsvodParams, TargetKind,
};
use pipe_stdlib::stage::{Input, Outputs};
use pipe_stdlib::Stdlib;
use std::time::Instant;

const REPEATS: usize = 5;
const BATCH: usize = 16;

fn moving_shapes(size: i64) -> VideoSet {
    let args = [("videos", 4), ("frames", 30), ("size", size)]
        .into_iter()
        .map(|(k, v)| (k, Input::Value(Value::Int(v))))
        .collect();
    let out = Stdlib::get()
        .call("dataset.moving_shapes", args, &std::env::temp_dir())
        .expect("moving_shapes");
    match out.outputs {
        Outputs::Single(Artifact::Dataset(d)) => d.videos().expect("videos").clone(),
        _ => panic!("moving_shapes gives one dataset"),
    }
}

fn detector(set: &VideoSet) -> Network {
    let spec = ModelSpec {
        family: Family::Detector {
            backbone: Box::new(Family::Cnn {
                channels: vec![16, 32],
                kernel: 3,
                hidden: 0,
            }),
            head_dim: 32,
            nms_iou: 0.5,
            score_threshold: 0.05,
            max_detections: 100,
        },
        input: [set.channels, set.height, set.width],
        classes: set.classes(),
        dropout: 0.0,
        seed: 0,
    };
    Network::build(&spec).expect("detector")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Milliseconds per unlabelled frame: flow (SSVOD only), teacher inference on
/// every frame, labelling.
fn pseudo_label_ms(net: &mut Network, set: &VideoSet, ssvod: bool) -> f64 {
    let frames = unlabeled_frames(set);
    let all: Vec<usize> = (0..set.len()).collect();
    let params = SsvodParams {
        window: 2,
        iou: 0.5,
        divergence: 0.3,
        confidence: 0.7,
        min_score: 0.3,
        warp: true,
        cross_divergence: true,
        targets: TargetKind::Mixed,
    };
    let times = (0..REPEATS)
        .map(|_| {
            let start = Instant::now();
            let flows = ssvod.then(|| Flows::estimate(set));
            let preds = predict_per_frame(net, set, &all).expect("predict");
            let labeller = match &flows {
                Some(f) => Labeller::Ssvod {
                    params: &params,
                    flows: Some(f),
                },
                None => Labeller::Threshold { confidence: 0.7 },
            };
            let labels = label_frames(set, &preds, &frames, &labeller);
            std::hint::black_box(labels);
            1e3 * start.elapsed().as_secs_f64() / frames.len() as f64
        })
        .collect();
    median(times)
}

/// Milliseconds per training step at batch 16.
fn train_step_ms(net: &mut Network, set: &VideoSet) -> f64 {
    let [c, h, w] = [set.channels, set.height, set.width];
    let frames: Vec<usize> = (0..BATCH).collect();
    let mut x = Vec::new();
    for &f in &frames {
        x.extend_from_slice(set.frame(f));
    }
    let t: Vec<_> = frames
        .iter()
        .map(|&f| targets(&set.frames[f].boxes, set.classes()))
        .collect();
    let weights = vec![1.0; BATCH];
    let mut opt = Optimizer::new(OptimizerKind::adamw(), 1e-4);
    let times = (0..REPEATS + 1)
        .map(|_| {
            let start = Instant::now();
            net.zero_grad();
            let out = net.forward(Tensor::from_vec(&[BATCH, c, h, w], x.clone()), Mode::Train);
            let l = loss(&out, [h, w], &t, &weights, &LossConfig::default());
            net.backward(l.grad);
            net.step(&mut opt, 1e-3, 0.0);
            1e3 * start.elapsed().as_secs_f64()
        })
        .skip(1)
        .collect();
    median(times)
}

fn main() {
    println!(
        "| frame side | SSVOD ms/frame | threshold ms/frame | train step ms (batch {BATCH}) |"
    );
    println!("|---|---|---|---|");
    for size in [32, 64] {
        let set = moving_shapes(size);
        let mut net = detector(&set);
        let ssvod = pseudo_label_ms(&mut net, &set, true);
        let threshold = pseudo_label_ms(&mut net, &set, false);
        let step = train_step_ms(&mut net, &set);
        println!("| {size} | {ssvod:.3} | {threshold:.3} | {step:.1} |");
    }
}
