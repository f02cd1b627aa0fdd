//! Left-to-right sums of eight equal-length rows at once (BatchNorm's
//! per-channel reductions). A left-to-right sum waits on each add; eight
//! independent ones overlap. Each row's sum keeps its own left-to-right order
//! (starting at −0.0 like `Iterator::sum`), so the bits are those of summing
//! the rows one at a time: a reordered (faster, pairwise) sum would change
//! every BatchNorm model's results, which documented tables depend on.
//!
//! With AVX, eight consecutive elements of each row are loaded and transposed
//! in registers, so vector lane j carries row j and one vector add advances
//! all eight sums by one element, in order. Without AVX the same sums run as
//! scalar code. The unit tests check that both agree bit for bit.

/// The rows one loop reduces.
pub const ROWS: usize = 8;

/// Per row, `Σ x[i]` and (when `DOT`) `Σ x[i]·w[i]`, each left to right.
pub fn sums<const DOT: bool>(x: [&[f32]; ROWS], w: [&[f32]; ROWS]) -> ([f32; ROWS], [f32; ROWS]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked just above).
        return unsafe { avx::sums::<DOT>(x, w) };
    }
    scalar_sums::<DOT>(x, w, 0, [-0.0; ROWS], [-0.0; ROWS])
}

/// Per row, `Σ (x[i] − mean)²`, left to right.
pub fn squared_deviations(x: [&[f32]; ROWS], mean: [f32; ROWS]) -> [f32; ROWS] {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU supports AVX (checked just above).
        return unsafe { avx::squared_deviations(x, mean) };
    }
    scalar_squared_deviations(x, mean, 0, [-0.0; ROWS])
}

/// `sums` from element `from` on, continuing running sums `sum` and `dot`.
// Index loops on purpose: every row advances one element per step.
#[allow(clippy::needless_range_loop)]
fn scalar_sums<const DOT: bool>(
    x: [&[f32]; ROWS],
    w: [&[f32]; ROWS],
    from: usize,
    mut sum: [f32; ROWS],
    mut dot: [f32; ROWS],
) -> ([f32; ROWS], [f32; ROWS]) {
    let len = x[0].len();
    let (x, w) = (x.map(|r| &r[..len]), w.map(|r| &r[..len]));
    for i in from..len {
        for j in 0..ROWS {
            sum[j] += x[j][i];
            if DOT {
                dot[j] += x[j][i] * w[j][i];
            }
        }
    }
    (sum, dot)
}

/// `squared_deviations` from element `from` on, continuing `sq`.
#[allow(clippy::needless_range_loop)]
fn scalar_squared_deviations(
    x: [&[f32]; ROWS],
    mean: [f32; ROWS],
    from: usize,
    mut sq: [f32; ROWS],
) -> [f32; ROWS] {
    let len = x[0].len();
    let x = x.map(|r| &r[..len]);
    for i in from..len {
        for j in 0..ROWS {
            sq[j] += (x[j][i] - mean[j]) * (x[j][i] - mean[j]);
        }
    }
    sq
}

#[cfg(target_arch = "x86_64")]
mod avx {
    use super::{scalar_squared_deviations, scalar_sums, ROWS};
    use std::arch::x86_64::*;

