//! Short constructors for stage signatures, so each family file reads as a list
//! of parameters rather than struct literals. Owns nothing but construction:
//! no stage behaviour lives here.

use crate::stage::{RunFn, StageDef};
use crate::task_kinds;
use pipe_lang::catalog::{ParamSig, StageSig};
use pipe_lang::types::{Task, Type};
use pipe_lang::units::Dim;
use pipe_lang::value::Value;

/// A signature at version 1 whose output does not inherit a task.
pub fn sig(
    namespace: &'static str,
    name: &'static str,
    doc: &'static str,
    params: Vec<ParamSig>,
    output: Type,
) -> StageSig {
    StageSig {
        namespace,
        name,
        version: 1,
        doc,
        params,
        output,
        output_task_from: None,
        implemented: false,
    }
}

/// Pairs a signature with its implementation; `implemented` follows `run`.
pub fn def(mut sig: StageSig, run: Option<RunFn>) -> StageDef {
    sig.implemented = run.is_some();
    StageDef { sig, run }
}

/// The output dataset keeps the task of the dataset parameter `param`.
pub fn keeps_task(mut sig: StageSig, param: &'static str) -> StageSig {
    sig.output_task_from = Some(param);
    sig
}

pub fn int(name: &'static str, default: i64, lo: i64, hi: i64, doc: &'static str) -> ParamSig {
    ParamSig::optional(name, Type::Int, Value::Int(default), doc).range(lo as f64, hi as f64)
}

/// A required integer within `lo..=hi`.
pub fn required_int(name: &'static str, lo: i64, hi: i64, doc: &'static str) -> ParamSig {
    ParamSig::required(name, Type::Int, doc).range(lo as f64, hi as f64)
}

/// A required free-form string (a metric or column name).
pub fn required_text(name: &'static str, doc: &'static str) -> ParamSig {
    ParamSig::required(name, Type::Str, doc)
}

pub fn float(name: &'static str, default: f64, lo: f64, hi: f64, doc: &'static str) -> ParamSig {
    ParamSig::optional(name, Type::Float, Value::Float(default), doc).range(lo, hi)
}

pub fn flag(name: &'static str, default: bool, doc: &'static str) -> ParamSig {
    ParamSig::optional(name, Type::Bool, Value::Bool(default), doc)
}

/// An enumerated string parameter.
pub fn choice(
    name: &'static str,
    default: &str,
    choices: &'static [&'static str],
    doc: &'static str,
) -> ParamSig {
    ParamSig::optional(name, Type::Str, Value::Str(default.to_string()), doc).choices(choices)
}

/// A free-form string parameter (a metric or column name).
pub fn text(name: &'static str, default: &str, doc: &'static str) -> ParamSig {
    ParamSig::optional(name, Type::Str, Value::Str(default.to_string()), doc)
}

/// A quantity; `default`, `lo` and `hi` are in base units (bytes, seconds, hertz, ...).
pub fn quantity(
    name: &'static str,
    dim: Dim,
    default: f64,
    lo: f64,
    hi: f64,
    doc: &'static str,
) -> ParamSig {
    let value = Value::Quantity {
        value: default,
        dim,
    };
    ParamSig::optional(name, Type::Quantity(dim), value, doc).range(lo, hi)
}

pub fn int_list(name: &'static str, default: &[i64], doc: &'static str) -> ParamSig {
    let items = default.iter().map(|&i| Value::Int(i)).collect();
    ParamSig::optional(name, Type::list(Type::Int), Value::List(items), doc)
}

pub fn float_list(name: &'static str, default: &[f64], doc: &'static str) -> ParamSig {
    let items = default.iter().map(|&x| Value::Float(x)).collect();
    ParamSig::optional(name, Type::list(Type::Float), Value::List(items), doc)
}

/// A required input file or directory, relative to the `.pipe` file.
pub fn path(name: &'static str, doc: &'static str) -> ParamSig {
    ParamSig::required(name, Type::Str, doc).path()
}

/// An optional override file: the empty string means "use the shipped table".
pub fn override_path(name: &'static str, doc: &'static str) -> ParamSig {
    text(name, "", doc).path()
}

/// A required dataset accepting `tasks` (empty: any task).
pub fn dataset(name: &'static str, tasks: &'static [Task], doc: &'static str) -> ParamSig {
    let ty = match tasks {
        [only] => Type::Dataset(Some(*only)),
        _ => Type::Dataset(None),
    };
    ParamSig::required(name, ty, doc).tasks(tasks)
}

pub fn model(name: &'static str, doc: &'static str) -> ParamSig {
    ParamSig::required(name, Type::Model, doc)
}

/// `input: Dataset`, from which model stages take the input shape and classes.
pub fn model_input(tasks: &'static [Task]) -> ParamSig {
    dataset(
        "input",
        tasks,
        "The dataset the model is built for: input shape and number of classes come from it.",
    )
}

/// A record type of named outputs.
pub fn record(fields: &[(&str, Type)]) -> Type {
    Type::record(fields.iter().map(|(k, v)| (*k, v.clone())))
}

/// `{model, metrics, curve}`: what every training and fine-tuning stage gives.
pub fn trained() -> Type {
    record(&[
        ("model", Type::Model),
        ("metrics", Type::Metrics),
        ("curve", Type::Table),
    ])
}

pub const CLASSIFY: &[Task] = &[task_kinds::CLASSIFY];
pub const DETECT: &[Task] = &[task_kinds::DETECT, task_kinds::VIDEO_DETECT];
pub const VIDEO: &[Task] = &[task_kinds::VIDEO_DETECT];
pub const SEGMENT: &[Task] = &[task_kinds::SEGMENT];
pub const AV_EVENT: &[Task] = &[task_kinds::AV_EVENT];
pub const ANY_TASK: &[Task] = &[];
