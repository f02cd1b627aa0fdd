//! Fits a thermal RC model to a measured heating curve: the temperature of a
//! device from the moment a constant load starts until the first throttle.
//! One node rises as one exponential, a die on a board as the sum of two; the
//! two-exponential fit converts exactly to the die-and-board ladder that
//! `thermal.rs` integrates. It only fits the points it is handed: choosing a
//! run to fit and a different one to compare against is the caller's duty, and
//! it never reads a file.

use crate::error::SimError;
use crate::soc::Board;

/// `T(t) = T0 + rise·(1 − e^(−t/tau))`, the step response of one node.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OneNodeFit {
    pub tau_s: f64,
    pub rise_k: f64,
    /// Root-mean-square residual over the fitted points, kelvin.
    pub rms_k: f64,
}

/// `T(t) = T0 + fast·(1 − e^(−t/fast_tau)) + slow·(1 − e^(−t/slow_tau))`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwoNodeFit {
    pub fast_tau_s: f64,
    pub fast_k: f64,
    pub slow_tau_s: f64,
    pub slow_k: f64,
    pub rms_k: f64,
}

/// The die-and-board ladder that rises exactly as a [`TwoNodeFit`] under `power_w`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ladder {
    pub die_r_k_per_w: f64,
    pub die_c_j_per_k: f64,
    pub board: Board,
}

/// Time constants searched: 0.2 s to 5000 s.
const TAU_MIN_S: f64 = 0.2;
const TAU_MAX_S: f64 = 5000.0;
/// Ratio between neighbouring time constants in the coarse and the fine search.
const COARSE: f64 = 1.02;
const FINE: f64 = 1.0005;
/// The fine search spans this ratio either side of the coarse optimum.
const FINE_SPAN: f64 = 1.03;

fn check(points: &[(f64, f64)], unknowns: usize) -> Result<(), SimError> {
    if points.len() <= unknowns {
        return Err(SimError::Invalid(format!(
            "a heating curve of {} points cannot fit {unknowns} unknowns; give more samples before the first throttle",
            points.len()
        )));
    }
    match points
        .iter()
        .find(|(t, temp)| !(t.is_finite() && *t > 0.0 && temp.is_finite()))
    {
        Some((t, temp)) => Err(SimError::Invalid(format!(
            "heating-curve point ({t} s, {temp} degC): times must be positive seconds since the load started"
        ))),
        None => Ok(()),
    }
}

/// `1 − e^(−t/tau)` at every point.
fn step_response(points: &[(f64, f64)], tau_s: f64) -> Vec<f64> {
    points
        .iter()
        .map(|(t, _)| 1.0 - (-t / tau_s).exp())
        .collect()
}

fn rms(residuals: impl Iterator<Item = f64>, n: usize) -> f64 {
    (residuals.map(|r| r * r).sum::<f64>() / n as f64).sqrt()
}

/// The time constants from `from` to `to`, each `ratio` times the last.
fn geometric(from: f64, to: f64, ratio: f64) -> impl Iterator<Item = f64> {
    std::iter::successors(Some(from), move |x| Some(x * ratio)).take_while(move |x| *x <= to)
}

/// Least-squares one-node fit of `points` (seconds since the load started,
/// degC) rising from `start_c`.
pub fn fit_one_node(points: &[(f64, f64)], start_c: f64) -> Result<OneNodeFit, SimError> {
    check(points, 2)?;
    let score = |tau_s: f64| {
        let x = step_response(points, tau_s);
        let xy: f64 = x
            .iter()
            .zip(points)
            .map(|(x, (_, t))| x * (t - start_c))
            .sum();
        let xx: f64 = x.iter().map(|x| x * x).sum();
        let rise_k = xy / xx;
        let residuals = x
            .iter()
            .zip(points)
            .map(|(x, (_, t))| start_c + rise_k * x - t);
        OneNodeFit {
            tau_s,
            rise_k,
            rms_k: rms(residuals, points.len()),
        }
    };
    let best = |taus: &mut dyn Iterator<Item = f64>| {
        taus.map(score)
            .min_by(|a, b| a.rms_k.total_cmp(&b.rms_k))
            .expect("the search grid is never empty")
    };
    let coarse = best(&mut geometric(TAU_MIN_S, TAU_MAX_S, COARSE));
    Ok(best(&mut geometric(
        coarse.tau_s / FINE_SPAN,
        coarse.tau_s * FINE_SPAN,
        FINE,
    )))
}

