//! Measured inference latency of each width of a slimmable network on this
//! machine: evaluation-mode forward passes of a fixed input at a given batch
//! size on one thread, one warm-up run, then the median of `repeats` timed
//! runs, the widths taking turns run by run. Also the width's FLOPs and
//! weights from its descriptor. One thread, because the figure is meant to be
//! each width's compute (what `sim.thermal` scales by a core's frequency):
//! with a pool, whether the backend splits a product across threads depends on
//! size thresholds and, on a shared machine, a split product waits for a second
//! core, so a larger width could measure faster or slower than its compute.
//! The figures are machine-dependent by nature; callers decide where they are
//! stored (they are never re-derived).

use crate::layer::{Mode, Tensor};
use crate::network::Network;
use crate::slim::{select_width, set_width, width_arch, widths, WidthProfile};
use crate::NnError;
use std::time::Instant;

/// Batch sizes every profile measures.
pub const BATCHES: [usize; 2] = [1, 64];

/// A fixed input of `batch` images of the network's input shape.
fn fixed_input(net: &Network, batch: usize) -> Tensor {
    let [c, h, w] = net.spec.input;
    let len = batch * c * h * w;
    let data = (0..len).map(|i| (i % 17) as f32 / 17.0).collect();
    Tensor::from_vec(&[batch, c, h, w], data)
}

/// Nanoseconds of one evaluation-mode forward pass of `x` at the active width.
fn time_forward(net: &mut Network, x: &Tensor) -> u64 {
    let input = x.clone();
    let start = Instant::now();
    std::hint::black_box(net.forward(input, Mode::Eval));
    u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

fn median(mut times: Vec<u64>) -> u64 {
    times.sort_unstable();
    times.get(times.len() / 2).copied().unwrap_or(0)
}

/// Median forward time in nanoseconds of every width (indices `0..count`) at
/// one batch size. The widths take turns, one timed run each per round, so a
/// burst of load from other processes on a shared machine falls on every
/// width alike instead of on whichever width was being timed.
fn median_ns_per_width(net: &mut Network, count: usize, batch: usize, repeats: usize) -> Vec<u64> {
    let x = fixed_input(net, batch);
    let mut times = vec![Vec::with_capacity(repeats.max(1)); count];
    for w in 0..count {
        select_width(net, w);
        std::hint::black_box(net.forward(x.clone(), Mode::Eval));
    }
    for _ in 0..repeats.max(1) {
        for (w, t) in times.iter_mut().enumerate() {
            select_width(net, w);
            t.push(time_forward(net, &x));
        }
    }
    times.into_iter().map(median).collect()
}

/// Every width's descriptor figures and measured latency (ascending widths),
/// `accuracy` unset; leaves the network at its largest width.
pub fn profile(net: &mut Network, repeats: usize) -> Result<Vec<WidthProfile>, NnError> {
    let ws = widths(&net.spec)
        .ok_or_else(|| NnError::Config("latency per width needs a slimmable network".into()))?
        .to_vec();
    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .map_err(|e| {
            NnError::Config(format!("cannot start a thread to time the widths on: {e}"))
        })?;
    let [b1, b64] =
        one_thread.install(|| BATCHES.map(|b| median_ns_per_width(net, ws.len(), b, repeats)));
    let mut out = Vec::with_capacity(ws.len());
    for (i, &width) in ws.iter().enumerate() {
        let arch = width_arch(net, i)?;
        out.push(WidthProfile {
            width,
            macs: arch.macs(),
            flops: arch.flops(),
            weights: arch.layers.iter().map(|l| l.op.weights()).sum(),
            latency_b1_ns: b1[i],
            latency_b64_ns: b64[i],
            accuracy: None,
        });
    }
    set_width(net, ws.len() - 1)?;
    Ok(out)
}
