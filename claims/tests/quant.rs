//! Claims of Evol-Q and CPT-V (docs/claims.md, "Quantization (Evol-Q, CPT-V)"),
//! measured on a ViT trained on the UCI digits for each of `HELD_OUT_SEEDS`.
//!
//! One fixture (computed once, shared by the tests): per seed, the digits split
//! 80/20 and a 256-image calibration sample of the training split, a ViT (patch 2,
//! dim 32, depth 4, heads 4) trained 30 epochs, then at W3/A8 and W4/A8 (the paper's
//! weight widths, 8-bit activations as in its scripts) the OMSE start, Evol-Q at the
//! code's constants, and a random search over the same scales with the same number of
//! fitness evaluations; CPT-V at W3/A8. Everything is scored on the 359 held-out test
//! images: top-1 and the contrastive loss's excess over its floor (the infoNCE of
//! the full-precision logits against themselves), the part of the fitness that
//! quantization adds. This file never holds a method's logic: the searches run
//! through the stage catalog; the random-search baseline is built here from
//! `pipe_nn::quant` because no stage offers it.

// Claims are measured in release (`cargo test --release -p pipe-claims`, as CI runs
// them); the dev profile of `cargo test --workspace` would train the same models
// several times slower and measure nothing new, so there the file compiles to no test.
#![cfg(not(debug_assertions))]

use pipe_claims::{float, int, Spread, HELD_OUT_SEEDS};
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::dataset::ImageSet;
use pipe_stdlib::model::Model;
use pipe_stdlib::run::quant::fitness::Loss;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use pipe_stdlib::Stdlib;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

/// The search's fitness batch and temperature (the stage defaults, the code's).
const BATCH: usize = 100;
const TEMPERATURE: f64 = 3.0;
/// The mutation radius the code uses at 3 and 4 bits.
const RADIUS: f32 = 1e-3;

fn call(stage: &str, args: Vec<(&str, Input)>) -> StageOutput {
    Stdlib::get()
        .call(stage, args, &std::env::temp_dir())
        .unwrap_or_else(|e| panic!("{stage}: {e}"))
}

fn art(a: &Artifact) -> Input {
    Input::Artifact(a.clone())
}

fn field(out: &StageOutput, name: &str) -> Artifact {
    match &out.outputs {
        Outputs::Record(r) => r[name].clone(),
        Outputs::Single(a) => a.clone(),
    }
}

fn model_of(a: &Artifact) -> Arc<Model> {
    match a {
        Artifact::Model(m) => m.clone(),
        other => panic!("not a model: {}", other.kind()),
    }
}

fn images(a: &Artifact) -> &ImageSet {
    match a {
        Artifact::Dataset(d) => d.images().expect("an image set"),
        other => panic!("not a dataset: {}", other.kind()),
    }
}

fn logits(model: &Model, data: &ImageSet) -> Vec<f32> {
    let mut net = model.network().expect("the model loads");
    pipe_nn::train::predict(&mut net, &data.x, BATCH).data
}

fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, v) in row.iter().enumerate() {
        if *v > row[best] {
            best = i;
        }
    }
    best
}

/// The fitness of `q` against the full-precision `fp` logits (batches of
/// `BATCH` in order, as the search scores them) minus its floor `fitness(fp, fp)`.
fn excess(q: &[f32], fp: &[f32], classes: usize) -> f64 {
    let loss = Loss::InfoNce {
        temperature: TEMPERATURE,
    };
    let mut sum = 0.0;
    let mut count = 0;
    for (a, b) in q.chunks(BATCH * classes).zip(fp.chunks(BATCH * classes)) {
        let rows = a.len() / classes;
        sum += loss.eval(a, b, rows) - loss.eval(b, b, rows);
        count += 1;
    }
    sum / f64::from(count.max(1))
}

/// A quantized model on the held-out test images.
#[derive(Debug, Clone, Copy)]
struct Score {
    top1: f64,
    /// infoNCE excess over its floor on the test images.
    excess: f64,
}

fn score(model: &Model, data: &ImageSet, fp: &[f32]) -> Score {
    let q = logits(model, data);
    let classes = fp.len() / data.len().max(1);
    let correct = q
        .chunks(classes)
        .zip(&data.y)
        .filter(|(row, &label)| argmax(row) == label as usize)
        .count();
    Score {
        top1: correct as f64 / data.len() as f64,
        excess: excess(&q, fp, classes),
    }
}

/// One weight width on one seed.
#[derive(Debug, Clone, Copy)]
struct Width {
    start: Score,
    evolq: Score,
    random: Score,
    /// Calibration-set excess of the start, Evol-Q and the random search.
    calib: [f64; 3],
}

