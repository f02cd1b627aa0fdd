//! Runs a hot loop compiled for AVX2 when the CPU has it. The crate is built
//! for baseline x86-64 (SSE2, 4 lanes), so its loops vectorize 4 wide;
//! `run` hands a closure to a function compiled with AVX2 enabled, and the
//! closure (called once, so inlined there) vectorizes 8 wide.
//!
//! It must never change a result: only AVX2 is enabled, not FMA, and Rust
//! never fuses or reorders float operations, so every element sees the same
//! IEEE operations at either width and the bits are the same on every
//! machine. Helpers that a wrapped loop calls are `#[inline(always)]` so they
//! are compiled into the AVX2 body too.

/// `f()`, compiled for AVX2 where the CPU has it.
#[inline(always)]
pub fn run<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2 (checked just above).
        return unsafe { run_avx2(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapped_loops_give_the_same_bits() {
        let x: Vec<f32> = (0..1000).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
        let plain: Vec<f32> = x
            .iter()
            .map(|&v| crate::approx::tanh(v) * 0.5 + v)
            .collect();
        let wide = run(|| {
            x.iter()
                .map(|&v| crate::approx::tanh(v) * 0.5 + v)
                .collect::<Vec<f32>>()
        });
        assert!(plain == wide);
    }
}
