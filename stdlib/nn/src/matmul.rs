//! Matrix products on strided f32 slices through the `gemm` crate (0.19, whose
//! `x86-v4` kernels are picked at run time). Every hot product of the backend
//! (linear, im2col convolution, attention) goes through `matmul`.

use gemm::Parallelism;

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

/// `c = a · b` (or `c += a · b` when `accumulate`), where `c` is row-major with
/// row stride `c_rs`. Panics on mismatched shapes or short buffers: those are
/// backend bugs, never user input.
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
    let parallelism = match threads {
        Threads::One => Parallelism::None,
        Threads::Pool => Parallelism::Rayon(0),
    };
    // SAFETY: the assertions above bound every index gemm reads or writes:
    // lhs (m×k), rhs (k×n) and dst (m×n) with the given strides lie inside
    // their slices, and `c` is borrowed mutably so nothing aliases it.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
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
}
