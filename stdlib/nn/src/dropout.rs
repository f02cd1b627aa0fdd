//! `Dropout`: inverted dropout (kept values scaled by 1/(1-p)) in training, the
//! identity in evaluation. Its mask comes from the layer's own seeded generator,
//! so a training run is reproducible for a seed.

use crate::init::Rng8;
use crate::layer::{cached, Layer, Mode, Tensor};
use pipe_sim::arch;
use rand::{Rng, SeedableRng};

pub struct Dropout {
    pub p: f32,
    rng: Rng8,
    mask: Option<Vec<f32>>,
}

impl Dropout {
    pub fn new(p: f32, seed: u64) -> Dropout {
        Dropout {
            p,
            rng: Rng8::seed_from_u64(seed),
            mask: None,
        }
    }
}

impl Layer for Dropout {
    fn forward(&mut self, mut x: Tensor, mode: Mode) -> Tensor {
        if mode == Mode::Eval || self.p <= 0.0 {
            self.mask = None;
            return x;
        }
        let keep = 1.0 - self.p;
        let mask: Vec<f32> = (0..x.len())
            .map(|_| {
                if self.rng.gen::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        x.data.iter_mut().zip(&mask).for_each(|(v, m)| *v *= m);
        self.mask = Some(mask);
        x
    }

    fn backward(&mut self, mut dy: Tensor) -> Tensor {
        if self.p <= 0.0 {
            return dy;
        }
        let mask = cached(&mut self.mask, "Dropout");
        dy.data.iter_mut().zip(&mask).for_each(|(d, m)| *d *= m);
        dy
    }

    fn describe(&self, _: &str, input: &[usize], _: &mut Vec<arch::Layer>) -> Vec<usize> {
        input.to_vec()
    }

    fn clear_cache(&mut self) {
        self.mask = None;
    }

    crate::layer_casts!();
}
