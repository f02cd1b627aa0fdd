//! Typed parameter groups: each group declares its parameters (the `ParamSig`s a
//! signature lists) and reads them back from a `StageInput`, so a shared
//! parameter's name, default and meaning are written in one place. A group never
//! runs anything; it only turns arguments into typed values.

use crate::stage::{StageError, StageInput};
use crate::stages::common::{choice, flag, float, int};
use pipe_lang::catalog::ParamSig;
use pipe_nn::optim::OptimizerKind;
use pipe_nn::schedule::ScheduleKind;
use pipe_nn::train::TrainConfig;

/// `seed: int = 0`, taken by every stochastic stage.
pub struct Seed;

impl Seed {
    const NAME: &'static str = "seed";

    pub fn param() -> ParamSig {
        int(
            Self::NAME,
            0,
            0,
            i64::MAX,
            "Random seed; the stage is deterministic for a fixed seed.",
        )
    }

    pub fn read(input: &StageInput) -> Result<u64, StageError> {
        input.u64(Self::NAME)
    }
}

pub const OPTIMIZERS: &[&str] = &["adamw", "sgd"];
pub const SCHEDULES: &[&str] = &["cosine", "step", "constant"];

/// The optimisation parameters every training and fine-tuning stage shares
/// (`seed` included). Its value is the backend's `TrainConfig` with the
/// supervised-only switches off; `Supervision` turns them on.
pub struct Optimisation;

impl Optimisation {
    /// `epochs` and `lr` defaults differ per method, so they are arguments.
    pub fn params(epochs: i64, lr: f64, batch_size: i64, weight_decay: f64) -> Vec<ParamSig> {
        vec![
            int(
                "epochs",
                epochs,
                1,
                100_000,
                "Passes over the training data.",
            ),
            int(
                "batch_size",
                batch_size,
                1,
                65_536,
                "Samples per optimisation step.",
            ),
            float("lr", lr, 0.0, 10.0, "Peak learning rate."),
            choice(
                "optimizer",
                "adamw",
                OPTIMIZERS,
                "`adamw` (betas 0.9, 0.999) or `sgd` with momentum.",
            ),
            float(
                "momentum",
                0.9,
                0.0,
                1.0,
                "SGD momentum (ignored by AdamW).",
            ),
            float(
                "weight_decay",
                weight_decay,
                0.0,
                10.0,
                "Decoupled weight decay (AdamW) or L2 penalty (SGD).",
            ),
            choice(
                "schedule",
                "cosine",
                SCHEDULES,
                "Learning-rate schedule over the run: cosine decay to 0, step decay, or constant.",
            ),
            int(
                "warmup",
                0,
                0,
                100_000,
                "Epochs of linear learning-rate warm-up before the schedule.",
            ),
            int(
                "step_every",
                30,
                1,
                100_000,
                "For `schedule: \"step\"`: epochs between decays.",
            ),
            float(
                "step_gamma",
                0.1,
                0.0,
                1.0,
                "For `schedule: \"step\"`: factor applied at each decay.",
            ),
            float(
                "clip",
                0.0,
                0.0,
                1e6,
                "Gradient clipping by global norm; 0 turns it off.",
            ),
            Seed::param(),
        ]
    }

    /// The group's arguments, with no label smoothing and no augmentation.
    pub fn read(input: &StageInput) -> Result<TrainConfig, StageError> {
        Ok(TrainConfig {
            epochs: input.usize("epochs")?,
            batch_size: input.usize("batch_size")?.max(1),
            lr: input.f64("lr")? as f32,
            optimizer: Self::optimizer(input)?,
            weight_decay: input.f64("weight_decay")? as f32,
            schedule: Self::schedule(input)?,
            warmup_epochs: input.usize("warmup")?,
            clip: input.f64("clip")? as f32,
            label_smoothing: 0.0,
            augment: false,
            seed: Seed::read(input)?,
        })
    }

    /// The group's arguments plus the supervised switches `label_smoothing` and
    /// `augment`, for the stages that declare them.
    pub fn read_supervised(input: &StageInput) -> Result<TrainConfig, StageError> {
        Ok(TrainConfig {
            label_smoothing: LabelSmoothing::read(input)?,
            augment: Augment::read(input)?,
            ..Self::read(input)?
        })
    }

    /// The `optimizer` (and `momentum`) parameters.
    fn optimizer(input: &StageInput) -> Result<OptimizerKind, StageError> {
        match input.str("optimizer")? {
            "adamw" => Ok(OptimizerKind::adamw()),
            "sgd" => Ok(OptimizerKind::Sgd {
                momentum: input.f64("momentum")? as f32,
            }),
            other => Err(StageError::Internal(format!("unknown optimizer `{other}`"))),
        }
    }

    /// The `schedule` (and `step_every`, `step_gamma`) parameters.
    fn schedule(input: &StageInput) -> Result<ScheduleKind, StageError> {
        match input.str("schedule")? {
            "cosine" => Ok(ScheduleKind::Cosine),
            "constant" => Ok(ScheduleKind::Constant),
            "step" => Ok(ScheduleKind::Step {
                every: input.usize("step_every")?,
                gamma: input.f64("step_gamma")? as f32,
            }),
            other => Err(StageError::Internal(format!("unknown schedule `{other}`"))),
        }
    }
}

/// `label_smoothing`, which supervised cross-entropy stages add to `Optimisation`
/// (each stage declares it with its own doc).
pub struct LabelSmoothing;

impl LabelSmoothing {
    pub const NAME: &'static str = "label_smoothing";

    /// `label_smoothing: float = 0.0` in [0, 1], with the stage's own doc.
    pub fn param(doc: &'static str) -> ParamSig {
        float(Self::NAME, 0.0, 0.0, 1.0, doc)
    }

    pub fn read(input: &StageInput) -> Result<f32, StageError> {
        Ok(input.f64(Self::NAME)? as f32)
    }
}

/// `augment`, the on/off switch of a stage's training-time augmentation (each
/// stage declares it with its own default and doc: what is augmented differs).
pub struct Augment;

impl Augment {
    pub const NAME: &'static str = "augment";

    /// `augment: bool`, with the stage's own default and doc.
    pub fn param(default: bool, doc: &'static str) -> ParamSig {
        flag(Self::NAME, default, doc)
    }

    pub fn read(input: &StageInput) -> Result<bool, StageError> {
        input.bool(Self::NAME)
    }
}
