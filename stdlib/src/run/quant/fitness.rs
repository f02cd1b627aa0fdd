//! The search's fitness: a loss between quantized outputs `q` and full-precision
//! outputs `k`, both `rows × cols` (one row per calibration image). Lower is
//! better. infoNCE follows the Evol-Q code (`utils.contrastive_loss`): rows
//! L2-normalised, logits `q·kᵀ/T`, cross-entropy towards the diagonal (the same
//! image; the other images of the batch are the negatives), times `2T`.

/// `F.normalize`'s guard against a zero row.
const NORM_EPS: f64 = 1e-12;

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Loss {
    InfoNce {
        temperature: f64,
    },
    Mse,
    /// `KL(softmax(k) ‖ softmax(q))`, averaged over rows.
    Kl,
    /// `1 - cos(q_i, k_i)`, averaged over rows.
    Cosine,
}

impl Loss {
    /// The loss named by the stage's `loss` parameter.
    pub fn named(name: &str, temperature: f64) -> Option<Loss> {
        match name {
            "infonce" => Some(Loss::InfoNce { temperature }),
            "mse" => Some(Loss::Mse),
            "kl" => Some(Loss::Kl),
            "cosine" => Some(Loss::Cosine),
            _ => None,
        }
    }

    /// The loss of `q` against `k` (`rows` rows each); 0 for no rows.
    pub fn eval(&self, q: &[f32], k: &[f32], rows: usize) -> f64 {
        if rows == 0 || q.len() != k.len() || !q.len().is_multiple_of(rows) {
            return f64::NAN;
        }
        let cols = q.len() / rows;
        match *self {
            Loss::InfoNce { temperature } => info_nce(q, k, cols, temperature),
            Loss::Mse => {
                q.iter()
                    .zip(k)
                    .map(|(a, b)| f64::from(a - b).powi(2))
                    .sum::<f64>()
                    / q.len() as f64
            }
            Loss::Kl => {
                let rows_kl = q
                    .chunks_exact(cols)
                    .zip(k.chunks_exact(cols))
                    .map(|(a, b)| {
                        let (lq, lk) = (log_softmax(a), log_softmax(b));
                        lk.iter()
                            .zip(&lq)
                            .map(|(p, r)| p.exp() * (p - r))
                            .sum::<f64>()
                    });
                rows_kl.sum::<f64>() / rows as f64
            }
            Loss::Cosine => {
                let cos = q
                    .chunks_exact(cols)
                    .zip(k.chunks_exact(cols))
                    .map(|(a, b)| dot(&unit(a), &unit(b)));
                1.0 - cos.sum::<f64>() / rows as f64
            }
        }
    }
}

fn unit(row: &[f32]) -> Vec<f64> {
    let norm = row
        .iter()
        .map(|v| f64::from(*v).powi(2))
        .sum::<f64>()
        .sqrt()
        .max(NORM_EPS);
    row.iter().map(|v| f64::from(*v) / norm).collect()
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn log_softmax(row: &[f32]) -> Vec<f64> {
    let max = row
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(f64::from(v)));
    let sum: f64 = row.iter().map(|&v| (f64::from(v) - max).exp()).sum();
    let log_sum = max + sum.ln();
    row.iter().map(|&v| f64::from(v) - log_sum).collect()
}

fn info_nce(q: &[f32], k: &[f32], cols: usize, t: f64) -> f64 {
    let qn: Vec<Vec<f64>> = q.chunks_exact(cols).map(unit).collect();
    let kn: Vec<Vec<f64>> = k.chunks_exact(cols).map(unit).collect();
    let mut total = 0.0;
    for (i, qi) in qn.iter().enumerate() {
        let logits: Vec<f64> = kn.iter().map(|kj| dot(qi, kj) / t).collect();
        let max = logits.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let lse = max + logits.iter().map(|v| (v - max).exp()).sum::<f64>().ln();
        total += lse - logits[i];
    }
    total / qn.len() as f64 * 2.0 * t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outputs() -> Vec<f32> {
        (0..40).map(|i| ((i * 7 % 13) as f32 - 6.0) / 3.0).collect()
    }

    #[test]
    fn info_nce_ignores_positive_row_scaling() {
        let k = outputs();
        let q: Vec<f32> = k.iter().map(|v| v + 0.3).collect();
        let loss = Loss::InfoNce { temperature: 3.0 };
        let mut scaled = q.clone();
        for (r, row) in scaled.chunks_exact_mut(10).enumerate() {
            row.iter_mut().for_each(|v| *v *= 0.5 + r as f32);
        }
        let (a, b) = (loss.eval(&q, &k, 4), loss.eval(&scaled, &k, 4));
        // Equal up to f32 rounding of the normalised rows.
        assert!((a - b).abs() < 1e-6 * a.abs(), "{a} vs {b}");
    }

    #[test]
    fn every_loss_falls_as_quantized_outputs_approach_full_precision() {
        let k = outputs();
        let noise: Vec<f32> = (0..40).map(|i| ((i * 5 % 11) as f32 - 5.0) / 2.0).collect();
        for loss in [
            Loss::InfoNce { temperature: 3.0 },
            Loss::Mse,
            Loss::Kl,
            Loss::Cosine,
        ] {
            let at = |e: f32| {
                let q: Vec<f32> = k.iter().zip(&noise).map(|(a, n)| a + e * n).collect();
                loss.eval(&q, &k, 4)
            };
            let (far, near, exact) = (at(1.0), at(0.2), at(0.0));
            assert!(far > near && near > exact, "{loss:?}: {far} {near} {exact}");
        }
    }

    #[test]
    fn info_nce_of_orthonormal_identical_rows_is_the_diagonal_cross_entropy() {
        let k: Vec<f32> = (0..9).map(|i| if i % 4 == 0 { 1.0 } else { 0.0 }).collect();
        let t = 3.0f64;
        let want = 2.0 * t * -((1.0 / t).exp() / ((1.0 / t).exp() + 2.0)).ln();
        let got = Loss::InfoNce { temperature: t }.eval(&k, &k, 3);
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
}
