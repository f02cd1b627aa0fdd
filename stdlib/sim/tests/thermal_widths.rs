//! The thermal model on several widths with measured latencies: latency at
//! the top frequency is the measured one and scales as f_max/f, `load` sizes
//! the request rate, `dynamic_shift` picks an intermediate width when that is
//! enough to stop heating, and bad latencies are explained.

use pipe_sim::thermal::{
    fps_for_load, operating_point, simulate, Clock, DeviceModel, Policy, Shift, Soc,
};

/// Four widths, largest first, with latencies (ms) roughly ∝ width².
fn widths() -> Vec<DeviceModel> {
    [
        (1.0, 8.0, 0.95),
        (0.75, 4.6, 0.94),
        (0.5, 2.2, 0.92),
        (0.35, 1.2, 0.88),
    ]
    .iter()
    .map(|&(w, ms, acc)| DeviceModel {
        name: format!("net@{w}"),
        flops: 1e6 * w * w,
        accuracy: Some(acc),
        latency_s: Some(ms / 1e3),
    })
    .collect()
}

fn loaded_soc(models: &[DeviceModel], load: f64) -> Soc {
    let mut soc = Soc::default_table().unwrap();
    soc.fps = fps_for_load(models, &soc, load).unwrap();
    soc
}

fn clock() -> Clock {
    Clock {
        duration_s: 600.0,
        dt_s: 0.05,
        sample_s: 1.0,
    }
}

#[test]
fn measured_latency_holds_at_the_top_frequency_and_scales_down() {
    let soc = Soc::default_table().unwrap();
    let top = soc.opps.len() - 1;
    let at_1ghz = soc.opps.iter().position(|o| o.freq_hz == 1e9).unwrap();
    for m in widths() {
        let (at_top, _) = operating_point(&m, 1.0, &soc, top);
        assert_eq!(at_top, m.latency_s.unwrap());
        let (slower, _) = operating_point(&m, 1.0, &soc, at_1ghz);
        assert!((slower - 1.9 * at_top).abs() < 1e-15);
    }
}

#[test]
fn load_sets_the_largest_width_busy_fraction() {
    let models = widths();
    let soc = loaded_soc(&models, 0.9);
    assert!((soc.fps * 8e-3 - 0.9).abs() < 1e-12, "{}", soc.fps);
    let err = fps_for_load(&models, &Soc::default_table().unwrap(), 0.0).unwrap_err();
    assert!(err.to_string().contains("positive load"), "{err}");
}

#[test]
fn dynamic_shift_uses_an_intermediate_width_and_never_throttles() {
    let models = widths();
    let soc = loaded_soc(&models, 0.95);
    let large = simulate(
        &models,
        Policy::StaticLarge,
        &soc,
        &Shift::project_default(),
        &clock(),
    )
    .unwrap();
    assert!(large.throttled_s > 60.0, "{large:?}");
    let r = simulate(
        &models,
        Policy::DynamicShift,
        &soc,
        &Shift::project_default(),
        &clock(),
    )
    .unwrap();
    assert!(r.max_temp_c < soc.first_trip_c(), "{}", r.max_temp_c);
    assert_eq!(r.throttled_s, 0.0);
    assert!(r.max_latency_ms <= 1.1 * r.start_latency_ms);
    // The largest width that stops the heating is 0.75: the smaller ones are never needed.
    assert!(r.model_fractions[1] > 0.1, "{:?}", r.model_fractions);
    assert_eq!(r.model_fractions[2] + r.model_fractions[3], 0.0);
    let acc = r.mean_accuracy.unwrap();
    let small = simulate(
        &models,
        Policy::StaticSmall,
        &soc,
        &Shift::project_default(),
        &clock(),
    )
    .unwrap();
    assert!(acc > small.mean_accuracy.unwrap() && acc < 0.95, "{acc}");
    assert!((small.mean_accuracy.unwrap() - 0.88).abs() < 1e-12);
    assert!(r.trace.iter().any(|p| p.accuracy == Some(0.94)));
}

#[test]
fn a_hotter_load_drives_dynamic_shift_to_smaller_widths() {
    let models = widths();
    let mut soc = loaded_soc(&models, 1.0);
    soc.c_eff_f *= 2.0;
    let r = simulate(
        &models,
        Policy::DynamicShift,
        &soc,
        &Shift::project_default(),
        &clock(),
    )
    .unwrap();
    assert!(
        r.model_fractions[2] + r.model_fractions[3] > 0.0,
        "{:?}",
        r.model_fractions
    );
    assert!(r.max_temp_c < soc.first_trip_c());
}

#[test]
fn a_bad_measured_latency_is_explained() {
    let mut models = widths();
    models[2].latency_s = Some(0.0);
    let err = simulate(
        &models,
        Policy::StaticLarge,
        &Soc::default_table().unwrap(),
        &Shift::project_default(),
        &clock(),
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("net@0.5") && err.to_string().contains("positive"),
        "{err}"
    );
}
