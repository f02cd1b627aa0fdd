//! AVE-CLIP's claims (docs/claims.md, "Video and multimodal"; docs/ave-clip.md)
//! on `dataset.av_events`, measured over `HELD_OUT_SEEDS`: the multi-window
//! temporal model against single windows (with and without the parameters
//! matched), event-guided refinement, post-processing and stage-1 contrastive
//! training, each removed in turn. Every variant goes through the stages and
//! settings of pipelines/ave_clip.pipe. The variants are trained once and shared
//! by the tests (`results`); the procedural generator is frozen
//! (`the_generator_is_frozen`), so these seeds were never seen while it was
//! tuned (seeds 0-5 were).
//!
//! Margins: a reproduced claim is asserted in its direction with half the gap
//! measured on the held-out seeds (printed with the table), so a rerun on the
//! same code passes and a mechanism that stops helping fails. A claim that did
//! not reproduce (multi-window against the best single window, stage 1) keeps
//! its test, which asserts what the measurement does support and says so.

// Claims are measured in release (`cargo test --release -p pipe-claims`, as CI runs
// them); the dev profile of `cargo test --workspace` would train the same models
// several times slower and measure nothing new, so there the file compiles to no test.
#![cfg(not(debug_assertions))]

use pipe_claims::{call, field, float, int, single, Spread, HELD_OUT_SEEDS};
use pipe_lang::value::Value;
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use std::sync::OnceLock;

/// Videos per seed and the fraction held out for scoring (the pipeline's).
const VIDEOS: i64 = 600;
const TEST_FRACTION: f64 = 0.5;
/// Supervised epochs of the temporal model and contrastive epochs of stage 1.
const EPOCHS: i64 = 30;
const CONTRASTIVE_EPOCHS: i64 = 3;

/// One trained variant: its windows, refinement, and whether stage 1 runs.
struct Variant {
    name: &'static str,
    windows: &'static [i64],
    refine: bool,
    stage1: bool,
}

const fn variant(name: &'static str, windows: &'static [i64]) -> Variant {
    Variant {
        name,
        windows,
        refine: true,
        stage1: true,
    }
}

/// Index of each row the tests compare.
const AVE_CLIP: usize = 0;
const SINGLE: [usize; 4] = [1, 2, 3, 4];
const MATCHED: [usize; 4] = [5, 6, 7, 8];
const NO_REFINE: usize = 9;
const NO_STAGE1: usize = 10;

const VARIANTS: [Variant; 11] = [
    variant("AVE-CLIP (windows 1,2,5,10)", &[1, 2, 5, 10]),
    variant("single window 1", &[1]),
    variant("single window 2", &[2]),
    variant("single window 5", &[5]),
    variant("single window 10", &[10]),
    variant("matched window 1 (1,1,1,1)", &[1, 1, 1, 1]),
    variant("matched window 2 (2,2,2,2)", &[2, 2, 2, 2]),
    variant("matched window 5 (5,5,5,5)", &[5, 5, 5, 5]),
    variant("matched window 10 (10,10,10,10)", &[10, 10, 10, 10]),
    Variant {
        name: "no refinement",
        windows: &[1, 2, 5, 10],
        refine: false,
        stage1: true,
    },
    Variant {
        name: "no stage-1 contrastive",
        windows: &[1, 2, 5, 10],
        refine: true,
        stage1: false,
    },
];

/// Per variant and seed: accuracy after post-processing; AVE-CLIP's before it;
/// each variant's trainable parameters.
struct Results {
    accuracy: Vec<Vec<f64>>,
    raw: Vec<f64>,
    params: Vec<f64>,
}

fn seeds() -> Vec<u64> {
    pipe_claims::seeds(&HELD_OUT_SEEDS)
}

/// Accuracy after and before post-processing, and the model's parameters.
fn run(v: &Variant, parts: &StageOutput, seed: i64) -> (f64, f64, f64) {
    let train = field(parts, "train");
    let windows = Input::Value(Value::List(
        v.windows.iter().map(|&w| Value::Int(w)).collect(),
    ));
    let built = call(
        "model.temporal_transformer",
        vec![
            ("input", train.clone()),
            ("windows", windows),
            ("dim", int(32)),
            ("heads", int(4)),
            ("layers", int(1)),
            ("refine", Input::Value(Value::Bool(v.refine))),
            ("seed", int(seed)),
        ],
    );
    let params = built.metrics["params"];
    let mut model = single(&built);
    if v.stage1 {
        let aligned = call(
            "train.contrastive",
            vec![
                ("a", model.clone()),
                ("b", model),
                ("data", train.clone()),
                ("epochs", int(CONTRASTIVE_EPOCHS)),
                ("batch_size", int(64)),
                ("seed", int(seed)),
            ],
        );
        model = field(&aligned, "a");
    }
    let trained = call(
        "train.supervised",
        vec![
            ("model", model),
            ("data", train),
            ("epochs", int(EPOCHS)),
            ("batch_size", int(16)),
            ("lr", float(2e-3)),
            ("seed", int(seed)),
        ],
    );
    let scored = call(
        "eval.ave",
        vec![
            ("model", field(&trained, "model")),
            ("data", field(parts, "test")),
        ],
    );
    (
        scored.metrics["accuracy"],
        scored.metrics["accuracy_raw"],
        params,
    )
}

