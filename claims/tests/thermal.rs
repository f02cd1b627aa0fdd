//! Claims of thermal dynamic shifting ("Play It Cool", docs/papers.md section 9): a
//! weight-shared slimmable network that shifts to smaller widths as the phone
//! heats keeps its latency where always running the largest width throttles,
//! at a higher accuracy than always running a smaller width.
//!
//! Setting: per held-out seed, a slimmable MobileNetV2 (widths 0.35/0.5/0.75/1,
//! 3 blocks, expansion 4) trained 4 epochs on that seed's 80/20 split of the UCI
//! digits, each width's test accuracy saved, its latency from its FLOPs; then
//! `SETTINGS` phones drawn from the seed around the shipped Exynos 5433 table
//! (thermal resistance, capacitance, switched capacitance, ambient, the trip
//! points shifted together, and load, `phone`), none of which the policy was
//! developed on (docs/slimmable.md lists the development settings). The policy
//! (`pipe_sim::governor`) sees only temperature, frequency and the first trip point.
//!
//! `PIPE_CLAIMS_DEV_SEEDS=1,2` runs the same tests on development seeds instead.

// Claims are measured in release (`cargo test --release -p pipe-claims`, as CI runs
// them); the dev profile of `cargo test --workspace` would train the same models
// several times slower and measure nothing new, so there the file compiles to no test.
#![cfg(not(debug_assertions))]

use pipe_claims::{call, int, Spread, HELD_OUT_SEEDS};
use pipe_lang::value::Value;
use pipe_sim::thermal::{fps_for_load, simulate, Clock, DeviceModel, Policy, Shift, Soc, Trip};
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use rand::{Rng, SeedableRng};
use std::sync::OnceLock;

const WIDTHS: [f64; 4] = [0.35, 0.5, 0.75, 1.0];
const EPOCHS: i64 = 4;
/// Phones drawn per seed.
const SETTINGS: usize = 4;
/// A width "holds its latency" when its slowest inference is within this factor
/// of its first.
const HOLDS: f64 = 1.1;

fn seeds() -> Vec<u64> {
    pipe_claims::seeds(&HELD_OUT_SEEDS)
}

fn art(out: &StageOutput, name: Option<&str>) -> Input {
    Input::Artifact(match (&out.outputs, name) {
        (Outputs::Single(a), None) => a.clone(),
        (Outputs::Record(r), Some(n)) => r[n].clone(),
        _ => panic!("unexpected outputs"),
    })
}

/// The seed's trained network as the phone sees it: every width, largest
/// first, with its FLOPs (latency = FLOPs / (f · flops_per_cycle)) and its
/// held-out accuracy.
fn trained_widths(seed: u64) -> Vec<DeviceModel> {
    let s = seed as i64;
    let digits = call("dataset.digits", vec![]);
    let parts = call(
        "dataset.split",
        vec![
            ("data", art(&digits, None)),
            ("test", Input::Value(Value::Float(0.2))),
            ("seed", int(s)),
        ],
    );
    let base = call(
        "model.mobilenet_v2",
        vec![
            ("input", art(&parts, Some("train"))),
            ("blocks", int(3)),
            ("expansion", int(4)),
            ("seed", int(s)),
        ],
    );
    let widths = WIDTHS.iter().map(|&w| Value::Float(w)).collect();
    let slim = call(
        "model.slimmable",
        vec![
            ("base", art(&base, None)),
            ("widths", Input::Value(Value::List(widths))),
            ("seed", int(s)),
        ],
    );
    let trained = call(
        "train.slimmable",
        vec![
            ("model", art(&slim, None)),
            ("data", art(&parts, Some("train"))),
            ("test", art(&parts, Some("test"))),
            ("epochs", int(EPOCHS)),
            ("batch_size", int(32)),
            ("seed", int(s)),
        ],
    );
    let Input::Artifact(Artifact::Model(model)) = art(&trained, Some("model")) else {
        panic!("train.slimmable returned no model");
    };
    let spec = model.spec().expect("a trained network has a spec");
    pipe_nn::slim::profile(&spec)
        .iter()
        .rev()
        .map(|p| DeviceModel {
            name: pipe_nn::slim::width_label(p.width),
            flops: p.flops as f64,
            accuracy: p.accuracy.map(f64::from),
            // From FLOPs, not the measured latency: on a shared CI machine the
            // measured figures of these small widths move with the load (one
            // development run timed the smallest width slower than the largest).
            latency_s: None,
        })
        .collect()
}

