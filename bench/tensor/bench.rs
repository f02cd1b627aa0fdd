//! The tensor backend benchmark: per model (mlp, cnn, vit, mobilenet_v2) and
//! input shape (digits 1×8×8, MNIST 1×28×28), the median time of one training
//! step (forward, backward, AdamW) at batch 64 and of inference at batch 256,
//! and the peak heap bytes a training step allocates above what the model and
//! optimizer already hold (a counting global allocator). Prints one JSON object
//! per row; `bench/tensor/compare.py` runs it beside PyTorch and prints ratios.
//! Run alone: `RAYON_NUM_THREADS=2 cargo bench -p pipe-nn --bench tensor`.

use mimalloc::MiMalloc;
use pipe_nn::loss::cross_entropy;
use pipe_nn::optim::{Optimizer, OptimizerKind};
use pipe_nn::{Family, Mode, ModelSpec, Network, Tensor};
use std::alloc::{GlobalAlloc, Layout};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

fn grew(bytes: usize) {
    let now = CURRENT.fetch_add(bytes, Ordering::Relaxed) + bytes;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// The allocator the `pipe` binary runs on, with its setting (cli/src/main.rs,
/// `pipe_nn::allocator`): with glibc's,
/// every large activation buffer was a fresh mmap, and page faults were a third
/// of a MobileNetV2 training step.
static INNER: MiMalloc = MiMalloc;

// SAFETY: every method forwards to mimalloc unchanged and only updates two
// counters.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        INNER.alloc(layout)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
        INNER.dealloc(ptr, layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        INNER.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size >= layout.size() {
            grew(new_size - layout.size());
        } else {
            CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        INNER.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

const TRAIN_BATCH: usize = 64;
const INFER_BATCH: usize = 256;
const MIN_TIME: Duration = Duration::from_millis(1500);
const MAX_ITERS: usize = 50;

/// The benchmark configurations; `bench/tensor/torch_ref.py` builds the same.
fn models(side: usize) -> Vec<(&'static str, Family)> {
    vec![
        (
            "mlp",
            Family::Mlp {
                hidden: vec![128, 64],
            },
        ),
        (
            "cnn",
            Family::Cnn {
                channels: vec![16, 32],
                kernel: 3,
                hidden: 64,
            },
        ),
        (
            "vit",
            Family::Vit {
                patch: if side >= 28 { 4 } else { 2 },
                dim: 64,
                depth: 4,
                heads: 4,
                mlp_ratio: 2.0,
            },
        ),
        (
            "mobilenet_v2",
            Family::MobilenetV2 {
                width: 1.0,
                blocks: 7,
                expansion: 6,
            },
        ),
    ]
}

fn images(n: usize, side: usize) -> Tensor {
    let data = (0..n * side * side)
        .map(|i| ((i * 7919) % 256) as f32 / 255.0)
        .collect();
    Tensor::from_vec(&[n, 1, side, side], data)
}

/// Median milliseconds of `run(input)` over `input`'s copies, after two
/// warm-up calls. The copies (`forward` takes its input by value; PyTorch's
/// reference passes it by reference) are made before timing starts, so the
/// timed calls run back to back, as over the batches of a dataset.
fn median_ms<T: Clone>(input: &T, mut run: impl FnMut(T)) -> f64 {
    let mut copies: Vec<T> = (0..MAX_ITERS + 2).map(|_| input.clone()).collect();
    let mut times = Vec::new();
    let start = Instant::now();
    for (i, x) in copies.drain(..).enumerate() {
        if times.len() >= 5 && start.elapsed() >= MIN_TIME {
            break;
        }
        let t = Instant::now();
        run(x);
        if i >= 2 {
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn train_step(net: &mut Network, opt: &mut Optimizer, x: Tensor, labels: &[u32]) {
    net.zero_grad();
    let logits = net.forward(x, Mode::Train);
    let out = cross_entropy(&logits, labels, 0.0);
    net.backward(out.grad);
    net.step(opt, 1e-3, 0.0);
}

fn main() {
    pipe_nn::allocator::keep_freed_pages();
    let filter = std::env::args().nth(1).filter(|a| !a.starts_with('-'));
    for (data, side) in [("digits", 8), ("mnist", 28)] {
        for (name, family) in models(side) {
            if filter.as_deref().is_some_and(|f| !name.contains(f)) {
                continue;
            }
            let spec = ModelSpec {
                family,
                input: [1, side, side],
                classes: 10,
                dropout: 0.0,
                seed: 0,
            };
            let Ok(mut net) = Network::build(&spec) else {
                eprintln!("{name}: does not build for {side}×{side}");
                continue;
            };
            let mut opt = Optimizer::new(OptimizerKind::adamw(), 0.01);
            let x = images(TRAIN_BATCH, side);
            let labels: Vec<u32> = (0..TRAIN_BATCH as u32).map(|i| i % 10).collect();
            let train_ms = median_ms(&x, |x| train_step(&mut net, &mut opt, x, &labels));
            let base = CURRENT.load(Ordering::Relaxed);
            PEAK.store(base, Ordering::Relaxed);
            train_step(&mut net, &mut opt, x.clone(), &labels);
            let peak = PEAK.load(Ordering::Relaxed) - base;
            let xi = images(INFER_BATCH, side);
            let infer_ms = median_ms(&xi, |x| {
                net.forward(x, Mode::Eval);
            });
            println!(
                "{{\"model\": \"{name}\", \"data\": \"{data}\", \"train_ms\": {train_ms:.3}, \"infer_ms\": {infer_ms:.3}, \"train_peak_mib\": {:.2}, \"params\": {}}}",
                peak as f64 / (1024.0 * 1024.0),
                net.trainable_params()
            );
        }
    }
}
