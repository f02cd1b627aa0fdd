//! A small, fixed stage catalog for checker tests: a handful of stages shaped like
//! docs/catalog.md's (names, outputs, ranges, choices, task constraints), so checker
//! fixtures do not change when the real catalog grows.

use pipe_lang::catalog::{Catalog, ParamSig, StageSig, TaskKind};
use pipe_lang::types::{Task, Type};
use pipe_lang::units::Dim;
use pipe_lang::value::Value;

pub struct TestCatalog {
    stages: Vec<StageSig>,
}

impl TestCatalog {
    pub fn new() -> Self {
        TestCatalog { stages: stages() }
    }
}

impl Default for TestCatalog {
    fn default() -> Self {
        TestCatalog::new()
    }
}

/// The standard library's namespaces, fixed here so checker fixtures do not
/// change when the real catalog gains one.
const NAMESPACES: &[&str] = &[
    "dataset",
    "model",
    "train",
    "finetune",
    "pseudolabel",
    "quant",
    "eval",
    "sim",
    "report",
];

pub const CLASSIFY: Task = Task::new("classify");
pub const VIDEO_DETECT: Task = Task::new("video_detect");

/// The kinds its stages name, declared here as a catalog must: the front end
/// knows none of its own.
const TASK_KINDS: &[TaskKind] = &[
    TaskKind {
        task: CLASSIFY,
        doc: "Labelled images.",
    },
    TaskKind {
        task: VIDEO_DETECT,
        doc: "Video frames with boxes.",
    },
];

impl Catalog for TestCatalog {
    fn namespaces(&self) -> &[&'static str] {
        NAMESPACES
    }

    fn task_kinds(&self) -> &[TaskKind] {
        TASK_KINDS
    }