/// A phone drawn from the seed around the shipped Exynos 5433 table: every
/// constant the policy never sees varies (ambient, thermal R and C, switched
/// capacitance, load), and the trip points shift together, which the policy sees.
fn phone(rng: &mut impl Rng, models: &[DeviceModel]) -> (Soc, String) {
    let base = Soc::default_table().expect("the shipped table parses");
    let shift_c = rng.gen_range(-5.0..5.0);
    let soc = Soc {
        ambient_c: rng.gen_range(20.0..30.0),
        r_k_per_w: base.r_k_per_w * rng.gen_range(0.8..1.2),
        c_j_per_k: base.c_j_per_k * rng.gen_range(0.5..1.5),
        c_eff_f: base.c_eff_f * rng.gen_range(0.85..1.2),
        trips: base
            .trips
            .iter()
            .map(|t| Trip {
                temp_c: t.temp_c + shift_c,
                ..*t
            })
            .collect(),
        ..base
    };
    let load = rng.gen_range(0.8..1.0);
    let fps = fps_for_load(models, &soc, load).expect("positive latencies");
    let label = format!(
        "amb {:.0} R {:.1} C {:.1} trip0 {:.0} c_eff {:.2} nF load {load:.2}",
        soc.ambient_c,
        soc.r_k_per_w,
        soc.c_j_per_k,
        soc.first_trip_c(),
        soc.c_eff_f * 1e9
    );
    (Soc { fps, ..soc }, label)
}

/// One phone's results.
struct Setting {
    /// `static_large`: slowest / first latency, seconds throttled.
    large_slowdown: f64,
    large_throttled_s: f64,
    /// `dynamic_shift`: slowest latency / the largest width's first, seconds
    /// throttled, mean accuracy.
    shift_slowdown: f64,
    shift_throttled_s: f64,
    shift_accuracy: f64,
    small_accuracy: f64,
    /// The most accurate single width that holds its latency on this phone.
    best_fixed_accuracy: f64,
}

fn measure(models: &[DeviceModel], soc: &Soc) -> Setting {
    let clock = Clock {
        duration_s: 600.0,
        dt_s: 0.05,
        sample_s: 10.0,
    };
    let shift = Shift::project_default();
    let fixed: Vec<_> = (0..models.len())
        .map(|k| simulate(&models[k..=k], Policy::StaticLarge, soc, &shift, &clock).unwrap())
        .collect();
    let dynamic = simulate(models, Policy::DynamicShift, soc, &shift, &clock).unwrap();
    let accuracy = |r: &pipe_sim::thermal::ThermalReport| r.mean_accuracy.expect("accuracy");
    let best_fixed_accuracy = fixed
        .iter()
        .filter(|r| r.max_latency_ms <= HOLDS * r.start_latency_ms)
        .map(accuracy)
        .fold(f64::NAN, f64::max);
    Setting {
        large_slowdown: fixed[0].max_latency_ms / fixed[0].start_latency_ms,
        large_throttled_s: fixed[0].throttled_s,
        shift_slowdown: dynamic.max_latency_ms / dynamic.start_latency_ms,
        shift_throttled_s: dynamic.throttled_s,
        shift_accuracy: accuracy(&dynamic),
        small_accuracy: accuracy(fixed.last().expect("widths")),
        best_fixed_accuracy,
    }
}

/// Every seed's phones, measured once for all the tests of this file.
fn study() -> &'static Vec<(u64, Vec<Setting>)> {
    static STUDY: OnceLock<Vec<(u64, Vec<Setting>)>> = OnceLock::new();
    STUDY.get_or_init(|| {
        println!("| seed | phone | large slowdown | large throttled s | shift slowdown | shift throttled s | shift acc | small acc | best fixed acc |");
        println!("|---|---|---|---|---|---|---|---|---|");
        seeds()
            .into_iter()
            .map(|seed| {
                let models = trained_widths(seed);
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let settings = (0..SETTINGS)
                    .map(|_| {
                        let (soc, label) = phone(&mut rng, &models);
                        let s = measure(&models, &soc);
                        println!(
                            "| {seed} | {label} | {:.3} | {:.0} | {:.3} | {:.0} | {:.4} | {:.4} | {:.4} |",
                            s.large_slowdown,
                            s.large_throttled_s,
                            s.shift_slowdown,
                            s.shift_throttled_s,
                            s.shift_accuracy,
                            s.small_accuracy,
                            s.best_fixed_accuracy
                        );
                        s
                    })
                    .collect();
                (seed, settings)
            })
            .collect()
    })
}

