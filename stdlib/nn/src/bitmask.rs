//! `BitMask`: one bit per element, packed 64 to a word. MobileTL keeps such a
//! mask instead of an activation's input so the backward pass can gate the
//! output gradient (docs/papers.md section 3). It owns packing and gating only; which
//! bit an activation keeps is `activation.rs`'s business.

use rayon::prelude::*;

/// Words per parallel chunk; fixed, so results never depend on thread count.
const WORDS_PER_CHUNK: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BitMask {
    len: usize,
    words: Vec<u64>,
}

impl BitMask {
    /// Bit `i` is `keep(values[i])`.
    pub fn pack(values: &[f32], keep: impl Fn(f32) -> bool + Sync) -> BitMask {
        let mut words = vec![0u64; values.len().div_ceil(64)];
        words
            .par_chunks_mut(WORDS_PER_CHUNK)
            .zip(values.par_chunks(WORDS_PER_CHUNK * 64))
            .for_each(|(words, values)| {
                for (word, values) in words.iter_mut().zip(values.chunks(64)) {
                    *word = values
                        .iter()
                        .enumerate()
                        .fold(0, |w, (b, &v)| w | (u64::from(keep(v)) << b));
                }
            });
        BitMask {
            len: values.len(),
            words,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn get(&self, i: usize) -> bool {
        i < self.len && self.words[i / 64] >> (i % 64) & 1 == 1
    }

    /// Bytes of packed storage: one bit per element, rounded up to a word.
    pub fn bytes(&self) -> usize {
        self.words.len() * std::mem::size_of::<u64>()
    }

    /// Zeroes `grad[i]` wherever bit `i` is clear; `grad` has `len` elements.
    pub fn gate(&self, grad: &mut [f32]) {
        grad.par_chunks_mut(WORDS_PER_CHUNK * 64)
            .zip(self.words.par_chunks(WORDS_PER_CHUNK))
            .for_each(|(grad, words)| {
                for (g, &word) in grad.chunks_mut(64).zip(words) {
                    for (b, g) in g.iter_mut().enumerate() {
                        if word >> b & 1 == 0 {
                            *g = 0.0;
                        }
                    }
                }
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_one_bit_per_element_and_gates_exactly() {
        let values: Vec<f32> = (0..200).map(|i| (i as f32 * 0.37).sin()).collect();
        let mask = BitMask::pack(&values, |v| v > 0.0);
        assert_eq!(mask.len(), 200);
        assert_eq!(mask.bytes(), 32, "200 bits round up to four 64-bit words");
        for (i, &v) in values.iter().enumerate() {
            assert_eq!(mask.get(i), v > 0.0, "bit {i}");
        }
        assert!(!mask.get(200), "past the end reads as clear");
        let mut grad = vec![2.0; 200];
        mask.gate(&mut grad);
        for (g, v) in grad.iter().zip(&values) {
            assert_eq!(*g, if *v > 0.0 { 2.0 } else { 0.0 });
        }
    }
}
