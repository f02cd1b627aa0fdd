//! Batch-norm recalibration of a trained slimmable network: every width's
//! running statistics recomputed as the exact average over the training
//! images (unaugmented), the way slimmable networks are finished after
//! training (Yu & Huang's "BN calibration"). During training the statistics
//! are moving averages over augmented batches taken while the weights still
//! change; after it, evaluation should see the statistics of the final weights
//! on the images it will be compared with. Never changes a weight.

use crate::layer::{Layer, Mode};
use crate::network::Network;
use crate::slim::layers::active_batch_norm;
use crate::slim::{select_width, widths};
use crate::train::{gather, Images};

/// Images per recalibration forward pass (the project's own default: large
/// enough for stable batch moments, small enough to keep memory low).
pub const BATCH: usize = 256;

/// Sets the momentum of every batch norm at the network's active width.
fn set_momentum(net: &mut Network, momentum: f32) {
    for block in &mut net.blocks {
        block.body.for_each_layer(&mut |l| {
            if let Some(bn) = active_batch_norm(l) {
                bn.momentum = momentum;
            }
        });
    }
}

/// The momentum every batch norm at the active width has (the first one's;
/// the model builders give them all the same), 0.1 when there is none.
fn momentum(net: &mut Network) -> f32 {
    let mut found = None;
    for block in &mut net.blocks {
        block.body.for_each_layer(&mut |l| {
            if let Some(bn) = active_batch_norm(l) {
                found.get_or_insert(bn.momentum);
            }
        });
    }
    found.unwrap_or(0.1)
}

/// Recomputes every width's batch-norm running statistics over `data` in
/// passes of `batch` images: batch `k` enters with momentum `len_k / seen`, so
/// the result is the sample-weighted mean of the batch moments. Restores each
/// width's momentum and leaves the network at its largest width. Dropout in
/// the supported families never feeds a batch norm, so it does not matter
/// that the passes run in training mode.
pub fn recalibrate(net: &mut Network, data: Images, batch: usize) {
    let count = widths(&net.spec).map_or(1, <[f64]>::len);
    let indices: Vec<usize> = (0..data.len()).collect();
    for w in 0..count {
        select_width(net, w);
        let kept = momentum(net);
        let mut seen = 0usize;
        for chunk in indices.chunks(batch.max(1)) {
            seen += chunk.len();
            set_momentum(net, chunk.len() as f32 / seen as f32);
            net.forward(gather(data, chunk, None), Mode::Train);
        }
        set_momentum(net, kept);
        net.blocks.iter_mut().for_each(|b| b.body.clear_cache());
    }
    select_width(net, count - 1);
}
