//! `slimmable`: a base network (`mlp`, `cnn` or `mobilenet_v2`) built as usual,
//! then every convolution, linear and batch norm replaced by its weight-shared
//! slim counterpart (`slim::layers`). The channel plan follows the data flow:
//! at width `w` a layer keeps `round(w·out)` (at least 1) of its outputs, except
//! the classifier (all classes) and depthwise convolutions (as many as they
//! receive); inputs are whatever the previous layer kept, and the image's own
//! channels are never sliced. The same rounding as `pipe_sim::workload::slim`,
//! so a width's descriptor matches the simulators' slice of the full network.

use super::Builder;
use crate::conv::Conv2d;
use crate::layer::Layer;
use crate::linear::Linear;
use crate::network::Block;
use crate::norm::BatchNorm2d;
use crate::sequential::{Residual, Sequential};
use crate::slim::layers::{take, Channels, SlimBatchNorm, SlimConv2d, SlimLinear};
use crate::slim::{scaled, width_label};
use crate::spec::Family;

pub(crate) fn build(b: &mut Builder, base: &Family, widths: &[f64]) -> Vec<Block> {
    let mut blocks = super::build_family(b, base);
    convert(&mut blocks, widths, b.spec.input[0]);
    blocks
}

/// Replaces the layers of `blocks` (built at full width) by slim layers over `widths`.
fn convert(blocks: &mut [Block], widths: &[f64], image_channels: usize) {
    let mut sliceable = 0usize;
    for block in blocks.iter_mut() {
        block.body.for_each_layer(&mut |l| {
            let any = l.as_any_mut();
            sliceable += usize::from(any.is::<Conv2d>() || any.is::<Linear>());
        });
    }
    let mut plan = Plan {
        widths,
        full: image_channels,
        active: vec![image_channels; widths.len()],
        remaining: sliceable,
    };
    for block in blocks {
        plan.sequential(&mut block.body);
    }
}

/// The channel count flowing between layers, at full width and at each width.
struct Plan<'a> {
    widths: &'a [f64],
    full: usize,
    active: Vec<usize>,
    /// Convolutions and linears not yet converted; the last one is the classifier.
    remaining: usize,
}

impl Plan<'_> {
    /// Composites nest as the model builders made them (a residual inside a
    /// block), never to a depth a user chooses.
    fn sequential(&mut self, seq: &mut Sequential) {
        for (_, layer) in &mut seq.layers {
            if let Some(slim) = self.layer(layer.as_mut()) {
                *layer = slim;
            }
        }
    }

    /// The replacement of one layer, or `None` to keep it.
    fn layer(&mut self, layer: &mut dyn Layer) -> Option<Box<dyn Layer>> {
        let any = layer.as_any_mut();
        if let Some(seq) = any.downcast_mut::<Sequential>() {
            self.sequential(seq);
            return None;
        }
        if let Some(res) = any.downcast_mut::<Residual>() {
            self.sequential(&mut res.body);
            return None;
        }
        if let Some(conv) = any.downcast_mut::<Conv2d>() {
            return self.conv(conv);
        }
        if let Some(fc) = any.downcast_mut::<Linear>() {
            return Some(self.linear(fc));
        }
        if let Some(bn) = any.downcast_mut::<BatchNorm2d>() {
            let labels = self.widths.iter().map(|&w| width_label(w)).collect();
            return Some(Box::new(SlimBatchNorm::new(bn, &self.active, labels)));
        }
        None
    }

    /// Active outputs of a layer with `full` outputs at every width.
    fn outputs(&mut self, full: usize) -> Vec<usize> {
        self.remaining = self.remaining.saturating_sub(1);
        if self.remaining == 0 {
            return vec![full; self.widths.len()];
        }
        self.widths.iter().map(|&w| scaled(full, w)).collect()
    }

    fn conv(&mut self, conv: &mut Conv2d) -> Option<Box<dyn Layer>> {
        let s = conv.shape;
        let depthwise = s.groups > 1 && s.groups == s.in_ch && s.out_ch == s.in_ch;
        let channels: Vec<Channels> = if depthwise {
            self.remaining = self.remaining.saturating_sub(1);
            self.active.iter().map(|&c| (c, c)).collect()
        } else if s.groups == 1 {
            let inputs = self.inputs(s.in_ch);
            inputs.into_iter().zip(self.outputs(s.out_ch)).collect()
        } else {
            // Grouped convolutions are in no supported family: kept whole.
            self.remaining = self.remaining.saturating_sub(1);
            self.full = s.out_ch;
            self.active = vec![s.out_ch; self.widths.len()];
            return None;
        };
        self.full = s.out_ch;
        self.active = channels.iter().map(|c| c.1).collect();
        let (weight, bias) = (take(&mut conv.weight), conv.bias.as_mut().map(take));
        Some(Box::new(SlimConv2d::new(s, weight, bias, &channels)))
    }

    fn linear(&mut self, fc: &mut Linear) -> Box<dyn Layer> {
        let inputs = self.inputs(fc.in_features);
        let channels: Vec<Channels> = inputs
            .into_iter()
            .zip(self.outputs(fc.out_features))
            .collect();
        self.full = fc.out_features;
        self.active = channels.iter().map(|c| c.1).collect();
        let (weight, bias) = (take(&mut fc.weight), fc.bias.as_mut().map(take));
        Box::new(SlimLinear::new(weight, bias, &channels))
    }

    /// Active inputs of a layer with `full` inputs: the channels flowing in,
    /// or, after a channel-major flatten of `[C, H, W]`, `C_active·H·W` (the
    /// leading features are the leading channels).
    fn inputs(&self, full: usize) -> Vec<usize> {
        if full == self.full {
            return self.active.clone();
        }
        if self.full > 0 && full.is_multiple_of(self.full) {
            let per_channel = full / self.full;
            return self.active.iter().map(|&c| c * per_channel).collect();
        }
        vec![full; self.widths.len()]
    }
}
