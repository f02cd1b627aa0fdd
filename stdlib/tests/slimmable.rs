//! `model.slimmable`, `train.slimmable`, `eval.classify(width)` and
//! `sim.thermal` on a slimmable model, through the catalog: per-width
//! metrics, exact save/load through the model's files, the simulator's
//! latency at the top frequency equal to the measured one, and errors.

mod slimmable_common;

use pipe_lang::value::Value;
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::metrics::Cell;
use pipe_stdlib::model::Model;
use pipe_stdlib::stage::{Input, StageOutput};
use slimmable_common::*;
use std::sync::Arc;

const WIDTHS: [f64; 3] = [0.25, 0.5, 1.0];

fn slim_mlp(data: &Artifact) -> StageOutput {
    let base = single(
        call(
            "model.mlp",
            vec![("input", art(data.clone())), ("hidden", ints(&[64, 32]))],
        )
        .unwrap(),
    );
    call(
        "model.slimmable",
        vec![
            ("base", art(base)),
            ("widths", floats(&[1.0, 0.25, 0.5])),
            ("repeats", i(3)),
        ],
    )
    .unwrap()
}

fn model_of(a: &Artifact) -> Arc<Model> {
    match a {
        Artifact::Model(m) => m.clone(),
        other => panic!("not a model: {}", other.kind()),
    }
}

#[test]
fn model_slimmable_measures_every_width_and_saves_exactly() {
    let (train, _) = digits_split(0);
    let out = slim_mlp(&train);
    for w in ["0.25", "0.5", "1"] {
        for m in ["flops", "latency_b1_ms", "latency_b64_ms", "weights"] {
            assert!(out.metrics[&format!("w{w}.{m}")] > 0.0, "w{w}.{m}");
        }
    }
    assert!(out.metrics["w0.25.flops"] < out.metrics["w0.5.flops"]);
    assert!(out.metrics["w0.5.flops"] < out.metrics["w1.flops"]);
    let model = model_of(&single(out));
    let reloaded = Model::from_files(&model.to_files().unwrap()).unwrap();
    assert_eq!(reloaded.spec().unwrap(), model.spec().unwrap());
    let spec = reloaded.spec().unwrap();
    assert_eq!(pipe_nn::slim::widths(&spec).unwrap(), &WIDTHS);
    let (mut a, mut b) = (model.network().unwrap(), reloaded.network().unwrap());
    let x = pipe_nn::Tensor::from_vec(&[2, 1, 8, 8], (0..128).map(|v| v as f32 / 128.0).collect());
    for w in 0..WIDTHS.len() {
        pipe_nn::slim::set_width(&mut a, w).unwrap();
        pipe_nn::slim::set_width(&mut b, w).unwrap();
        let ya = a.forward(x.clone(), pipe_nn::Mode::Eval);
        assert_eq!(ya.data, b.forward(x.clone(), pipe_nn::Mode::Eval).data);
    }
}

#[test]
fn train_slimmable_reports_accuracy_per_width_and_the_simulator_uses_it() {
    let (train, test) = digits_split(1);
    let model = single(slim_mlp(&train));
    let out = call(
        "train.slimmable",
        vec![
            ("model", art(model)),
            ("data", art(train)),
            ("test", art(test.clone())),
            ("epochs", i(8)),
            ("batch_size", i(32)),
            ("lr", f(3e-3)),
        ],
    )
    .unwrap();
    for w in ["0.25", "0.5", "1"] {
        let acc = out.metrics[&format!("w{w}.test_accuracy")];
        assert!(acc > 0.5 && acc <= 1.0, "w{w}: {acc} {:?}", out.metrics);
        assert!(out.metrics.contains_key(&format!("w{w}.train_accuracy")));
        assert_eq!(out.metrics[&format!("w{w}.accuracy")], acc);
    }
    let Artifact::Table(curve) = field(&out, "curve") else {
        panic!("curve is not a table")
    };
    assert_eq!(curve.rows.len(), 8);
    let trained = field(&out, "model");
    let eval = |w: f64| {
        call(
            "eval.classify",
            vec![
                ("model", art(trained.clone())),
                ("data", art(test.clone())),
                ("width", f(w)),
            ],
        )
    };
    for (w, label) in [(0.25, "0.25"), (1.0, "1")] {
        let acc = eval(w).unwrap().metrics["accuracy"];
        assert!((acc - out.metrics[&format!("w{label}.test_accuracy")]).abs() < 1e-6);
    }
    let err = eval(0.3).unwrap_err().to_string();
    assert!(err.contains("not one of the network's widths"), "{err}");
    simulator_latency_is_the_measured_one(&trained, &out);
}

