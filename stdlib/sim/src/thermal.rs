//! "Play It Cool"-style thermal study of a phone SoC running inference at a
//! fixed request rate: a lumped thermal RC model, the phone's trip-point
//! governor (each trip caps the clock, released with hysteresis), latency and
//! power per model from its measured latency (or its FLOPs) at the current
//! operating point, and three policies (`static_large`, `static_small`,
//! `dynamic_shift`: the app-side policy of `governor.rs`, which sees only
//! temperature, frequency and the first trip point, never the phone's
//! constants). The phone itself (`soc.rs`) is the Exynos 5433 of mainline
//! Linux's device tree unless a table replaces it:
//! `C·dT/dt = P − (T − T_amb)/R`, or with a board node (`soc::Board`)
//! `C·dT/dt = P − (T − T_b)/R`, `C_b·dT_b/dt = (T − T_b)/R − (T_b − T_amb)/R_b`;
//! `P = P_idle + u·c_eff·(base + (1 − base)·activity)·V²·f` with `u = min(1,
//! latency·fps)` the busy fraction and `activity` the model's achieved FLOPs per
//! second over the largest model's, at most 1; `latency = measured·f_max/f`, or
//! `FLOPs / (f · flops_per_cycle)` unmeasured. It never decides a width itself.

use crate::error::SimError;
pub use crate::governor::Shift;
use crate::governor::{Observation, ShiftGovernor};
pub use crate::soc::{Board, Opp, Soc, Trip};

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
    /// Mean power over the run, W.
    pub mean_power_w: f64,
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
    if let Some(m) = models
        .iter()
        .find(|m| !(m.flops.is_finite() && m.flops > 0.0))
    {
        return Err(SimError::Invalid(format!(
            "model `{}` has {} FLOPs; it must be positive",
            m.name, m.flops
        )));
    }
    soc.check_tables().map_err(SimError::Invalid)?;
    let positive = [
        ("resistance", soc.r_k_per_w),
        ("capacitance", soc.c_j_per_k),
        ("flops_per_cycle", soc.flops_per_cycle),
        ("c_eff", soc.c_eff_f),
        ("fps", soc.fps),
        ("step", clock.dt_s),
        ("duration", clock.duration_s),
        ("sample", clock.sample_s),
    ];
    let board = soc.board.map_or([1.0, 1.0], |b| [b.r_k_per_w, b.c_j_per_k]);
    let named_board = [
        ("board_resistance_k_per_w", board[0]),
        ("board_capacitance_j_per_k", board[1]),
    ];
    if let Some((name, v)) = positive
        .iter()
        .chain(&named_board)
        .find(|(_, v)| !(v.is_finite() && *v > 0.0))
    {
        return Err(SimError::Invalid(format!(
            "`{name}` must be positive, got {v}"
        )));
    }
    check_step(soc, clock)?;
    if clock.duration_s / clock.dt_s > MAX_STEPS {
        return Err(SimError::Invalid(format!(
            "{} s in steps of {} s is more than {MAX_STEPS} steps; use a larger `step`",
            clock.duration_s, clock.dt_s
        )));
    }
    if soc.ambient_c >= soc.first_trip_c() {
        return Err(SimError::Invalid(format!(
            "the ambient temperature ({} degC) must be below the first trip point ({} degC)",
            soc.ambient_c,
            soc.first_trip_c()
        )));
    }
    Ok(())
}

/// Explicit Euler overshoots, then oscillates, once a step nears a node's time
/// constant: refuse steps above half the fastest one.
fn check_step(soc: &Soc, clock: &Clock) -> Result<(), SimError> {
    let fastest = fastest_time_constant_s(soc);
    if clock.dt_s <= fastest / 2.0 {
        return Ok(());
    }
    Err(SimError::Invalid(format!(
        "`step` {} s is more than half the phone's fastest thermal time constant ({fastest:.3} s): \
         the temperature would overshoot or oscillate; use a `step` of at most {:.3} s",
        clock.dt_s,
        fastest / 2.0
    )))
}