/// Per seed, the mean over its phones of `f`; their spread over seeds.
fn over_seeds(f: impl Fn(&Setting) -> f64) -> Spread {
    let per_seed: Vec<f64> = study()
        .iter()
        .map(|(_, settings)| settings.iter().map(&f).sum::<f64>() / settings.len() as f64)
        .collect();
    Spread::of(&per_seed).expect("at least one seed")
}

/// Claim: under throttling, dynamic shifting keeps the latency that always
/// running the largest width loses. Measured: the slowest inference over the
/// first one, mean over each seed's phones, and the seconds throttled.
/// Checked to fail with the mechanism off: with `Policy::StaticLarge` in place
/// of `Policy::DynamicShift` in `measure`, the shift's slowdown equals
/// static_large's (1.135 both on development seed 1, Exynos 5433 phones) and the
/// first assertion fails.
#[test]
fn dynamic_shift_holds_latency_where_the_largest_width_throttles() {
    let large = over_seeds(|s| s.large_slowdown);
    let shift = over_seeds(|s| s.shift_slowdown);
    let large_thr = over_seeds(|s| s.large_throttled_s);
    let shift_thr = over_seeds(|s| s.shift_throttled_s);
    println!("slowdown: static_large {large}, dynamic_shift {shift}");
    println!("throttled s: static_large {large_thr}, dynamic_shift {shift_thr}");
    assert!(shift.max < large.min, "{shift} vs {large}");
    assert!(shift.max <= HOLDS, "dynamic_shift slowed down {shift}");
    assert!(
        shift_thr.max < 0.1 * large_thr.min,
        "{shift_thr} vs {large_thr}"
    );
}

/// Claim: shifting costs less accuracy than running a small width throughout.
/// Measured: mean accuracy over time against always the smallest width.
/// Checked to fail with the mechanism off: with `Policy::StaticSmall` in place
/// of `Policy::DynamicShift` in `measure`, the gain is 0 (development seed 1,
/// Exynos 5433 phones) and the assertion fails.
#[test]
fn dynamic_shift_is_more_accurate_than_the_smallest_width() {
    let shift = over_seeds(|s| s.shift_accuracy);
    let small = over_seeds(|s| s.small_accuracy);
    let gain = over_seeds(|s| s.shift_accuracy - s.small_accuracy);
    println!("accuracy: dynamic_shift {shift}, static_small {small}, gain {gain}");
    assert!(gain.min > 0.0, "{gain}");
}

/// Claim: dynamic shifting is at least as accurate as the best single width
/// that holds its latency on that phone (chosen in hindsight, per phone).
/// Not reproduced on the Exynos 5433 phone: held out, shifting ends 0.011 [0.0045,
/// 0.0195] below that width. Its trip caps throttle by 100 MHz steps, so a wide
/// fixed width (0.75, sometimes 1.0) throttles yet stays within `HOLDS` (10 %) of its
/// first latency, while the policy keeps below the first trip point with no
/// slowdown at all and spends time on narrower widths. Asserted: the measured
/// direction on every seed (a policy that earns the claim fails here and must
/// update docs/claims.md), and that it stays within 5 points, which the
/// mechanism switched off does not.
/// Checked to fail with the mechanism off: with `Policy::StaticSmall` in place of
/// `Policy::DynamicShift` in `measure`, the gap is -0.064 (development seed 1) and
/// the second assertion fails.
#[test]
fn dynamic_shift_falls_just_below_the_best_fixed_width_that_holds_latency() {
    let gap = over_seeds(|s| s.shift_accuracy - s.best_fixed_accuracy);
    println!("dynamic_shift minus best fixed width that holds latency: {gap}");
    assert!(gap.max < 0.0, "{gap}");
    assert!(gap.min > -0.05, "{gap}");
}
