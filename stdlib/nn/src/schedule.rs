//! Learning-rate schedules by optimisation step: linear warm-up, then cosine
//! decay to 0, step decay every `every` epochs, or constant.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ScheduleKind {
    Cosine,
    Step { every: usize, gamma: f32 },
    Constant,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub kind: ScheduleKind,
    pub base_lr: f32,
    pub warmup_epochs: usize,
    pub epochs: usize,
    pub steps_per_epoch: usize,
}

impl Schedule {
    /// The learning rate of 0-based optimisation step `step`.
    pub fn lr(&self, step: usize) -> f32 {
        let per = self.steps_per_epoch.max(1);
        let warmup = self.warmup_epochs * per;
        if step < warmup {
            return self.base_lr * (step + 1) as f32 / warmup as f32;
        }
        match self.kind {
            ScheduleKind::Constant => self.base_lr,
            ScheduleKind::Step { every, gamma } => {
                let decays = (step - warmup) / per / every.max(1);
                self.base_lr * gamma.powi(decays as i32)
            }
            ScheduleKind::Cosine => {
                let total = (self.epochs * per).saturating_sub(warmup).max(1);
                let t = (step - warmup) as f32 / total as f32;
                0.5 * self.base_lr * (1.0 + (std::f32::consts::PI * t.min(1.0)).cos())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sched(kind: ScheduleKind, warmup: usize) -> Schedule {
        Schedule {
            kind,
            base_lr: 1.0,
            warmup_epochs: warmup,
            epochs: 10,
            steps_per_epoch: 4,
        }
    }

    #[test]
    fn cosine_starts_at_base_and_decays_to_zero() {
        let s = sched(ScheduleKind::Cosine, 0);
        assert_eq!(s.lr(0), 1.0);
        assert!((s.lr(20) - 0.5).abs() < 1e-6);
        assert!(s.lr(39) < 0.01);
    }

    #[test]
    fn warmup_ramps_linearly_then_hands_over() {
        let s = sched(ScheduleKind::Constant, 2);
        assert_eq!(s.lr(0), 1.0 / 8.0);
        assert_eq!(s.lr(7), 1.0);
        assert_eq!(s.lr(8), 1.0);
    }

    #[test]
    fn step_decays_every_n_epochs() {
        let s = sched(
            ScheduleKind::Step {
                every: 3,
                gamma: 0.1,
            },
            0,
        );
        assert_eq!(s.lr(11), 1.0);
        assert!((s.lr(12) - 0.1).abs() < 1e-7);
        assert!((s.lr(24) - 0.01).abs() < 1e-8);
    }
}
