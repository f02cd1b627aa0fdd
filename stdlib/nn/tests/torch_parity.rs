//! Differential tests against PyTorch: the fixtures under
//! tests/fixtures/weights/ were written by bench/weights/make_fixtures.py
//! (PyTorch models built as our catalog builds them, random weights). Each
//! loads PyTorch's weights into our network and checks eval and train logits
//! and every parameter gradient of mean cross-entropy, to a relative error of
//! TOLERANCE (max |ours − torch| / max |torch| per tensor); the export
//! round-trip must give PyTorch's file back byte for byte. Also the errors
//! for a missing, extra, mis-shaped or mistyped tensor.

use pipe_nn::loss::cross_entropy;
use pipe_nn::torch_names::{export_torch, load_torch, name_pairs};
use pipe_nn::{Mode, ModelSpec, Network, Tensor};
use safetensors::tensor::TensorView;
use safetensors::{Dtype, SafeTensors};
use std::collections::HashMap;

/// The target the issue sets (f32 with different summation orders).
const TOLERANCE: f32 = 1e-4;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../tests/fixtures/weights");

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{FIXTURES}/{name}");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

struct Check {
    spec: ModelSpec,
    tensors: HashMap<String, (Vec<usize>, Vec<u8>, Dtype)>,
}

fn read_check(arch: &str) -> Check {
    let bytes = fixture(&format!("{arch}.check.safetensors"));
    let (_, meta) = SafeTensors::read_metadata(&bytes).expect("a safetensors fixture");
    let spec = meta
        .metadata()
        .as_ref()
        .and_then(|m| m.get("spec"))
        .expect("spec metadata");
    let file = SafeTensors::deserialize(&bytes).expect("a safetensors fixture");
    let tensors = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, (v.shape().to_vec(), v.data().to_vec(), v.dtype())))
        .collect();
    Check {
        spec: serde_json::from_str(spec).expect("a ModelSpec"),
        tensors,
    }
}

impl Check {
    fn f32(&self, name: &str) -> Tensor {
        let (shape, bytes, dtype) = &self.tensors[name];
        assert_eq!(*dtype, Dtype::F32, "{name}");
        let data = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        Tensor::from_vec(shape, data)
    }

    fn labels(&self) -> Vec<u32> {
        let (_, bytes, dtype) = &self.tensors["labels"];
        assert_eq!(*dtype, Dtype::I64);
        bytes
            .chunks_exact(8)
            .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")) as u32)
            .collect()
    }
}

/// Gradients that are zero in exact arithmetic (a BatchNorm shift feeding
/// only a conv and a train-mode BatchNorm, which removes any constant shift)
/// are float noise in both (about 1e-8 of a largest gradient near 1); so a
/// gradient's scale is at least this fraction of the model's largest one.
const SCALE_FLOOR: f32 = 1e-3;

fn max_abs(v: &[f32]) -> f32 {
    v.iter().map(|b| b.abs()).fold(0.0, f32::max)
}

/// max |a − b| / max(max |b|, floor).
fn relative_error(ours: &[f32], torch: &[f32], floor: f32) -> f32 {
    assert_eq!(ours.len(), torch.len());
    let diff = ours
        .iter()
        .zip(torch)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    diff / max_abs(torch).max(floor).max(f32::MIN_POSITIVE)
}

fn assert_close(what: &str, ours: &[f32], torch: &[f32], floor: f32) {
    let err = relative_error(ours, torch, floor);
    // `--nocapture` shows the measured errors.
    eprintln!("{what}: {err:.1e}");
    assert!(
        err <= TOLERANCE,
        "{what}: relative error {err:e} > {TOLERANCE:e}"
    );
}

fn loaded(arch: &str) -> (Network, Check) {
    let check = read_check(arch);
    let mut net = Network::build(&check.spec).expect("the fixture's spec builds");
    load_torch(&mut net, &fixture(&format!("{arch}.weights.safetensors"))).expect("loads");
    (net, check)
}

fn parity(arch: &str) {
    let (mut net, check) = loaded(arch);
    let input = check.f32("input");
    let eval = net.forward(input.clone(), Mode::Eval);
    assert_close(
        &format!("{arch} eval logits"),
        &eval.data,
        &check.f32("logits_eval").data,
        0.0,
    );
    net.zero_grad();
    let train = net.forward(input, Mode::Train);
    assert_close(
        &format!("{arch} train logits"),
        &train.data,
        &check.f32("logits_train").data,
        0.0,
    );
    net.backward(cross_entropy(&train, &check.labels(), 0.0).grad);
    let torch_of: HashMap<String, String> =
        name_pairs(&mut net).expect("names").into_iter().collect();
    let floor = SCALE_FLOOR
        * check
            .tensors
            .keys()
            .filter(|k| k.starts_with("grad."))
            .map(|k| max_abs(&check.f32(k).data))
            .fold(0.0, f32::max);
    let mut checked = 0;
    net.visit(&mut |name, p| {
        if !p.trainable() {
            return;
        }
        let torch = &torch_of[name];
        assert_close(
            &format!("{arch} grad of {torch}"),
            &p.grad,
            &check.f32(&format!("grad.{torch}")).data,
            floor,
        );
        checked += 1;
    });
    let expected = check
        .tensors
        .keys()
        .filter(|k| k.starts_with("grad."))
        .count();
    assert_eq!(
        checked, expected,
        "{arch}: every PyTorch gradient is compared"
    );
}

