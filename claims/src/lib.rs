//! Shared pieces of the claims suite (`claims/tests/*.rs`): the seeds a claim is
//! reported on and the statistics every row of `docs/claims.md` gives.
//!
//! Each test file holds the claims of one method; each test asserts the direction of
//! one claim with the margin measured, over [`HELD_OUT_SEEDS`]. Those seeds were never
//! used while building or tuning a method: development uses other seeds (see each
//! method's doc), so a claim that holds here was not fitted to them. This module must
//! never hold a method's logic or a result.

use pipe_lang::value::Value;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use pipe_stdlib::Stdlib;

/// The seeds every claim is measured and asserted on. Never tune on these.
pub const HELD_OUT_SEEDS: [u64; 3] = [9101, 9102, 9103];

/// The seeds a claims file measures: `held_out`, or for development the
/// comma-separated list in `PIPE_CLAIMS_DEV_SEEDS` (e.g. `0,1,2`, seeds a method
/// was tuned on), so a claim can be rerun where it was built without touching the
/// held-out seeds.
pub fn seeds(held_out: &[u64]) -> Vec<u64> {
    match std::env::var("PIPE_CLAIMS_DEV_SEEDS") {
        Ok(list) => list
            .split(',')
            .map(|s| {
                s.trim()
                    .parse()
                    .expect("PIPE_CLAIMS_DEV_SEEDS: comma-separated integers")
            })
            .collect(),
        Err(_) => held_out.to_vec(),
    }
}

/// Runs one stage of the catalog as `pipe run` would; a stage error fails the
/// claim with the stage's name.
pub fn call(full: &str, args: Vec<(&str, Input)>) -> StageOutput {
    Stdlib::get()
        .call(full, args, &std::env::temp_dir())
        .unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// An integer argument of a stage call.
pub fn int(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

/// A float argument of a stage call.
pub fn float(v: f64) -> Input {
    Input::Value(Value::Float(v))
}

/// The one artifact a stage produced, as the argument of the next call.
pub fn single(out: &StageOutput) -> Input {
    match &out.outputs {
        Outputs::Single(a) => Input::Artifact(a.clone()),
        Outputs::Record(_) => panic!("expected one artifact"),
    }
}

/// One named output of a stage that produced a record, as an argument.
pub fn field(out: &StageOutput, name: &str) -> Input {
    match &out.outputs {
        Outputs::Record(r) => Input::Artifact(r[name].clone()),
        Outputs::Single(_) => panic!("expected a record"),
    }
}

/// Mean and spread (max - min) of one measurement over seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spread {
    pub mean: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    /// `None` for no values: a claim measured on no seed has no spread.
    pub fn of(values: &[f64]) -> Option<Spread> {
        let first = *values.first()?;
        let (min, max) = values
            .iter()
            .fold((first, first), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let mean = values.iter().sum::<f64>() / values.len() as f64;
        Some(Spread { mean, min, max })
    }

    pub fn range(&self) -> f64 {
        self.max - self.min
    }
}

impl std::fmt::Display for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.4} [{:.4}, {:.4}]", self.mean, self.min, self.max)
    }
}

#[cfg(test)]
mod tests {
    use super::Spread;

    #[test]
    fn spread_of_values() {
        let s = Spread::of(&[0.5, 0.7, 0.6]).expect("three values");
        assert!((s.mean - 0.6).abs() < 1e-12);
        assert_eq!((s.min, s.max), (0.5, 0.7));
        assert!((s.range() - 0.2).abs() < 1e-12);
    }

    #[test]
    fn spread_of_nothing_is_none() {
        assert_eq!(Spread::of(&[]), None);
    }
}
