//! Calling stages as the interpreter does (signature defaults filled in,
//! overrides by name), shared by the slimmable tests.

#![allow(dead_code)]

use pipe_lang::value::Value;
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use pipe_stdlib::{StageError, Stdlib};

pub fn call(full: &str, args: Vec<(&str, Input)>) -> Result<StageOutput, StageError> {
    Stdlib::get().call(full, args, &std::env::temp_dir())
}

pub fn single(out: StageOutput) -> Artifact {
    match out.outputs {
        Outputs::Single(a) => a,
        Outputs::Record(_) => panic!("expected one artifact"),
    }
}

pub fn field(out: &StageOutput, name: &str) -> Artifact {
    match &out.outputs {
        Outputs::Record(r) => r[name].clone(),
        Outputs::Single(_) => panic!("expected a record"),
    }
}

pub fn art(a: Artifact) -> Input {
    Input::Artifact(a)
}

pub fn s(v: &str) -> Input {
    Input::Value(Value::Str(v.into()))
}

pub fn i(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

pub fn f(v: f64) -> Input {
    Input::Value(Value::Float(v))
}

pub fn floats(v: &[f64]) -> Input {
    Input::Value(Value::List(v.iter().map(|&x| Value::Float(x)).collect()))
}

pub fn ints(v: &[i64]) -> Input {
    Input::Value(Value::List(v.iter().map(|&x| Value::Int(x)).collect()))
}

/// `dataset.split(dataset.digits(), test: 0.2, seed)` → (train, test).
pub fn digits_split(seed: i64) -> (Artifact, Artifact) {
    let digits = single(call("dataset.digits", vec![]).unwrap());
    let parts = call(
        "dataset.split",
        vec![("data", art(digits)), ("test", f(0.2)), ("seed", i(seed))],
    )
    .unwrap();
    (field(&parts, "train"), field(&parts, "test"))
}