/// The shortest time constant of a node, seconds: `R·C` of the die alone, with a
/// board also the board's capacitance over both resistances in parallel.
fn fastest_time_constant_s(soc: &Soc) -> f64 {
    let die = soc.r_k_per_w * soc.c_j_per_k;
    soc.board.map_or(die, |b| {
        let parallel = soc.r_k_per_w * b.r_k_per_w / (soc.r_k_per_w + b.r_k_per_w);
        die.min(b.c_j_per_k * parallel)
    })
}

/// The temperatures of the die and, with a second node, the board (the
/// ambient without one).
struct Heat {
    die_c: f64,
    board_c: f64,
}

impl Heat {
    fn new(soc: &Soc) -> Heat {
        Heat {
            die_c: soc.ambient_c,
            board_c: soc.ambient_c,
        }
    }

    /// One explicit Euler step of `dt_s` with `power_w` dissipated in the die.
    fn step(&mut self, soc: &Soc, power_w: f64, dt_s: f64) {
        let to_board_w = (self.die_c - self.board_c) / soc.r_k_per_w;
        self.die_c += dt_s / soc.c_j_per_k * (power_w - to_board_w);
        if let Some(b) = soc.board {
            let to_room_w = (self.board_c - soc.ambient_c) / b.r_k_per_w;
            self.board_c += dt_s / b.c_j_per_k * (to_board_w - to_room_w);
        }
    }
}

/// Latency (s) of a model at operating point `level`.
fn latency_at(model: &DeviceModel, soc: &Soc, level: usize) -> f64 {
    let freq_hz = soc.opps[level].freq_hz;
    match model.latency_s {
        Some(measured) => measured * (soc.top_freq_hz() / freq_hz),
        None => model.flops / (freq_hz * soc.flops_per_cycle),
    }
}

/// Each model's arithmetic activity: its achieved FLOPs per second at the top
/// frequency over the largest model's (the first), at most 1. The largest model
/// keeps the cluster fully active (`c_eff` is its switched capacitance); a narrow
/// width that spends more of its time on per-layer overheads than on
/// multiply-adds switches less of the datapath per busy second. With
/// FLOPs-derived latencies every model is 1.
pub fn activities(models: &[DeviceModel], soc: &Soc) -> Vec<f64> {
    let top = soc.opps.len() - 1;
    let rate = |m: &DeviceModel| m.flops / latency_at(m, soc, top);
    let Some(largest) = models.first().map(rate) else {
        return Vec::new();
    };
    models
        .iter()
        .map(|m| (rate(m) / largest).min(1.0))
        .collect()
}

/// Latency (s) and power (W) of a model of `activity` at operating point `level`:
/// `P = P_idle + u·c_eff·(base + (1 − base)·activity)·V²·f`, `u = min(1, latency·fps)`.
pub fn operating_point(model: &DeviceModel, activity: f64, soc: &Soc, level: usize) -> (f64, f64) {
    let latency = latency_at(model, soc, level);
    let busy = (latency * soc.fps).min(1.0);
    (
        latency,
        soc.p_idle_w + busy * soc.busy_power_w(level, activity),
    )
}

/// The request rate at which the largest model is busy `load` of the time at
/// the top frequency: a study that does not depend on how fast the machine
/// that measured the latencies was.
pub fn fps_for_load(models: &[DeviceModel], soc: &Soc, load: f64) -> Result<f64, SimError> {
    let largest = models
        .first()
        .ok_or_else(|| SimError::Invalid("no model to size the load for".into()))?;
    if soc.opps.is_empty() {
        return Err(SimError::Invalid(
            "the phone lists no operating point".into(),
        ));
    }
    let latency = latency_at(largest, soc, soc.opps.len() - 1);
    if !(load > 0.0 && latency.is_finite() && latency > 0.0) {
        return Err(SimError::Invalid(format!(
            "`load` {load} needs a positive load and a model with positive latency"
        )));
    }
    Ok(load / latency)
}

