//! The simulator's throttling curve against a published measurement: a
//! Raspberry Pi 3 Model B under `stress --cpu 4` for 300 s, as stressberry
//! published it (`data/measured/rpi3b_*_stressberry.csv`, source in their
//! headers), on the shipped BCM2837 table (`data/thermal_bcm2837.csv`).
//!
//! The split: the table's die-and-board RC is fitted on the **naked** run's
//! heating before its first throttle, and nothing else; the **acrylic-case**
//! run is the comparison. Each run starts from its own idle temperature (the
//! mean before the load), which is an initial condition, not a fit.
//!
//! Tolerances, stated before the comparison was first run: on the acrylic run,
//! the time to the first throttle (first sample at or above the 80 degC trip)
//! within ±20 %, the mean temperature while throttled within ±1.5 degC, and
//! the RMS error over the 300 s of load at most 1.5 degC (the sensor moves in
//! steps of about 0.54 degC). An exploratory fit of both runs had been looked at
//! before these were written. Outcome (docs/simulators.md): the first throttle
//! is met, the throttled level and so the whole-load RMS are not; the RMS of
//! the heating alone is reported beside them.

use pipe_sim::csv::CsvTable;
use pipe_sim::rc_fit::{fit_one_node, fit_two_nodes};
use pipe_sim::soc::Soc;
use pipe_sim::thermal::{simulate, Clock, DeviceModel, Policy, Shift, ThermalReport};
use std::path::PathBuf;

/// The stressberry schedule: the load runs from 150 s to 450 s.
const LOAD_START_S: f64 = 150.0;
const LOAD_S: f64 = 300.0;
const DT_S: f64 = 0.05;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("data")
        .join(name)
}

fn pi() -> Soc {
    Soc::read(&data("thermal_bcm2837.csv")).expect("the shipped Raspberry Pi table parses")
}

/// One published run: the mean idle temperature before the load, and the
/// loaded samples as (seconds since the load started, degC).
struct Run {
    idle_c: f64,
    loaded: Vec<(f64, f64)>,
}

fn run(name: &str) -> Run {
    let t = CsvTable::read(&data(&format!("measured/rpi3b_{name}_stressberry.csv"))).unwrap();
    let [time, temp, stress] = t.columns(["time_s", "temp_c", "stress"]).unwrap();
    let rows: Vec<(f64, f64, bool)> = t
        .rows
        .iter()
        .map(|r| {
            let on = t.number(r, stress).unwrap() == 1.0;
            (t.number(r, time).unwrap(), t.number(r, temp).unwrap(), on)
        })
        .collect();
    let idle: Vec<f64> = rows
        .iter()
        .filter(|(s, _, on)| !on && *s < LOAD_START_S)
        .map(|(_, c, _)| *c)
        .collect();
    Run {
        idle_c: idle.iter().sum::<f64>() / idle.len() as f64,
        loaded: rows
            .iter()
            .filter(|(_, _, on)| *on)
            .map(|(s, c, _)| (s - LOAD_START_S, *c))
            .collect(),
    }
}

/// The loaded samples before the first one at or above `trip_c`.
fn unthrottled(run: &Run, trip_c: f64) -> Vec<(f64, f64)> {
    run.loaded
        .iter()
        .take_while(|(_, c)| *c < trip_c)
        .copied()
        .collect()
}

/// All four cores busy for the whole load, from the run's idle temperature.
fn simulate_run(soc: &Soc, run: &Run) -> ThermalReport {
    let soc = Soc {
        ambient_c: run.idle_c,
        fps: 1e3,
        ..soc.clone()
    };
    let stress = DeviceModel {
        name: "stress --cpu 4".into(),
        flops: 1e9,
        accuracy: None,
        latency_s: None,
    };
    let clock = Clock {
        duration_s: LOAD_S,
        dt_s: DT_S,
        sample_s: DT_S,
    };
    simulate(
        &[stress],
        Policy::StaticLarge,
        &soc,
        &Shift::project_default(),
        &clock,
    )
    .unwrap()
}

/// Measured against simulated: first throttle (s), mean while throttled
/// (degC), and the RMS error (degC) over the whole load, before the measured
/// first throttle and after it.
struct Comparison {
    first_throttle_s: (f64, f64),
    throttled_mean_c: (f64, f64),
    rms_c: f64,
    heating_rms_c: f64,
    throttled_rms_c: f64,
}

