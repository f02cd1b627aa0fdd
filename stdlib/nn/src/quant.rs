//! `FakeQuant`: uniform fake quantization hooks on `Linear` and `Conv2d`.
//! Weights are quantized symmetrically per output channel, activations
//! (the layer's input) per tensor, both with straight-through gradients: the
//! backward pass treats rounding as the identity. Calibration methods (min-max,
//! OMSE, evolutionary search) set the scales; without them the range is the
//! tensor's own min-max.

#[derive(Debug, Clone, PartialEq)]
pub struct FakeQuant {
    /// 32 leaves weights in float.
    pub weight_bits: u32,
    /// 32 leaves activations in float.
    pub act_bits: u32,
    /// One scale per output channel; `None` uses each channel's max |w|.
    pub weight_scales: Option<Vec<f32>>,
    /// Fixed activation range `(lo, hi)`; `None` uses the batch's min-max.
    pub act_range: Option<(f32, f32)>,
}

impl FakeQuant {
    pub fn new(weight_bits: u32, act_bits: u32) -> FakeQuant {
        FakeQuant {
            weight_bits,
            act_bits,
            weight_scales: None,
            act_range: None,
        }
    }

    /// The quantized copy of `w`, whose `out` rows are output channels.
    pub fn weights(&self, w: &[f32], out: usize) -> Vec<f32> {
        if self.weight_bits >= 32 || out == 0 {
            return w.to_vec();
        }
        let levels = ((1u64 << (self.weight_bits - 1)) - 1).max(1) as f32;
        let per = w.len() / out;
        let mut q = Vec::with_capacity(w.len());
        for (c, row) in w.chunks_exact(per).enumerate() {
            let scale = match &self.weight_scales {
                Some(s) => s.get(c).copied().unwrap_or(1.0),
                None => row.iter().fold(0.0f32, |m, v| m.max(v.abs())) / levels,
            };
            if scale <= 0.0 {
                q.extend_from_slice(row);
                continue;
            }
            q.extend(
                row.iter()
                    .map(|v| (v / scale).round().clamp(-levels, levels) * scale),
            );
        }
        q
    }

    /// Quantizes activations in place (unsigned when the range is non-negative).
    pub fn activations(&self, x: &mut [f32]) {
        if self.act_bits >= 32 || x.is_empty() {
            return;
        }
        let (lo, hi) = self.act_range.unwrap_or_else(|| {
            x.iter()
                .fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| {
                    (a.min(v), b.max(v))
                })
        });
        let steps = ((1u64 << self.act_bits) - 1) as f32;
        let scale = (hi - lo) / steps;
        if scale <= 0.0 || !scale.is_finite() {
            return;
        }
        for v in x.iter_mut() {
            *v = ((v.clamp(lo, hi) - lo) / scale).round() * scale + lo;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn four_bit_weights_take_at_most_fifteen_values_per_channel() {
        let w: Vec<f32> = (0..64).map(|i| (i as f32 * 0.7).sin()).collect();
        let q = FakeQuant::new(4, 32).weights(&w, 2);
        for row in q.chunks(32) {
            let mut levels: Vec<i64> = row.iter().map(|v| (v * 1e4).round() as i64).collect();
            levels.sort_unstable();
            levels.dedup();
            assert!(levels.len() <= 15, "{} levels", levels.len());
        }
        let err: f32 = w
            .iter()
            .zip(&q)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(err <= 1.0 / 14.0 + 1e-6, "error {err}");
    }

    #[test]
    fn activations_snap_to_the_grid_of_their_range() {
        let mut x = vec![0.0, 0.1, 0.5, 0.93, 1.0];
        FakeQuant::new(32, 2).activations(&mut x);
        for v in &x {
            let k = v * 3.0;
            assert!((k - k.round()).abs() < 1e-5, "{v} is off the grid");
        }
    }
}