/// The two amplitudes for time constants `fast` and `slow` (normal equations),
/// with the residual; `None` when either amplitude would be negative.
fn two_amplitudes(points: &[(f64, f64)], start_c: f64, fast: f64, slow: f64) -> Option<TwoNodeFit> {
    let (a, b) = (step_response(points, fast), step_response(points, slow));
    let y: Vec<f64> = points.iter().map(|(_, t)| t - start_c).collect();
    let dot = |u: &[f64], v: &[f64]| u.iter().zip(v).map(|(p, q)| p * q).sum::<f64>();
    let (aa, ab, bb, ay, by) = (
        dot(&a, &a),
        dot(&a, &b),
        dot(&b, &b),
        dot(&a, &y),
        dot(&b, &y),
    );
    let det = aa * bb - ab * ab;
    if det.abs() < 1e-12 * aa * bb {
        return None;
    }
    let fast_k = (ay * bb - by * ab) / det;
    let slow_k = (by * aa - ay * ab) / det;
    if fast_k < 0.0 || slow_k < 0.0 {
        return None;
    }
    let residuals = (0..y.len()).map(|i| fast_k * a[i] + slow_k * b[i] - y[i]);
    Some(TwoNodeFit {
        fast_tau_s: fast,
        fast_k,
        slow_tau_s: slow,
        slow_k,
        rms_k: rms(residuals, y.len()),
    })
}

/// The best two-exponential fit over `fast × slow` time constants (slow > fast).
fn best_pair(
    points: &[(f64, f64)],
    start_c: f64,
    fast: (f64, f64),
    slow: (f64, f64),
    ratio: f64,
) -> Option<TwoNodeFit> {
    geometric(fast.0, fast.1, ratio)
        .flat_map(|f| {
            geometric(slow.0.max(f * ratio), slow.1, ratio)
                .filter_map(move |s| two_amplitudes(points, start_c, f, s))
        })
        .min_by(|a, b| a.rms_k.total_cmp(&b.rms_k))
}

/// Least-squares two-node fit of `points` (seconds since the load started,
/// degC) rising from `start_c`.
pub fn fit_two_nodes(points: &[(f64, f64)], start_c: f64) -> Result<TwoNodeFit, SimError> {
    check(points, 4)?;
    let none = || {
        SimError::Invalid(
            "no sum of two rising exponentials fits this heating curve; it does not rise from the start temperature".into(),
        )
    };
    let all = (TAU_MIN_S, TAU_MAX_S);
    let coarse = best_pair(points, start_c, all, all, COARSE).ok_or_else(none)?;
    let around = |tau: f64| (tau / FINE_SPAN, tau * FINE_SPAN);
    best_pair(
        points,
        start_c,
        around(coarse.fast_tau_s),
        around(coarse.slow_tau_s),
        FINE,
    )
    .ok_or_else(none)
}

impl TwoNodeFit {
    /// The ladder whose die rises as this fit when `power_w` starts: the two
    /// rises sum to `power·(R_die + R_board)`, the initial slope is
    /// `power / C_die`, and the two time constants are the ladder's eigenvalues.
    /// Only `R·power` and `R·C` show in a temperature curve, so `power_w` scales
    /// every resistance down and every capacitance up without changing the curve.
    pub fn ladder(&self, power_w: f64) -> Result<Ladder, SimError> {
        if !(power_w.is_finite() && power_w > 0.0) {
            return Err(SimError::Invalid(format!(
                "the power that heats the die must be positive, got {power_w} W"
            )));
        }
        let (t1, t2) = (self.fast_tau_s, self.slow_tau_s);
        let total_r = (self.fast_k + self.slow_k) / power_w;
        let die_c = power_w / (self.fast_k / t1 + self.slow_k / t2);
        let die_rate = 1.0 / t1 + 1.0 / t2 - total_r * die_c / (t1 * t2);
        let die_r = 1.0 / (die_c * die_rate);
        let board_r = total_r - die_r;
        if !(die_rate > 0.0 && board_r > 0.0) {
            return Err(SimError::Invalid(format!(
                "the fit ({:.1} K in {:.1} s, {:.1} K in {:.1} s) is no die-and-board ladder",
                self.fast_k, t1, self.slow_k, t2
            )));
        }
        Ok(Ladder {
            die_r_k_per_w: die_r,
            die_c_j_per_k: die_c,
            board: Board {
                r_k_per_w: board_r,
                c_j_per_k: t1 * t2 / (die_r * die_c * board_r),
            },
        })
    }
}
