//! Real-data accuracy: the UCI optical digits and the 10k MNIST files from
//! `stdlib/data` (80/20 split, the last 20% for testing; both files are in
//! a fixed random order).
//! Slow in the test profile, so `#[ignore]`d: run them with
//! `cargo test --release -p pipe-nn --test accuracy -- --ignored`.

use flate2::read::GzDecoder;
use pipe_nn::optim::OptimizerKind;
use pipe_nn::schedule::ScheduleKind;
use pipe_nn::train::{classify, train, Images, SampleError, TrainConfig};
use pipe_nn::{Family, ModelSpec, Network};
use std::io::Read;
use std::path::PathBuf;
use std::time::Instant;

struct Data {
    x: Vec<f32>,
    y: Vec<u32>,
    shape: [usize; 3],
}

/// The shipped data files (`stdlib/data`, see docs/data.md).
fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data")
}

fn gunzip(path: PathBuf) -> Vec<u8> {
    let mut out = Vec::new();
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    GzDecoder::new(file).read_to_end(&mut out).unwrap();
    out
}

fn digits(dir: &std::path::Path) -> Data {
    let text = String::from_utf8(gunzip(dir.join("optdigits-1797.csv.gz"))).unwrap();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let v: Vec<f32> = line.split(',').map(|s| s.trim().parse().unwrap()).collect();
        x.extend(v[..64].iter().map(|p| p / 16.0));
        y.push(v[64] as u32);
    }
    Data {
        x,
        y,
        shape: [1, 8, 8],
    }
}

fn mnist(dir: &std::path::Path) -> Data {
    let images = gunzip(dir.join("mnist10k-images-idx3-ubyte.gz"));
    let labels = gunzip(dir.join("mnist10k-labels-idx1-ubyte.gz"));
    Data {
        x: images[16..].iter().map(|&p| f32::from(p) / 255.0).collect(),
        y: labels[8..].iter().map(|&l| u32::from(l)).collect(),
        shape: [1, 28, 28],
    }
}

fn config(epochs: usize, lr: f32, batch_size: usize, augment: bool) -> TrainConfig {
    TrainConfig {
        epochs,
        batch_size,
        lr,
        optimizer: OptimizerKind::adamw(),
        weight_decay: 0.01,
        schedule: ScheduleKind::Cosine,
        warmup_epochs: 0,
        clip: 0.0,
        label_smoothing: 0.0,
        augment,
        seed: 0,
    }
}

/// Trains on the first 80% and returns test accuracy on the rest.
fn accuracy(data: &Data, family: Family, cfg: &TrainConfig) -> f32 {
    let len: usize = data.shape.iter().product();
    let n_train = data.y.len() * 4 / 5;
    let spec = ModelSpec {
        family,
        input: data.shape,
        classes: 10,
        dropout: 0.0,
        seed: 1,
    };
    let mut net = Network::build(&spec).unwrap();
    let train_set = Images {
        x: &data.x[..n_train * len],
        y: &data.y[..n_train],
        shape: data.shape,
    };
    let start = Instant::now();
    let curve = train(&mut net, &train_set, cfg, |_| Ok::<(), SampleError>(())).unwrap();
    let pred = classify(&mut net, &data.x[n_train * len..], 256);
    let test = &data.y[n_train..];
    let correct = pred.iter().zip(test).filter(|(a, b)| a == b).count();
    let acc = correct as f32 / test.len() as f32;
    let last = curve.last().unwrap();
    eprintln!(
        "{}: test accuracy {acc:.4}, final train loss {:.4}, {:.1}s",
        spec.name(),
        last.loss,
        start.elapsed().as_secs_f32()
    );
    acc
}

#[test]
#[ignore = "release-mode real-data test"]
fn cnn_on_digits_reaches_97_percent() {
    let dir = data_dir();
    let family = Family::Cnn {
        channels: vec![16, 32],
        kernel: 3,
        hidden: 64,
    };
    assert!(accuracy(&digits(&dir), family, &config(30, 3e-3, 32, true)) >= 0.97);
}

#[test]
#[ignore = "release-mode real-data test"]
fn mobilenet_v2_on_digits_reaches_95_percent() {
    let dir = data_dir();
    let family = Family::MobilenetV2 {
        width: 1.0,
        blocks: 7,
        expansion: 6,
    };
    assert!(accuracy(&digits(&dir), family, &config(20, 3e-3, 32, true)) >= 0.95);
}

#[test]
#[ignore = "release-mode real-data test"]
fn vit_on_digits_reaches_93_percent() {
    let dir = data_dir();
    let family = Family::Vit {
        patch: 2,
        dim: 64,
        depth: 4,
        heads: 4,
        mlp_ratio: 2.0,
    };
    let mut cfg = config(40, 2e-3, 32, false);
    cfg.label_smoothing = 0.1;
    cfg.warmup_epochs = 3;
    cfg.weight_decay = 0.05;
    assert!(accuracy(&digits(&dir), family, &cfg) >= 0.93);
}

#[test]
#[ignore = "release-mode real-data test"]
fn cnn_on_mnist_reaches_97_percent() {
    let dir = data_dir();
    let family = Family::Cnn {
        channels: vec![16, 32, 64],
        kernel: 3,
        hidden: 64,
    };
    assert!(accuracy(&mnist(&dir), family, &config(6, 3e-3, 64, false)) >= 0.97);
}