fn compare(run: &Run, report: &ThermalReport, trip_c: f64) -> Comparison {
    let simulated_at =
        |s: f64| report.trace[((s / DT_S).round() as usize).min(report.trace.len() - 1)].temp_c;
    let measured_first = run.loaded.iter().find(|(_, c)| *c >= trip_c).unwrap().0;
    let simulated_first = report
        .trace
        .iter()
        .find(|p| p.temp_c >= trip_c)
        .map_or(f64::INFINITY, |p| p.time_s);
    let throttled: Vec<&(f64, f64)> = run
        .loaded
        .iter()
        .filter(|(s, _)| *s >= measured_first)
        .collect();
    let mean = |v: &mut dyn Iterator<Item = f64>| {
        let all: Vec<f64> = v.collect();
        all.iter().sum::<f64>() / all.len() as f64
    };
    let rms = |from: f64, to: f64| {
        mean(
            &mut run
                .loaded
                .iter()
                .filter(|(s, _)| (from..to).contains(s))
                .map(|(s, c)| (simulated_at(*s) - c).powi(2)),
        )
        .sqrt()
    };
    Comparison {
        first_throttle_s: (measured_first, simulated_first),
        throttled_mean_c: (
            mean(&mut throttled.iter().map(|(_, c)| *c)),
            mean(&mut throttled.iter().map(|(s, _)| simulated_at(*s))),
        ),
        rms_c: rms(0.0, f64::INFINITY),
        heating_rms_c: rms(0.0, measured_first),
        throttled_rms_c: rms(measured_first, f64::INFINITY),
    }
}

/// The curve every 30 s of load: measured (nearest sample), simulated, simulated clock.
fn print_curve(run: &Run, report: &ThermalReport) {
    println!("| s | measured degC | simulated degC | simulated MHz |\n|---|---|---|---|");
    for s in (0..=10).map(|i| i as f64 * 30.0) {
        let nearest = run
            .loaded
            .iter()
            .min_by(|a, b| (a.0 - s).abs().total_cmp(&(b.0 - s).abs()))
            .unwrap();
        let p = &report.trace[((s / DT_S).round() as usize).min(report.trace.len() - 1)];
        println!(
            "| {s:.0} | {:.1} | {:.1} | {:.0} |",
            nearest.1,
            p.temp_c,
            p.freq_hz / 1e6
        );
    }
}

fn print(name: &str, c: &Comparison) {
    println!(
        "{name}: first throttle measured {:.0} s, simulated {:.1} s; mean while throttled measured {:.2} degC, simulated {:.2} degC; RMS over the load {:.2} degC ({:.2} heating, {:.2} throttled)",
        c.first_throttle_s.0, c.first_throttle_s.1, c.throttled_mean_c.0, c.throttled_mean_c.1, c.rms_c, c.heating_rms_c, c.throttled_rms_c
    );
}

#[test]
fn the_shipped_rc_is_the_fit_of_the_naked_runs_heating_alone() {
    let soc = pi();
    let naked = run("naked");
    let trip = soc.first_trip_c();
    let fit = fit_two_nodes(&unthrottled(&naked, trip), naked.idle_c).unwrap();
    let power = soc.p_idle_w + soc.busy_power_w(soc.opps.len() - 1, 1.0);
    let ladder = fit.ladder(power).unwrap();
    println!(
        "naked run, idle {:.2} degC: {fit:?}\n  under {power:.3} W: {ladder:?}",
        naked.idle_c
    );
    let board = soc.board.expect("the Raspberry Pi table has a board node");
    let pairs = [
        (soc.r_k_per_w, ladder.die_r_k_per_w),
        (soc.c_j_per_k, ladder.die_c_j_per_k),
        (board.r_k_per_w, ladder.board.r_k_per_w),
        (board.c_j_per_k, ladder.board.c_j_per_k),
    ];
    for (table, fitted) in pairs {
        assert!(
            (table - fitted).abs() <= 0.005 * fitted,
            "table {table} vs fit {fitted}"
        );
    }
    assert!(fit.rms_k < 0.6, "{fit:?}");
}

