//! Implementations of the `sim.*` stages: they turn stage arguments into
//! `pipe-sim` inputs (reading override tables through `path` parameters only),
//! run the simulator and package its results as `Metrics` and `Table`
//! artifacts. No simulation logic lives here.

use crate::artifact::Artifact;
use crate::metrics::{Cell, Metrics, Table};
use crate::model::Model;
use crate::stage::{Input, StageContext, StageError, StageInput, StageOutput};
use pipe_sim::accelerator::{self, Design};
use pipe_sim::arch::Arch;
use pipe_sim::dataflow::Dataflow;
use pipe_sim::nvm::{self, CacheTable, Mode, System, Traffic};
use pipe_sim::ppa::{MemoryModel, PpaTable};
use pipe_sim::scalesim::ScaleSimConfig;
use pipe_sim::thermal::{self, Clock, DeviceModel, Policy, Shift, Soc};
use pipe_sim::{workload, SimError};
use std::collections::BTreeMap;
use std::sync::Arc;

const MIB: f64 = 1024.0 * 1024.0;

fn sim_error(e: SimError) -> StageError {
    match e {
        SimError::Table { file, message } => StageError::File {
            path: file,
            message,
        },
        SimError::Invalid(m) => StageError::Invalid(m),
    }
}

/// A weightless `Model` standing for a workload's shapes: `arch.json` holds
/// only the descriptor (no `spec`), which `Model::descriptor` reads back.
fn model_of(arch: &Arch) -> Result<Model, StageError> {
    let arch = serde_json::to_vec(arch)
        .map_err(|e| StageError::Internal(format!("serializing a workload: {e}")))?;
    Ok(Model {
        arch,
        weights: Vec::new(),
    })
}

fn model_output(arch: &Arch) -> Result<StageOutput, StageError> {
    let metrics = BTreeMap::from([
        ("macs".to_string(), arch.macs() as f64),
        ("flops".to_string(), arch.flops() as f64),
        ("layers".to_string(), arch.layers.len() as f64),
    ]);
    Ok(StageOutput::single(Artifact::Model(Arc::new(model_of(arch)?))).with_metrics(&metrics))
}

/// `sim.workload(name)` or `sim.workload(topology: FILE)`.
pub fn workload(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let arch = match input.str("topology")? {
        "" => workload::builtin(input.str("name")?),
        file => workload::topology(&ctx.resolve(file)),
    }
    .map_err(sim_error)?;
    model_output(&arch)
}

/// `sim.topology(file)`.
pub fn topology(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let arch = workload::topology(&ctx.resolve(input.str("file")?)).map_err(sim_error)?;
    model_output(&arch)
}

/// An override table from a `path` parameter, or the shipped one when empty.
fn table_or<T>(
    input: &StageInput,
    ctx: &StageContext,
    name: &str,
    read: fn(&std::path::Path) -> Result<T, SimError>,
    shipped: fn() -> Result<T, SimError>,
) -> Result<T, StageError> {
    match input.str(name)? {
        "" => shipped().map_err(sim_error),
        path => read(&ctx.resolve(path)).map_err(sim_error),
    }
}

/// The PE type's own width, used when `bits` is 0.
fn native_bits(pe: &str) -> u32 {
    match pe {
        "int16" => 16,
        "int4" => 4,
        _ => 8,
    }
}

fn design(input: &StageInput) -> Result<Design, StageError> {
    let pe = input.str("pe")?.to_string();
    let bits = match input.usize("bits")? {
        0 => native_bits(&pe),
        b => {
            u32::try_from(b).map_err(|_| StageError::Invalid(format!("`bits` {b} is too large")))?
        }
    };
    let dataflow = input.str("dataflow")?;
    Ok(Design {
        bits,
        rows: input.u64("rows")?,
        cols: input.u64("cols")?,
        spad_bytes: input.f64("spad")?,
        glb_bytes: input.f64("glb")?,
        freq_hz: input.f64("freq")?,
        dataflow: Dataflow::parse(dataflow).ok_or_else(|| {
            StageError::Internal(format!("dataflow `{dataflow}` passed the checker"))
        })?,
        bandwidth: input.f64("bandwidth")? * 1e9,
        pe,
    })
}

