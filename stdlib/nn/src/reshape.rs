//! Layout changes with no arithmetic: sample-major images `[N, C, H, W]` to the
//! channel-major layout convolutions use, and images to flat rows.

use crate::layer::{Layer, Mode, Tensor};
use crate::tensor::to_channel_major;
use pipe_sim::arch;

/// `[N, C, H, W]` to `[C, N, H, W]`; backward transposes back.
pub struct ChannelMajor;

impl Layer for ChannelMajor {
    fn forward(&mut self, x: Tensor, _: Mode) -> Tensor {
        let [n, c, h, w] = [x.shape[0], x.shape[1], x.shape[2], x.shape[3]];
        to_channel_major(&x.data, n, c, h, w)
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        // The transpose of swapping the first two axes is the same swap.
        let [c, n, h, w] = [dy.shape[0], dy.shape[1], dy.shape[2], dy.shape[3]];
        to_channel_major(&dy.data, c, n, h, w)
    }

    fn describe(&self, _: &str, input: &[usize], _: &mut Vec<arch::Layer>) -> Vec<usize> {
        input.to_vec()
    }

    crate::layer_casts!();
}

/// `[N, ...]` to rows `[N, prod(...)]`.
#[derive(Default)]
pub struct Flatten {
    shape: Option<Vec<usize>>,
}

impl Layer for Flatten {
    fn forward(&mut self, x: Tensor, mode: Mode) -> Tensor {
        let n = x.rows();
        let d = x.len() / n.max(1);
        if mode == Mode::Train {
            self.shape = Some(x.shape.clone());
        }
        x.reshaped(&[n, d])
    }

    fn backward(&mut self, dy: Tensor) -> Tensor {
        let shape = crate::layer::cached(&mut self.shape, "Flatten");
        dy.reshaped(&shape)
    }

    fn describe(&self, _: &str, input: &[usize], _: &mut Vec<arch::Layer>) -> Vec<usize> {
        vec![input.iter().product()]
    }

    fn clear_cache(&mut self) {
        self.shape = None;
    }

    crate::layer_casts!();
}