/// The phone's kernel thermal governor: each trip caps the clock from the
/// moment the temperature reaches it until it falls `hysteresis` below it; the
/// clock runs at the highest operating point under every active cap.
struct TripGovernor {
    active: Vec<bool>,
}

impl TripGovernor {
    fn new(soc: &Soc) -> TripGovernor {
        TripGovernor {
            active: vec![false; soc.trips.len()],
        }
    }

    /// The operating point after seeing `temp_c`.
    fn level(&mut self, soc: &Soc, temp_c: f64) -> usize {
        for (on, trip) in self.active.iter_mut().zip(&soc.trips) {
            if temp_c >= trip.temp_c {
                *on = true;
            } else if temp_c <= trip.temp_c - soc.hysteresis_c {
                *on = false;
            }
        }
        let cap = self
            .active
            .iter()
            .zip(&soc.trips)
            .filter(|(on, _)| **on)
            .map(|(_, t)| t.cap_hz)
            .fold(f64::INFINITY, f64::min);
        soc.opps.iter().rposition(|o| o.freq_hz <= cap).unwrap_or(0)
    }
}

/// The width a policy runs: fixed, or chosen each step by the governor, which
/// is handed only an [`Observation`] (never `soc` beyond its first trip point and
/// top frequency, which a phone shows).
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
    let top = soc.opps.len() - 1;
    let activity = activities(models, soc);
    let steps = (clock.duration_s / clock.dt_s).ceil() as usize;
    let sample_every = ((clock.sample_s / clock.dt_s).round() as usize).max(1);
    let (mut heat, mut level) = (Heat::new(soc), top);
    let mut trips = TripGovernor::new(soc);
    let top_freq_hz = soc.top_freq_hz();
    let observe = |time_s: f64, temp_c: f64, freq_hz: f64| Observation {
        time_s,
        temp_c,
        freq_hz,
        top_freq_hz,
        trip_c: soc.first_trip_c(),
    };
    let mut driver = Driver::new(policy, models.len(), shift);
    let mut model = driver.choose(&observe(0.0, heat.die_c, top_freq_hz));
    let start_latency_ms = latency_at(&models[model], soc, top) * 1e3;
    let mut report = ThermalReport {
        trace: Vec::with_capacity(steps / sample_every + 1),
        max_temp_c: heat.die_c,
        min_freq_hz: top_freq_hz,
        start_latency_ms,
        max_latency_ms: 0.0,
        mean_latency_ms: 0.0,
        mean_accuracy: None,
        throttled_s: 0.0,
        small_fraction: 0.0,
        model_fractions: vec![0.0; models.len()],
        switches: 0,
        mean_power_w: 0.0,
    };
    let (mut latency_sum, mut accuracy_sum, mut power_sum) = (0.0, 0.0, 0.0);
    let mut steps_on = vec![0usize; models.len()];
    for step in 0..=steps {
        let temp = heat.die_c;
        let freq = soc.opps[level].freq_hz;
        let next = driver.choose(&observe(step as f64 * clock.dt_s, temp, freq));
        report.switches += usize::from(next != model);
        model = next;
        let (latency, power) = operating_point(&models[model], activity[model], soc, level);
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
        power_sum += power;
        accuracy_sum += models[model].accuracy.unwrap_or(0.0);
        steps_on[model] += 1;
        heat.step(soc, power, clock.dt_s);
        level = trips.level(soc, heat.die_c);
    }
    let n = (steps + 1) as f64;
    report.mean_latency_ms = latency_sum / n;
    report.mean_power_w = power_sum / n;
    report.model_fractions = steps_on.iter().map(|&s| s as f64 / n).collect();
    report.small_fraction = 1.0 - report.model_fractions[0];
    if models.iter().all(|m| m.accuracy.is_some()) {
        report.mean_accuracy = Some(accuracy_sum / n);
    }
    Ok(report)
}
