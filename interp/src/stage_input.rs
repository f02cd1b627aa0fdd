//! Turns a node's lowered arguments into the `StageInput` its implementation
//! receives: plain values as they are (lowering already coerced them to their
//! parameter's type), node outputs as artifacts. A list that holds artifacts is passed
//! as an `Input::Sweep` whose points are labelled by index (`0`, `1`, ...).
//! This module only assembles inputs; it never loads from the cache itself.

use crate::error::InputError;
use crate::graph::{Lowered, Node, NodeId};
use pipe_lang::value::Value;
use pipe_stdlib::stage::{Input, Outputs, StageInput, StageOutput, SweepPoint};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builds the input of `node`; `output_of` gives the result of an input node.
pub fn build(
    node: &Node,
    output_of: &dyn Fn(NodeId) -> Result<Arc<StageOutput>, String>,
) -> Result<StageInput, InputError> {
    let mut args = BTreeMap::new();
    for (name, value) in &node.args {
        args.insert(name.clone(), input(value, output_of)?);
    }
    Ok(StageInput { args })
}

fn input(
    value: &Lowered,
    output_of: &dyn Fn(NodeId) -> Result<Arc<StageOutput>, String>,
) -> Result<Input, InputError> {
    Ok(match value {
        Lowered::Plain(v) => Input::Value(v.clone()),
        Lowered::Output { node, field } => {
            let output = output_of(*node).map_err(InputError::Unavailable)?;
            output_input(&output, field.as_deref())?
        }
        Lowered::Record(fields) => {
            let mut out = BTreeMap::new();
            for (k, v) in fields {
                out.insert(k.clone(), input(v, output_of)?);
            }
            Input::Record(out)
        }
        Lowered::List(items) => {
            let mut points = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                points.push(SweepPoint {
                    label: i.to_string(),
                    coords: BTreeMap::from([("index".to_string(), Value::Int(i as i64))]),
                    value: input(v, output_of)?,
                });
            }
            Input::Sweep(points)
        }
        Lowered::Sweep(points) => {
            let mut out = Vec::with_capacity(points.len());
            for p in points {
                out.push(SweepPoint {
                    label: p.label(),
                    coords: p.coords.iter().cloned().collect(),
                    value: input(&p.value, output_of)?,
                });
            }
            Input::Sweep(out)
        }
    })
}

fn output_input(output: &StageOutput, field: Option<&str>) -> Result<Input, InputError> {
    match (&output.outputs, field) {
        (Outputs::Single(a), None) => Ok(Input::Artifact(a.clone())),
        (Outputs::Record(fields), None) => Ok(Input::Record(
            fields
                .iter()
                .map(|(k, a)| (k.clone(), Input::Artifact(a.clone())))
                .collect(),
        )),
        (Outputs::Record(fields), Some(f)) => fields
            .get(f)
            .map(|a| Input::Artifact(a.clone()))
            .ok_or_else(|| InputError::NoSuchOutput(f.to_string())),
        (Outputs::Single(_), Some(f)) => Err(InputError::SingleOutput(f.to_string())),
    }
}
