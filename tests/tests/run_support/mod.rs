//! A small stage table for interpreter tests, injected through `StageSet`:
//! `sim.source` (a number), `sim.add` (input + y), `sim.sleep` (waits, polling
//! the cancel flag), `sim.fail` (always fails). Namespaces must be real ones, so
//! the test stages borrow `sim`. Plus helpers to write files and run them.

#![allow(dead_code)]

use pipe_interp::run::{run_file, FileOutcome, FileRun};
use pipe_interp::schedule::{NodeReport, RunControl, Status};
use pipe_interp::stage_set::StageTable;
use pipe_lang::catalog::{ParamSig, StageSig};
use pipe_lang::types::Type;
use pipe_lang::value::Value;
use pipe_stdlib::metrics::Metrics;
use pipe_stdlib::stage::{StageContext, StageDef, StageError, StageInput, StageOutput};
use pipe_stdlib::Artifact;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn sig(name: &'static str, version: u32, params: Vec<ParamSig>) -> StageSig {
    StageSig {
        namespace: "sim",
        name,
        version,
        doc: "test stage",
        params,
        output: Type::Metrics,
        output_task_from: None,
        implemented: true,
    }
}

fn metrics(v: f64) -> StageOutput {
    let mut m = Metrics::default();
    m.values.insert("value".into(), v);
    StageOutput::single(Artifact::Metrics(Arc::new(m)))
        .with_metrics(&BTreeMap::from([("value".to_string(), v)]))
}

fn value_of(input: &StageInput, name: &str) -> Result<f64, StageError> {
    match input.artifact(name)? {
        Artifact::Metrics(m) => Ok(m.values.get("value").copied().unwrap_or(0.0)),
        other => Err(StageError::Internal(format!(
            "{} is not metrics",
            other.kind()
        ))),
    }
}

/// Sleeps `ms` in small steps, returning `Cancelled` as soon as the flag is set.
fn nap(ms: i64, ctx: &StageContext) -> Result<(), StageError> {
    let end = Instant::now() + Duration::from_millis(ms.max(0) as u64);
    while Instant::now() < end {
        ctx.check_cancelled()?;
        std::thread::sleep(Duration::from_millis(5));
    }
    ctx.check_cancelled()
}

fn source(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    nap(input.value("ms")?.as_i64().unwrap_or(0), ctx)?;
    Ok(metrics(input.f64("value")?))
}

fn add(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    nap(input.value("ms")?.as_i64().unwrap_or(0), ctx)?;
    Ok(metrics(value_of(input, "x")? + input.f64("y")?))
}

fn fail(_: &StageInput, _: &StageContext) -> Result<StageOutput, StageError> {
    Err(StageError::Invalid("this stage always fails".into()))
}

/// The test table; `add_version` lets a test bump `sim.add`'s version.
pub fn stages(add_version: u32) -> StageTable {
    let ms = || ParamSig::optional("ms", Type::Int, Value::Int(0), "milliseconds to wait");
    StageTable::new(vec![
        StageDef {
            sig: sig(
                "source",
                1,
                vec![
                    ParamSig::optional("value", Type::Float, Value::Float(0.0), "the number"),
                    ms(),
                ],
            ),
            run: Some(source),
        },
        StageDef {
            sig: sig(
                "add",
                add_version,
                vec![
                    ParamSig::required("x", Type::Metrics, "input"),
                    ParamSig::optional("y", Type::Float, Value::Float(1.0), "added"),
                    ms(),
                ],
            ),
            run: Some(add),
        },
        StageDef {
            sig: sig(
                "fail",
                1,
                vec![ParamSig::required("x", Type::Metrics, "input")],
            ),
            run: Some(fail),
        },
        StageDef {
            sig: StageSig {
                implemented: false,
                ..sig(
                    "todo",
                    1,
                    vec![ParamSig::required("x", Type::Metrics, "input")],
                )
            },
            run: None,
        },
    ])
}

/// Runs `file` with the test table (cache beside it).
pub fn run_with(file: &Path, table: &StageTable, sets: &[&str], names: &[&str]) -> FileOutcome {
    run_controlled(file, table, sets, names, &RunControl::default())
}

pub fn run_controlled(
    file: &Path,
    table: &StageTable,
    sets: &[&str],
    names: &[&str],
    control: &RunControl,
) -> FileOutcome {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let names: Vec<String> = names.iter().map(|s| s.to_string()).collect();
    let cache_dir = file.parent().unwrap().join(".pipe-cache");
    let req = FileRun {
        file,
        names: &names,
        sets: &sets,
        cache_dir: &cache_dir,
        jobs: 4,
    };
    match run_file(&req, table, control) {
        Ok(o) => o,
        Err(e) => panic!("run failed:\n{e}"),
    }
}

/// `name -> status` of every node of a run.
pub fn statuses(outcome: &FileOutcome) -> BTreeMap<String, Status> {
    outcome
        .outcome
        .result
        .reports
        .iter()
        .map(|r| (r.name.clone(), r.status))
        .collect()
}

pub fn report<'a>(outcome: &'a FileOutcome, name: &str) -> &'a NodeReport {
    outcome
        .outcome
        .result
        .reports
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no node `{name}`"))
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
