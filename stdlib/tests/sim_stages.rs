//! The `sim.*` and `report.*` stages through the catalog, as the interpreter
//! calls them: signature defaults filled in, overrides by name. Checks metric
//! names, the claims with the defaults, and errors for bad override files.

use pipe_lang::value::Value;
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::stage::{Input, Outputs, StageOutput, SweepPoint};
use pipe_stdlib::{StageError, Stdlib};
use std::collections::BTreeMap;
use std::path::PathBuf;

fn call(full: &str, args: Vec<(&str, Input)>) -> Result<StageOutput, StageError> {
    call_in(full, args, std::env::temp_dir())
}

fn call_in(
    full: &str,
    args: Vec<(&str, Input)>,
    base_dir: PathBuf,
) -> Result<StageOutput, StageError> {
    Stdlib::get().call(full, args, &base_dir)
}

/// A fresh directory for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pipe-sim-stages-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn s(v: &str) -> Input {
    Input::Value(Value::Str(v.into()))
}

fn i(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

fn single(out: StageOutput) -> Artifact {
    match out.outputs {
        Outputs::Single(a) => a,
        Outputs::Record(_) => panic!("expected one artifact"),
    }
}

fn field(out: &StageOutput, name: &str) -> Artifact {
    match &out.outputs {
        Outputs::Record(r) => r[name].clone(),
        Outputs::Single(_) => panic!("expected a record"),
    }
}

fn workload(name: &str) -> Input {
    Input::Artifact(single(
        call("sim.workload", vec![("name", s(name))]).unwrap(),
    ))
}

fn record(out: &StageOutput) -> Input {
    match &out.outputs {
        Outputs::Record(r) => Input::Record(
            r.iter()
                .map(|(k, v)| (k.clone(), Input::Artifact(v.clone())))
                .collect(),
        ),
        Outputs::Single(a) => Input::Artifact(a.clone()),
    }
}

#[test]
fn accelerator_reports_the_named_metrics_and_a_layer_table() {
    let out = call("sim.accelerator", vec![("model", workload("mobilenet_v2"))]).unwrap();
    for name in [
        "compute_cycles",
        "total_cycles",
        "utilization",
        "latency_ms",
        "energy_uj",
        "area_mm2",
        "perf_per_area",
        "edp",
    ] {
        assert!(
            out.metrics
                .get(name)
                .is_some_and(|v| v.is_finite() && *v > 0.0),
            "metric {name}: {:?}",
            out.metrics.get(name)
        );
    }
    assert_eq!(
        out.metrics.len(),
        8,
        "node metrics are exactly the named eight: {:?}",
        out.metrics.keys()
    );
    let Artifact::Table(layers) = field(&out, "layers") else {
        panic!("layers is not a table")
    };
    assert!(layers.rows.len() > 60, "{} layers", layers.rows.len());
    assert!(
        layers.columns.contains(&"folds".to_string())
            && layers.columns.contains(&"dram_bytes".to_string())
    );
    assert_eq!(layers.to_csv().lines().count(), layers.rows.len() + 1);
}

#[test]
fn bits_zero_means_the_pe_types_own_width() {
    let model = workload("resnet50");
    let int16 = call(
        "sim.accelerator",
        vec![("model", model.clone()), ("pe", s("int16"))],
    )
    .unwrap();
    let lightpe = call(
        "sim.accelerator",
        vec![("model", model), ("pe", s("lightpe1"))],
    )
    .unwrap();
    assert!(lightpe.metrics["energy_uj"] < int16.metrics["energy_uj"]);
    assert!(lightpe.metrics["perf_per_area"] > int16.metrics["perf_per_area"]);
}

#[test]
fn bad_ppa_override_names_the_file_and_row() {
    let dir = scratch("ppa");
    std::fs::write(
        dir.join("ppa.csv"),
        "pe,bits,weight_bits,mac_energy_pj,mac_area_um2,leak_uw,max_freq_mhz\nint8,8,8,-1,100,1,1000\n",
    )
    .unwrap();
    let err = call_in(
        "sim.accelerator",
        vec![("model", workload("mobilenet_v2")), ("ppa", s("ppa.csv"))],
        dir.clone(),
    )
    .unwrap_err();
    match err {
        StageError::File { path, message } => {
            assert!(path.ends_with("ppa.csv"), "{path}");
            assert!(
                message.contains("line 2") && message.contains("negative"),
                "{message}"
            );
        }
        other => panic!("expected a file error, got {other}"),
    }
    let err = call_in(
        "sim.accelerator",
        vec![
            ("model", workload("mobilenet_v2")),
            ("ppa", s("missing.csv")),
        ],
        dir,
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("missing.csv") && err.to_string().contains("cannot read"),
        "{err}"
    );
}

#[test]
fn topology_stage_reads_a_scalesim_file() {
    let dir = scratch("topology");
    std::fs::write(
        dir.join("net.csv"),
        "Layer, M, N, K,\nfc1, 32, 64, 128,\nfc2, 32, 10, 64,\n",
    )
    .unwrap();
    let out = call_in("sim.topology", vec![("file", s("net.csv"))], dir.clone()).unwrap();
    assert_eq!(out.metrics["macs"], (32 * 64 * 128 + 32 * 10 * 64) as f64);
    let same = call_in("sim.workload", vec![("topology", s("net.csv"))], dir).unwrap();
    assert_eq!(same.metrics["macs"], out.metrics["macs"]);
}

#[test]
fn nvm_cache_compares_against_sram() {
    let model = workload("resnet50");
    let iso = call(
        "sim.nvm_cache",
        vec![("workload", model.clone()), ("tech", s("sot"))],
    )
    .unwrap();
    assert!(
        iso.metrics["edp_reduction"] > 1.0 && iso.metrics["leak_reduction"] > 5.0,
        "{:?}",
        iso.metrics
    );
    let area = call(
        "sim.nvm_cache",
        vec![
            ("workload", model.clone()),
            ("tech", s("stt")),
            ("mode", s("iso_area")),
        ],
    )
    .unwrap();
    assert!(area.metrics["capacity_gain"] > 1.5, "{:?}", area.metrics);
    let given = call(
        "sim.nvm_cache",
        vec![("workload", model), ("reads", i(1000)), ("writes", i(10))],
    )
    .unwrap();
    let Artifact::Metrics(all) = single(given) else {
        panic!("not metrics")
    };
    assert_eq!(all.values["reads"], 1000.0);
}

#[test]
fn thermal_with_one_model_and_with_a_list() {
    let model = workload("mobilenet_v2");
    let large = call(
        "sim.thermal",
        vec![
            ("models", model.clone()),
            ("policy", s("static_large")),
            ("load", Input::Value(Value::Float(0.9))),
        ],
    )
    .unwrap();
    assert!(
        large.metrics["throttled_s"] > 0.0
            && large.metrics["max_latency_ms"] > 1.1 * large.metrics["start_latency_ms"],
        "{:?}",
        large.metrics
    );
    let list = Input::Sweep(
        [model, workload("mobilenet_v2_0.5")]
            .into_iter()
            .enumerate()
            .map(|(n, value)| SweepPoint {
                label: n.to_string(),
                coords: BTreeMap::from([("index".to_string(), Value::Int(n as i64))]),
                value,
            })
            .collect(),
    );
    let acc = Input::Value(Value::List(vec![Value::Float(0.72), Value::Float(0.654)]));
    let shift = call(
        "sim.thermal",
        vec![
            ("models", list),
            ("accuracy", acc),
            ("policy", s("dynamic_shift")),
            ("load", Input::Value(Value::Float(0.9))),
        ],
    )
    .unwrap();
    assert!(
        shift.metrics["max_temp_c"] < 65.0 && shift.metrics["throttled_s"] == 0.0,
        "{:?}",
        shift.metrics
    );
    assert!(shift.metrics["max_latency_ms"] <= 1.1 * shift.metrics["start_latency_ms"]);
    let Artifact::Table(trace) = field(&shift, "trace") else {
        panic!("trace is not a table")
    };
    assert!(trace.columns.contains(&"accuracy".to_string()));
    assert_eq!(trace.rows.len(), 601);
}

fn sweep(points: Vec<(&str, Input)>) -> Input {
    Input::Sweep(
        points
            .into_iter()
            .map(|(pe, value)| SweepPoint {
                label: format!("pe={pe}"),
                coords: BTreeMap::from([("pe".to_string(), Value::Str(pe.into()))]),
                value,
            })
            .collect(),
    )
}

#[test]
fn report_stages_take_a_sweep_of_accelerator_results() {
    let model = workload("mobilenet_v2");
    let mut points = Vec::new();
    for pe in ["int16", "int8", "lightpe1"] {
        let out = call(
            "sim.accelerator",
            vec![("model", model.clone()), ("pe", s(pe))],
        )
        .unwrap();
        points.push((pe, record(&out)));
    }
    let data = sweep(points);
    let plot = call(
        "report.pareto",
        vec![
            ("data", data.clone()),
            ("x", s("area_mm2")),
            ("y", s("energy_uj")),
        ],
    )
    .unwrap();
    let Artifact::Plot(p) = single(plot) else {
        panic!("not a plot")
    };
    assert!(p.svg.contains("area_mm2 (mm2)") && p.svg.contains("energy_uj (uJ)"));
    assert_eq!(p.svg.matches("<circle").count(), 3);
    let Artifact::Plot(b) = single(
        call(
            "report.bar",
            vec![("data", data.clone()), ("y", s("perf_per_area"))],
        )
        .unwrap(),
    ) else {
        panic!("not a plot")
    };
    assert!(b.svg.contains("GOPS/mm2") && b.svg.contains("pe=lightpe1"));
    let cols = Input::Value(Value::List(vec![
        Value::Str("energy_uj".into()),
        Value::Str("area_mm2".into()),
    ]));
    let Artifact::Table(t) = single(
        call(
            "report.table",
            vec![("data", data.clone()), ("columns", cols)],
        )
        .unwrap(),
    ) else {
        panic!("not a table")
    };
    assert_eq!(t.columns, ["point", "pe", "energy_uj", "area_mm2"]);
    assert_eq!(t.rows.len(), 3);
    assert!(
        t.to_markdown().contains("| pe=int8 | int8 |"),
        "{}",
        t.to_markdown()
    );
    let err = call(
        "report.pareto",
        vec![("data", data), ("x", s("area")), ("y", s("energy_uj"))],
    )
    .unwrap_err();
    assert!(
        err.to_string().contains("no metric `area`") && err.to_string().contains("area_mm2"),
        "{err}"
    );
}

#[test]
fn report_line_draws_a_thermal_trace() {
    let out = call(
        "sim.thermal",
        vec![
            ("models", workload("mobilenet_v2")),
            ("policy", s("static_large")),
        ],
    )
    .unwrap();
    let line = call(
        "report.line",
        vec![
            ("data", record(&out)),
            ("x", s("time_s")),
            ("y", s("temp_c")),
        ],
    )
    .unwrap();
    let Artifact::Plot(p) = single(line) else {
        panic!("not a plot")
    };
    assert!(
        p.svg.contains("time_s (s)")
            && p.svg.contains("temp_c (degC)")
            && p.svg.contains("<polyline")
    );
    let table = call(
        "report.table",
        vec![("data", Input::Artifact(field(&out, "trace")))],
    )
    .unwrap();
    let Artifact::Table(t) = single(table) else {
        panic!("not a table")
    };
    assert_eq!(t.rows.len(), 601);
}

#[test]
fn report_line_over_a_sweep_draws_one_series_per_category() {
    let model = workload("resnet50");
    let mut points = Vec::new();
    for tech in ["stt", "sot"] {
        for mib in [1.0, 4.0, 16.0] {
            let capacity = Input::Value(Value::Quantity {
                value: mib * 1024.0 * 1024.0,
                dim: pipe_lang::units::Dim::Bytes,
            });
            let out = call(
                "sim.nvm_cache",
                vec![
                    ("workload", model.clone()),
                    ("tech", s(tech)),
                    ("capacity", capacity.clone()),
                ],
            )
            .unwrap();
            let Input::Value(c) = capacity else {
                unreachable!()
            };
            points.push(SweepPoint {
                label: format!("tech={tech},capacity={mib}MiB"),
                coords: BTreeMap::from([
                    ("tech".to_string(), Value::Str(tech.into())),
                    ("capacity".to_string(), c),
                ]),
                value: record(&out),
            });
        }
    }
    let line = call(
        "report.line",
        vec![
            ("data", Input::Sweep(points)),
            ("x", s("capacity_mb")),
            ("y", s("edp_reduction")),
        ],
    )
    .unwrap();
    let Artifact::Plot(p) = single(line) else {
        panic!("not a plot")
    };
    assert_eq!(
        p.svg.matches("<polyline").count(),
        2,
        "one series per technology"
    );
    assert!(p.svg.contains("tech=stt") && p.svg.contains("capacity_mb (MB)"));
}

fn metrics(pairs: &[(&str, f64)]) -> Input {
    let values = pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    Input::Artifact(Artifact::Metrics(std::sync::Arc::new(
        pipe_stdlib::metrics::Metrics {
            values,
            curves: BTreeMap::new(),
        },
    )))
}

#[test]
fn report_table_names_a_metric_two_fields_share_by_its_field() {
    let point = |bits: i64, low: f64, high: f64| {
        Input::Record(BTreeMap::from([
            ("bits".to_string(), i(bits)),
            (
                "minmax".to_string(),
                metrics(&[("accuracy", low), ("seconds", 1.0)]),
            ),
            (
                "search".to_string(),
                Input::Record(BTreeMap::from([(
                    "metrics".to_string(),
                    metrics(&[("accuracy", high), ("evaluations", 40.0)]),
                )])),
            ),
        ]))
    };
    let data = sweep(vec![("a", point(3, 0.5, 0.75)), ("b", point(4, 0.25, 1.0))]);
    let Artifact::Table(t) = single(call("report.table", vec![("data", data)]).unwrap()) else {
        panic!("not a table")
    };
    assert_eq!(
        t.columns,
        [
            "point",
            "pe",
            "bits",
            "evaluations",
            "minmax.accuracy",
            "search.metrics.accuracy",
            "seconds"
        ]
    );
    let md = t.to_markdown();
    assert!(
        md.contains("| pe=a | a | 3 | 40 | 0.5 | 0.75 | 1 |"),
        "{md}"
    );
    assert!(md.contains("| pe=b | b | 4 | 40 | 0.25 | 1 | 1 |"), "{md}");
}

/// A training run's record holds its final `rec_loss` (a value) and its
/// `rec_loss` curve: different kinds, so no clash, and the column keeps its
/// plain name (pipelines/supmae.pipe's pre-training table).
#[test]
fn report_table_keeps_a_value_and_a_curve_of_one_name_apart() {
    let run = |loss: f64| {
        let curve = pipe_stdlib::metrics::Metrics {
            values: BTreeMap::new(),
            curves: BTreeMap::from([("rec_loss".to_string(), vec![0.9, loss])]),
        };
        Input::Record(BTreeMap::from([
            ("metrics".to_string(), metrics(&[("rec_loss", loss)])),
            (
                "curve".to_string(),
                Input::Artifact(Artifact::Metrics(std::sync::Arc::new(curve))),
            ),
        ]))
    };
    let data = Input::Record(BTreeMap::from([
        ("mae".to_string(), run(0.5)),
        ("supmae".to_string(), run(0.25)),
    ]));
    let columns = Input::Value(Value::List(vec![Value::Str("rec_loss".into())]));
    let out = call("report.table", vec![("data", data), ("columns", columns)]);
    let Artifact::Table(t) = single(out.unwrap()) else {
        panic!("not a table")
    };
    let md = t.to_markdown();
    assert!(md.contains("| mae | 0.5 |"), "{md}");
    assert!(md.contains("| supmae | 0.25 |"), "{md}");
}

#[test]
fn a_scalesim_cfg_sets_array_dataflow_and_buffer() {
    let dir = scratch("cfg");
    let cfg = "[general]\nrun_name = t\n[architecture_presets]\nArrayHeight: 8\nArrayWidth: 32\n\
               IfmapSramSzkB: 16\nFilterSramSzkB: 16\nOfmapSramSzkB: 32\nDataflow: os\n\
               [run_presets]\nInterfaceBandwidth: CALC\n";
    std::fs::write(dir.join("scale.cfg"), cfg).unwrap();
    let from_cfg = call_in(
        "sim.accelerator",
        vec![("model", workload("resnet50")), ("config", s("scale.cfg"))],
        dir.clone(),
    )
    .unwrap();
    let by_hand = call(
        "sim.accelerator",
        vec![
            ("model", workload("resnet50")),
            ("rows", i(8)),
            ("cols", i(32)),
            ("dataflow", s("os")),
            ("glb", Input::Value(Value::Float(64.0 * 1024.0))),
        ],
    )
    .unwrap();
    for metric in ["compute_cycles", "energy_uj", "area_mm2"] {
        assert_eq!(
            from_cfg.metrics[metric], by_hand.metrics[metric],
            "{metric}"
        );
    }
    std::fs::write(dir.join("user.cfg"), cfg.replace("CALC", "USER")).unwrap();
    let err = call_in(
        "sim.accelerator",
        vec![("model", workload("resnet50")), ("config", s("user.cfg"))],
        dir,
    )
    .unwrap_err();
    match err {
        StageError::File { path, message } => {
            assert!(path.ends_with("user.cfg"), "{path}");
            assert!(
                message.contains("line 11") && message.contains("CALC"),
                "{message}"
            );
        }
        other => panic!("expected a file error, got {other}"),
    }
}
