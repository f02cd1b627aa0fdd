//! Claims of SSVOD (docs/papers.md section 4): flow-warped, cross-IoU / cross-divergence
//! pseudo-labels make a detector trained on sparsely labelled videos better than
//! training on the labelled frames alone and better than single-frame threshold
//! pseudo-labels; the hard/soft target mix is one of the paper's contributions.
//!
//! Setting (docs/detection.md): per held-out seed, `dataset.moving_shapes(videos:
//! 12, frames: 30, size: 32, labeled_every: 10, seed)`, a detector (head 32) on
//! `model.cnn(channels: [16, 32])`, `train.semi_supervised(epochs: 12, burn_in: 6,
//! batch_size: 16, lr: 3e-3, ema: 0.99)`; AP50 by the COCO evaluator on the hidden
//! frames of six test videos drawn with seed + 1000. The threshold baseline's score
//! cut is tuned at every refresh on the labelled frames of six more videos (seed +
//! 2000) that training never sees. Development used seeds 0, 1, 2 with test seed
//! 1000; `PIPE_CLAIMS_DEV_SEEDS=0,1` runs these tests on development seeds.

// Claims are measured in release (`cargo test --release -p pipe-claims`, as CI runs
// them); the dev profile of `cargo test --workspace` would train the same models
// several times slower and measure nothing new, so there the file compiles to no test.
#![cfg(not(debug_assertions))]

use pipe_claims::{call, int, Spread, HELD_OUT_SEEDS};
use pipe_lang::value::Value;
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::dataset::VideoSet;
use pipe_stdlib::run::coco::{coco_ap, CocoTruth};
use pipe_stdlib::run::detector::predict;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The configurations compared: name, `pseudolabel` mode, extra arguments.
const CONFIGS: [(&str, &str); 4] = [
    ("supervised only", "none"),
    ("threshold (tuned)", "threshold"),
    ("ssvod (mixed)", "ssvod"),
    ("ssvod, hard only", "ssvod"),
];

fn seeds() -> Vec<u64> {
    pipe_claims::seeds(&HELD_OUT_SEEDS)
}

fn artifact(out: &StageOutput, name: Option<&str>) -> Artifact {
    match (&out.outputs, name) {
        (Outputs::Single(a), None) => a.clone(),
        (Outputs::Record(r), Some(n)) => r[n].clone(),
        _ => panic!("unexpected outputs"),
    }
}

fn videos(n: i64, seed: u64) -> Artifact {
    artifact(
        &call(
            "dataset.moving_shapes",
            vec![
                ("videos", int(n)),
                ("frames", int(30)),
                ("size", int(32)),
                ("objects", int(3)),
                ("classes", int(3)),
                ("labeled_every", int(10)),
                ("seed", int(seed as i64)),
            ],
        ),
        None,
    )
}

fn video_set(a: &Artifact) -> &VideoSet {
    match a {
        Artifact::Dataset(d) => d.videos().expect("videos"),
        _ => panic!("not a dataset"),
    }
}

fn detector(data: &Artifact, seed: u64) -> Artifact {
    let backbone = call(
        "model.cnn",
        vec![
            ("input", Input::Artifact(data.clone())),
            (
                "channels",
                Input::Value(Value::List(vec![Value::Int(16), Value::Int(32)])),
            ),
            ("seed", int(seed as i64)),
        ],
    );
    artifact(
        &call(
            "model.detector",
            vec![
                ("input", Input::Artifact(data.clone())),
                ("backbone", Input::Artifact(artifact(&backbone, None))),
                ("head_dim", int(32)),
                ("seed", int(seed as i64)),
            ],
        ),
        None,
    )
}

/// One configuration on one seed: held-out AP50 and the last refresh's metrics.
fn run(seed: u64, config: usize) -> RunResult {
    let (name, mode) = CONFIGS[config];
    let data = videos(12, seed);
    let det = detector(&data, seed);
    let mut args = vec![
        ("model", Input::Artifact(det)),
        ("labeled", Input::Artifact(data.clone())),
        ("unlabeled", Input::Artifact(data)),
        ("pseudolabel", Input::Value(Value::Str(mode.into()))),
        ("epochs", int(12)),
        ("burn_in", int(6)),
        ("batch_size", int(16)),
        ("lr", Input::Value(Value::Float(3e-3))),
        ("ema", Input::Value(Value::Float(0.99))),
        ("seed", int(seed as i64)),
    ];
    if mode == "threshold" {
        args.push(("tune", Input::Artifact(videos(6, seed + 2000))));
    }
    if name.contains("hard only") {
        args.push(("targets", Input::Value(Value::Str("hard".into()))));
    }
    let out = call("train.semi_supervised", args);
    let Artifact::Metrics(m) = artifact(&out, Some("metrics")) else {
        panic!("metrics")
    };
    let Artifact::Model(model) = artifact(&out, Some("model")) else {
        panic!("model")
    };
    let test = videos(6, seed + 1000);
    let test = video_set(&test);
    let hidden: Vec<usize> = (0..test.len())
        .filter(|&i| !test.frames[i].labeled)
        .collect();
    let dets = predict(&model, test, &hidden).expect("prediction");
    let ap50 = coco_ap(&CocoTruth::from_videos(test, &hidden), &dets).ap50;
    (ap50, m.values.clone())
}

