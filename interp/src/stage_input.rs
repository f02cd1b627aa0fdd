//! Turns a node's lowered arguments into the `StageInput` its implementation
//! receives: plain values as they are (ints coerced to floats where the signature
//! wants floats), node outputs as artifacts. A list that holds artifacts is passed
//! as an `Input::Sweep` whose points are labelled by index (`0`, `1`, ...).
//! This module only assembles inputs; it never loads from the cache itself.

use crate::graph::{Lowered, Node, NodeId};
use crate::key;
use pipe_lang::catalog::StageSig;
use pipe_lang::types::Type;
use pipe_lang::value::Value;
use pipe_stdlib::stage::{Input, Outputs, StageInput, StageOutput, SweepPoint};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Builds the input of `node`; `output_of` gives the result of an input node.
pub fn build(
    node: &Node,
    sig: &StageSig,
    output_of: &dyn Fn(NodeId) -> Result<Arc<StageOutput>, String>,
) -> Result<StageInput, String> {
    let mut args = BTreeMap::new();
    for (name, value) in &node.args {
        let ty = sig.param(name).map(|p| p.ty.clone()).unwrap_or(Type::Any);
        args.insert(name.clone(), input(value, &ty, output_of)?);
    }
    Ok(StageInput { args })
}

fn input(
    value: &Lowered,
    ty: &Type,
    output_of: &dyn Fn(NodeId) -> Result<Arc<StageOutput>, String>,
) -> Result<Input, String> {
    Ok(match value {
        Lowered::Plain(v) => Input::Value(key::coerce(v, ty)),
        Lowered::Output { node, field } => output_input(&*output_of(*node)?, field.as_deref())?,
        Lowered::Record(fields) => {
            let mut out = BTreeMap::new();
            for (k, v) in fields {
                let fty = match ty {
                    Type::Record(ts) => ts.get(k).cloned().unwrap_or(Type::Any),
                    _ => Type::Any,
                };
                out.insert(k.clone(), input(v, &fty, output_of)?);
            }
            Input::Record(out)
        }
        Lowered::List(items) => {
            let ety = match ty {
                Type::List(t) => (**t).clone(),
                _ => Type::Any,
            };
            let mut points = Vec::with_capacity(items.len());
            for (i, v) in items.iter().enumerate() {
                points.push(SweepPoint {
                    label: i.to_string(),
                    coords: BTreeMap::from([("index".to_string(), Value::Int(i as i64))]),
                    value: input(v, &ety, output_of)?,
                });
            }
            Input::Sweep(points)
        }
        Lowered::Sweep(points) => {
            let ety = match ty {
                Type::Sweep(t) => (**t).clone(),
                _ => Type::Any,
            };
            let mut out = Vec::with_capacity(points.len());
            for p in points {
                out.push(SweepPoint {
                    label: p.label(),
                    coords: p.coords.iter().cloned().collect(),
                    value: input(&p.value, &ety, output_of)?,
                });
            }
            Input::Sweep(out)
        }
    })
}

fn output_input(output: &StageOutput, field: Option<&str>) -> Result<Input, String> {
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
            .ok_or_else(|| format!("the stage produced no output `{f}`")),
        (Outputs::Single(_), Some(f)) => {
            Err(format!("the stage has one output, not a field `{f}`"))
        }
    }
}