fn num(x: f64) -> Cell {
    Cell::Num(x)
}

fn layer_table(report: &accelerator::Report, arch: &Arch) -> Table {
    let columns = [
        "layer",
        "kind",
        "macs",
        "folds",
        "compute_cycles",
        "dram_cycles",
        "cycles",
        "utilization",
        "spad_accesses",
        "glb_accesses",
        "dram_bytes",
        "energy_uj",
        "latency_us",
    ];
    let rows = report
        .layers
        .iter()
        .map(|l| {
            vec![
                Cell::Text(l.name.clone()),
                Cell::Text(l.kind.to_string()),
                num(l.macs as f64),
                num(l.folds as f64),
                num(l.compute_cycles as f64),
                num(l.dram_cycles as f64),
                num(l.cycles as f64),
                num(l.utilization),
                num(l.spad_accesses as f64),
                num(l.glb_accesses as f64),
                num(l.dram_bytes as f64),
                num(l.energy_pj * 1e-6),
                num(l.latency_s * 1e6),
            ]
        })
        .collect();
    Table {
        title: format!("{} per layer", arch.name),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
    }
}

fn accelerator_metrics(t: &accelerator::Totals) -> BTreeMap<String, f64> {
    [
        ("compute_cycles", t.compute_cycles as f64),
        ("total_cycles", t.total_cycles as f64),
        ("utilization", t.utilization),
        ("latency_ms", t.latency_ms),
        ("energy_uj", t.energy_uj),
        ("area_mm2", t.area_mm2),
        ("perf_per_area", t.perf_per_area),
        ("edp", t.edp),
        ("macs", t.macs as f64),
        ("freq_mhz", t.freq_mhz),
        ("mac_energy_uj", t.mac_energy_uj),
        ("spad_energy_uj", t.spad_energy_uj),
        ("glb_energy_uj", t.glb_energy_uj),
        ("dram_energy_uj", t.dram_energy_uj),
        ("leak_energy_uj", t.leak_energy_uj),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The node's headline numbers (what the run summary shows): `names`, in the
/// artifact's metrics; the artifact keeps every number.
fn headline(metrics: &BTreeMap<String, f64>, names: &[&str]) -> BTreeMap<String, f64> {
    names
        .iter()
        .filter_map(|n| metrics.get(*n).map(|v| (n.to_string(), *v)))
        .collect()
}

const ACCELERATOR_HEADLINE: &[&str] = &[
    "compute_cycles",
    "total_cycles",
    "utilization",
    "latency_ms",
    "energy_uj",
    "area_mm2",
    "perf_per_area",
    "edp",
];
const NVM_HEADLINE: &[&str] = &[
    "energy_uj",
    "delay_ms",
    "edp",
    "area_mm2",
    "capacity_mb",
    "leak_mw",
    "edp_reduction",
    "area_reduction",
    "capacity_gain",
    "leak_reduction",
];
const THERMAL_HEADLINE: &[&str] = &[
    "max_temp_c",
    "min_freq_ghz",
    "throttled_s",
    "start_latency_ms",
    "max_latency_ms",
    "mean_accuracy",
];

fn metrics_artifact(values: &BTreeMap<String, f64>) -> Artifact {
    Artifact::Metrics(Arc::new(Metrics {
        values: values.clone(),
        curves: BTreeMap::new(),
    }))
}

/// The array, dataflow and buffer of a SCALE-Sim `.cfg` named by `config`, over `design`.
fn with_scalesim_config(
    mut design: Design,
    input: &StageInput,
    ctx: &StageContext,
) -> Result<Design, StageError> {
    let path = input.str("config")?;
    if path.is_empty() {
        return Ok(design);
    }
    let cfg = ScaleSimConfig::read(&ctx.resolve(path)).map_err(sim_error)?;
    design.rows = cfg.rows;
    design.cols = cfg.cols;
    design.dataflow = cfg.dataflow;
    design.glb_bytes = (cfg.ifmap_kib + cfg.filter_kib + cfg.ofmap_kib) as f64 * 1024.0;
    Ok(design)
}

/// `sim.accelerator(...)` → `{metrics, layers}`.
pub fn accelerator(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let arch = input.model("model")?.descriptor()?;
    let design = with_scalesim_config(design(input)?, input, ctx)?;
    let ppa = table_or(input, ctx, "ppa", PpaTable::read, PpaTable::default_table)?;
    let memory = table_or(
        input,
        ctx,
        "memory",
        MemoryModel::read,
        MemoryModel::default_model,
    )?;
    let report = accelerator::simulate(&arch, &design, &ppa, &memory).map_err(sim_error)?;
    let metrics = accelerator_metrics(&report.totals);
    let layers = Artifact::Table(Arc::new(layer_table(&report, &arch)));
    Ok(
        StageOutput::record([("metrics", metrics_artifact(&metrics)), ("layers", layers)])
            .with_metrics(&headline(&metrics, ACCELERATOR_HEADLINE)),
    )
}

fn nvm_metrics(c: &nvm::Comparison) -> BTreeMap<String, f64> {
    let (r, s) = (&c.result, &c.sram);
    [
        ("energy_uj", r.energy_uj),
        ("delay_ms", r.delay_ms),
        ("edp", r.edp),
        ("area_mm2", r.cache.area_mm2),
        ("capacity_mb", r.cache.capacity_mb),
        ("leak_mw", r.cache.leak_mw),
        ("read_ns", r.cache.read_ns),
        ("write_ns", r.cache.write_ns),
        ("read_pj", r.cache.read_pj),
        ("write_pj", r.cache.write_pj),
        ("reads", r.reads),
        ("writes", r.writes),
        ("misses", r.misses),
        ("writebacks", r.writebacks),
        ("dynamic_uj", r.dynamic_uj),
        ("leak_uj", r.leak_uj),
        ("dram_uj", r.dram_uj),
        ("sram_energy_uj", s.energy_uj),
        ("sram_delay_ms", s.delay_ms),
        ("sram_edp", s.edp),
        ("sram_area_mm2", s.cache.area_mm2),
        ("sram_capacity_mb", s.cache.capacity_mb),
        ("sram_leak_mw", s.cache.leak_mw),
        ("edp_reduction", c.edp_reduction()),
        ("energy_reduction", s.energy_uj / r.energy_uj),
        ("area_reduction", c.area_reduction()),
        ("capacity_gain", c.capacity_gain()),
        ("leak_reduction", c.leak_reduction()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// `sim.nvm_cache(...)` → `Metrics`.
pub fn nvm_cache(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let arch = input.model("workload")?.descriptor()?;
    let table = table_or(
        input,
        ctx,
        "table",
        CacheTable::read,
        CacheTable::default_table,
    )?;
    let traffic = Traffic::of_arch(
        &arch,
        input.f64("line")?,
        input.f64("batch")?,
        input.f64("tile")?,
    );
    let (reads, writes) = (input.u64("reads")? as f64, input.u64("writes")? as f64);
    let traffic = if reads > 0.0 || writes > 0.0 {
        traffic.with_counts(reads, writes)
    } else {
        traffic
    };
    let system = System {
        flops_per_s: input.f64("throughput")? * 1e12,
        banks: input.f64("banks")?,
        dram_pj_per_line: input.f64("dram_energy")? * 1e12,
        dram_ns: input.f64("dram_latency")? * 1e9,
        ways: input.u64("ways")? as usize,
    };
    let mode = input.str("mode")?;
    let mode = Mode::parse(mode)
        .ok_or_else(|| StageError::Internal(format!("mode `{mode}` passed the checker")))?;
    let node_nm = input.f64("node")? * 1e9;
    let capacity_mb = input.f64("capacity")? / MIB;
    let comparison = nvm::compare(
        &table,
        input.str("tech")?,
        node_nm,
        capacity_mb,
        mode,
        &traffic,
        &system,
    )
    .map_err(sim_error)?;
    let metrics = nvm_metrics(&comparison);
    Ok(StageOutput::single(metrics_artifact(&metrics))
        .with_metrics(&headline(&metrics, NVM_HEADLINE)))
}

fn floats(input: &StageInput, name: &str) -> Result<Vec<f64>, StageError> {
    match input.value(name)? {
        pipe_lang::value::Value::List(items) => items
            .iter()
            .map(|v| {
                v.as_f64().ok_or_else(|| {
                    StageError::Invalid(format!("`{name}` must list numbers, got {v}"))
                })
            })
            .collect(),
        other => Err(StageError::Internal(format!(
            "`{name}` is not a list: {other}"
        ))),
    }
}

/// Every width of a slimmable model, largest first, with its measured latency
/// per sample (batch-64 median / 64, or the batch-1 median) and saved
/// accuracy; `None` for any other model.
fn slimmable_widths(model: &Model, batch64: bool) -> Result<Option<Vec<DeviceModel>>, StageError> {
    let Ok(spec) = model.spec() else {
        return Ok(None);
    };
    let Some(widths) = pipe_nn::slim::widths(&spec) else {
        return Ok(None);
    };
    let profile = pipe_nn::slim::profile(&spec);
    if profile.len() != widths.len() {
        return Err(StageError::Invalid(
            "this slimmable model has no measured latency per width; build it with `model.slimmable`".into(),
        ));
    }
    let name = pipe_nn::slim::base_name(&spec).unwrap_or("slimmable");
    Ok(Some(
        profile
            .iter()
            .rev()
            .map(|p| DeviceModel {
                name: format!("{name}@{}", pipe_nn::slim::width_label(p.width)),
                flops: p.flops as f64,
                accuracy: p.accuracy.map(f64::from),
                latency_s: Some(if batch64 {
                    p.latency_b64_ns as f64 / 64.0 / 1e9
                } else {
                    p.latency_b1_ns as f64 / 1e9
                }),
            })
            .collect(),
    ))
}

/// The models, largest first: every width of a slimmable model, a list
/// `[large, ..., small]`, or one model and its `small_width` slice.
fn device_models(input: &StageInput) -> Result<Vec<DeviceModel>, StageError> {
    let mut models = match input.get("models")? {
        Input::Artifact(Artifact::Model(m)) => match slimmable_widths(m, input.str("latency")? == "batch64")? {
            Some(widths) => widths,
            None => sliced_pair(m, input.f64("small_width")?)?,
        },
        Input::Sweep(points) => points
            .iter()
            .map(|p| match &p.value {
                Input::Artifact(Artifact::Model(m)) => Ok(plain_model(&m.descriptor()?)),
                _ => Err(StageError::Invalid(format!(
                    "`models` item {} is not a model",
                    p.label
                ))),
            })
            .collect::<Result<_, _>>()?,
        _ => {
            return Err(StageError::Invalid(
                "`models` must be a model (all widths of a slimmable one) or a list [large, ..., small] of models".into(),
            ))
        }
    };
    let accuracy = floats(input, "accuracy")?;
    if !accuracy.is_empty() && accuracy.len() != models.len() {
        return Err(StageError::Invalid(format!(
            "`accuracy` lists {} values for {} models; give one per model (largest first) or none",
            accuracy.len(),
            models.len()
        )));
    }
    for (m, a) in models.iter_mut().zip(accuracy) {
        m.accuracy = Some(a);
    }
    Ok(models)
}

fn plain_model(arch: &Arch) -> DeviceModel {
    DeviceModel {
        name: arch.name.clone(),
        flops: arch.flops() as f64,
        accuracy: None,
        latency_s: None,
    }
}

/// A model and its `width` channel slice, as a slimmable network would slice it.
fn sliced_pair(m: &Model, width: f64) -> Result<Vec<DeviceModel>, StageError> {
    let large = m.descriptor()?;
    let small = workload::slim(&large, width).map_err(sim_error)?;
    Ok(vec![plain_model(&large), plain_model(&small)])
}

fn trace_table(report: &thermal::ThermalReport, models: &[DeviceModel]) -> Table {
    let with_accuracy = report.mean_accuracy.is_some();
    let mut columns = vec![
        "time_s",
        "temp_c",
        "freq_ghz",
        "latency_ms",
        "power_w",
        "model",
    ];
    if with_accuracy {
        columns.push("accuracy");
    }
    let rows = report
        .trace
        .iter()
        .map(|p| {
            let mut row = vec![
                num(p.time_s),
                num(p.temp_c),
                num(p.freq_hz / 1e9),
                num(p.latency_ms),
                num(p.power_w),
                Cell::Text(models[p.model].name.clone()),
            ];
            if let (true, Some(a)) = (with_accuracy, p.accuracy) {
                row.push(num(a));
            }
            row
        })
        .collect();
    Table {
        title: "thermal trace".into(),
        columns: columns.iter().map(|c| c.to_string()).collect(),
        rows,
    }
}

fn thermal_metrics(r: &thermal::ThermalReport, models: &[DeviceModel]) -> BTreeMap<String, f64> {
    let mut m: BTreeMap<String, f64> = [
        ("max_temp_c", r.max_temp_c),
        ("min_freq_ghz", r.min_freq_hz / 1e9),
        ("start_latency_ms", r.start_latency_ms),
        ("max_latency_ms", r.max_latency_ms),
        ("mean_latency_ms", r.mean_latency_ms),
        ("latency_increase", r.max_latency_ms / r.start_latency_ms),
        ("throttled_s", r.throttled_s),
        ("small_fraction", r.small_fraction),
        ("switches", r.switches as f64),
        ("mean_power_w", r.mean_power_w),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Some(a) = r.mean_accuracy {
        m.insert("mean_accuracy".into(), a);
    }
    for (model, fraction) in models.iter().zip(&r.model_fractions) {
        m.insert(format!("fraction.{}", model.name), *fraction);
    }
    m
}

/// `sim.thermal(...)` → `{metrics, trace}`.
pub fn thermal(input: &StageInput, ctx: &StageContext) -> Result<StageOutput, StageError> {
    let models = device_models(input)?;
    let policy = input.str("policy")?;
    let policy = Policy::parse(policy)
        .ok_or_else(|| StageError::Internal(format!("policy `{policy}` passed the checker")))?;
    let mut soc = Soc {
        ambient_c: input.f64("ambient")?,
        fps: input.f64("fps")?,
        ..table_or(input, ctx, "soc", Soc::read, Soc::default_table)?
    };
    let load = input.f64("load")?;
    if load > 0.0 {
        soc.fps = thermal::fps_for_load(&models, &soc, load).map_err(sim_error)?;
    }
    let shift = Shift {
        margin_c: input.f64("margin")?,
        band_c: input.f64("band")?,
        horizon_s: input.f64("horizon")?,
        ..Shift::project_default()
    };
    let clock = Clock {
        duration_s: input.f64("duration")?,
        dt_s: input.f64("step")?,
        sample_s: input.f64("sample")?,
    };
    let report = thermal::simulate(&models, policy, &soc, &shift, &clock).map_err(sim_error)?;
    let mut metrics = thermal_metrics(&report, &models);
    metrics.insert("fps".into(), soc.fps);
    let trace = Artifact::Table(Arc::new(trace_table(&report, &models)));
    Ok(
        StageOutput::record([("metrics", metrics_artifact(&metrics)), ("trace", trace)])
            .with_metrics(&headline(&metrics, THERMAL_HEADLINE)),
    )
}