fn measure() -> Results {
    let mut r = Results {
        accuracy: vec![Vec::new(); VARIANTS.len()],
        raw: Vec::new(),
        params: vec![0.0; VARIANTS.len()],
    };
    for seed in seeds().into_iter().map(|s| s as i64) {
        let data = call(
            "dataset.av_events",
            vec![("videos", int(VIDEOS)), ("seed", int(seed))],
        );
        let parts = call(
            "dataset.split",
            vec![
                ("data", single(&data)),
                ("test", float(TEST_FRACTION)),
                ("seed", int(seed)),
            ],
        );
        for (i, v) in VARIANTS.iter().enumerate() {
            let (acc, raw, params) = run(v, &parts, seed);
            r.accuracy[i].push(acc);
            r.params[i] = params;
            if i == AVE_CLIP {
                r.raw.push(raw);
            }
        }
    }
    print_table(&r);
    r
}

fn spread(values: &[f64]) -> Spread {
    let pct: Vec<f64> = values.iter().map(|v| 100.0 * v).collect();
    Spread::of(&pct).expect("every variant ran on every held-out seed")
}

fn print_table(r: &Results) {
    println!(
        "AVE-CLIP on dataset.av_events, seeds {:?}, segment accuracy (%)",
        seeds()
    );
    println!("| variant | params | per seed | mean [min, max] |\n| --- | ---: | --- | --- |");
    let rows = VARIANTS
        .iter()
        .map(|v| v.name)
        .zip(&r.accuracy)
        .zip(&r.params)
        .map(|((n, a), &p)| (n, a.as_slice(), p))
        .chain([("no post-processing", r.raw.as_slice(), r.params[AVE_CLIP])]);
    for (name, acc, params) in rows {
        let cells: Vec<String> = acc.iter().map(|a| format!("{:.2}", 100.0 * a)).collect();
        println!(
            "| {name} | {params} | {} | {} |",
            cells.join(" / "),
            spread(acc)
        );
    }
}

fn results() -> &'static Results {
    static RESULTS: OnceLock<Results> = OnceLock::new();
    RESULTS.get_or_init(measure)
}

/// Per-seed gain of row `a` over row `b`, in points.
fn gain(a: &[f64], b: &[f64]) -> Spread {
    let d: Vec<f64> = a.iter().zip(b).map(|(a, b)| 100.0 * (a - b)).collect();
    Spread::of(&d).expect("seeds")
}

/// The row among `rows` with the best mean.
fn best(r: &Results, rows: &[usize]) -> usize {
    let mean = |i: usize| spread(&r.accuracy[i]).mean;
    rows.iter()
        .copied()
        .max_by(|&a, &b| mean(a).total_cmp(&mean(b)))
        .expect("rows")
}

fn assert_gain(claim: &str, g: Spread, margin: f64) {
    println!("{claim}: gain {g} points (asserted mean > {margin})");
    assert!(
        g.mean > margin,
        "{claim}: gain {g} points, expected > {margin}"
    );
}

/// Per seed, the mean accuracy of `rows`: a window length picked blind.
fn average(r: &Results, rows: &[usize]) -> Vec<f64> {
    (0..r.raw.len())
        .map(|s| rows.iter().map(|&i| r.accuracy[i][s]).sum::<f64>() / rows.len() as f64)
        .collect()
}

/// Claim: multi-window (1, 2, 5, 10) beats a single window with the same
/// parameters (`windows: [w, w, w, w]`: four branches of one length, the same
/// fusion layer, the same parameter count). Not reproduced on the held-out
/// seeds: against the best such w (picked on these very seeds, which favours
/// the baseline) the gain is +0.08 points [−0.97, +1.53]. What holds, and is
/// asserted: multi-window is on par with the best matched length (mean gain
/// above −0.5) and beats a matched length picked blind (the mean over the four
/// lengths) by +1.02 [+0.29, +1.70] (margin: half). With the mechanism off
/// (AVE-CLIP's row built with one repeated window) it is a matched row: with
/// window 1 (the first length, picked blind) it is 0.87 points below the
/// average and the test fails; with window 2 (the best, known only after
/// measuring) it passes, which is why the claim itself is "not reproduced".
#[test]
fn multi_window_against_the_parameter_matched_single_window() {
    let r = results();
    let b = best(r, &MATCHED);
    assert!(MATCHED.iter().all(|&i| r.params[i] == r.params[AVE_CLIP]));
    let to_best = gain(&r.accuracy[AVE_CLIP], &r.accuracy[b]);
    println!(
        "multi-window vs {}: {to_best} points (asserted mean > -0.5)",
        VARIANTS[b].name
    );
    assert!(to_best.mean > -0.5, "{to_best}");
    assert_gain(
        "multi-window vs the matched lengths' average",
        gain(&r.accuracy[AVE_CLIP], &average(r, &MATCHED)),
        0.5,
    );
}