/// One held-out seed.
#[derive(Debug, Clone, Copy)]
struct SeedRun {
    seed: u64,
    /// Held-out test images.
    images: usize,
    fp_top1: f64,
    w3: Width,
    w4: Width,
    cptv3: Score,
}

/// Random search, the baseline with Evol-Q's evaluation budget: every candidate
/// perturbs every searched scale of the start by U(-r, r) (Evol-Q's mutation,
/// without selection of parents or block order), the one with the least
/// calibration fitness is kept (the start if none beats it).
fn random_search(
    start: &Model,
    calib: &ImageSet,
    fp: &[f32],
    evaluations: usize,
    seed: u64,
) -> Model {
    let mut net = start.network().expect("the start loads");
    let layers: Vec<String> = pipe_nn::quant::attention_projections(&mut net)
        .into_iter()
        .flat_map(|(_, names)| names)
        .collect();
    let origin = pipe_nn::quant::state(&mut net);
    let classes = fp.len() / calib.len().max(1);
    let fitness = |net: &mut pipe_nn::Network| {
        excess(
            &pipe_nn::train::predict(net, &calib.x, BATCH).data,
            fp,
            classes,
        )
    };
    let mut best = (fitness(&mut net), origin.clone());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    for _ in 0..evaluations {
        let mut candidate = origin.clone();
        for name in &layers {
            let scales = candidate
                .get_mut(name)
                .and_then(|q| q.weight_scales.as_mut())
                .expect("searched layers have weight scales");
            for s in scales {
                *s = (*s + rng.gen_range(-RADIUS..RADIUS))
                    .abs()
                    .max(f32::EPSILON);
            }
        }
        pipe_nn::quant::apply(&mut net, &candidate).expect("same layers");
        let loss = fitness(&mut net);
        if loss < best.0 {
            best = (loss, candidate);
        }
    }
    pipe_nn::quant::apply(&mut net, &best.1).expect("same layers");
    Model::from_network(&mut net).expect("saves")
}

/// `stage` at `bits`/A8; `seed` only for the searches (the calibrations have none).
fn quantize(
    stage: &str,
    fp: &Artifact,
    calib: &Artifact,
    bits: i64,
    seed: Option<u64>,
) -> StageOutput {
    let mut args = vec![
        ("model", art(fp)),
        ("calib", art(calib)),
        ("bits", int(bits)),
        ("act_bits", int(8)),
    ];
    args.extend(seed.map(|s| ("seed", int(s as i64))));
    call(stage, args)
}

fn width(fp: &Artifact, calib: &Artifact, test: &ImageSet, bits: i64, seed: u64) -> (Width, f64) {
    let ci = images(calib);
    let fp_model = model_of(fp);
    let (fp_test, fp_calib) = (logits(&fp_model, test), logits(&fp_model, ci));
    let start = model_of(&field(
        &quantize("quant.omse", fp, calib, bits, None),
        "model",
    ));
    let searched = quantize("quant.evolq", fp, calib, bits, Some(seed));
    let evolq = model_of(&field(&searched, "model"));
    let evaluations = searched.metrics["evaluations"] as usize;
    let random = random_search(&start, ci, &fp_calib, evaluations, seed);
    let calib_excess = |m: &Model| excess(&logits(m, ci), &fp_calib, 10);
    let w = Width {
        start: score(&start, test, &fp_test),
        evolq: score(&evolq, test, &fp_test),
        random: score(&random, test, &fp_test),
        calib: [
            calib_excess(&start),
            calib_excess(&evolq),
            calib_excess(&random),
        ],
    };
    (w, searched.metrics["search_seconds"])
}