/// Every trace row at the top frequency shows the measured latency per sample
/// (the batch-64 median over 64, the default) and
/// the saved accuracy of the width in use.
fn simulator_latency_is_the_measured_one(trained: &Artifact, train_out: &StageOutput) {
    let spec = model_of(trained).spec().unwrap();
    let profile = pipe_nn::slim::profile(&spec).to_vec();
    let mut seen = std::collections::BTreeSet::new();
    for policy in ["static_large", "static_small", "dynamic_shift"] {
        let out = call(
            "sim.thermal",
            vec![
                ("models", art(trained.clone())),
                ("policy", s(policy)),
                ("load", f(0.95)),
                ("duration", f(300.0)),
            ],
        )
        .unwrap();
        let Artifact::Table(trace) = field(&out, "trace") else {
            panic!("trace is not a table")
        };
        let col = |name: &str| trace.columns.iter().position(|c| c == name).unwrap();
        let (freq, lat, model, acc) = (
            col("freq_ghz"),
            col("latency_ms"),
            col("model"),
            col("accuracy"),
        );
        for row in &trace.rows {
            let (Cell::Num(f), Cell::Num(l), Cell::Text(m), Cell::Num(a)) =
                (&row[freq], &row[lat], &row[model], &row[acc])
            else {
                panic!("unexpected row {row:?}")
            };
            let p = profile
                .iter()
                .find(|p| m.ends_with(&format!("@{}", pipe_nn::slim::width_label(p.width))))
                .unwrap();
            if (*f - 1.9).abs() < 1e-9 {
                let measured = p.latency_b64_ns as f64 / 64.0 / 1e6;
                assert!(
                    (l - measured).abs() <= 1e-12 * measured,
                    "{m}: {l} vs {measured}"
                );
                seen.insert(m.clone());
            }
            let label = pipe_nn::slim::width_label(p.width);
            assert_eq!(
                *a,
                train_out.metrics[&format!("w{label}.accuracy")] as f32 as f64
            );
        }
        assert!(out.metrics.contains_key("mean_accuracy"), "{policy}");
    }
    assert!(seen.len() >= 2, "{seen:?}");
}

/// Every width's running statistics (`running_mean@<width>`, ...) by name.
fn batch_norm_stats(net: &mut pipe_nn::Network) -> Vec<(String, Vec<f32>)> {
    let mut out = Vec::new();
    net.visit(&mut |name, p| {
        if name.contains("running_") {
            out.push((name.to_string(), p.value.data.clone()));
        }
    });
    out
}

#[test]
fn recalibration_averages_every_width_statistics_over_the_data() {
    use pipe_nn::slim::recalibrate::recalibrate;
    let (train, _) = digits_split(3);
    let base = single(
        call(
            "model.cnn",
            vec![("input", art(train.clone())), ("channels", ints(&[6, 8]))],
        )
        .unwrap(),
    );
    let slim = call(
        "model.slimmable",
        vec![
            ("base", art(base)),
            ("widths", floats(&[0.5, 1.0])),
            ("repeats", i(1)),
        ],
    )
    .unwrap();
    let mut net = model_of(&single(slim)).network().unwrap();
    let Artifact::Dataset(d) = &train else {
        panic!("not a dataset")
    };
    let set = d.images().unwrap();
    let images = pipe_nn::train::Images {
        x: &set.x,
        y: &set.y,
        shape: [set.channels, set.height, set.width],
    };
    recalibrate(&mut net, images, 100);
    let chunked = batch_norm_stats(&mut net);
    // Statistics from before do not matter: recalibrating again after
    // scrambling them gives the same figures.
    net.visit(&mut |name, p| {
        if name.contains("running_") {
            p.value.data.iter_mut().for_each(|v| *v = 7.0);
        }
    });
    recalibrate(&mut net, images, 100);
    assert_eq!(batch_norm_stats(&mut net), chunked);
    // Batches of unequal size (the last one is short) are weighted by their
    // images: the first norm's mean (its input does not depend on any norm)
    // equals the one-pass mean over all images.
    recalibrate(&mut net, images, set.y.len());
    let whole = batch_norm_stats(&mut net);
    let first_means: Vec<_> = whole
        .iter()
        .zip(&chunked)
        .filter(|((name, _), _)| name.starts_with("stage0.") && name.contains("running_mean@"))
        .collect();
    assert_eq!(first_means.len(), 2, "one per width: {whole:?}");
    for ((name, a), (_, b)) in first_means {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-4 * (1.0 + x.abs()),
                "{name}: {a:?} vs {b:?}"
            );
        }
    }
}

#[test]
fn bad_inputs_are_explained() {
    let (train, test) = digits_split(2);
    let plain = single(call("model.mlp", vec![("input", art(train.clone()))]).unwrap());
    let err = call(
        "train.slimmable",
        vec![("model", art(plain.clone())), ("data", art(train.clone()))],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("model.slimmable(base"), "{err}");
    let slim = single(slim_mlp(&train));
    let err = call(
        "train.slimmable",
        vec![
            ("model", art(slim)),
            ("data", art(train.clone())),
            ("test", Input::Value(Value::Int(3))),
        ],
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`test` must be a labelled image dataset"),
        "{err}"
    );
    let widths = |w: &[f64]| {
        call(
            "model.slimmable",
            vec![
                ("base", art(plain.clone())),
                ("widths", floats(w)),
                ("repeats", i(1)),
            ],
        )
        .unwrap_err()
        .to_string()
    };
    assert!(widths(&[0.0, 1.0]).contains("outside (0, 1]"));
    assert!(widths(&[0.5, 0.5]).contains("without repeats"));
    assert!(widths(&[]).contains("at least one width"));
    let vit = single(call("model.vit", vec![("input", art(test))]).unwrap());
    let err = call("model.slimmable", vec![("base", art(vit))])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not `vit`"), "{err}");
}
