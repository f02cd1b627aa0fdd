//! The `quant.*` stages through the catalog, as the interpreter calls them, on
//! small networks over the real UCI digits: quantized models reload
//! bit-identically and carry their bit widths in the descriptor, pow2 weights are
//! powers of two, the evolutionary search is deterministic for a seed and its
//! best loss never rises, CPT-V is that search on the same global fitness, bad
//! inputs give clear errors. The accuracy claims on a trained ViT live in the
//! claims suite (`claims/tests/quant.rs`).

use pipe_lang::value::Value;
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::dataset::ImageSet;
use pipe_stdlib::metrics::{Cell, Metrics, Table};
use pipe_stdlib::model::Model;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use pipe_stdlib::{StageError, Stdlib};
use std::sync::Arc;

fn call(full: &str, args: Vec<(&str, Input)>) -> Result<StageOutput, StageError> {
    Stdlib::get().call(full, args, &std::env::temp_dir())
}

fn int(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

fn float(v: f64) -> Input {
    Input::Value(Value::Float(v))
}

fn text(v: &str) -> Input {
    Input::Value(Value::Str(v.into()))
}

fn field(out: &StageOutput, name: &str) -> Artifact {
    match &out.outputs {
        Outputs::Record(r) => r[name].clone(),
        Outputs::Single(a) => a.clone(),
    }
}

fn art(a: Artifact) -> Input {
    Input::Artifact(a)
}

fn model_of(out: &StageOutput) -> Arc<Model> {
    match field(out, "model") {
        Artifact::Model(m) => m,
        other => panic!("not a model: {}", other.kind()),
    }
}

fn metrics_of(out: &StageOutput) -> Arc<Metrics> {
    match field(out, "metrics") {
        Artifact::Metrics(m) => m,
        other => panic!("not metrics: {}", other.kind()),
    }
}

fn images(a: &Artifact) -> &ImageSet {
    match a {
        Artifact::Dataset(d) => d.images().unwrap(),
        other => panic!("not a dataset: {}", other.kind()),
    }
}

/// `{train, test}` of the digits and a calibration sample of `n` training images.
fn digits(n: i64) -> (Artifact, Artifact, Artifact) {
    let all = field(&call("dataset.digits", vec![]).unwrap(), "");
    let parts = call(
        "dataset.split",
        vec![("data", art(all)), ("test", float(0.2)), ("seed", int(0))],
    )
    .unwrap();
    let (train, test) = (field(&parts, "train"), field(&parts, "test"));
    let calib = call(
        "dataset.sample",
        vec![
            ("data", art(train.clone())),
            ("n", int(n)),
            ("seed", int(0)),
        ],
    )
    .unwrap();
    (train, test, field(&calib, ""))
}

fn vit(data: &Artifact, dim: i64, depth: i64, heads: i64, patch: i64) -> Artifact {
    let out = call(
        "model.vit",
        vec![
            ("input", art(data.clone())),
            ("patch", int(patch)),
            ("dim", int(dim)),
            ("depth", int(depth)),
            ("heads", int(heads)),
            ("seed", int(3)),
        ],
    )
    .unwrap();
    field(&out, "")
}

/// The model's logits on `data`, through its files (as a cached model reloads).
fn logits_after_reload(model: &Model, data: &ImageSet) -> (Vec<f32>, Vec<f32>) {
    let mut net = model.network().unwrap();
    let direct = pipe_nn::train::predict(&mut net, &data.x, 64).data;
    let files = model.to_files().unwrap();
    let reloaded = Model::from_files(&files).unwrap();
    let mut net = reloaded.network().unwrap();
    (direct, pipe_nn::train::predict(&mut net, &data.x, 64).data)
}

fn small_search(model: &Artifact, calib: &Artifact, stage: &str, seed: i64) -> StageOutput {
    call(
        stage,
        vec![
            ("model", art(model.clone())),
            ("calib", art(calib.clone())),
            ("bits", int(4)),
            ("cycles", int(4)),
            ("passes", int(2)),
            ("batch_size", int(32)),
            ("seed", int(seed)),
        ],
    )
    .unwrap()
}

#[test]
fn quantized_models_reload_bit_identically_and_carry_their_bits() {
    let (_, test, calib) = digits(64);
    let model = vit(&calib, 16, 2, 2, 4);
    for (stage, extra) in [
        (
            "quant.minmax",
            vec![("signed", Input::Value(Value::Bool(false)))],
        ),
        (
            "quant.omse",
            vec![("per_channel", Input::Value(Value::Bool(false)))],
        ),
        (
            "quant.percentile",
            vec![("bias_correction", Input::Value(Value::Bool(true)))],
        ),
    ] {
        let mut args = vec![
            ("model", art(model.clone())),
            ("calib", art(calib.clone())),
            ("bits", int(4)),
            ("act_bits", int(6)),
        ];
        args.extend(extra);
        let out = call(stage, args).unwrap();
        let q = model_of(&out);
        let (direct, reloaded) = logits_after_reload(&q, images(&test));
        assert_eq!(direct, reloaded, "{stage}");
        let float = match &model {
            Artifact::Model(m) => logits_after_reload(m, images(&test)).0,
            _ => unreachable!(),
        };
        assert_ne!(direct, float, "{stage} changed nothing");
        let arch = q.descriptor().unwrap();
        let linear: Vec<_> = arch.layers.iter().filter(|l| l.op.weights() > 0).collect();
        assert!(!linear.is_empty());
        assert!(
            linear.iter().all(|l| l.weight_bits == 4 && l.act_bits == 6),
            "{stage}"
        );
        let m = metrics_of(&out);
        assert!(m.values["accuracy"] >= 0.0 && m.values.contains_key("accuracy_fp"));
    }
}

#[test]
fn pow2_weights_are_sums_of_powers_of_two_and_priced_as_lightpe() {
    let (_, _, calib) = digits(64);
    let model = vit(&calib, 16, 1, 2, 4);
    for shifts in [1, 2] {
        let out = call(
            "quant.pow2",
            vec![
                ("model", art(model.clone())),
                ("calib", art(calib.clone())),
                ("shifts", int(shifts)),
            ],
        )
        .unwrap();
        let q = model_of(&out);
        let mut net = q.network().unwrap();
        let mut checked = 0;
        pipe_nn::quant::for_each_quantizable(&mut net, &mut |name, layer| {
            let fq = layer.quant.as_ref().expect("every layer is quantized");
            for v in fq.weights(layer.weight, layer.out_channels) {
                let mut left = v;
                for _ in 0..shifts {
                    let term = pipe_nn::quant::pow2_term(left, 7);
                    left -= term;
                }
                assert_eq!(
                    left, 0.0,
                    "{name}: {v} is not a sum of {shifts} powers of two"
                );
                checked += 1;
            }
        });
        assert!(checked > 100);
        let arch = q.descriptor().unwrap();
        assert!(arch
            .layers
            .iter()
            .filter(|l| l.op.weights() > 0)
            .all(|l| l.pow2_shifts == Some(shifts as u32)));
    }
}

#[test]
fn evolq_is_deterministic_for_a_seed_and_its_best_loss_never_rises() {
    let (_, _, calib) = digits(96);
    let model = vit(&calib, 16, 2, 2, 4);
    let a = small_search(&model, &calib, "quant.evolq", 5);
    let b = small_search(&model, &calib, "quant.evolq", 5);
    assert_eq!(model_of(&a).weights, model_of(&b).weights);
    assert_eq!(model_of(&a).arch, model_of(&b).arch);
    let (ma, mb) = (metrics_of(&a), metrics_of(&b));
    assert_eq!(ma.curves, mb.curves);
    assert_eq!(ma.values["loss_final"], mb.values["loss_final"]);
    assert!(ma.values["loss_final"] <= ma.values["loss_start"] + 1e-12);
    // 2 passes x 2 blocks x (4 cycles + 1 start) + start and final totals.
    assert_eq!(ma.values["evaluations"], 22.0);
    let Artifact::Table(curve) = field(&a, "curve") else {
        panic!("no curve")
    };
    check_curve(&curve, 2 * 2 * 4);
    let c = small_search(&model, &calib, "quant.evolq", 6);
    assert_ne!(
        model_of(&a).arch,
        model_of(&c).arch,
        "the seed changes the search"
    );
}

/// Within each (pass, block) the best loss never rises and gain = start - best >= 0.
fn check_curve(curve: &Table, rows: usize) {
    assert_eq!(curve.rows.len(), rows);
    let num = |c: &Cell| match c {
        Cell::Num(x) => *x,
        _ => panic!("not a number"),
    };
    let col = |n: &str| curve.columns.iter().position(|c| c == n).unwrap();
    let (best, gain, cycle) = (col("best_loss"), col("gain"), col("cycle"));
    for pair in curve.rows.windows(2) {
        if num(&pair[1][cycle]) > 0.0 {
            assert!(num(&pair[1][best]) <= num(&pair[0][best]));
        }
    }
    assert!(curve.rows.iter().all(|r| num(&r[gain]) >= 0.0));
}

/// CPT-V is Evol-Q's search on the same global fitness (the final outputs), so
/// for the same arguments both stages return the same model and curve (the
/// block-local fitness CPT-V had before scored other losses: docs/quantization.md).
#[test]
fn cptv_runs_the_evolq_search_on_the_final_outputs_and_reloads() {
    let (_, test, calib) = digits(64);
    let model = vit(&calib, 16, 2, 2, 4);
    let out = small_search(&model, &calib, "quant.cptv", 1);
    let Artifact::Table(curve) = field(&out, "curve") else {
        panic!("no curve")
    };
    check_curve(&curve, 2 * 2 * 4);
    let evolq = small_search(&model, &calib, "quant.evolq", 1);
    assert_eq!(metrics_of(&out).curves, metrics_of(&evolq).curves);
    assert_eq!(model_of(&out).arch, model_of(&evolq).arch);
    let (direct, reloaded) = logits_after_reload(&model_of(&out), images(&test));
    assert_eq!(direct, reloaded);
}

#[test]
fn validation_selection_reports_validation_accuracy() {
    let (_, test, calib) = digits(64);
    let model = vit(&calib, 16, 1, 2, 4);
    let out = call(
        "quant.evolq",
        vec![
            ("model", art(model)),
            ("calib", art(calib)),
            ("cycles", int(2)),
            ("passes", int(2)),
            ("val", art(test)),
            ("loss", text("mse")),
        ],
    )
    .unwrap();
    let m = metrics_of(&out);
    assert!(m.values.contains_key("val_accuracy") && m.values.contains_key("val_accuracy_start"));
}

#[test]
fn a_model_without_attention_is_refused_with_the_alternatives() {
    let (_, _, calib) = digits(32);
    let cnn = call(
        "model.cnn",
        vec![
            ("input", art(calib.clone())),
            ("channels", Input::Value(Value::List(vec![Value::Int(4)]))),
        ],
    )
    .unwrap();
    for stage in ["quant.evolq", "quant.cptv"] {
        let err = call(
            stage,
            vec![
                ("model", art(field(&cnn, ""))),
                ("calib", art(calib.clone())),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("no attention blocks") && err.contains("quant.omse"),
            "{err}"
        );
    }
}

#[test]
fn calibration_images_of_another_shape_are_refused() {
    let (_, _, calib) = digits(32);
    let model = vit(&calib, 16, 1, 2, 4);
    let mut wrong: ImageSet = images(&calib).clone();
    wrong.class_names.truncate(3);
    let data = pipe_stdlib::dataset::Dataset {
        name: "three classes".into(),
        ..match &calib {
            Artifact::Dataset(d) => (**d).clone(),
            _ => unreachable!(),
        }
    };
    let data = pipe_stdlib::dataset::Dataset {
        data: pipe_stdlib::dataset::DatasetData::Images(wrong),
        ..data
    };
    let err = call(
        "quant.minmax",
        vec![
            ("model", art(model)),
            ("calib", art(Artifact::Dataset(Arc::new(data)))),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("10 classes"), "{err}");
}