    fn stage(&self, namespace: &str, name: &str) -> Option<&StageSig> {
        self.stages
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    fn stages(&self, namespace: &str) -> Vec<&StageSig> {
        self.stages
            .iter()
            .filter(|s| s.namespace == namespace)
            .collect()
    }
}

fn stage(
    namespace: &'static str,
    name: &'static str,
    params: Vec<ParamSig>,
    output: Type,
) -> StageSig {
    StageSig {
        namespace,
        name,
        version: 1,
        doc: "test stage",
        params,
        output,
        output_task_from: None,
        implemented: false,
    }
}

fn seed() -> ParamSig {
    ParamSig::optional("seed", Type::Int, Value::Int(0), "seed")
}

fn any_dataset(name: &'static str) -> ParamSig {
    ParamSig::required(name, Type::Dataset(None), "data")
}

fn stages() -> Vec<StageSig> {
    let classify = Type::Dataset(Some(CLASSIFY));
    let trained = Type::record([
        ("model", Type::Model),
        ("metrics", Type::Metrics),
        ("curve", Type::Plot),
    ]);
    vec![
        stage("dataset", "digits", vec![], classify.clone()),
        stage(
            "dataset",
            "moving_shapes",
            vec![
                ParamSig::optional("videos", Type::Int, Value::Int(8), "videos").range(1.0, 1e4),
                seed(),
            ],
            Type::Dataset(Some(VIDEO_DETECT)),
        ),
        StageSig {
            output_task_from: Some("d"),
            ..stage(
                "dataset",
                "split",
                vec![
                    any_dataset("d"),
                    ParamSig::optional("test", Type::Float, Value::Float(0.2), "test share")
                        .range(0.0, 1.0),
                    seed(),
                ],
                Type::record([
                    ("train", Type::Dataset(None)),
                    ("test", Type::Dataset(None)),
                ]),
            )
        },
        StageSig {
            output_task_from: Some("d"),
            ..stage(
                "dataset",
                "sample",
                vec![
                    any_dataset("d"),
                    ParamSig::required("n", Type::Int, "count").range(1.0, 1e9),
                    seed(),
                ],
                Type::Dataset(None),
            )
        },
        stage(
            "model",
            "vit",
            vec![
                any_dataset("input"),
                ParamSig::optional("patch", Type::Int, Value::Int(2), "patch").range(1.0, 64.0),
                ParamSig::optional("dim", Type::Int, Value::Int(64), "dim").range(1.0, 4096.0),
                ParamSig::optional("depth", Type::Int, Value::Int(4), "depth").range(1.0, 64.0),
                ParamSig::optional("heads", Type::Int, Value::Int(4), "heads").range(1.0, 64.0),
            ],
            Type::Model,
        ),
        stage(
            "train",
            "supervised",
            vec![
                ParamSig::required("model", Type::Model, "model"),
                any_dataset("data").tasks(&[CLASSIFY]),
                ParamSig::optional("epochs", Type::Int, Value::Int(10), "epochs").range(1.0, 1e6),
                ParamSig::optional("lr", Type::Float, Value::Float(1e-3), "lr").range(0.0, 10.0),
                ParamSig::optional("optimizer", Type::Str, Value::Str("adamw".into()), "opt")
                    .choices(&["adamw", "sgd"]),
                seed(),
            ],
            trained.clone(),
        ),
        stage(
            "finetune",
            "mobiletl",
            vec![
                ParamSig::required("model", Type::Model, "model"),
                any_dataset("data").tasks(&[CLASSIFY]),
                ParamSig::optional("blocks", Type::Int, Value::Int(2), "blocks").range(1.0, 64.0),
                seed(),
            ],
            trained,
        ),
        stage(
            "quant",
            "evolq",
            vec![
                ParamSig::required("model", Type::Model, "model"),
                any_dataset("calib"),
                ParamSig::optional("bits", Type::Int, Value::Int(4), "bits").range(2.0, 16.0),
                ParamSig::optional("population", Type::Int, Value::Int(15), "pop").range(1.0, 1e4),
                ParamSig::optional("cycles", Type::Int, Value::Int(3), "cycles").range(1.0, 1e4),
                ParamSig::optional("loss", Type::Str, Value::Str("infonce".into()), "loss")
                    .choices(&["infonce", "mse", "kl", "cosine"]),
                seed(),
            ],
            Type::record([("model", Type::Model), ("metrics", Type::Metrics)]),
        ),
        stage(
            "eval",
            "classify",
            vec![
                ParamSig::required("model", Type::Model, "model"),
                any_dataset("data").tasks(&[CLASSIFY]),
            ],
            Type::Metrics,
        ),
        stage(
            "sim",
            "accelerator",
            vec![
                ParamSig::required("model", Type::Model, "model"),
                ParamSig::optional("pe", Type::Str, Value::Str("int8".into()), "pe")
                    .choices(&["int16", "int8", "int4", "lightpe1", "lightpe2"]),
                ParamSig::optional("rows", Type::Int, Value::Int(16), "rows").range(1.0, 1024.0),
                ParamSig::optional("cols", Type::Int, Value::Int(16), "cols").range(1.0, 1024.0),
                ParamSig::optional(
                    "glb",
                    Type::Quantity(Dim::Bytes),
                    Value::Quantity {
                        value: 131072.0,
                        dim: Dim::Bytes,
                    },
                    "global buffer",
                )
                .range(1024.0, 1073741824.0),
                ParamSig::optional(
                    "freq",
                    Type::Quantity(Dim::Freq),
                    Value::Quantity {
                        value: 1e9,
                        dim: Dim::Freq,
                    },
                    "clock",
                ),
            ],
            Type::record([("layers", Type::Table), ("metrics", Type::Metrics)]),
        ),
        stage(
            "report",
            "pareto",
            vec![
                ParamSig::required("input", Type::Any, "points"),
                ParamSig::required("x", Type::Str, "x metric"),
                ParamSig::required("y", Type::Str, "y metric"),
            ],
            Type::Plot,
        ),
        stage(
            "report",
            "table",
            vec![ParamSig::required("input", Type::Any, "rows")],
            Type::Table,
        ),
    ]
}
