//! Branch-free f32 approximations of `tanh` and `exp`, and 8-lane sums, for
//! the transformer's hot loops (GELU, attention softmax). libm's `tanhf` and
//! `expf` are scalar calls a loop cannot vectorize, and their last bits differ
//! between C library versions; these are plain multiplies, adds and bit
//! operations (never a fused multiply-add), so a loop over them vectorizes and
//! gives the same bits on every machine. Accuracy is a few ulp; the tests
//! bound it against f64.
//!
//! Nothing else belongs here: a layer that keeps libm (loss, BatchNorm,
//! LayerNorm) does so on purpose, because its results are in documented tables.

/// Where `tanh` rounds to ±1 in f32; the rational form is clamped there.
#[allow(clippy::excessive_precision)]
const TANH_CLAMP: f32 = 7.90531110763549805;
/// Eigen's and MLAS's odd 13/6 rational minimax fit of tanh on the clamp
/// range, digit for digit as published.
#[allow(clippy::excessive_precision)]
const TANH_P: [f32; 7] = [
    -2.76076847742355e-16,
    2.00018790482477e-13,
    -8.60467152213735e-11,
    5.12229709037114e-08,
    1.48572235717979e-05,
    6.37261928875436e-04,
    4.89352455891786e-03,
];
#[allow(clippy::excessive_precision)]
const TANH_Q: [f32; 4] = [
    1.19825839466702e-06,
    1.18534705686654e-04,
    2.26843463243900e-03,
    4.89352518554385e-03,
];

/// `tanh(x)`.
#[inline(always)]
pub fn tanh(x: f32) -> f32 {
    let x = x.clamp(-TANH_CLAMP, TANH_CLAMP);
    let x2 = x * x;
    let p = TANH_P[1..].iter().fold(TANH_P[0], |p, &c| p * x2 + c);
    let q = TANH_Q[1..].iter().fold(TANH_Q[0], |q, &c| q * x2 + c);
    x * p / q
}

/// Inputs are clamped to where `2^n` stays a normal f32 (n in [-126, 127]).
const EXP_MIN: f32 = -87.3;
const EXP_MAX: f32 = 88.0;
/// Adding 1.5·2²³ rounds an f32 below 2²² to the nearest integer, which then
/// sits in the low mantissa bits: a rounding that needs no SSE4.1 `roundps`.
const ROUND_MAGIC: f32 = 12_582_912.0;
/// ln 2 split in two so that `n · LN2_HI` is exact (Cephes' `expf`).
const LN2_HI: f32 = 0.693_359_4;
#[allow(clippy::excessive_precision)]
const LN2_LO: f32 = -2.12194440e-4;
/// Cephes' minimax polynomial for `(e^r - 1 - r) / r²` on |r| ≤ ln2/2.
#[allow(clippy::excessive_precision)]
const EXP_P: [f32; 6] = [
    1.9875691500e-4,
    1.3981999507e-3,
    8.3334519073e-3,
    4.1665795894e-2,
    1.6666665459e-1,
    5.0000001201e-1,
];

/// `e^x`, flushed to about 1.2e-38 below −87.3 and saturating at e⁸⁸.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    let x = x.clamp(EXP_MIN, EXP_MAX);
    let shifted = x * std::f32::consts::LOG2_E + ROUND_MAGIC;
    let n = shifted - ROUND_MAGIC;
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = EXP_P[1..].iter().fold(EXP_P[0], |p, &c| p * r + c);
    let e = p * r * r + r + 1.0;
    let n_bits = shifted.to_bits().wrapping_sub(ROUND_MAGIC.to_bits());
    let scale = f32::from_bits(n_bits.wrapping_add(127) << 23);
    e * scale
}

/// The sum of `x` in a fixed order: eight running lanes, then the lanes
/// pairwise, then the tail. Vectorizes, unlike a left-to-right `sum`, and the
/// result does not depend on the vector width.
#[inline(always)]
pub fn sum(x: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    tail.iter().fold(combine(lanes), |s, v| s + v)
}

/// `Σ a[i]·b[i]` over the shorter slice, in `sum`'s order.
#[inline(always)]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut lanes = [0.0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let (ta, tb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for ((l, x), y) in lanes.iter_mut().zip(x).zip(y) {
            *l += x * y;
        }
    }
    ta.iter()
        .zip(tb)
        .fold(combine(lanes), |s, (x, y)| s + x * y)
}

fn combine(l: [f32; 8]) -> f32 {
    let quads = [l[0] + l[4], l[1] + l[5], l[2] + l[6], l[3] + l[7]];
    (quads[0] + quads[2]) + (quads[1] + quads[3])
}

/// The largest element (−∞ for an empty slice), eight lanes like `sum`.
#[inline(always)]
pub fn max(x: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; 8];
    let chunks = x.chunks_exact(8);
    let tail = chunks.remainder();
    for c in chunks {
        for (l, &v) in lanes.iter_mut().zip(c) {
            *l = if v > *l { v } else { *l };
        }
    }
    let lanes_max = lanes.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    tail.iter().fold(lanes_max, |m, &v| m.max(v))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worst error of `f` against `want` over `xs`, in ulp of the result.
    fn worst_ulp(xs: impl Iterator<Item = f32>, f: fn(f32) -> f32, want: fn(f64) -> f64) -> f64 {
        xs.map(|x| {
            let w = want(f64::from(x));
            let err = (f64::from(f(x)) - w).abs();
            err / (w.abs().max(f64::from(f32::MIN_POSITIVE)) * f64::from(f32::EPSILON))
        })
        .fold(0.0, f64::max)
    }

    #[test]
    fn tanh_stays_within_a_few_ulp() {
        let xs = (-200_000..=200_000).map(|i| i as f32 * 5e-5);
        let worst = worst_ulp(xs, tanh, f64::tanh);
        assert!(worst < 8.0, "worst error {worst} ulp");
        assert_eq!(tanh(30.0), 1.0);
        assert_eq!(tanh(-30.0), -1.0);
        assert_eq!(tanh(0.0), 0.0);
    }

    #[test]
    fn exp_stays_within_a_few_ulp() {
        let xs = (-870_000..=870_000).map(|i| i as f32 * 1e-4);
        let worst = worst_ulp(xs, exp, f64::exp);
        assert!(worst < 4.0, "worst error {worst} ulp");
        assert_eq!(exp(0.0), 1.0);
        assert!(exp(-1000.0) < 2e-38);
        assert!(exp(1000.0).is_finite());
    }

    #[test]
    fn lane_sum_and_max_match_plain_ones() {
        for len in [0, 1, 7, 8, 9, 50, 65] {
            let x: Vec<f32> = (0..len).map(|i| ((i * 37) % 11) as f32 - 5.0).collect();
            assert_eq!(sum(&x), x.iter().sum::<f32>(), "len {len}");
            let dot_want: f32 = x.iter().map(|v| v * v).sum();
            assert_eq!(dot(&x, &x), dot_want, "len {len}");
            let want = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            assert_eq!(max(&x), want, "len {len}");
        }
    }
}