fn seed_run(seed: u64) -> SeedRun {
    let clock = Instant::now();
    let all = field(&call("dataset.digits", vec![]), "");
    let parts = call(
        "dataset.split",
        vec![
            ("data", art(&all)),
            ("test", float(0.2)),
            ("seed", int(seed as i64)),
        ],
    );
    let (train, test) = (field(&parts, "train"), field(&parts, "test"));
    let calib = field(
        &call(
            "dataset.sample",
            vec![
                ("data", art(&train)),
                ("n", int(256)),
                ("seed", int(seed as i64)),
            ],
        ),
        "",
    );
    let vit = field(
        &call(
            "model.vit",
            vec![
                ("input", art(&train)),
                ("patch", int(2)),
                ("dim", int(32)),
                ("depth", int(4)),
                ("heads", int(4)),
                ("seed", int(seed as i64)),
            ],
        ),
        "",
    );
    let trained = call(
        "train.supervised",
        vec![
            ("model", art(&vit)),
            ("data", art(&train)),
            ("epochs", int(30)),
            ("lr", float(3e-3)),
            ("batch_size", int(64)),
            ("seed", int(seed as i64)),
        ],
    );
    let fp = field(&trained, "model");
    let test = images(&test);
    let fp_test = logits(&model_of(&fp), test);
    let fp_top1 = score(&model_of(&fp), test, &fp_test).top1;
    let trained_s = clock.elapsed().as_secs_f64();
    let (w3, s3) = width(&fp, &calib, test, 3, seed);
    let (w4, s4) = width(&fp, &calib, test, 4, seed);
    let cptv = quantize("quant.cptv", &fp, &calib, 3, Some(seed));
    let cptv3 = score(&model_of(&field(&cptv, "model")), test, &fp_test);
    println!(
        "seed {seed}: trained in {trained_s:.1}s, Evol-Q search {s3:.1}s (W3) {s4:.1}s (W4), all {:.1}s",
        clock.elapsed().as_secs_f64()
    );
    SeedRun {
        seed,
        images: test.len(),
        fp_top1,
        w3,
        w4,
        cptv3,
    }
}

/// The fixture, computed once for all tests of this file, its table printed.
fn runs() -> &'static [SeedRun] {
    static RUNS: OnceLock<Vec<SeedRun>> = OnceLock::new();
    RUNS.get_or_init(|| {
        let runs: Vec<SeedRun> = HELD_OUT_SEEDS.iter().map(|&s| seed_run(s)).collect();
        print_table(&runs);
        runs
    })
}

fn print_table(runs: &[SeedRun]) {
    println!("| seed | FP top-1 | W | start top-1 | Evol-Q top-1 | random top-1 | test excess start / Evol-Q / random | calib excess start / Evol-Q / random |");
    println!("|---|---|---|---|---|---|---|---|");
    for r in runs {
        for (bits, w) in [(3, &r.w3), (4, &r.w4)] {
            println!(
                "| {} | {:.4} | {bits} | {:.4} | {:.4} | {:.4} | {:.5} / {:.5} / {:.5} | {:.5} / {:.5} / {:.5} |",
                r.seed,
                r.fp_top1,
                w.start.top1,
                w.evolq.top1,
                w.random.top1,
                w.start.excess,
                w.evolq.excess,
                w.random.excess,
                w.calib[0],
                w.calib[1],
                w.calib[2],
            );
        }
        println!(
            "| {} | CPT-V W3: top-1 {:.4}, test excess {:.5} |",
            r.seed, r.cptv3.top1, r.cptv3.excess
        );
    }
}

fn spread(values: impl Iterator<Item = f64>) -> Spread {
    Spread::of(&values.collect::<Vec<f64>>()).expect("held-out seeds")
}

/// Fraction of the start's test excess that `after` removed.
fn removed(start: Score, after: Score) -> f64 {
    (start.excess - after.excess) / start.excess
}

/// Per seed, `value` of the W3 and the W4 run.
fn per_width(f: impl Fn(&Width) -> f64) -> (Vec<f64>, Vec<f64>) {
    let runs = runs();
    (
        runs.iter().map(|r| f(&r.w3)).collect(),
        runs.iter().map(|r| f(&r.w4)).collect(),
    )
}

fn summary(what: &str, values: &[f64]) -> Spread {
    let s = spread(values.iter().copied());
    println!("{what}: {s} over seeds {HELD_OUT_SEEDS:?}");
    s
}

/// Evol-Q and CPT-V abstracts: +10.30 top-1 points over the prior quantized
/// ViT-Base at 3-bit weights. Here (W3/A8 digits ViT, OMSE start 0.3-2.5 points
/// below FP) Evol-Q ends at or above its start on every held-out seed, by 0 to 1
/// test image (0.28 points): the direction holds, the size does not (little room
/// above the start). Checked to fail with the search switched off (the start's
/// model scored in place of Evol-Q's: the mean gain is 0).
#[test]
fn evolq_at_3_bits_ends_at_or_above_its_start() {
    let (gain, _) = per_width(|w| w.evolq.top1 - w.start.top1);
    let s = summary("Evol-Q W3 top-1 gain over OMSE", &gain);
    assert!(s.min >= 0.0, "below its start on a seed: {gain:?}");
    assert!(s.mean >= 0.0018, "mean gain {s}");
}