/// Why the table needs a second node: the best single time constant on the same
/// heating settles below the trip point, so it would never throttle, while the
/// board did within three minutes.
#[test]
fn one_node_fitted_to_the_same_heating_never_reaches_the_trip() {
    let soc = pi();
    let naked = run("naked");
    let trip = soc.first_trip_c();
    let fit = fit_one_node(&unthrottled(&naked, trip), naked.idle_c).unwrap();
    println!(
        "naked run, one node: {fit:?}, settles at {:.1} degC",
        naked.idle_c + fit.rise_k
    );
    assert!(naked.idle_c + fit.rise_k < trip, "{fit:?}");
}

/// The held-out run against the tolerances stated in the module comment. The
/// heating and the first throttle meet theirs; the throttled level does not
/// (docs/simulators.md): the modelled governor caps the clock by 100 MHz and
/// its voltage at 80 degC and releases it at 79, while the firmware lets the die
/// sit above 80 degC. This test pins that measured miss so a change to the
/// governor or the table shows here.
#[test]
fn the_held_out_acrylic_run_heats_within_tolerance_and_throttles_too_cool() {
    let soc = pi();
    let trip = soc.first_trip_c();
    let naked = run("naked");
    let acrylic = run("acrylic");
    let fitted = compare(&naked, &simulate_run(&soc, &naked), trip);
    print("naked (fit run, its heating fitted)", &fitted);
    let report = simulate_run(&soc, &acrylic);
    let held_out = compare(&acrylic, &report, trip);
    print("acrylic case (held out)", &held_out);
    print_curve(&acrylic, &report);
    let (measured, simulated) = held_out.first_throttle_s;
    assert!(
        (simulated - measured).abs() <= 0.2 * measured,
        "first throttle {simulated} s vs {measured} s"
    );
    assert!(
        held_out.heating_rms_c <= 1.5,
        "heating RMS {}",
        held_out.heating_rms_c
    );
    let (measured, simulated) = held_out.throttled_mean_c;
    let miss = measured - simulated;
    assert!(
        miss > 1.5 && miss < 2.5,
        "throttled {simulated} vs {measured} degC: the recorded miss changed, update docs/simulators.md"
    );
    assert!(
        held_out.rms_c > 1.5 && held_out.rms_c < 2.0,
        "RMS {} degC: the recorded miss changed, update docs/simulators.md",
        held_out.rms_c
    );
}

#[test]
fn a_step_longer_than_the_die_reacts_is_refused() {
    let soc = pi();
    let naked = run("naked");
    let soc = Soc {
        ambient_c: naked.idle_c,
        fps: 1e3,
        ..soc
    };
    let stress = DeviceModel {
        name: "stress".into(),
        flops: 1e9,
        accuracy: None,
        latency_s: None,
    };
    let clock = Clock {
        duration_s: 60.0,
        dt_s: 10.0,
        sample_s: 10.0,
    };
    let err = simulate(
        &[stress],
        Policy::StaticLarge,
        &soc,
        &Shift::project_default(),
        &clock,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`step` 10 s") && err.contains("fastest thermal time constant"),
        "{err}"
    );
}

#[test]
fn fits_refuse_curves_they_cannot_describe() {
    let few = [(1.0, 50.0), (2.0, 51.0)];
    assert!(fit_two_nodes(&few, 45.0)
        .unwrap_err()
        .to_string()
        .contains("cannot fit 4 unknowns"));
    let bad_time = [
        (0.0, 50.0),
        (1.0, 51.0),
        (2.0, 52.0),
        (3.0, 52.5),
        (4.0, 53.0),
    ];
    assert!(fit_one_node(&bad_time, 45.0)
        .unwrap_err()
        .to_string()
        .contains("times must be positive"));
    let falling: Vec<(f64, f64)> = (1..40).map(|s| (s as f64, 45.0 - s as f64 * 0.1)).collect();
    assert!(fit_two_nodes(&falling, 45.0)
        .unwrap_err()
        .to_string()
        .contains("no sum of two rising"));
    let naked = run("naked");
    let fit = fit_two_nodes(&unthrottled(&naked, 80.0), naked.idle_c).unwrap();
    assert!(fit
        .ladder(0.0)
        .unwrap_err()
        .to_string()
        .contains("must be positive"));
}
