//! Benchmark of the detection data path (docs/detection.md, "Benchmark"): dense
//! Lucas-Kanade flow per frame pair at several frame sizes (one thread, fastest
//! of the runs), with its mean endpoint error against `moving_shapes`' true
//! motion, and `eval.detect`'s COCO evaluator per scored frame.
//!
//! Run: `cargo run --release -p pipe-stdlib --example flow_bench`

use pipe_stdlib::data::moving_shapes::{generate, Spec};
use pipe_stdlib::dataset::VideoSet;
use pipe_stdlib::detection::Detection;
use pipe_stdlib::flow::{estimate, FlowParams};
use pipe_stdlib::run::coco::{coco_ap, CocoTruth};
use std::time::Instant;

fn videos(size: usize, frames: usize) -> VideoSet {
    generate(&Spec {
        videos: 2,
        frames,
        size,
        objects: 4,
        classes: 3,
        labeled_every: 10,
        seed: 1,
        max_speed: 2.0 * size as f32 / 64.0,
        noise: 0.02,
    })
    .expect("moving_shapes")
}

/// The fastest run: on a shared machine the others are mostly waiting time.
fn fastest(times: &[f64]) -> f64 {
    times.iter().copied().fold(f64::INFINITY, f64::min)
}

fn main() {
    let params = FlowParams::default();
    println!("| frame | flow per frame pair (ms, fastest) | mean endpoint error (px) |");
    println!("| --- | --- | --- |");
    for size in [48, 64, 128, 256] {
        let set = videos(size, 8);
        let (mut times, mut err, mut pairs) = (Vec::new(), 0.0, 0.0);
        for i in 0..set.len() {
            let Some(j) = set.neighbour(i, 1) else {
                continue;
            };
            let start = Instant::now();
            let f = estimate(set.frame(i), set.frame(j), 1, size, size, &params);
            times.push(start.elapsed().as_secs_f64() * 1e3);
            err += f.endpoint_error(set.motion(i).expect("motion"));
            pairs += 1.0;
        }
        println!(
            "| {size}×{size} | {:.2} | {:.3} |",
            fastest(&times),
            err / pairs
        );
    }
    // The evaluator: every true box as a detection, jittered, plus one false
    // positive per frame, on 1,000 frames.
    let set = videos(64, 500);
    let scored: Vec<usize> = (0..set.len()).collect();
    let mut dets = Vec::new();
    for (i, f) in set.frames.iter().enumerate() {
        for (k, b) in f.boxes.iter().enumerate() {
            let shift = (k % 3) as f32 - 1.0;
            dets.push(Detection {
                frame: i,
                x: b.x + shift,
                y: b.y,
                w: b.w,
                h: b.h,
                score: 0.9 - 0.1 * k as f32,
                class: b.class,
                probs: vec![],
            });
        }
        dets.push(Detection {
            frame: i,
            x: 1.0,
            y: 1.0,
            w: 10.0,
            h: 10.0,
            score: 0.5,
            class: 0,
            probs: vec![],
        });
    }
    let truth = CocoTruth::from_videos(&set, &scored);
    let start = Instant::now();
    let m = coco_ap(&truth, &dets);
    let ms = start.elapsed().as_secs_f64() * 1e3;
    println!(
        "\ncoco evaluator: {} frames, {} boxes, {} detections: {ms:.1} ms ({:.3} ms per frame), ap {:.3}",
        set.len(),
        truth.annotations.len(),
        dets.len(),
        ms / set.len() as f64,
        m.ap
    );
}