/// Evol-Q abstract: +0.78 top-1 points at 4-bit weights. Not reproduced: at
/// W4/A8 the start is within 0.8 points of FP and Evol-Q's top-1 moves
/// by -2 to +2 test images (mean +0.09 points), although the search removes
/// 27-39 % of the held-out contrastive excess. Asserted: that excess falls by at
/// least 25 % on every seed while top-1 stays within 2 images of the start.
/// Checked to fail with the search switched off (start scored as Evol-Q: 0 %
/// removed).
#[test]
fn evolq_at_4_bits_lowers_the_held_out_loss_but_top1_does_not_separate() {
    let (_, gain) = per_width(|w| w.evolq.top1 - w.start.top1);
    let (_, cut) = per_width(|w| removed(w.start, w.evolq));
    summary("Evol-Q W4 top-1 gain over OMSE", &gain);
    let s = summary("Evol-Q W4 share of the test excess removed", &cut);
    assert!(s.min >= 0.25, "{cut:?}");
    for (g, r) in gain.iter().zip(runs()) {
        let images = g.abs() * r.images as f64;
        assert!(images <= 2.0 + 1e-9, "seed {}: {images} images", r.seed);
    }
}

/// The mechanism the papers rely on: a contrastive fitness computed on 1,000
/// (here 256) calibration images that carries to unseen images. The share of the
/// start's infoNCE excess (over the FP floor) that Evol-Q removes on the held-out
/// test images: W3 4.6-13.8 % (mean 10.4 %), W4 27-39 % (mean 34 %). Checked to
/// fail with the search switched off (start scored as Evol-Q: 0 %).
#[test]
fn evolq_fitness_gain_carries_to_held_out_images() {
    let (w3, w4) = per_width(|w| removed(w.start, w.evolq));
    let (s3, s4) = (
        summary("Evol-Q W3 share of the test excess removed", &w3),
        summary("Evol-Q W4 share of the test excess removed", &w4),
    );
    assert!(s3.min >= 0.04 && s3.mean >= 0.10, "{w3:?}");
    assert!(s4.min >= 0.25 && s4.mean >= 0.30, "{w4:?}");
}

/// CPT-V abstract: block-wise evolutionary search of a global contrastive loss,
/// +10.30 top-1 points at 3-bit weights. `quant.cptv` runs that search on the
/// final outputs (the same code base as Evol-Q), so at W3/A8 it returns Evol-Q's
/// model: top-1 at or above its start on every seed (mean +0.19 points) and 4.6-
/// 13.8 % of the held-out excess removed. Checked to fail with the search
/// switched off (the start scored as CPT-V: gain 0). That the fitness is global
/// is held by stdlib's unit test `the_fitness_of_a_block_depends_on_the_blocks_after_it`.
#[test]
fn cptv_at_3_bits_improves_over_its_start() {
    let runs = runs();
    let gain: Vec<f64> = runs
        .iter()
        .map(|r| r.cptv3.top1 - r.w3.start.top1)
        .collect();
    let cut: Vec<f64> = runs.iter().map(|r| removed(r.w3.start, r.cptv3)).collect();
    let s = summary("CPT-V W3 top-1 gain over OMSE", &gain);
    let c = summary("CPT-V W3 share of the test excess removed", &cut);
    assert!(s.min >= 0.0 && s.mean >= 0.0018, "{gain:?}");
    assert!(c.min >= 0.04, "{cut:?}");
    for r in runs {
        assert_eq!(r.cptv3.top1, r.w3.evolq.top1, "seed {}", r.seed);
        assert_eq!(r.cptv3.excess, r.w3.evolq.excess, "seed {}", r.seed);
    }
}

/// Does the evolutionary search beat random perturbation with the same number
/// of fitness evaluations (every candidate the start plus U(-r, r) on every
/// searched scale, the best kept)? On the calibration fitness it searches, yes
/// at W3 on every seed (0.0019-0.0093 lower excess); at W4 on 2 of 3. On the
/// held-out images, not separated (random search is lower on 3 of the 6
/// seed-width pairs). Asserted: the W3 calibration margin, and at W4 Evol-Q
/// lower on average. Checked to fail with the search switched off (start scored
/// as Evol-Q: its calibration excess is above the random search's).
#[test]
fn evolq_beats_random_search_on_its_fitness_at_equal_budget() {
    let (w3, w4) = per_width(|w| w.calib[2] - w.calib[1]);
    let (t3, t4) = per_width(|w| w.random.excess - w.evolq.excess);
    summary("W3 calibration excess, random search minus Evol-Q", &w3);
    let s4 = summary("W4 calibration excess, random search minus Evol-Q", &w4);
    summary("W3 test excess, random search minus Evol-Q", &t3);
    summary("W4 test excess, random search minus Evol-Q", &t4);
    assert!(w3.iter().all(|d| *d >= 0.0015), "{w3:?}");
    assert!(s4.mean > 0.0015, "{w4:?}");
}
