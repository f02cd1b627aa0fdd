//! `Conv2d` (all three paths) against a direct six-loop convolution on the
//! same sample-major data.

use pipe_nn::conv::{Conv2d, ConvShape};
use pipe_nn::init::Rng8;
use pipe_nn::tensor::to_channel_major;
use pipe_nn::{Layer, Mode};
use rand::{Rng, SeedableRng};

/// y[n, o, oy, ox] = b[o] + Σ w[o, i, ky, kx] · x[n, g·cin_g + i, oy·s + ky − p, ox·s + kx − p].
fn naive(
    s: &ConvShape,
    w: &[f32],
    b: &[f32],
    x: &[f32],
    n: usize,
    h: usize,
    wd: usize,
) -> Vec<f32> {
    let (oh, ow) = (s.out_side(h), s.out_side(wd));
    let (cin_g, cout_g, k) = (s.in_ch / s.groups, s.out_ch / s.groups, s.kernel);
    let mut y = vec![0.0; n * s.out_ch * oh * ow];
    for bi in 0..n {
        for o in 0..s.out_ch {
            let g = o / cout_g;
            for oy in 0..oh {
                for ox in 0..ow {
                    let mut acc = b[o];
                    for i in 0..cin_g {
                        let ci = g * cin_g + i;
                        for ky in 0..k {
                            for kx in 0..k {
                                let iy = (oy * s.stride + ky) as isize - s.padding as isize;
                                let ix = (ox * s.stride + kx) as isize - s.padding as isize;
                                if iy < 0 || ix < 0 || iy >= h as isize || ix >= wd as isize {
                                    continue;
                                }
                                let xv =
                                    x[((bi * s.in_ch + ci) * h + iy as usize) * wd + ix as usize];
                                acc += w[((o * cin_g + i) * k + ky) * k + kx] * xv;
                            }
                        }
                    }
                    y[((bi * s.out_ch + o) * oh + oy) * ow + ox] = acc;
                }
            }
        }
    }
    y
}

#[test]
fn conv2d_matches_naive_convolution() {
    let mut rng = Rng8::seed_from_u64(5);
    let cases = [
        (3, 8, 3, 1, 1, 1),
        (3, 8, 3, 2, 1, 1),
        (4, 6, 3, 1, 0, 2),
        (8, 8, 3, 1, 1, 8),
        (8, 8, 3, 2, 1, 8),
        (4, 8, 3, 1, 1, 4),
        (6, 9, 1, 1, 0, 3),
        (5, 7, 1, 1, 0, 1),
        (2, 3, 5, 3, 2, 1),
    ];
    for (in_ch, out_ch, kernel, stride, padding, groups) in cases {
        let s = ConvShape {
            in_ch,
            out_ch,
            kernel,
            stride,
            padding,
            groups,
        };
        let (n, h, w) = (3, 7, 6);
        let mut conv = Conv2d::new(s, true, &mut rng);
        let x: Vec<f32> = (0..n * in_ch * h * w)
            .map(|_| rng.gen_range(-1.0..1.0))
            .collect();
        let bias = conv
            .bias
            .as_ref()
            .map(|b| b.value.data.clone())
            .unwrap_or_default();
        let want = naive(&s, &conv.weight.value.data, &bias, &x, n, h, w);
        let y = conv.forward(to_channel_major(&x, n, in_ch, h, w), Mode::Eval);
        let (oh, ow) = (s.out_side(h), s.out_side(w));
        assert_eq!(y.shape, vec![out_ch, n, oh, ow]);
        let got = to_channel_major(&y.data, out_ch, n, oh, ow);
        for (i, (a, b)) in got.data.iter().zip(&want).enumerate() {
            assert!((a - b).abs() < 1e-4, "{s:?}: output {i}: {a} vs naive {b}");
        }
    }
}
