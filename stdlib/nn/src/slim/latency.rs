//! Measured inference latency of each width of a slimmable network on this
//! machine: evaluation-mode forward passes of a fixed input at a given batch
//! size (rayon's thread pool as configured), one warm-up run, then the median
//! of `repeats` timed runs. Also the width's FLOPs and weights from its
//! descriptor. The figures are machine-dependent by nature; callers decide
//! where they are stored (they are never re-derived).

use crate::layer::{Mode, Tensor};
use crate::network::Network;
use crate::slim::{set_width, width_arch, widths, WidthProfile};
use crate::NnError;
use std::time::Instant;

/// Batch sizes every profile measures.
pub const BATCHES: [usize; 2] = [1, 64];

/// Median forward time in nanoseconds at the network's current width.
pub fn median_ns(net: &mut Network, batch: usize, repeats: usize) -> u64 {
    let [c, h, w] = net.spec.input;
    let len = batch * c * h * w;
    let data = (0..len).map(|i| (i % 17) as f32 / 17.0).collect();
    let x = Tensor::from_vec(&[batch, c, h, w], data);
    std::hint::black_box(net.forward(x.clone(), Mode::Eval));
    let mut times: Vec<u64> = (0..repeats.max(1))
        .map(|_| {
            let input = x.clone();
            let start = Instant::now();
            std::hint::black_box(net.forward(input, Mode::Eval));
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    times.sort_unstable();
    times[times.len() / 2]
}

/// Every width's descriptor figures and measured latency (ascending widths),
/// `accuracy` unset; leaves the network at its largest width.
pub fn profile(net: &mut Network, repeats: usize) -> Result<Vec<WidthProfile>, NnError> {
    let ws = widths(&net.spec)
        .ok_or_else(|| NnError::Config("latency per width needs a slimmable network".into()))?
        .to_vec();
    let mut out = Vec::with_capacity(ws.len());
    for (i, &width) in ws.iter().enumerate() {
        let arch = width_arch(net, i)?;
        let [b1, b64] = BATCHES.map(|b| median_ns(net, b, repeats));
        out.push(WidthProfile {
            width,
            macs: arch.macs(),
            flops: arch.flops(),
            weights: arch.layers.iter().map(|l| l.op.weights()).sum(),
            latency_b1_ns: b1,
            latency_b64_ns: b64,
            accuracy: None,
        });
    }
    set_width(net, ws.len() - 1)?;
    Ok(out)
}
