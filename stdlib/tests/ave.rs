//! AVE-CLIP stages through the catalog, as the interpreter calls them
//! (signature defaults filled in): `dataset.ave` on tiny HDF5 files in the real
//! AVE layout written by h5py (skipped where h5py cannot be imported, unless
//! `PIPE_REQUIRE_H5PY=1`), its errors for a missing dataset and a wrong shape,
//! contrastive training raising retrieval accuracy from chance, and the temporal
//! model trained and scored end to end on `dataset.av_events`. The ablation
//! (what each part of AVE-CLIP adds) is in the claims suite,
//! `claims/tests/ave_clip.rs`.

use pipe_lang::value::Value;
use pipe_stdlib::artifact::Artifact;
use pipe_stdlib::stage::{Input, Outputs, StageOutput};
use pipe_stdlib::{StageError, Stdlib};
use std::path::{Path, PathBuf};
use std::process::Command;

fn call_in(full: &str, args: Vec<(&str, Input)>, base: &Path) -> Result<StageOutput, StageError> {
    Stdlib::get().call(full, args, base)
}

fn call(full: &str, args: Vec<(&str, Input)>) -> Result<StageOutput, StageError> {
    call_in(full, args, &std::env::temp_dir())
}

fn int(v: i64) -> Input {
    Input::Value(Value::Int(v))
}

fn text(v: &str) -> Input {
    Input::Value(Value::Str(v.into()))
}

fn ints(v: &[i64]) -> Input {
    Input::Value(Value::List(v.iter().map(|&i| Value::Int(i)).collect()))
}

fn single(out: &StageOutput) -> Input {
    match &out.outputs {
        Outputs::Single(a) => Input::Artifact(a.clone()),
        Outputs::Record(_) => panic!("expected one artifact"),
    }
}

fn field(out: &StageOutput, name: &str) -> Input {
    match &out.outputs {
        Outputs::Record(r) => Input::Artifact(r[name].clone()),
        Outputs::Single(_) => panic!("expected a record"),
    }
}

fn av_set(input: &Input) -> pipe_stdlib::data::av::AvSegments {
    match input {
        Input::Artifact(Artifact::Dataset(d)) => d.av_segments().unwrap().clone(),
        other => panic!("not a dataset: {other:?}"),
    }
}

