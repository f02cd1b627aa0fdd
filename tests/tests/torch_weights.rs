//! `weights:` on the model stages, end to end: a safetensors file under PyTorch's
//! names (docs/weights.md) replaces the seed's initial weights; the file's content
//! is part of the node's key; a file missing a tensor fails the run naming it.

use pipe_tests::run_json::{node, run_in, run_json};
use serde_json::Value;
use std::path::Path;

/// `model.mlp(hidden: [16])` on the 8×8 digits: PyTorch names and shapes.
fn mlp_tensors(head_bias_class: usize) -> Vec<(&'static str, Vec<usize>, Vec<f32>)> {
    let mut head_bias = vec![0.0; 10];
    head_bias[head_bias_class] = 5.0;
    vec![
        ("hidden.0.weight", vec![16, 64], vec![0.0; 16 * 64]),
        ("hidden.0.bias", vec![16], vec![0.0; 16]),
        ("head.weight", vec![10, 16], vec![0.0; 10 * 16]),
        ("head.bias", vec![10], head_bias),
    ]
}

/// A safetensors file: an 8-byte little-endian header length, the JSON header,
/// then the little-endian f32 data of each tensor in header order.
fn safetensors(tensors: &[(&str, Vec<usize>, Vec<f32>)]) -> Vec<u8> {
    let mut header = serde_json::Map::new();
    let mut data = Vec::new();
    for (name, shape, values) in tensors {
        let start = data.len();
        data.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        header.insert(
            (*name).to_string(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [start, data.len()]}),
        );
    }
    let header = serde_json::to_vec(&header).expect("header JSON");
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend(header);
    out.extend(data);
    out
}

const PIPELINE: &str = "\
let digits = dataset.digits()
let parts = dataset.split(digits, test: 0.2, seed: 1)
let net = model.mlp(input: digits, hidden: [16], weights: \"w.safetensors\")
let acc = eval.classify(model: net, data: parts.test)
";

fn run(dir: &Path) -> std::process::Output {
    run_in(dir, "p.pipe", &["--format", "json"])
}

fn summary(dir: &Path) -> Value {
    run_json(dir, "p.pipe", &[])
}

#[test]
fn the_weights_file_decides_the_model_and_its_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).expect("pipeline");
    std::fs::write(
        dir.path().join("w.safetensors"),
        safetensors(&mlp_tensors(3)),
    )
    .expect("weights");
    let first = summary(dir.path());
    // Zero weights and a bias favouring class 3: every test image is called 3,
    // so accuracy is the share of 3s in the test split (about a tenth).
    let acc = node(&first, "acc")["metrics"]["accuracy"]
        .as_f64()
        .expect("accuracy");
    assert!(acc > 0.05 && acc < 0.15, "constant prediction: {acc}");
    let key = node(&first, "net")["key"].clone();

    std::fs::write(
        dir.path().join("w.safetensors"),
        safetensors(&mlp_tensors(7)),
    )
    .expect("weights");
    let second = summary(dir.path());
    assert_eq!(
        node(&second, "net")["status"],
        "ran",
        "new weights, new model"
    );
    assert_ne!(node(&second, "net")["key"], key);
}

#[test]
fn a_missing_tensor_fails_naming_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("p.pipe"), PIPELINE).expect("pipeline");
    let mut tensors = mlp_tensors(0);
    tensors.retain(|(name, _, _)| *name != "head.bias");
    std::fs::write(dir.path().join("w.safetensors"), safetensors(&tensors)).expect("weights");
    let out = run(dir.path());
    assert!(!out.status.success(), "an incomplete file fails the run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("head.bias") && stderr.contains("missing"),
        "{stderr}"
    );
}
