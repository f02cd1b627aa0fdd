//! `Tensor`: a runtime-shaped, row-major f32 buffer. Owns no semantics beyond its
//! shape; the layer that produces a tensor documents its layout (rows `[N, D]`,
//! tokens `[N, T, D]`, or channel-major images `[C, N, H, W]`).

#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl Tensor {
    pub fn zeros(shape: &[usize]) -> Tensor {
        Tensor {
            shape: shape.to_vec(),
            data: vec![0.0; shape.iter().product()],
        }
    }

    /// A tensor over `data`; the caller guarantees `data.len()` matches `shape`.
    pub fn from_vec(shape: &[usize], data: Vec<f32>) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), data.len());
        Tensor {
            shape: shape.to_vec(),
            data,
        }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// The first dimension (the batch for rows and tokens).
    pub fn rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(0)
    }

    /// The last dimension (features for rows and tokens).
    pub fn cols(&self) -> usize {
        self.shape.last().copied().unwrap_or(0)
    }

    /// Same data under another shape with the same element count.
    pub fn reshaped(mut self, shape: &[usize]) -> Tensor {
        debug_assert_eq!(shape.iter().product::<usize>(), self.data.len());
        self.shape = shape.to_vec();
        self
    }
}

/// `[N, C, H, W]` sample-major images to the channel-major `[C, N, H, W]` layout
/// convolution layers use (a 1×1 convolution is then one matrix product).
pub fn to_channel_major(x: &[f32], n: usize, c: usize, h: usize, w: usize) -> Tensor {
    let hw = h * w;
    let mut out = vec![0.0; x.len()];
    for b in 0..n {
        for ch in 0..c {
            let src = &x[(b * c + ch) * hw..(b * c + ch + 1) * hw];
            out[(ch * n + b) * hw..(ch * n + b + 1) * hw].copy_from_slice(src);
        }
    }
    Tensor::from_vec(&[c, n, h, w], out)
}