/// Writes the AVE files for 6 videos with h5py; `None` when h5py is missing.
fn write_fixture(dir: &Path, variant: &str) -> Option<()> {
    let script = r#"
import sys, numpy as np, h5py
d, variant = sys.argv[1], sys.argv[2]
n = 6
a = (np.arange(n * 10 * 128, dtype=np.float32).reshape(n, 10, 128) % 97) / 10
v = (np.arange(n * 10 * 49 * 512, dtype=np.float32).reshape(n, 10, 7, 7, 512) % 89) / 10
lab = np.zeros((n, 10, 29), dtype=np.float64)
for i in range(n):
    for s in range(10):
        lab[i, s, (i * 3 + s) % 29 if s % 3 else 28] = 1
if variant == "bad_shape":
    a = a[:, :, :100].reshape(n, 1000)
h5py.File(d + "/audio_feature.h5", "w").create_dataset("avadataset", data=a)
h5py.File(d + "/visual_feature.h5", "w").create_dataset("avadataset", data=v)
key = "wrong" if variant == "missing_key" else "avadataset"
h5py.File(d + "/labels.h5", "w").create_dataset(key, data=lab)
for split, order in [("train", [0, 2, 3, 5]), ("val", [1]), ("test", [4, 1])]:
    h5py.File(d + "/" + split + "_order.h5", "w").create_dataset("order", data=np.array(order, dtype=np.int64))
"#;
    let python = std::env::var("PIPE_PYTHON").unwrap_or_else(|_| "python3".into());
    let probe = Command::new(&python).args(["-c", "import h5py"]).output();
    if !probe.is_ok_and(|o| o.status.success()) {
        let required = std::env::var("PIPE_REQUIRE_H5PY").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "h5py is required (PIPE_REQUIRE_H5PY=1) but not importable"
        );
        eprintln!("SKIPPED: h5py is not importable; `pip install h5py` to run the AVE file tests");
        return None;
    }
    let out = Command::new(&python)
        .args(["-c", script])
        .arg(dir)
        .arg(variant)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(())
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("pipe-ave-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn reads_the_real_ave_layout_pooling_maps_and_following_the_order_file() {
    let dir = scratch("good");
    if write_fixture(&dir, "good").is_none() {
        return;
    }
    let out = call_in(
        "dataset.ave",
        vec![("dir", text(".")), ("split", text("test"))],
        &dir,
    )
    .unwrap();
    let set = av_set(&single(&out));
    assert_eq!(
        (
            set.videos(),
            set.segments,
            set.audio_dim,
            set.visual_dim,
            set.classes()
        ),
        (2, 10, 128, 512, 29)
    );
    // Video 4 then video 1, as test_order.h5 lists them.
    for (row, video) in [(0usize, 4usize), (1, 1)] {
        for s in 0..10 {
            let want = if s % 3 != 0 { (video * 3 + s) % 29 } else { 28 };
            assert_eq!(set.labels[row * 10 + s], want as u32);
            let flat = (video * 10 + s) * 128 + 7;
            let audio = set.audio[(row * 10 + s) * 128 + 7];
            assert!((audio - (flat % 97) as f32 / 10.0).abs() < 1e-5);
            let channel = 300;
            let mean: f32 = (0..49)
                .map(|cell| (((video * 10 + s) * 49 + cell) * 512 + channel) % 89)
                .map(|x| x as f32 / 10.0)
                .sum::<f32>()
                / 49.0;
            let got = set.visual[(row * 10 + s) * 512 + channel];
            assert!((got - mean).abs() < 1e-4, "{got} vs {mean}");
        }
    }
    assert_eq!(out.metrics["videos"], 2.0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_missing_dataset_key_or_wrong_shape_names_the_file() {
    for (variant, file, words) in [
        ("missing_key", "labels.h5", "has no dataset `avadataset`"),
        (
            "bad_shape",
            "audio_feature.h5",
            "expected [videos, 10, 128]",
        ),
    ] {
        let dir = scratch(variant);
        if write_fixture(&dir, variant).is_none() {
            return;
        }
        let err = call_in("dataset.ave", vec![("dir", text("."))], &dir)
            .unwrap_err()
            .to_string();
        assert!(err.contains(file) && err.contains(words), "{err}");
        let _ = std::fs::remove_dir_all(&dir);
    }
    let err = call_in(
        "dataset.ave",
        vec![("dir", text("no-such-dir"))],
        &std::env::temp_dir(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("audio_feature.h5") && err.contains("not found"),
        "{err}"
    );
}

/// A small procedural set and a temporal model built for it. Low noise: these
/// tests show that training works, the ablation shows what each part adds.
fn small(videos: i64, seed: i64) -> (Input, Input) {
    let data = call(
        "dataset.av_events",
        vec![
            ("videos", int(videos)),
            ("classes", int(4)),
            ("audio_dim", int(16)),
            ("visual_dim", int(24)),
            ("noise", Input::Value(Value::Float(0.1))),
            ("seed", int(seed)),
        ],
    )
    .unwrap();
    let data = single(&data);
    let model = call(
        "model.temporal_transformer",
        vec![
            ("input", data.clone()),
            ("windows", ints(&[2, 10])),
            ("dim", int(16)),
            ("heads", int(2)),
            ("layers", int(1)),
        ],
    )
    .unwrap();
    (data, single(&model))
}

#[test]
fn contrastive_training_raises_retrieval_accuracy_from_chance() {
    let (data, model) = small(60, 1);
    let out = call(
        "train.contrastive",
        vec![
            ("a", model.clone()),
            ("b", model),
            ("data", data),
            ("epochs", int(6)),
            ("batch_size", int(32)),
            ("lr", Input::Value(Value::Float(3e-3))),
        ],
    )
    .unwrap();
    let m = &out.metrics;
    let chance = m["retrieval_chance"];
    for way in ["a_to_b", "b_to_a"] {
        let (before, after) = (
            m[&format!("retrieval_{way}_before")],
            m[&format!("retrieval_{way}")],
        );
        assert!(
            after > 4.0 * chance && after > before + 0.2,
            "{way}: {before} -> {after} (chance {chance})"
        );
    }
    assert!(m["temperature"] > 0.0 && m["temperature"] != 0.07, "{m:?}");
}

#[test]
fn temporal_model_trains_on_av_events_and_beats_the_background_rate() {
    let (data, model) = small(120, 2);
    let parts = call(
        "dataset.split",
        vec![("data", data), ("test", Input::Value(Value::Float(0.25)))],
    )
    .unwrap();
    let trained = call(
        "train.supervised",
        vec![
            ("model", model),
            ("data", field(&parts, "train")),
            ("epochs", int(12)),
            ("batch_size", int(16)),
            ("lr", Input::Value(Value::Float(3e-3))),
        ],
    )
    .unwrap();
    let test = field(&parts, "test");
    let set = av_set(&test);
    let background = set
        .labels
        .iter()
        .filter(|&&l| l == set.background())
        .count() as f64
        / set.labels.len() as f64;
    let scored = call(
        "eval.ave",
        vec![("model", field(&trained, "model")), ("data", test)],
    )
    .unwrap();
    let acc = scored.metrics["accuracy"];
    assert!(
        acc > background.max(1.0 - background) + 0.1,
        "accuracy {acc}, background rate {background}"
    );
    assert_eq!(scored.metrics["segments"], set.labels.len() as f64);
}

#[test]
fn an_image_model_or_dataset_is_refused_with_the_fix() {
    let (data, _) = small(8, 0);
    let digits = single(&call("dataset.digits", vec![]).unwrap());
    let mlp = single(&call("model.mlp", vec![("input", digits.clone())]).unwrap());
    let err = call(
        "eval.ave",
        vec![("model", mlp.clone()), ("data", data.clone())],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("model.temporal_transformer"), "{err}");
    let err = call(
        "train.contrastive",
        vec![("a", mlp.clone()), ("b", mlp), ("data", digits)],
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("no encoders for `images`"), "{err}");
    let err = call("dataset.ave", vec![]).unwrap_err().to_string();
    assert!(err.contains("fallback"), "{err}");
}
