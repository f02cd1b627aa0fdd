//! The thermal model with the shipped phone (Exynos 5433): static_large throttles,
//! dynamic_shift neither throttles nor slows down, and bad inputs are explained.

use pipe_sim::thermal::{
    fps_for_load, simulate, Clock, DeviceModel, Policy, Shift, Soc, ThermalReport,
};
use pipe_sim::workload::builtin;

fn models() -> Vec<DeviceModel> {
    let model = |name: &str, accuracy| DeviceModel {
        name: name.into(),
        flops: builtin(name).unwrap().flops() as f64,
        accuracy: Some(accuracy),
        latency_s: None,
    };
    // Accuracies: ImageNet top-1 of MobileNetV2 1.0 and 0.5 (Sandler et al. 2018).
    vec![
        model("mobilenet_v2", 0.72),
        model("mobilenet_v2_0.5", 0.654),
    ]
}

/// The shipped phone with the largest model busy 90% of the time at the top clock.
fn phone() -> Soc {
    let soc = Soc::default_table().unwrap();
    let fps = fps_for_load(&models(), &soc, 0.9).unwrap();
    Soc { fps, ..soc }
}

fn run(policy: Policy) -> ThermalReport {
    let clock = Clock {
        duration_s: 600.0,
        dt_s: 0.05,
        sample_s: 1.0,
    };
    simulate(
        &models(),
        policy,
        &phone(),
        &Shift::project_default(),
        &clock,
    )
    .unwrap()
}

#[test]
fn static_large_throttles_and_slows_down() {
    let r = run(Policy::StaticLarge);
    let soc = phone();
    assert!(r.min_freq_hz < soc.top_freq_hz(), "never throttled");
    assert!(r.throttled_s > 60.0, "throttled only {} s", r.throttled_s);
    assert!(
        r.max_latency_ms > 1.1 * r.start_latency_ms,
        "{} vs {}",
        r.max_latency_ms,
        r.start_latency_ms
    );
    assert!(r.max_temp_c >= soc.first_trip_c());
}

#[test]
fn dynamic_shift_holds_latency_and_stays_below_trip() {
    let r = run(Policy::DynamicShift);
    let soc = phone();
    assert!(
        r.max_temp_c < soc.first_trip_c(),
        "reached {} degC",
        r.max_temp_c
    );
    assert_eq!(r.throttled_s, 0.0);
    assert!(
        r.max_latency_ms <= 1.1 * r.start_latency_ms,
        "{} vs {}",
        r.max_latency_ms,
        r.start_latency_ms
    );
    assert!(
        r.switches >= 2 && r.small_fraction > 0.0 && r.small_fraction < 1.0,
        "{r:?}"
    );
    let acc = r.mean_accuracy.unwrap();
    assert!(acc > 0.654 && acc < 0.72, "{acc}");
}

#[test]
fn static_small_stays_cool_at_lower_accuracy() {
    let r = run(Policy::StaticSmall);
    assert_eq!(r.throttled_s, 0.0);
    assert!(r.max_temp_c < phone().first_trip_c());
    assert!((r.mean_accuracy.unwrap() - 0.654).abs() < 1e-9);
}

#[test]
fn traces_are_sampled_and_ordered() {
    let r = run(Policy::StaticLarge);
    for policy in [
        Policy::StaticLarge,
        Policy::DynamicShift,
        Policy::StaticSmall,
    ] {
        let p = run(policy);
        println!(
            "{policy:?}: max {:.1} degC, min {:.2} GHz, throttled {:.0} s, latency {:.2} -> {:.2} ms, accuracy {:.3}, small {:.2}, switches {}, mean {:.2} W",
            p.max_temp_c, p.min_freq_hz / 1e9, p.throttled_s, p.start_latency_ms, p.max_latency_ms,
            p.mean_accuracy.unwrap(), p.small_fraction, p.switches, p.mean_power_w
        );
    }
    assert_eq!(r.trace.len(), 601);
    assert!(r.trace.windows(2).all(|w| w[1].time_s > w[0].time_s));
    assert!(r.trace.iter().all(|p| p.model == 0));
}

#[test]
fn bad_inputs_are_explained() {
    let clock = Clock {
        duration_s: 10.0,
        dt_s: 0.1,
        sample_s: 1.0,
    };
    let one = &models()[..1];
    let err = simulate(
        one,
        Policy::DynamicShift,
        &phone(),
        &Shift::project_default(),
        &clock,
    )
    .unwrap_err();
    assert!(err.to_string().contains("needs 2 model(s)"), "{err}");
    let mut soc = phone();
    soc.opps.reverse();
    let err = simulate(
        &models(),
        Policy::StaticLarge,
        &soc,
        &Shift::project_default(),
        &clock,
    )
    .unwrap_err();
    assert!(err.to_string().contains("ascending"), "{err}");
    let mut soc = phone();
    soc.ambient_c = 80.0;
    let err = simulate(
        &models(),
        Policy::StaticLarge,
        &soc,
        &Shift::project_default(),
        &clock,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("below the first trip point"),
        "{err}"
    );
    let tiny = Clock {
        dt_s: 1e-9,
        ..clock
    };
    let err = simulate(
        &models(),
        Policy::StaticLarge,
        &phone(),
        &Shift::project_default(),
        &tiny,
    )
    .unwrap_err();
    assert!(err.to_string().contains("larger `step`"), "{err}");
}

/// `sim.thermal`'s default request rate (30 per second, `Soc::default_table`'s
/// and the stage's) keeps MobileNetV2 1.0 busy under a third of the time: the
/// shipped phone never reaches its first trip, so a study must raise `fps` or
/// set `load` (pipelines/thermal.pipe sets `load: 0.9`).
#[test]
fn the_default_request_rate_never_throttles_the_shipped_phone() {
    let soc = Soc::default_table().unwrap();
    assert_eq!(soc.fps, 30.0);
    let clock = Clock {
        duration_s: 1800.0,
        dt_s: 0.05,
        sample_s: 1.0,
    };
    let r = simulate(
        &models(),
        Policy::StaticLarge,
        &soc,
        &Shift::project_default(),
        &clock,
    )
    .unwrap();
    let busy = r.start_latency_ms * 1e-3 * soc.fps;
    println!(
        "30 req/s: busy {:.0} %, max {:.1} degC, mean {:.2} W, throttled {} s",
        busy * 100.0,
        r.max_temp_c,
        r.mean_power_w,
        r.throttled_s
    );
    assert_eq!(r.throttled_s, 0.0);
    assert!(r.max_temp_c < soc.first_trip_c() - 10.0, "{r:?}");
}
