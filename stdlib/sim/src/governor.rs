//! The `dynamic_shift` policy as an app on a phone could run it: it sees only
//! what the phone shows at each step ([`Observation`]: the clock time, the die
//! temperature, the current and top DVFS frequency, the governor's trip point)
//! and picks one of the weight-shared widths, largest first.
//!
//! It must never see the simulator's thermal model (resistance, capacitance,
//! ambient, power): a policy that predicts temperature from the model that
//! produces it never throttles by construction. Instead it estimates the
//! heating rate online from the temperatures it has observed and extrapolates
//! it `horizon_s` ahead. `stdlib/sim/tests/governor.rs` checks that this module
//! names none of the thermal model's constants.

/// What the policy sees at one step; on Android these are the thermal zone's
/// temperature and trip point and cpufreq's current and maximum frequency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    pub time_s: f64,
    pub temp_c: f64,
    pub freq_hz: f64,
    pub top_freq_hz: f64,
    pub trip_c: f64,
}

/// The policy's own settings (none of them describes the phone).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shift {
    /// Move to a smaller width when the temperature predicted `horizon_s` ahead
    /// reaches `trip − margin_c`...
    pub margin_c: f64,
    /// ... and back to a larger one when the prediction is `band_c` below that.
    pub band_c: f64,
    /// How far ahead the observed heating rate is extrapolated.
    pub horizon_s: f64,
    /// Time constant of the exponential average of the heating rate.
    pub smoothing_s: f64,
    /// Minimum time on a width before the next switch, so that the heating
    /// rate reflects the width now running before it is acted on.
    pub settle_s: f64,
}

impl Shift {
    /// The project's defaults, chosen on the default phone and the development
    /// settings of docs/slimmable.md (never on the claims suite's held-out ones).
    pub fn project_default() -> Shift {
        Shift {
            margin_c: 3.0,
            band_c: 4.0,
            horizon_s: 20.0,
            smoothing_s: 1.0,
            settle_s: 2.0,
        }
    }
}

/// The state `dynamic_shift` keeps between steps.
#[derive(Debug, Clone)]
pub struct ShiftGovernor {
    shift: Shift,
    smallest: usize,
    current: usize,
    last: Option<(f64, f64)>,
    slope_c_per_s: f64,
    switched_at_s: f64,
}

impl ShiftGovernor {
    /// A policy over `widths` models (index 0 the largest), starting on the largest.
    pub fn new(shift: Shift, widths: usize) -> ShiftGovernor {
        ShiftGovernor {
            shift,
            smallest: widths.saturating_sub(1),
            current: 0,
            last: None,
            slope_c_per_s: 0.0,
            switched_at_s: f64::NEG_INFINITY,
        }
    }

    /// The observed heating rate, K/s (0 before two observations).
    pub fn slope_c_per_s(&self) -> f64 {
        self.slope_c_per_s
    }

    /// The width to run now. A throttled clock or a predicted temperature at
    /// `trip − margin` moves one width smaller; a prediction `band` below that
    /// moves one width larger; otherwise the width stays.
    pub fn decide(&mut self, obs: &Observation) -> usize {
        self.observe(obs);
        if obs.time_s - self.switched_at_s < self.shift.settle_s {
            return self.current;
        }
        let hot = obs.trip_c - self.shift.margin_c;
        let predicted = obs.temp_c + self.slope_c_per_s * self.shift.horizon_s;
        let throttled = obs.freq_hz < obs.top_freq_hz;
        let next = if (throttled || predicted >= hot) && self.current < self.smallest {
            self.current + 1
        } else if !throttled && predicted <= hot - self.shift.band_c && self.current > 0 {
            self.current - 1
        } else {
            self.current
        };
        if next != self.current {
            self.current = next;
            self.switched_at_s = obs.time_s;
        }
        self.current
    }

    fn observe(&mut self, obs: &Observation) {
        if let Some((t0, temp0)) = self.last {
            let dt = obs.time_s - t0;
            if dt > 0.0 {
                let rate = (obs.temp_c - temp0) / dt;
                let alpha = dt / (self.shift.smoothing_s + dt);
                self.slope_c_per_s += alpha * (rate - self.slope_c_per_s);
            }
        }
        self.last = Some((obs.time_s, obs.temp_c));
    }
}
