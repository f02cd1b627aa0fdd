//! The `finetune.*` and `train.mae` / `train.supmae` stages through the
//! catalog, as the interpreter calls them (defaults filled in), on small
//! in-memory images. This binary installs the counting allocator, as the
//! `pipe` binary does, so the memory metrics are measured.

use pipe_lang::value::Value;
use pipe_nn::memory::Counting;
use pipe_nn::{Family, ModelSpec, Network};
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::dataset::{Dataset, DatasetData, ImageSet};
use pipe_stdlib::model::Model;
use pipe_stdlib::stage::{Input, StageOutput};
use pipe_stdlib::task_kinds;
use pipe_stdlib::{StageError, Stdlib};
use std::alloc::System;
use std::sync::Arc;

#[global_allocator]
static ALLOC: Counting<System> = Counting(System);

fn call(full: &str, args: Vec<(&str, Input)>) -> Result<StageOutput, StageError> {
    Stdlib::get().call(full, args, &std::env::temp_dir())
}

/// `n` images of `side`² pixels, `classes` classes: a bright square whose
/// position is the class.
fn images(n: usize, side: usize, classes: usize) -> Input {
    let mut x = vec![0.0; n * side * side];
    let y: Vec<u32> = (0..n).map(|i| (i % classes) as u32).collect();
    for (i, img) in x.chunks_exact_mut(side * side).enumerate() {
        let c = y[i] as usize;
        let (r0, c0) = (c * side / classes, (i * 7) % (side / 2));
        for r in r0..(r0 + 2).min(side) {
            img[r * side + c0] = 1.0;
            img[r * side + c0 + 1] = 1.0;
        }
    }
    let set = ImageSet {
        channels: 1,
        height: side,
        width: side,
        class_names: (0..classes).map(|c| c.to_string()).collect(),
        x,
        y,
    };
    Input::Artifact(Artifact::Dataset(Arc::new(Dataset {
        name: "squares".into(),
        task: task_kinds::CLASSIFY,
        data: DatasetData::Images(set),
    })))
}

fn model(family: Family, side: usize, classes: usize) -> Input {
    let spec = ModelSpec {
        family,
        input: [1, side, side],
        classes,
        dropout: 0.0,
        seed: 2,
    };
    let mut net = Network::build(&spec).unwrap();
    Input::Artifact(Artifact::Model(Arc::new(
        Model::from_network(&mut net).unwrap(),
    )))
}

fn mobilenet() -> Family {
    Family::MobilenetV2 {
        width: 0.5,
        blocks: 4,
        expansion: 6,
    }
}

fn int(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

fn metric(out: &StageOutput, name: &str) -> f64 {
    out.metrics
        .get(name)
        .copied()
        .unwrap_or_else(|| panic!("no metric `{name}` in {:?}", out.metrics.keys()))
}

fn finetune(method: &str, extra: Vec<(&str, Input)>) -> StageOutput {
    let mut args = vec![
        ("model", model(mobilenet(), 16, 3)),
        ("data", images(48, 8, 4)),
        ("test", images(16, 8, 4)),
        ("epochs", int(1)),
        ("batch_size", int(16)),
    ];
    args.extend(extra);
    call(&format!("finetune.{method}"), args).unwrap()
}

#[test]
fn every_method_reports_measured_memory_flops_and_accuracy() {
    let full = finetune("full", vec![]);
    let bias = finetune("bias_only", vec![]);
    let top = finetune("top_blocks", vec![("blocks", int(2))]);
    let tl = finetune("mobiletl", vec![("blocks", int(2))]);
    for (name, out) in [("full", &full), ("bias", &bias), ("top", &top), ("tl", &tl)] {
        for m in ["backward_bytes", "peak_bytes", "backward_flops", "accuracy"] {
            let v = metric(out, m);
            assert!(v.is_finite() && v >= 0.0, "{name}.{m} = {v}");
        }
        assert!(
            metric(out, "peak_bytes") > metric(out, "backward_bytes"),
            "{name}"
        );
    }
    assert!(metric(&top, "backward_bytes") < metric(&full, "backward_bytes"));
    assert!(metric(&tl, "backward_bytes") < metric(&top, "backward_bytes"));
    assert!(metric(&top, "backward_flops") < metric(&full, "backward_flops"));
    assert!(metric(&bias, "trainable_params") < metric(&top, "trainable_params"));
    let (tl3, top3) = (
        metric(&tl, "backward_bytes.block3"),
        metric(&top, "backward_bytes.block3"),
    );
    assert!(tl3 < 0.6 * top3, "per-block figures: {tl3} vs {top3}");
}

#[test]
fn mobiletl_refuses_a_vit_and_test_data_of_another_shape() {
    let vit = Family::Vit {
        patch: 4,
        dim: 16,
        depth: 2,
        heads: 2,
        mlp_ratio: 2.0,
    };
    let err = call(
        "finetune.mobiletl",
        vec![("model", model(vit, 8, 4)), ("data", images(8, 8, 4))],
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("mobilenet_v2"), "{err}");
    let err = call(
        "finetune.full",
        vec![
            ("model", model(mobilenet(), 8, 4)),
            ("data", images(8, 8, 4)),
            ("test", images(8, 12, 4)),
        ],
    )
    .err()
    .unwrap();
    assert!(err.to_string().contains("dataset.split"), "{err}");
}

#[test]
fn supmae_reports_both_curves_and_costs_less_than_full_token_training() {
    let vit = Family::Vit {
        patch: 2,
        dim: 16,
        depth: 2,
        heads: 2,
        mlp_ratio: 2.0,
    };
    let args = |family: Family| {
        vec![
            ("model", model(family, 8, 4)),
            ("data", images(32, 8, 4)),
            ("epochs", int(2)),
            ("batch_size", int(16)),
            ("decoder_dim", int(16)),
            ("decoder_heads", int(2)),
        ]
    };
    let sup = call("train.supmae", args(vit.clone())).unwrap();
    let mae = call("train.mae", args(vit)).unwrap();
    for m in ["rec_loss", "cls_loss", "train_accuracy", "train_flops"] {
        assert!(metric(&sup, m).is_finite(), "supmae {m}");
    }
    assert!(!mae.metrics.contains_key("cls_loss"));
    let ratio = metric(&sup, "flops_per_sample") / metric(&sup, "full_token_flops_per_sample");
    assert!(
        ratio < 1.0,
        "masking 75% must cost less per sample: {ratio}"
    );
    assert!(
        metric(&sup, "train_flops") > metric(&mae, "train_flops"),
        "the head costs a little"
    );
    let err = call("train.mae", args(mobilenet())).err().unwrap();
    assert!(err.to_string().contains("model.vit"), "{err}");
}