    /// Elements `i..i + 8` of every row, transposed: lane j of vector t is
    /// `rows[j][i + t]`.
    ///
    /// # Safety
    /// AVX must be available and every row must hold `i + 8` elements.
    #[inline]
    #[target_feature(enable = "avx")]
    unsafe fn columns(rows: &[&[f32]; ROWS], i: usize) -> [__m256; ROWS] {
        let r: [__m256; ROWS] = std::array::from_fn(|j| _mm256_loadu_ps(rows[j].as_ptr().add(i)));
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ]
    }

    fn lanes(v: __m256) -> [f32; ROWS] {
        let mut out = [0.0f32; ROWS];
        // SAFETY: `out` holds eight f32; the store is unaligned.
        unsafe { _mm256_storeu_ps(out.as_mut_ptr(), v) };
        out
    }

    /// # Safety
    /// AVX must be available.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn sums<const DOT: bool>(
        x: [&[f32]; ROWS],
        w: [&[f32]; ROWS],
    ) -> ([f32; ROWS], [f32; ROWS]) {
        let len = x[0].len();
        let (x, w) = (x.map(|r| &r[..len]), w.map(|r| &r[..len]));
        let (mut sum, mut dot) = (_mm256_set1_ps(-0.0), _mm256_set1_ps(-0.0));
        let whole = len - len % 8;
        for i in (0..whole).step_by(8) {
            // SAFETY: every row holds `len >= i + 8` elements.
            let xc = unsafe { columns(&x, i) };
            for c in xc {
                sum = _mm256_add_ps(sum, c);
            }
            if DOT {
                // SAFETY: as above.
                let wc = unsafe { columns(&w, i) };
                for (c, d) in xc.into_iter().zip(wc) {
                    dot = _mm256_add_ps(dot, _mm256_mul_ps(c, d));
                }
            }
        }
        scalar_sums::<DOT>(x, w, whole, lanes(sum), lanes(dot))
    }

    /// # Safety
    /// AVX must be available.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn squared_deviations(x: [&[f32]; ROWS], mean: [f32; ROWS]) -> [f32; ROWS] {
        let len = x[0].len();
        let x = x.map(|r| &r[..len]);
        // SAFETY: `mean` holds eight f32; the load is unaligned.
        let m = unsafe { _mm256_loadu_ps(mean.as_ptr()) };
        let mut sq = _mm256_set1_ps(-0.0);
        let whole = len - len % 8;
        for i in (0..whole).step_by(8) {
            // SAFETY: every row holds `len >= i + 8` elements.
            for c in unsafe { columns(&x, i) } {
                let d = _mm256_sub_ps(c, m);
                sq = _mm256_add_ps(sq, _mm256_mul_ps(d, d));
            }
        }
        scalar_squared_deviations(x, mean, whole, lanes(sq))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(len: usize, seed: f32) -> Vec<Vec<f32>> {
        (0..ROWS)
            .map(|j| {
                (0..len)
                    .map(|i| ((i * ROWS + j) as f32 * seed).sin() * 4.0 - 0.3)
                    .collect()
            })
            .collect()
    }

    #[test]
    fn every_path_sums_each_row_left_to_right() {
        for len in [0, 1, 7, 8, 9, 64, 101] {
            let (x, w) = (rows(len, 0.37), rows(len, 0.11));
            let xr: [&[f32]; ROWS] = std::array::from_fn(|j| &x[j][..]);
            let wr: [&[f32]; ROWS] = std::array::from_fn(|j| &w[j][..]);
            let (sum, dot) = sums::<true>(xr, wr);
            let mean = sum.map(|s| s / len.max(1) as f32);
            let sq = squared_deviations(xr, mean);
            for j in 0..ROWS {
                let want_sum: f32 = x[j].iter().sum();
                let want_dot: f32 = x[j].iter().zip(&w[j]).map(|(a, b)| a * b).sum();
                let want_sq: f32 = x[j].iter().map(|v| (v - mean[j]) * (v - mean[j])).sum();
                assert_eq!(
                    sum[j].to_bits(),
                    want_sum.to_bits(),
                    "sum, len {len}, row {j}"
                );
                assert_eq!(
                    dot[j].to_bits(),
                    want_dot.to_bits(),
                    "dot, len {len}, row {j}"
                );
                assert_eq!(sq[j].to_bits(), want_sq.to_bits(), "sq, len {len}, row {j}");
            }
            let scalar = scalar_sums::<true>(xr, wr, 0, [-0.0; ROWS], [-0.0; ROWS]);
            assert!(scalar == (sum, dot), "scalar path, len {len}");
            assert!(scalar_squared_deviations(xr, mean, 0, [-0.0; ROWS]) == sq);
        }
    }
}