/// Held-out AP50 and the training metrics of one run.
type RunResult = (f64, BTreeMap<String, f64>);

/// `results[config][seed]`, computed once for every test.
fn study() -> &'static Vec<Vec<RunResult>> {
    static STUDY: OnceLock<Vec<Vec<RunResult>>> = OnceLock::new();
    STUDY.get_or_init(|| {
        let seeds = seeds();
        println!("| configuration | held-out ap50 per seed | pseudo precision | pseudo recall | tuned cut |");
        println!("|---|---|---|---|---|");
        (0..CONFIGS.len())
            .map(|c| {
                let runs: Vec<_> = seeds.iter().map(|&s| run(s, c)).collect();
                let per_seed: Vec<String> =
                    runs.iter().map(|r| format!("{:.1}", 100.0 * r.0)).collect();
                let mean = |k: &str| {
                    runs.iter()
                        .map(|r| r.1.get(k).copied().unwrap_or(f64::NAN))
                        .sum::<f64>()
                        / runs.len() as f64
                };
                println!(
                    "| {} | {} | {:.3} | {:.3} | {:.2} |",
                    CONFIGS[c].0,
                    per_seed.join(" / "),
                    mean("pseudo_precision"),
                    mean("pseudo_recall"),
                    mean("pseudo_tuned_confidence"),
                );
                runs
            })
            .collect()
    })
}

/// Per seed, AP50 of configuration `a` minus that of `b`; their spread over seeds.
fn gain(a: usize, b: usize) -> Spread {
    let r = study();
    let d: Vec<f64> = r[a].iter().zip(&r[b]).map(|(x, y)| x.0 - y.0).collect();
    Spread::of(&d).expect("at least one seed")
}

fn ap50(c: usize) -> Spread {
    let v: Vec<f64> = study()[c].iter().map(|r| r.0).collect();
    Spread::of(&v).expect("at least one seed")
}

/// Claim: SSVOD pseudo-labels beat training on the labelled frames alone (the
/// paper's main result). Held out: +0.3 AP50 points on the mean, −2.3 to +3.8 per
/// seed, far inside the seed-to-seed spread of 23 points (on the development
/// seeds, with the development test videos, it was +8.6). Asserted: the measured
/// direction of the mean, and that it is not ahead on every seed.
/// Checked to fail with the mechanism off: with `window: 0` for the SSVOD runs
/// (no neighbouring frames, so no flow-warped cross-IoU or cross-divergence: each
/// frame's own detections above the score floor become its pseudo-labels), the
/// held-out gain is −0.39 points on the mean (−2.1 to +2.4 per seed) and the
/// assertion fails (5 min 25 s for the file in release on the shared machine).
#[test]
fn ssvod_against_supervised_only() {
    let g = gain(2, 0);
    println!("ap50: supervised {} ssvod {}; gain {g}", ap50(0), ap50(2));
    assert!(g.mean > 0.0 && g.min < 0.0, "{g}");
}

/// Claim: SSVOD beats single-frame threshold pseudo-labels, here with the score
/// cut tuned at every refresh on held-out labelled frames (it settles near 0.47,
/// where the fixed 0.7 kept a recall of 0.06). Held out: +0.45 points on the mean,
/// −1.4 to +1.8 per seed. Asserted: the measured direction of the mean.
/// Checked to fail with the mechanism off: with `window: 0` for the SSVOD runs
/// (see above), SSVOD is 0.26 points behind the tuned threshold on the mean (−4.3
/// to +2.0 per seed) and the assertion fails.
#[test]
fn ssvod_against_the_tuned_threshold_baseline() {
    let g = gain(2, 1);
    println!(
        "ap50: threshold (tuned) {} ssvod {}; gain {g}",
        ap50(1),
        ap50(2)
    );
    assert!(g.mean > 0.0, "{g}");
}

/// Claim: the hard/soft target mix helps (one of the paper's contributions).
/// Held out: mixed minus hard-only −0.05 points on the mean (−0.7 to +1.1 per
/// seed): the mix does not earn its place on this data. Asserted: it is not 1
/// point ahead, so a change that makes it earn its place fails here and must
/// update docs/claims.md; and the soft targets change the result on at least one
/// seed, so a mix that silently fell back to hard targets fails too.
/// Checked with the mechanism off: with the hard-only run given the mixed targets
/// (in the run above, so both SSVOD runs identical: mixed, `window: 0`), the gain
/// is 0.0 on every seed; the former assertion
/// alone (`mean < 0.01`) still passed, so the second one was added, and it fails.
#[test]
fn the_hard_soft_mix_does_not_beat_hard_targets() {
    let g = gain(2, 3);
    println!("ap50: hard only {} mixed {}; gain {g}", ap50(3), ap50(2));
    assert!(g.mean < 0.01, "{g}");
    assert!(g.min != 0.0 || g.max != 0.0, "the mix changed nothing: {g}");
}
