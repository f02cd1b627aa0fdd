//! `TokensToMap`: a ViT's tokens `[N, 1 + rows·cols, D]` (CLS first, patch
//! tokens row-major as `PatchEmbed` lays them out) to the channel-major feature
//! map `[D, N, rows, cols]` a convolutional head reads. The CLS token is
//! dropped (its gradient is zero).

use crate::layer::{cached, Layer, Mode, Tensor};
use pipe_sim::arch;

pub struct TokensToMap {
    rows: usize,
    cols: usize,
    /// Token count and width of the last train forward's input.
    saved: Option<[usize; 3]>,
}

impl TokensToMap {
    pub fn new(rows: usize, cols: usize) -> TokensToMap {
        TokensToMap {
            rows,
            cols,
            saved: None,
        }
    }

    /// Calls `f(token_index, map_index)` for every patch-token value.
    fn for_each(&self, [n, t, d]: [usize; 3], mut f: impl FnMut(usize, usize)) {
        let cells = self.rows * self.cols;
        for b in 0..n {
            for cell in 0..cells {
                let token = (b * t + 1 + cell) * d;
                for ch in 0..d {
                    f(token + ch, (ch * n + b) * cells + cell);
                }
            }
        }
    }
}

impl Layer for TokensToMap {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let shape = [x.shape[0], x.shape[1], x.shape[2]];
        let [n, _, d] = shape;
        let mut y = Tensor::zeros(&[d, n, self.rows, self.cols]);
        self.for_each(shape, |i, o| y.data[o] = x.data[i]);
        if mode == Mode::Train {
            self.saved = Some(shape);
        }
        y
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let shape = cached(&mut self.saved, "TokensToMap");
        let mut dx = Tensor::zeros(&shape);
        self.for_each(shape, |i, o| dx.data[i] = dy.data[o]);
        dx
    }

    fn describe(&self, _: &str, input: &[usize], _: &mut Vec<arch::Layer>) -> Vec<usize> {
        vec![input[1], self.rows, self.cols]
    }

    fn clear_cache(&mut self) {
        self.saved = None;
    }

    crate::layer_casts!();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_tokens_land_in_their_cells_and_cls_gets_no_gradient() {
        let mut layer = TokensToMap::new(1, 2);
        // Two images, CLS + 2 patch tokens, width 2: value = 100·image + 10·token + channel.
        let data = (0..2)
            .flat_map(|b| {
                (0..3).flat_map(move |t| (0..2).map(move |c| (100 * b + 10 * t + c) as f32))
            })
            .collect();
        let x = Tensor::from_vec(&[2, 3, 2], data);
        let y = layer.forward(x, Mode::Train);
        assert_eq!(y.shape, vec![2, 2, 1, 2]);
        // Channel 1 of image 1: tokens 1 and 2.
        assert_eq!(&y.data[6..8], &[111.0, 121.0]);
        let dx = layer.backward(y.clone());
        assert_eq!(dx.data[0..2], [0.0, 0.0]);
        assert_eq!(dx.data[2..4], [10.0, 11.0]);
    }
}
