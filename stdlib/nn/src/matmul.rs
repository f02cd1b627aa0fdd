//! Matrix products on strided f32 slices through the `gemm` crate (0.19, whose
//! `x86-v4` kernels are picked at run time). Every hot product of the backend
//! (linear, im2col convolution, attention) goes through `matmul`.

use gemm::Parallelism;
use rayon::prelude::*;

/// A read-only strided matrix view: element `(i, j)` is `data[i * rs + j * cs]`.
#[derive(Clone, Copy)]
pub struct View<'a> {
    pub data: &'a [f32],
    pub rows: usize,
    pub cols: usize,
    pub rs: usize,
    pub cs: usize,
}

impl<'a> View<'a> {
    /// A dense row-major `rows × cols` matrix.
    pub fn rows(data: &'a [f32], rows: usize, cols: usize) -> View<'a> {
        View {
            data,
            rows,
            cols,
            rs: cols,
            cs: 1,
        }
    }

    /// The transpose, without copying.
    pub fn t(self) -> View<'a> {
        View {
            data: self.data,
            rows: self.cols,
            cols: self.rows,
            rs: self.cs,
            cs: self.rs,
        }
    }

    fn last_index(&self) -> usize {
        if self.rows == 0 || self.cols == 0 {
            return 0;
        }
        (self.rows - 1) * self.rs + (self.cols - 1) * self.cs
    }
}

/// Whether a product may use the rayon pool. Inner products that already run
/// inside a parallel loop pass `Threads::One`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    One,
    Pool,
}

/// Products with fewer multiply-adds per pool thread than this run on the
/// calling thread: handing work to a second thread costs more than it saves.
const MIN_MACS_PER_PART: usize = 1 << 18;

/// `c = a · b` (or `c += a · b` when `accumulate`), where `c` is row-major with
/// row stride `c_rs`. Panics on mismatched shapes or short buffers: those are
/// backend bugs, never user input.
///
/// With `Threads::Pool` a large product is cut into one part per pool thread
/// along its longer output side (rows of `a` or columns of `b`), each part a
/// single-threaded `gemm`: one task per thread, where gemm's own threading
/// spawns many. A cut must not change a single bit (documented results were
/// computed without it), so it is taken only where every part runs the same
/// kernel over the same depth blocks as the whole product (`cut_keeps_bits`);
/// other large products keep gemm's own threading. The unit tests compare
/// both against the serial product bit for bit.
pub fn matmul(c: &mut [f32], c_rs: usize, a: View, b: View, accumulate: bool, threads: Threads) {
    let (m, k, n) = (a.rows, a.cols, b.cols);
    assert_eq!(b.rows, k, "matmul inner dimensions");
    assert!(
        a.data.len() > a.last_index() || m * k == 0,
        "matmul lhs too short"
    );
    assert!(
        b.data.len() > b.last_index() || k * n == 0,
        "matmul rhs too short"
    );
    if m == 0 || n == 0 {
        return;
    }
    assert!(c.len() > (m - 1) * c_rs + n - 1, "matmul output too short");
    if k == 0 {
        if !accumulate {
            for i in 0..m {
                c[i * c_rs..i * c_rs + n].fill(0.0);
            }
        }
        return;
    }
    let parts = match threads {
        Threads::One => 1,
        Threads::Pool => (m * n * k / MIN_MACS_PER_PART).clamp(1, rayon::current_num_threads()),
    };
    let out = Out(c.as_mut_ptr());
    let by_rows = m >= n;
    let len = if by_rows { m } else { n };
    let per = len.div_ceil(parts);
    let parts = len.div_ceil(per);
    let last = len - (parts - 1) * per;
    let part_shapes = if by_rows {
        [(per, n), (last, n)]
    } else {
        [(m, per), (m, last)]
    };
    // SAFETY (all three calls): the assertions above bound every element of
    // the product.
    if parts == 1 {
        unsafe { gemm_call(out, c_rs, a, b, accumulate, Parallelism::None) };
        return;
    }
    if !cut_keeps_bits(k, (m, n), part_shapes) {
        let pool = Parallelism::Rayon(0);
        unsafe { gemm_call(out, c_rs, a, b, accumulate, pool) };
        return;
    }
    (0..parts).into_par_iter().for_each(|p| {
        let (lo, hi) = (p * per, ((p + 1) * per).min(len));
        if lo >= hi {
            return;
        }
        // SAFETY: part `p` reads a sub-view of `a` or `b` and writes only rows
        // (or columns) `lo..hi` of the output, disjoint from every other
        // part's; all lie inside the bounds asserted above.
        unsafe {
            if by_rows {
                let a = View {
                    data: &a.data[lo * a.rs..],
                    rows: hi - lo,
                    ..a
                };
                gemm_call(out.at(lo * c_rs), c_rs, a, b, accumulate, Parallelism::None);
            } else {
                let b = View {
                    data: &b.data[lo * b.cs..],
                    cols: hi - lo,
                    ..b
                };
                gemm_call(out.at(lo), c_rs, a, b, accumulate, Parallelism::None);
            }
        }
    });
}

