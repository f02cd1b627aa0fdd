//! Finite-difference gradient checks: for every layer, backward's input and
//! parameter gradients must match central differences of the scalar
//! loss Σ y·r for a fixed random r.

use pipe_nn::activation::{Act, Activation};
use pipe_nn::attention::MultiHeadAttention;
use pipe_nn::conv::{Conv2d, ConvShape};
use pipe_nn::dropout::Dropout;
use pipe_nn::init::Rng8;
use pipe_nn::linear::Linear;
use pipe_nn::norm::{BatchNorm2d, LayerNorm};
use pipe_nn::pool::{GlobalAvgPool, Pool2d, PoolKind};
use pipe_nn::reshape::{ChannelMajor, Flatten};
use pipe_nn::sequential::{Residual, Sequential, SqueezeExcite};
use pipe_nn::tokens::{ClsPosEmbed, PatchEmbed, TakeCls};
use pipe_nn::{Layer, Mode, Tensor};
use rand::{Rng, SeedableRng};

fn rng() -> Rng8 {
    Rng8::seed_from_u64(7)
}

fn random(shape: &[usize], rng: &mut Rng8) -> Tensor {
    let n = shape.iter().product();
    Tensor::from_vec(shape, (0..n).map(|_| rng.gen_range(-1.0..1.0)).collect())
}

fn loss(layer: &mut dyn Layer, x: &Tensor, r: &[f32]) -> f64 {
    let y = layer.forward(x.clone(), Mode::Train);
    layer.clear_cache();
    y.data
        .iter()
        .zip(r)
        .map(|(a, b)| f64::from(*a) * f64::from(*b))
        .sum()
}

fn close(analytic: f32, numeric: f64, what: &str) {
    let (a, n) = (f64::from(analytic), numeric);
    let tol = 2e-2 * n.abs().max(a.abs()) + 2e-3;
    assert!((a - n).abs() <= tol, "{what}: analytic {a} vs numeric {n}");
}

/// Checks up to `samples` coordinates of the input and of every trainable param.
fn check(layer: &mut dyn Layer, x: Tensor, samples: usize) {
    let mut rng = Rng8::seed_from_u64(11);
    let y = layer.forward(x.clone(), Mode::Train);
    let r: Vec<f32> = (0..y.len()).map(|_| rng.gen_range(-1.0..1.0)).collect();
    layer.visit("", &mut |_, p| p.zero_grad());
    let dx = layer.backward(Tensor::from_vec(&y.shape, r.clone()));
    assert_eq!(dx.shape, x.shape, "input gradient shape");
    let eps = 1e-2f32;
    for _ in 0..samples {
        let i = rng.gen_range(0..x.len());
        let mut xp = x.clone();
        xp.data[i] += eps;
        let mut xm = x.clone();
        xm.data[i] -= eps;
        let numeric = (loss(layer, &xp, &r) - loss(layer, &xm, &r)) / (2.0 * f64::from(eps));
        close(dx.data[i], numeric, &format!("dx[{i}]"));
    }
    let mut names = Vec::new();
    let mut grads = Vec::new();
    layer.visit("", &mut |name, p| {
        if p.trainable() {
            names.push(name.to_string());
            grads.push(p.grad.clone());
        }
    });
    for (name, grad) in names.iter().zip(&grads) {
        for _ in 0..samples.min(grad.len()) {
            let i = rng.gen_range(0..grad.len());
            let at = |delta: f32, layer: &mut dyn Layer| {
                layer.visit("", &mut |n, p| {
                    if n == name {
                        p.value.data[i] += delta;
                    }
                });
            };
            at(eps, layer);
            let plus = loss(layer, &x, &r);
            at(-2.0 * eps, layer);
            let minus = loss(layer, &x, &r);
            at(eps, layer);
            close(
                grad[i],
                (plus - minus) / (2.0 * f64::from(eps)),
                &format!("{name}[{i}]"),
            );
        }
    }
}

#[test]
fn linear_on_rows_and_tokens() {
    let mut r = rng();
    let mut l = Linear::new(5, 3, true, &mut r);
    check(&mut l, random(&[4, 5], &mut r), 12);
    check(&mut l, random(&[2, 3, 5], &mut r), 12);
}

#[test]
fn every_activation() {
    let mut r = rng();
    for act in [
        Act::Relu,
        Act::Relu6,
        Act::Gelu,
        Act::HardSwish,
        Act::HardSigmoid,
    ] {
        let mut x = random(&[3, 8], &mut r);
        x.data.iter_mut().for_each(|v| *v *= 5.0);
        check(&mut Activation::new(act), x, 20);
    }
}

#[test]
fn layer_norm() {
    let mut r = rng();
    let mut ln = LayerNorm::new(6);
    ln.weight.value.data = (0..6).map(|i| 0.5 + i as f32 * 0.2).collect();
    ln.bias.value.data = (0..6).map(|i| i as f32 * 0.1).collect();
    check(&mut ln, random(&[4, 6], &mut r), 16);
}