/// Claim: multi-window beats every plain single window (one branch, 0.56x the
/// parameters): the original ablation of docs/ave-clip.md, which held on the
/// seeds the generator was tuned on (+2.27 points). Held out: +0.28 [−1.23,
/// +1.40] over the best (window 2), below it on one seed: not reproduced.
/// Asserted, as for the matched test: on par with the best (mean above −0.5)
/// and above the four lengths' average (+1.03 [−0.06, +2.28]; margin: half). Mechanism off
/// (a single window): window 1 is 0.51 below the average and fails; window 2,
/// the best, passes.
#[test]
fn multi_window_against_every_single_window() {
    let r = results();
    let b = best(r, &SINGLE);
    assert!(r.params[b] < r.params[AVE_CLIP]);
    let to_best = gain(&r.accuracy[AVE_CLIP], &r.accuracy[b]);
    println!(
        "multi-window vs {}: {to_best} points (asserted mean > -0.5)",
        VARIANTS[b].name
    );
    assert!(to_best.mean > -0.5, "{to_best}");
    assert_gain(
        "multi-window vs the single lengths' average",
        gain(&r.accuracy[AVE_CLIP], &average(r, &SINGLE)),
        0.5,
    );
}

/// Event-guided refinement adds accuracy: +1.24 points [+0.43, +2.53] held
/// out (margin: half). With the mechanism off (`refine: false` on AVE-CLIP's
/// row) the two rows are the same run: gain 0, the assertion fails.
#[test]
fn event_guided_refinement_adds_accuracy() {
    let r = results();
    assert_gain(
        "refinement",
        gain(&r.accuracy[AVE_CLIP], &r.accuracy[NO_REFINE]),
        0.6,
    );
}

/// Post-processing adds accuracy (AVE-CLIP scored after vs before it): +1.48
/// points [+1.27, +1.63] held out (margin: half). With the mechanism off
/// (`postprocess: false`) `accuracy` is `accuracy_raw`: gain 0, the assertion
/// fails.
#[test]
fn post_processing_adds_accuracy() {
    let r = results();
    assert_gain("post-processing", gain(&r.accuracy[AVE_CLIP], &r.raw), 0.7);
}

/// Claim: stage-1 contrastive alignment of the towers helps the localisation
/// model. Not reproduced: against the same model trained from its initial
/// weights the held-out gain is −0.34 points [−0.97, +0.30]. What holds, and
/// is asserted: stage 1 costs less than a point (mean above −1). With stage 1
/// on both rows the gain is 0 and this passes; it guards against stage 1
/// starting to hurt.
#[test]
fn contrastive_stage_1_does_not_help_here() {
    let r = results();
    let g = gain(&r.accuracy[AVE_CLIP], &r.accuracy[NO_STAGE1]);
    println!("stage-1 contrastive: gain {g} points (asserted mean > -1)");
    assert!(g.mean > -1.0, "stage 1 costs {g} points");
}

/// The generator is frozen: a fingerprint of `dataset.av_events` (labels and
/// features of 8 videos of the first held-out seed) recorded when the claims
/// above were first measured. A change to the generator changes the task the
/// claims were measured on and fails here: then re-tune on seeds outside
/// `HELD_OUT_SEEDS`, pick new held-out seeds in `pipe-claims`, and re-measure.
/// Checked to fail: with `noise: 1.4` passed to the generator (as a change of
/// its 1.5 default would do) the fingerprint differs.
#[test]
fn the_generator_is_frozen() {
    let data = call(
        "dataset.av_events",
        vec![("videos", int(8)), ("seed", int(HELD_OUT_SEEDS[0] as i64))],
    );
    let Outputs::Single(Artifact::Dataset(d)) = &data.outputs else {
        panic!("dataset.av_events gives one dataset");
    };
    let set = d.av_segments().expect("audio-visual");
    // FNV-1a over the labels and the features at 1e-3 (robust to the last bits).
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let quantised = set
        .audio
        .iter()
        .chain(&set.visual)
        .map(|v| (v * 1e3).round() as i64);
    for word in set.labels.iter().map(|&l| i64::from(l)).chain(quantised) {
        for byte in word.to_le_bytes() {
            h = (h ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    println!("generator fingerprint {h:#018x}");
    assert_eq!(
        h, FINGERPRINT,
        "dataset.av_events changed; see this test's doc"
    );
}

const FINGERPRINT: u64 = 0x88cd_923d_c616_68e7;