fn export_round_trip(arch: &str) {
    let (mut net, _) = loaded(arch);
    let ours = export_torch(&mut net).expect("exports");
    let torch = fixture(&format!("{arch}.weights.safetensors"));
    assert!(
        ours == torch,
        "{arch}: the export differs from PyTorch's file"
    );
}

#[test]
fn mlp_matches_pytorch() {
    parity("mlp");
}

#[test]
fn cnn_matches_pytorch() {
    parity("cnn");
}

#[test]
fn mlp_export_is_pytorchs_file() {
    export_round_trip("mlp");
}

#[test]
fn cnn_export_is_pytorchs_file() {
    export_round_trip("cnn");
}

/// The fixture's tensors with `edit` applied, as a new file.
fn edited(
    arch: &str,
    edit: impl FnOnce(&mut Vec<(String, Dtype, Vec<usize>, Vec<u8>)>),
) -> Vec<u8> {
    let bytes = fixture(&format!("{arch}.weights.safetensors"));
    let file = SafeTensors::deserialize(&bytes).expect("a fixture");
    let mut tensors: Vec<_> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
        .collect();
    edit(&mut tensors);
    let views = tensors.iter().map(|(n, d, s, b)| {
        (
            n.clone(),
            TensorView::new(*d, s.clone(), b).expect("a view"),
        )
    });
    safetensors::serialize(views, None).expect("serializes")
}

fn load_error(arch: &str, bytes: &[u8]) -> String {
    let check = read_check(arch);
    let mut net = Network::build(&check.spec).expect("builds");
    let before = net.save_weights().expect("saves");
    let err = load_torch(&mut net, bytes)
        .expect_err("must be rejected")
        .to_string();
    assert!(
        net.save_weights().expect("saves") == before,
        "a rejected file changes nothing"
    );
    err
}

#[test]
fn missing_tensor_is_named() {
    let bytes = edited("cnn", |t| {
        t.retain(|(n, ..)| n != "stages.1.bn.running_var")
    });
    let err = load_error("cnn", &bytes);
    assert!(
        err.contains("`stages.1.bn.running_var` (shape [8]) is missing"),
        "{err}"
    );
}

#[test]
fn extra_tensor_is_named() {
    let bytes = edited("mlp", |t| {
        t.push(("head.scale".into(), Dtype::F32, vec![1], vec![0; 4]))
    });
    let err = load_error("mlp", &bytes);
    assert!(
        err.contains("`head.scale` is not a tensor of this network"),
        "{err}"
    );
}

#[test]
fn misshaped_tensor_is_named() {
    let bytes = edited("mlp", |t| {
        let w = t
            .iter_mut()
            .find(|(n, ..)| n == "hidden.1.weight")
            .expect("present");
        w.2 = vec![w.2[1], w.2[0]];
    });
    let err = load_error("mlp", &bytes);
    assert!(
        err.contains("`hidden.1.weight` has shape [16, 8], the configuration needs [8, 16]"),
        "{err}"
    );
}

#[test]
fn half_precision_tensor_asks_for_float32() {
    let bytes = edited("mlp", |t| {
        let b = t
            .iter_mut()
            .find(|(n, ..)| n == "head.bias")
            .expect("present");
        b.1 = Dtype::F16;
        b.3.truncate(b.3.len() / 2);
    });
    let err = load_error("mlp", &bytes);
    assert!(
        err.contains("`head.bias` is F16; save the model as float32"),
        "{err}"
    );
}

#[test]
fn not_safetensors_is_rejected() {
    let err = load_error("mlp", b"PK\x03\x04 a zip");
    assert!(err.contains("not a safetensors file"), "{err}");
}

#[test]
fn other_architecture_is_rejected_with_the_first_missing_name() {
    let err = load_error("mlp", &fixture("cnn.weights.safetensors"));
    assert!(
        err.contains("`hidden.0.weight` (shape [16, 32]) is missing"),
        "{err}"
    );
}

#[test]
fn vit_matches_timm() {
    parity("vit");
}

#[test]
fn vit_export_is_timms_file() {
    export_round_trip("vit");
}

#[test]
fn mobilenet_v2_matches_torchvision() {
    parity("mobilenet_v2");
    parity("mobilenet_v2_noexpand");
}

#[test]
fn mobilenet_v2_export_is_torchvisions_file() {
    export_round_trip("mobilenet_v2");
    export_round_trip("mobilenet_v2_noexpand");
}

#[test]
fn mobilenet_v3_matches_torchvision() {
    parity("mobilenet_v3");
}

#[test]
fn mobilenet_v3_export_is_torchvisions_file() {
    export_round_trip("mobilenet_v3");
}
