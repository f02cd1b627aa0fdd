//! Measured memory of training: `Counting`, a global-allocator wrapper that
//! counts the bytes a thread allocates while a `track` scope is open on it, and
//! `measure_step`, which runs one training step on a single thread and reports
//! the bytes each block keeps for backward and the step's peak. It measures;
//! it never estimates from shapes, and it never changes what a step computes.
//!
//! Only allocations on the tracking thread count, so the step runs in a
//! one-thread rayon pool (`on_one_thread`): other stages running at the same
//! time in the process do not disturb the figures. Outside a scope the wrapper
//! costs one thread-local flag read per allocation.

use crate::layer::{Layer, Mode, Tensor};
use crate::loss::cross_entropy;
use crate::network::Network;
use crate::optim::Optimizer;
use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;

thread_local! {
    static TRACKING: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

/// Wraps an allocator (e.g. `std::alloc::System` or mimalloc) and counts what
/// tracked threads allocate. Install with `#[global_allocator]`.
pub struct Counting<A>(pub A);

fn note(delta: isize) {
    let _ = TRACKING.try_with(|t| {
        if t.get() {
            LIVE.with(|l| {
                let live = l.get() + delta;
                l.set(live);
                PEAK.with(|p| p.set(p.get().max(live)));
            });
        }
    });
}

// SAFETY: every call forwards to the wrapped allocator unchanged; counting only
// touches const-initialised thread-locals without destructors, which never allocate.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc(layout);
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = self.0.alloc_zeroed(layout);
        if !p.is_null() {
            note(layout.size() as isize);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.0.dealloc(ptr, layout);
        note(-(layout.size() as isize));
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = self.0.realloc(ptr, layout, new_size);
        if !p.is_null() {
            note(new_size as isize - layout.size() as isize);
        }
        p
    }
}

/// What a `track` scope saw on its thread, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    /// Allocated minus freed at the end of the scope (negative when the scope
    /// freed more than it allocated).
    pub net: isize,
    /// The highest `net` reached during the scope.
    pub peak: isize,
}

/// Runs `f` counting this thread's allocations. Nested scopes report their own
/// figures and add them to the enclosing scope's.
pub fn track<R>(f: impl FnOnce() -> R) -> (R, Usage) {
    let outer = (
        TRACKING.with(Cell::get),
        LIVE.with(Cell::get),
        PEAK.with(Cell::get),
    );
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACKING.with(|t| t.set(true));
    let r = f();
    TRACKING.with(|t| t.set(outer.0));
    let usage = Usage {
        net: LIVE.with(Cell::get),
        peak: PEAK.with(Cell::get),
    };
    LIVE.with(|l| l.set(outer.1 + usage.net));
    PEAK.with(|p| p.set(outer.2.max(outer.1 + usage.peak)));
    (r, usage)
}

/// Bytes allocated minus freed so far in the innermost open scope.
pub fn live() -> isize {
    LIVE.with(Cell::get)
}

/// Whether the process's global allocator is a `Counting` wrapper.
pub fn counting_installed() -> bool {
    let (_, usage) = track(|| std::hint::black_box(Vec::<u8>::with_capacity(64)));
    usage.peak >= 64
}

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error(
        "memory is measured with a counting allocator and this program does not install one \
         (`#[global_allocator] static A: pipe_nn::memory::Counting<System> = Counting(System);`)"
    )]
    NotCounting,
    #[error("could not start the one-thread pool memory is measured in: {0}")]
    Pool(String),
}

/// Runs `f` on a fresh one-thread rayon pool, so every allocation of the
/// parallel loops inside it happens on one (tracked) thread.
pub fn on_one_thread<R: Send>(f: impl FnOnce() -> R + Send) -> Result<R, MeasureError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| MeasureError::Pool(e.to_string()))?;
    Ok(pool.install(f))
}

/// Heap bytes a tensor owns.
pub fn tensor_bytes(t: &Tensor) -> usize {
    t.data.capacity() * std::mem::size_of::<f32>()
        + t.shape.capacity() * std::mem::size_of::<usize>()
}

#[derive(Debug, Clone, PartialEq)]
pub struct BlockMemory {
    pub name: String,
    /// Bytes the block's layers keep from forward until backward.
    pub bytes: usize,
}

/// One measured training step.
#[derive(Debug, Clone, PartialEq)]
pub struct StepMemory {
    /// Every block, in order (frozen ones keep nothing).
    pub blocks: Vec<BlockMemory>,
    /// The sum over blocks: everything held for backward.
    pub backward_bytes: usize,
    /// High-water mark of the step: params and their gradient buffers, the
    /// input batch, and the measured peak of forward, loss, backward and the
    /// optimizer update (which allocates its moments on a first step).
    pub peak_bytes: usize,
}

/// Measures one training step of `net` on batch `x` with `labels` on a single
/// thread, then restores the weights, statistics and gradients it started from,
/// so training afterwards is unaffected.
pub fn measure_step(
    net: &mut Network,
    x: Tensor,
    labels: &[u32],
    opt: &mut Optimizer,
    lr: f32,
) -> Result<StepMemory, MeasureError> {
    let saved = snapshot(net);
    let result = on_one_thread(|| {
        if !counting_installed() {
            return Err(MeasureError::NotCounting);
        }
        Ok(step(net, x, labels, opt, lr))
    });
    restore(net, &saved);
    result?
}

fn step(net: &mut Network, x: Tensor, labels: &[u32], opt: &mut Optimizer, lr: f32) -> StepMemory {
    let state: usize = {
        let mut bytes = 0;
        net.visit(&mut |_, p| bytes += (p.value.len() + p.grad.len()) * 4);
        bytes
    };
    let input = tensor_bytes(&x);
    net.zero_grad();
    let mut held: Vec<isize> = Vec::with_capacity(net.blocks.len());
    let ((), usage) = track(|| {
        let logits = net.forward_with(x, Mode::Train, &mut |_, block, x, mode| {
            let before = live();
            let x_bytes = tensor_bytes(&x) as isize;
            let y = block.body.forward(x, mode);
            held.push(live() - before - tensor_bytes(&y) as isize + x_bytes);
            y
        });
        let out = cross_entropy(&logits, labels, 0.0);
        drop(logits);
        net.backward(out.grad);
        net.step(opt, lr, 0.0);
    });
    let blocks: Vec<BlockMemory> = net
        .blocks
        .iter()
        .zip(&held)
        .map(|(b, &bytes)| BlockMemory {
            name: b.name.clone(),
            bytes: bytes.max(0) as usize,
        })
        .collect();
    StepMemory {
        backward_bytes: blocks.iter().map(|b| b.bytes).sum(),
        peak_bytes: state + input + usage.peak.max(0) as usize,
        blocks,
    }
}

/// Every param and buffer value, in visit order.
fn snapshot(net: &mut Network) -> Vec<Vec<f32>> {
    let mut values = Vec::new();
    net.visit(&mut |_, p| values.push(p.value.data.clone()));
    values
}

fn restore(net: &mut Network, values: &[Vec<f32>]) {
    let mut i = 0;
    net.visit(&mut |_, p| {
        if let Some(v) = values.get(i) {
            p.value.data.copy_from_slice(v);
        }
        p.zero_grad();
        i += 1;
    });
}