/// The output pointer, shared by the parts of a cut product (each writes its
/// own disjoint rows or columns).
#[derive(Clone, Copy)]
struct Out(*mut f32);

// SAFETY: parts write disjoint elements (see `matmul`).
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

impl Out {
    /// # Safety
    /// `offset` must lie inside the output slice.
    unsafe fn at(self, offset: usize) -> Out {
        Out(self.0.add(offset))
    }
}

/// Whether every part of a cut of an `m × n` output (a full part and the last
/// one) computes each output element exactly as the uncut product would.
/// gemm 0.19 (gemm-common `gemm.rs`) changes its arithmetic with the shape in
/// three places: depth blocks of 512 for outputs within 64×64 but
/// cache-derived ones (which depend on `k` only) above, so a part must stay on
/// the whole product's side of that line unless `k <= 512` (one block either
/// way); a horizontal kernel that sums along the depth in SIMD lanes for
/// outputs of at most 256 elements; and matrix-vector kernels for a single row
/// or column.
fn cut_keeps_bits(k: usize, (m, n): (usize, usize), parts: [(usize, usize); 2]) -> bool {
    let small = |r: usize, c: usize| r <= 64 && c <= 64;
    parts.iter().all(|&(r, c)| {
        let same_blocks = k <= 512 || small(r, c) == small(m, n);
        same_blocks && r > 1 && c > 1 && r * c > 256
    })
}

/// One `gemm` call.
///
/// # Safety
/// `c` must point at an `a.rows × b.cols` block of row stride `c_rs` that no
/// one else touches during the call, and `a` and `b` must cover their extents.
unsafe fn gemm_call(
    c: Out,
    c_rs: usize,
    a: View,
    b: View,
    accumulate: bool,
    parallelism: Parallelism,
) {
    gemm::gemm(
        a.rows,
        b.cols,
        a.cols,
        c.0,
        1,
        c_rs as isize,
        accumulate,
        a.data.as_ptr(),
        a.cs as isize,
        a.rs as isize,
        b.data.as_ptr(),
        b.cs as isize,
        b.rs as isize,
        1.0,
        1.0,
        false,
        false,
        false,
        parallelism,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: View, b: View) -> Vec<f32> {
        let mut c = vec![0.0; a.rows * b.cols];
        for i in 0..a.rows {
            for j in 0..b.cols {
                for p in 0..a.cols {
                    c[i * b.cols + j] += a.data[i * a.rs + p * a.cs] * b.data[p * b.rs + j * b.cs];
                }
            }
        }
        c
    }

    #[test]
    fn matches_naive_product_with_transposes_and_accumulation() {
        let a: Vec<f32> = (0..35).map(|i| (i as f32 * 0.37).sin()).collect();
        let b: Vec<f32> = (0..35).map(|i| (i as f32 * 0.11).cos()).collect();
        let av = View::rows(&a, 5, 7);
        let bv = View::rows(&b, 5, 7).t();
        let want = naive(av, bv);
        let mut c = vec![1.0; 25];
        matmul(&mut c, 5, av, bv, false, Threads::Pool);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - y).abs() < 1e-5);
        }
        matmul(&mut c, 5, av, bv, true, Threads::One);
        for (x, y) in c.iter().zip(&want) {
            assert!((x - 2.0 * y).abs() < 1e-4);
        }
    }

    /// A product cut across pool threads equals the single-threaded one bit
    /// for bit, on both cut directions, transposed views, accumulation, and a
    /// depth long enough for gemm to block it.
    #[test]
    fn cut_products_equal_the_serial_product_bit_for_bit() {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .expect("a test pool");
        for (m, k, n) in [
            (256, 64, 128),
            (16, 27, 3000),
            (300, 2000, 40),
            (97, 130, 91),
            (100, 700, 60),
            (256, 784, 128),
        ] {
            let a: Vec<f32> = (0..m * k).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..k * n).map(|i| (i as f32 * 0.11).cos()).collect();
            let av = View::rows(&a, m, k);
            let bv = View::rows(&b, n, k).t();
            let mut serial = vec![0.5; m * n];
            matmul(&mut serial, n, av, bv, true, Threads::One);
            let mut cut = vec![0.5; m * n];
            pool.install(|| matmul(&mut cut, n, av, bv, true, Threads::Pool));
            assert!(m * n * k / MIN_MACS_PER_PART >= 2, "{m}x{k}x{n} is not cut");
            assert!(serial == cut, "{m}x{k}x{n}");
        }
    }
}
