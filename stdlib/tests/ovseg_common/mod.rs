//! Calling catalog stages from the OVSeg tests as the interpreter does:
//! signature defaults filled in, overrides by name; plus accessors for the
//! artifacts they return. Each test crate uses a different subset of these.
#![allow(dead_code)]

use pipe_lang::value::Value;
pub use pipe_stdlib::stage::Input;
use pipe_stdlib::stage::{Outputs, StageOutput};
use pipe_stdlib::{Artifact, StageError, Stdlib};
use std::collections::BTreeMap;

/// Runs stage `full` (`namespace.name`) with its defaults and `args`.
pub fn try_call(full: &str, args: Vec<(&str, Input)>) -> Result<StageOutput, StageError> {
    Stdlib::get().call(full, args, &std::env::temp_dir())
}

pub fn call(full: &str, args: Vec<(&str, Input)>) -> StageOutput {
    try_call(full, args).unwrap_or_else(|e| panic!("{full}: {e}"))
}

pub fn num(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

pub fn float(v: f64) -> Input {
    Input::Value(Value::Float(v))
}

pub fn s(v: &str) -> Input {
    Input::Value(Value::Str(v.into()))
}

/// The single artifact a stage returned, as an input for the next stage.
pub fn single(out: &StageOutput) -> Input {
    match &out.outputs {
        Outputs::Single(a) => Input::Artifact(a.clone()),
        Outputs::Record(_) => panic!("expected one artifact"),
    }
}

pub fn dataset(out: &StageOutput) -> Input {
    single(out)
}

pub fn model(out: &StageOutput) -> Input {
    single(out)
}

/// One field of a record output.
pub fn field(out: &StageOutput, name: &str) -> Input {
    match &out.outputs {
        Outputs::Record(fields) => Input::Artifact(fields[name].clone()),
        Outputs::Single(_) => panic!("expected a record"),
    }
}

/// The headline numbers of a stage.
pub fn metrics(out: &StageOutput) -> BTreeMap<String, f64> {
    out.metrics.clone()
}

/// The model inside an input.
pub fn as_model(input: &Input) -> &pipe_stdlib::model::Model {
    match input {
        Input::Artifact(Artifact::Model(m)) => m,
        _ => panic!("not a model"),
    }
}
