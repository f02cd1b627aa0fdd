//! `model.export` end to end: a trained model exported by one run loads back
//! through `weights:` in another and scores exactly the same; a cached export
//! is still written into the next run's directory, byte for byte.

use pipe_tests::run_json::{node, run_json};
use serde_json::Value;
use std::path::{Path, PathBuf};

const TRAIN: &str = "\
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let net = model.cnn(input: digits, channels: [4, 8], seed: 3)
let fit = train.supervised(model: net, data: parts.train, epochs: 1, seed: 1)
let acc = eval.classify(model: fit.model, data: parts.test)
let torch = model.export(model: fit.model)
";

const RELOAD: &str = "\
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let net = model.cnn(input: digits, channels: [4, 8], weights: \"exported.safetensors\")
let acc = eval.classify(model: net, data: parts.test)
";

/// The newest run directory of `stem` (runs/<stem>/<timestamp>).
fn newest_run(dir: &Path, stem: &str) -> PathBuf {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir.join("runs").join(stem))
        .expect("runs/<stem>")
        .map(|e| e.expect("entry").path())
        .collect();
    runs.sort();
    runs.pop().expect("a run directory")
}

fn accuracy(summary: &Value) -> f64 {
    node(summary, "acc")["metrics"]["accuracy"]
        .as_f64()
        .expect("accuracy")
}

#[test]
fn an_exported_model_loads_back_and_scores_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("train.pipe"), TRAIN).expect("write");
    let first = run_json(dir.path(), "train.pipe", &[]);
    let export = node(&first, "torch");
    assert_eq!(export["status"], "ran", "{export}");
    let file = newest_run(dir.path(), "train").join("torch.safetensors");
    let bytes = std::fs::read(&file).expect("torch.safetensors in the run directory");
    assert_eq!(export["metrics"]["bytes"], bytes.len() as f64);
    let page = std::fs::read_to_string(newest_run(dir.path(), "train").join("report.html"))
        .expect("report.html");
    assert!(
        page.contains("<a href=\"torch.safetensors\">"),
        "the page links the file"
    );

    std::fs::copy(&file, dir.path().join("exported.safetensors")).expect("copy");
    std::fs::write(dir.path().join("reload.pipe"), RELOAD).expect("write");
    let reloaded = run_json(dir.path(), "reload.pipe", &[]);
    assert_eq!(accuracy(&reloaded), accuracy(&first));

    let second = run_json(dir.path(), "train.pipe", &[]);
    assert_eq!(node(&second, "torch")["status"], "cached", "{second}");
    let again = std::fs::read(newest_run(dir.path(), "train").join("torch.safetensors"))
        .expect("a cached export is still written");
    assert_eq!(again, bytes);
}
