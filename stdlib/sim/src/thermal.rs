//! "Play It Cool"-style thermal study of a phone SoC running inference at a
//! fixed frame rate: a lumped thermal RC model, a DVFS governor with a trip
//! point and hysteresis, latency and power per model from its measured latency
//! (or its FLOPs) and the current frequency, and three policies
//! (`static_large`, `static_small`, `dynamic_shift`: the app-side policy of
//! `governor.rs`, which sees only temperature, frequency and the trip point,
//! never the constants below). All constants are the
//! project's own (the paper published none; docs/papers.md section 9):
//! `C·dT/dt = P − (T − T_amb)/R`; `P = P_idle + u·(P_full − P_idle)·(f/f_max)³`
//! with `u = min(1, latency·fps)` the busy fraction (dynamic power ∝ f·V², V ∝ f);
//! `latency = measured·f_max/f`, or `FLOPs / (f · flops_per_cycle)` unmeasured.

use crate::error::SimError;
pub use crate::governor::Shift;
use crate::governor::{Observation, ShiftGovernor};

/// One model (or one width of a slimmable model) the device can run.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceModel {
    pub name: String,
    /// Forward FLOPs per inference.
    pub flops: f64,
    pub accuracy: Option<f64>,
    /// Measured latency per inference at the top frequency, seconds; it scales
    /// as `f_max / f`. `None`: latency from FLOPs and `flops_per_cycle`.
    pub latency_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    StaticLarge,
    StaticSmall,
    DynamicShift,
}

impl Policy {
    pub const NAMES: &'static [&'static str] = &["static_large", "static_small", "dynamic_shift"];

    pub fn parse(name: &str) -> Option<Policy> {
        match name {
            "static_large" => Some(Policy::StaticLarge),
            "static_small" => Some(Policy::StaticSmall),
            "dynamic_shift" => Some(Policy::DynamicShift),
            _ => None,
        }
    }
}

/// The phone: thermal RC, power, DVFS and workload rate.
#[derive(Debug, Clone, PartialEq)]
pub struct Soc {
    pub ambient_c: f64,
    /// Junction-to-ambient thermal resistance, K/W.
    pub r_k_per_w: f64,
    /// Thermal capacitance, J/K.
    pub c_j_per_k: f64,
    /// The governor lowers the clock one level when the temperature reaches this.
    pub trip_c: f64,
    /// ... and raises it one level when the temperature is this far below the trip.
    pub hysteresis_c: f64,
    /// DVFS levels, ascending, Hz.
    pub freqs_hz: Vec<f64>,
    pub p_idle_w: f64,
    /// Total power when fully busy at the top frequency.
    pub p_full_w: f64,
    pub flops_per_cycle: f64,
    /// Inference requests per second.
    pub fps: f64,
}

impl Soc {
    /// The project's default phone (not from the paper, which published none):
    /// 25 degC ambient, R = 8 K/W and C = 4 J/K (a 32 s time constant), trip at
    /// 70 degC with 5 degC hysteresis, 8 DVFS levels from 0.6 to 2.4 GHz, 0.3 W
    /// idle and 7 W fully busy at 2.4 GHz, 8 FLOPs per cycle, 30 inferences per
    /// second. The same values are the `sim.thermal` stage's defaults.
    pub fn phone_default() -> Soc {
        Soc {
            ambient_c: 25.0,
            r_k_per_w: 8.0,
            c_j_per_k: 4.0,
            trip_c: 70.0,
            hysteresis_c: 5.0,
            freqs_hz: levels(0.6e9, 2.4e9, 8),
            p_idle_w: 0.3,
            p_full_w: 7.0,
            flops_per_cycle: 8.0,
            fps: 30.0,
        }
    }
}

/// `n` evenly spaced frequencies from `lo` to `hi` (one level: `hi`).
pub fn levels(lo: f64, hi: f64, n: usize) -> Vec<f64> {
    if n <= 1 {
        return vec![hi];
    }
    (0..n)
        .map(|i| lo + (hi - lo) * i as f64 / (n - 1) as f64)
        .collect()
}

