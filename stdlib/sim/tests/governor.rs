//! The `dynamic_shift` policy sees only what a phone shows: its source names none
//! of the thermal model's constants, its input is the five observed values, and
//! on observed temperature traces alone (no simulator) it shifts down before the
//! trip point when heating, on a throttled clock, and back up when cooling.

use pipe_sim::governor::{Observation, Shift, ShiftGovernor};

const SOURCE: &str = include_str!("../src/governor.rs");

#[test]
fn the_policy_source_names_no_thermal_model_constant() {
    let forbidden = [
        "Soc",
        "r_k_per_w",
        "c_j_per_k",
        "ambient_c",
        "opps",
        "trips",
        "c_eff",
        "busy_power_w",
        "soc::",
        "p_idle_w",
        "fps",
        "operating_point",
        "thermal::",
        "DeviceModel",
    ];
    let code: String = SOURCE
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    for name in forbidden {
        assert!(!code.contains(name), "governor.rs uses `{name}`");
    }
}

#[test]
fn an_observation_holds_only_what_a_phone_shows() {
    let obs = observe(3.0, 41.0, 2.4e9);
    // Exhaustive: a field added to `Observation` (say, the thermal resistance)
    // stops this from compiling and has to be argued for here.
    let Observation {
        time_s,
        temp_c,
        freq_hz,
        top_freq_hz,
        trip_c,
    } = obs;
    assert_eq!(
        (time_s, temp_c, freq_hz, top_freq_hz, trip_c),
        (3.0, 41.0, 2.4e9, 2.4e9, 70.0)
    );
}

fn observe(time_s: f64, temp_c: f64, freq_hz: f64) -> Observation {
    Observation {
        time_s,
        temp_c,
        freq_hz,
        top_freq_hz: 2.4e9,
        trip_c: 70.0,
    }
}

/// Runs the policy over temperatures sampled every 0.1 s at the top frequency.
fn run(governor: &mut ShiftGovernor, from_s: f64, temps: impl Iterator<Item = f64>) -> Vec<usize> {
    temps
        .enumerate()
        .map(|(i, t)| governor.decide(&observe(from_s + i as f64 * 0.1, t, 2.4e9)))
        .collect()
}

#[test]
fn a_steady_temperature_keeps_the_largest_width() {
    let mut g = ShiftGovernor::new(Shift::project_default(), 4);
    let widths = run(&mut g, 0.0, std::iter::repeat_n(60.0, 600));
    assert!(widths.iter().all(|&w| w == 0), "{widths:?}");
}

#[test]
fn heating_toward_the_trip_point_shifts_down_before_reaching_it() {
    let mut g = ShiftGovernor::new(Shift::project_default(), 4);
    // 0.5 K/s from 40 degC: 67 degC (trip - margin) would come at 54 s.
    let temps = (0..600).map(|i| 40.0 + 0.05 * i as f64);
    let widths = run(&mut g, 0.0, temps);
    let first = widths.iter().position(|&w| w > 0).expect("never shifted");
    let at = 40.0 + 0.05 * first as f64;
    assert!(at < 67.0 - 5.0, "shifted only at {at} degC");
    assert!(
        (g.slope_c_per_s() - 0.5).abs() < 0.01,
        "{}",
        g.slope_c_per_s()
    );
    // Still heating: one width at a time, a settling time apart, down to the smallest.
    assert_eq!(*widths.last().unwrap(), 3);
    assert!(widths.windows(2).all(|w| w[1] <= w[0] + 1));
}

#[test]
fn a_throttled_clock_shifts_down_even_when_cool() {
    let mut g = ShiftGovernor::new(Shift::project_default(), 2);
    assert_eq!(g.decide(&observe(0.0, 30.0, 2.4e9)), 0);
    assert_eq!(g.decide(&observe(0.1, 30.0, 1.8e9)), 1);
    // The smallest width is as small as it goes.
    assert_eq!(g.decide(&observe(5.0, 30.0, 1.8e9)), 1);
}

#[test]
fn cooling_shifts_back_up_one_width_at_a_time() {
    let mut g = ShiftGovernor::new(Shift::project_default(), 3);
    let heating = run(&mut g, 0.0, (0..100).map(|i| 60.0 + 0.05 * i as f64));
    let down = *heating.last().unwrap();
    assert!(down > 0, "{heating:?}");
    let cooling = run(&mut g, 10.0, (0..600).map(|i| 65.0 - 0.02 * i as f64));
    assert_eq!(*cooling.last().unwrap(), 0, "{cooling:?}");
    assert!(cooling.windows(2).all(|w| w[1] + 1 >= w[0]));
}