#[test]
fn batch_norm_with_batch_and_frozen_statistics() {
    let mut r = rng();
    let mut bn = BatchNorm2d::new(3);
    bn.weight.value.data = vec![0.7, 1.3, -0.4];
    check(&mut bn, random(&[3, 2, 3, 3], &mut r), 16);
    bn.freeze_stats = true;
    bn.running_mean.value.data = vec![0.1, -0.2, 0.3];
    bn.running_var.value.data = vec![0.5, 1.5, 2.0];
    bn.weight.set_trainable(false);
    check(&mut bn, random(&[3, 2, 3, 3], &mut r), 16);
}

#[test]
fn batch_norm_running_stats_follow_the_batch_and_drive_eval() {
    let mut r = rng();
    let mut bn = BatchNorm2d::new(2);
    let x = random(&[2, 4, 3, 3], &mut r);
    bn.forward(x.clone(), Mode::Train);
    let mean0: f32 = x.data[..36].iter().sum::<f32>() / 36.0;
    assert!((bn.running_mean.value.data[0] - 0.1 * mean0).abs() < 1e-6);
    let y = bn.forward(x.clone(), Mode::Eval);
    let rv = bn.running_var.value.data[0];
    let want = (x.data[0] - bn.running_mean.value.data[0]) / (rv + 1e-5).sqrt();
    assert!((y.data[0] - want).abs() < 1e-5);
}

#[test]
fn conv2d_general_strided_grouped_pointwise_and_depthwise() {
    let mut r = rng();
    let shapes = [
        (3, 4, 3, 1, 1, 1),
        (4, 6, 3, 2, 1, 2),
        (4, 4, 1, 1, 0, 1),
        (4, 4, 3, 2, 1, 4),
        (3, 2, 2, 2, 0, 1),
    ];
    for (in_ch, out_ch, kernel, stride, padding, groups) in shapes {
        let shape = ConvShape {
            in_ch,
            out_ch,
            kernel,
            stride,
            padding,
            groups,
        };
        let mut conv = Conv2d::new(shape, true, &mut r);
        check(&mut conv, random(&[in_ch, 2, 5, 5], &mut r), 16);
    }
}

#[test]
fn max_avg_and_global_pooling() {
    let mut r = rng();
    check(
        &mut Pool2d::new(PoolKind::Max, 2, 2),
        random(&[2, 2, 4, 4], &mut r),
        16,
    );
    check(
        &mut Pool2d::new(PoolKind::Avg, 3, 2),
        random(&[2, 2, 5, 5], &mut r),
        16,
    );
    check(&mut GlobalAvgPool::new(), random(&[3, 2, 3, 3], &mut r), 16);
}

#[test]
fn multi_head_attention() {
    let mut r = rng();
    let mut attn = MultiHeadAttention::new(8, 2, &mut r);
    check(&mut attn, random(&[2, 4, 8], &mut r), 24);
}

#[test]
fn token_layers() {
    let mut r = rng();
    check(
        &mut PatchEmbed::new(2, 2, 5, &mut r),
        random(&[2, 2, 4, 4], &mut r),
        16,
    );
    check(
        &mut ClsPosEmbed::new(3, 4, &mut r),
        random(&[2, 3, 4], &mut r),
        16,
    );
    check(&mut TakeCls::default(), random(&[2, 3, 4], &mut r), 8);
}

#[test]
fn layout_changes() {
    let mut r = rng();
    check(&mut ChannelMajor, random(&[2, 3, 2, 2], &mut r), 8);
    check(&mut Flatten::default(), random(&[2, 3, 2, 2], &mut r), 8);
}

#[test]
fn residual_and_squeeze_excite() {
    let mut r = rng();
    let mut body = Sequential::new();
    body.push("fc", Linear::new(4, 4, true, &mut r));
    body.push("act", Activation::new(Act::Gelu));
    check(&mut Residual { body }, random(&[3, 4], &mut r), 12);
    check(
        &mut SqueezeExcite::new(4, 2, &mut r),
        random(&[4, 2, 3, 3], &mut r),
        16,
    );
}

#[test]
fn dropout_backward_uses_the_forward_mask() {
    let mut r = rng();
    let mut d = Dropout::new(0.5, 3);
    let x = Tensor::from_vec(&[1000], vec![1.0; 1000]);
    let y = d.forward(x.clone(), Mode::Train);
    let dropped = y.data.iter().filter(|v| **v == 0.0).count();
    assert!(
        (400..600).contains(&dropped),
        "{dropped} of 1000 dropped at p=0.5"
    );
    assert!(y.data.iter().all(|v| *v == 0.0 || (*v - 2.0).abs() < 1e-6));
    let dx = d.backward(random(&[1000], &mut r));
    for (g, v) in dx.data.iter().zip(&y.data) {
        assert_eq!(*g == 0.0, *v == 0.0);
    }
    assert_eq!(d.forward(x.clone(), Mode::Eval), x);
}