/// Time stepping: the model is integrated every `dt_s`, traced every `sample_s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Clock {
    pub duration_s: f64,
    pub dt_s: f64,
    pub sample_s: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TracePoint {
    pub time_s: f64,
    pub temp_c: f64,
    pub freq_hz: f64,
    pub latency_ms: f64,
    pub power_w: f64,
    /// Index into the models (0 the largest).
    pub model: usize,
    pub accuracy: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ThermalReport {
    pub trace: Vec<TracePoint>,
    pub max_temp_c: f64,
    pub min_freq_hz: f64,
    pub start_latency_ms: f64,
    pub max_latency_ms: f64,
    pub mean_latency_ms: f64,
    /// Mean accuracy over time, when every model has one.
    pub mean_accuracy: Option<f64>,
    /// Seconds spent below the top frequency.
    pub throttled_s: f64,
    /// Fraction of time on any model but the largest.
    pub small_fraction: f64,
    /// Fraction of time on each model.
    pub model_fractions: Vec<f64>,
    pub switches: usize,
}

const MAX_STEPS: f64 = 1e7;

fn validate(
    models: &[DeviceModel],
    policy: Policy,
    soc: &Soc,
    clock: &Clock,
) -> Result<(), SimError> {
    let needed = if policy == Policy::StaticLarge { 1 } else { 2 };
    if models.len() < needed {
        return Err(SimError::Invalid(format!(
            "this policy needs {needed} model(s) (large first, then small), got {}",
            models.len()
        )));
    }
    if let Some(m) = models
        .iter()
        .find(|m| m.latency_s.is_some_and(|l| !(l.is_finite() && l > 0.0)))
    {
        return Err(SimError::Invalid(format!(
            "model `{}` has a measured latency of {:?} s; it must be positive",
            m.name, m.latency_s
        )));
    }
    if soc.freqs_hz.is_empty() || soc.freqs_hz.iter().any(|f| !(f.is_finite() && *f > 0.0)) {
        return Err(SimError::Invalid(
            "`freqs` must list at least one positive frequency".into(),
        ));
    }
    if soc.freqs_hz.windows(2).any(|w| w[1] <= w[0]) {
        return Err(SimError::Invalid(
            "`freqs` must be in ascending order".into(),
        ));
    }
    let positive = [
        ("resistance", soc.r_k_per_w),
        ("capacitance", soc.c_j_per_k),
        ("flops_per_cycle", soc.flops_per_cycle),
        ("fps", soc.fps),
        ("step", clock.dt_s),
        ("duration", clock.duration_s),
        ("sample", clock.sample_s),
    ];
    if soc.p_full_w < soc.p_idle_w {
        return Err(SimError::Invalid(format!(
            "full power ({} W) must not be below idle power ({} W)",
            soc.p_full_w, soc.p_idle_w
        )));
    }
    if let Some((name, v)) = positive.iter().find(|(_, v)| !(v.is_finite() && *v > 0.0)) {
        return Err(SimError::Invalid(format!(
            "`{name}` must be positive, got {v}"
        )));
    }
    if clock.duration_s / clock.dt_s > MAX_STEPS {
        return Err(SimError::Invalid(format!(
            "{} s in steps of {} s is more than {MAX_STEPS} steps; use a larger `step`",
            clock.duration_s, clock.dt_s
        )));
    }
    if soc.ambient_c >= soc.trip_c {
        return Err(SimError::Invalid(format!(
            "the ambient temperature ({} degC) must be below the trip point ({} degC)",
            soc.ambient_c, soc.trip_c
        )));
    }
    Ok(())
}

/// Latency (s) and power (W) of a model at a frequency.
pub fn operating_point(model: &DeviceModel, soc: &Soc, freq_hz: f64) -> (f64, f64) {
    let f_max = soc.freqs_hz[soc.freqs_hz.len() - 1];
    let latency = match model.latency_s {
        Some(measured) => measured * (f_max / freq_hz),
        None => model.flops / (freq_hz * soc.flops_per_cycle),
    };
    let busy = (latency * soc.fps).min(1.0);
    let power = soc.p_idle_w + busy * (soc.p_full_w - soc.p_idle_w) * (freq_hz / f_max).powi(3);
    (latency, power)
}

/// The request rate at which the largest model is busy `load` of the time at
/// the top frequency: a study that does not depend on how fast the machine
/// that measured the latencies was.
pub fn fps_for_load(models: &[DeviceModel], soc: &Soc, load: f64) -> Result<f64, SimError> {
    let top = soc.freqs_hz.last().copied().unwrap_or(0.0);
    let largest = models
        .first()
        .ok_or_else(|| SimError::Invalid("no model to size the load for".into()))?;
    let probe = Soc {
        fps: 1.0,
        ..soc.clone()
    };
    let (latency, _) = operating_point(largest, &probe, top);
    if !(load > 0.0 && latency.is_finite() && latency > 0.0) {
        return Err(SimError::Invalid(format!(
            "`load` {load} needs a positive load and a model with positive latency"
        )));
    }
    Ok(load / latency)
}

/// The width a policy runs: fixed, or chosen each step by the governor, which
/// is handed only an [`Observation`] (never `soc` beyond its trip point and
/// DVFS table, which a phone shows).
enum Driver {
    Fixed(usize),
    Shifting(ShiftGovernor),
}

impl Driver {
    fn new(policy: Policy, models: usize, shift: &Shift) -> Driver {
        match policy {
            Policy::StaticLarge => Driver::Fixed(0),
            Policy::StaticSmall => Driver::Fixed(models - 1),
            Policy::DynamicShift => Driver::Shifting(ShiftGovernor::new(*shift, models)),
        }
    }

    fn choose(&mut self, obs: &Observation) -> usize {
        match self {
            Driver::Fixed(model) => *model,
            Driver::Shifting(governor) => governor.decide(obs),
        }
    }
}

/// Runs the policy for `clock.duration_s`, starting at ambient temperature and the top frequency.
pub fn simulate(
    models: &[DeviceModel],
    policy: Policy,
    soc: &Soc,
    shift: &Shift,
    clock: &Clock,
) -> Result<ThermalReport, SimError> {
    validate(models, policy, soc, clock)?;
    let top = soc.freqs_hz.len() - 1;
    let steps = (clock.duration_s / clock.dt_s).ceil() as usize;
    let sample_every = ((clock.sample_s / clock.dt_s).round() as usize).max(1);
    let (mut temp, mut level) = (soc.ambient_c, top);
    let top_freq_hz = soc.freqs_hz[top];
    let observe = |time_s: f64, temp_c: f64, freq_hz: f64| Observation {
        time_s,
        temp_c,
        freq_hz,
        top_freq_hz,
        trip_c: soc.trip_c,
    };
    let mut driver = Driver::new(policy, models.len(), shift);
    let mut model = driver.choose(&observe(0.0, temp, top_freq_hz));
    let start_latency_ms = operating_point(&models[model], soc, soc.freqs_hz[top]).0 * 1e3;
    let mut report = ThermalReport {
        trace: Vec::with_capacity(steps / sample_every + 1),
        max_temp_c: temp,
        min_freq_hz: soc.freqs_hz[top],
        start_latency_ms,
        max_latency_ms: 0.0,
        mean_latency_ms: 0.0,
        mean_accuracy: None,
        throttled_s: 0.0,
        small_fraction: 0.0,
        model_fractions: vec![0.0; models.len()],
        switches: 0,
    };
    let (mut latency_sum, mut accuracy_sum) = (0.0, 0.0);
    let mut steps_on = vec![0usize; models.len()];
    for step in 0..=steps {
        let freq = soc.freqs_hz[level];
        let next = driver.choose(&observe(step as f64 * clock.dt_s, temp, freq));
        report.switches += usize::from(next != model);
        model = next;
        let (latency, power) = operating_point(&models[model], soc, freq);
        let latency_ms = latency * 1e3;
        if step % sample_every == 0 {
            report.trace.push(TracePoint {
                time_s: step as f64 * clock.dt_s,
                temp_c: temp,
                freq_hz: freq,
                latency_ms,
                power_w: power,
                model,
                accuracy: models[model].accuracy,
            });
        }
        report.max_temp_c = report.max_temp_c.max(temp);
        report.min_freq_hz = report.min_freq_hz.min(freq);
        report.max_latency_ms = report.max_latency_ms.max(latency_ms);
        report.throttled_s += if level < top { clock.dt_s } else { 0.0 };
        latency_sum += latency_ms;
        accuracy_sum += models[model].accuracy.unwrap_or(0.0);
        steps_on[model] += 1;
        temp += clock.dt_s / soc.c_j_per_k * (power - (temp - soc.ambient_c) / soc.r_k_per_w);
        if temp >= soc.trip_c && level > 0 {
            level -= 1;
        } else if temp <= soc.trip_c - soc.hysteresis_c && level < top {
            level += 1;
        }
    }
    let n = (steps + 1) as f64;
    report.mean_latency_ms = latency_sum / n;
    report.model_fractions = steps_on.iter().map(|&s| s as f64 / n).collect();
    report.small_fraction = 1.0 - report.model_fractions[0];
    if models.iter().all(|m| m.accuracy.is_some()) {
        report.mean_accuracy = Some(accuracy_sum / n);
    }
    Ok(report)
}
