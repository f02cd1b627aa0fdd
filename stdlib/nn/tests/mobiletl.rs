//! MobileTL and the fine-tuning baselines: 1-bit activation masks (exact for
//! ReLU6, the documented surrogate for Hard-Swish), shift-only norms, block
//! gradients against the vanilla block, and the memory a block keeps for
//! backward, measured with the counting allocator this test binary installs.

use pipe_nn::activation::{Act, Activation, HardSwishMask};
use pipe_nn::finetune::{backward_flops, configure, transfer, Method};
use pipe_nn::loss::cross_entropy;
use pipe_nn::memory::{measure_step, tensor_bytes, track, Counting};
use pipe_nn::mobiletl::{inverted_residual_mut, layer_mut, shift_only, INNER_NORMS};
use pipe_nn::norm::BatchNorm2d;
use pipe_nn::optim::{Optimizer, OptimizerKind};
use pipe_nn::{Family, Layer, Mode, ModelSpec, Network, Tensor};
use rand::{Rng, SeedableRng};
use std::alloc::System;

#[global_allocator]
static ALLOC: Counting<System> = Counting(System);

fn random(shape: &[usize], seed: u64, scale: f32) -> Tensor {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let n = shape.iter().product();
    Tensor::from_vec(
        shape,
        (0..n).map(|_| rng.gen_range(-scale..scale)).collect(),
    )
}

fn mobilenet(v3: bool, input: [usize; 3]) -> ModelSpec {
    let family = if v3 {
        Family::MobilenetV3 {
            width: 1.0,
            blocks: 5,
            expansion: 6,
            se: true,
        }
    } else {
        Family::MobilenetV2 {
            width: 1.0,
            blocks: 5,
            expansion: 6,
        }
    };
    ModelSpec {
        family,
        input,
        classes: 4,
        dropout: 0.0,
        seed: 7,
    }
}

fn activation_grads(act: Act, packed: Option<HardSwishMask>, x: &Tensor, dy: &Tensor) -> Vec<f32> {
    let mut a = Activation::new(act);
    if let Some(h) = packed {
        a.pack_backward(h).unwrap();
    }
    a.forward(x.clone(), Mode::Train);
    a.backward(dy.clone()).data
}

#[test]
fn relu6_mask_backward_equals_the_exact_backward() {
    let x = random(&[4096], 1, 8.0);
    let dy = random(&[4096], 2, 1.0);
    let exact = activation_grads(Act::Relu6, None, &x, &dy);
    let masked = activation_grads(Act::Relu6, Some(HardSwishMask::Sign), &x, &dy);
    assert_eq!(exact, masked);
}

#[test]
fn hardswish_mask_is_the_documented_step_and_exact_outside_the_ramp() {
    let x = random(&[4096], 3, 5.0);
    let dy = random(&[4096], 4, 1.0);
    let exact = activation_grads(Act::HardSwish, None, &x, &dy);
    for (mask, threshold) in [(HardSwishMask::Sign, -1.5), (HardSwishMask::Step, 0.0)] {
        let masked = activation_grads(Act::HardSwish, Some(mask), &x, &dy);
        let mut differ = 0;
        for i in 0..x.len() {
            let v = x.data[i];
            assert_eq!(masked[i], if v > threshold { dy.data[i] } else { 0.0 });
            if v.abs() >= 3.0 {
                assert_eq!(masked[i], exact[i], "outside (-3, 3) the mask is exact");
            }
            differ += usize::from(masked[i] != exact[i]);
        }
        assert!(differ > 0, "{mask:?}: the ramp is approximated");
    }
}

#[test]
fn gelu_has_no_one_bit_backward() {
    let err = Activation::new(Act::Gelu)
        .pack_backward(HardSwishMask::Sign)
        .unwrap_err();
    assert!(err.to_string().contains("only ReLU"), "{err}");
}

#[test]
fn packed_mask_keeps_one_bit_per_element() {
    let mut a = Activation::new(Act::Relu6);
    a.pack_backward(HardSwishMask::Sign).unwrap();
    let x = random(&[8, 16, 32], 5, 8.0);
    let elements = x.len();
    let x_bytes = tensor_bytes(&x) as isize;
    let (held, _) = track(|| {
        let y = a.forward(x, Mode::Train);
        pipe_nn::memory::live() - tensor_bytes(&y) as isize + x_bytes
    });
    assert_eq!(held, (elements / 8) as isize, "one bit per element");
}

#[test]
fn shift_only_norm_keeps_nothing_and_matches_the_frozen_scale_gradient() {
    let x = random(&[6, 4, 5, 5], 6, 2.0);
    let dy = random(&[6, 4, 5, 5], 7, 1.0);
    let mut reference = BatchNorm2d::new(6);
    reference.freeze_stats = true;
    reference.running_mean.value.data = vec![0.1, -0.2, 0.3, 0.0, 0.5, -0.1];
    reference.weight.value.data = vec![1.5, 0.5, -1.0, 2.0, 1.0, 0.7];
    let mut lean = BatchNorm2d::new(6);
    lean.running_mean.value = reference.running_mean.value.clone();
    lean.weight.value = reference.weight.value.clone();
    shift_only(&mut lean);
    let y_ref = reference.forward(x.clone(), Mode::Train);
    let x_bytes = tensor_bytes(&x) as isize;
    let (y, usage) = track(|| lean.forward(x, Mode::Train));
    let held = usage.net - tensor_bytes(&y) as isize + x_bytes;
    assert_eq!(y.data, y_ref.data);
    assert!(
        held <= 64,
        "only six inverse deviations are kept, got {held} bytes"
    );
    assert_eq!(lean.backward(dy.clone()).data, reference.backward(dy).data);
    assert_eq!(lean.bias.grad, reference.bias.grad);
    assert!(lean.weight.grad.is_empty(), "the scale is frozen");
}

/// Param gradients by name after one step on a fixed batch.
fn step_grads(net: &mut Network, seed: u64) -> Vec<(String, Vec<f32>)> {
    let [c, h, w] = net.spec.input;
    let x = random(&[6, c, h, w], seed, 1.0);
    let labels = [0, 1, 2, 3, 0, 1];
    net.zero_grad();
    let logits = net.forward(x, Mode::Train);
    net.backward(cross_entropy(&logits, &labels, 0.0).grad);
    let mut grads = Vec::new();
    net.visit(&mut |name, p| {
        if p.trainable() {
            grads.push((name.to_string(), p.grad.clone()));
        }
    });
    grads
}

/// Top `blocks` vanilla blocks whose inner norms are shift-only, activations exact.
fn frozen_inner_norms(spec: &ModelSpec, blocks: usize) -> Network {
    let mut net = Network::build(spec).unwrap();
    configure(&mut net, Method::TopBlocks(blocks)).unwrap();
    let head = net.blocks.len() - 1;
    for block in &mut net.blocks[head - blocks..head] {
        let body = inverted_residual_mut(block).unwrap();
        for norm in INNER_NORMS {
            if let Some(bn) = layer_mut::<BatchNorm2d>(body, norm) {
                shift_only(bn);
            }
        }
    }
    net
}

fn mobiletl(spec: &ModelSpec, blocks: usize) -> Network {
    let mut net = Network::build(spec).unwrap();
    let hswish = HardSwishMask::Sign;
    configure(&mut net, Method::MobileTl { blocks, hswish }).unwrap();
    net
}

#[test]
fn mobiletl_v2_block_gradients_equal_the_vanilla_block_with_frozen_inner_norms() {
    let spec = mobilenet(false, [3, 12, 12]);
    let vanilla = step_grads(&mut frozen_inner_norms(&spec, 2), 8);
    let lean = step_grads(&mut mobiletl(&spec, 2), 8);
    assert_eq!(vanilla.len(), lean.len());
    assert!(vanilla.iter().any(|(n, _)| n.contains("dw_bn.bias")));
    for ((name, a), (other, b)) in vanilla.iter().zip(&lean) {
        assert_eq!(name, other);
        assert_eq!(a, b, "{name}: ReLU6 masks and frozen-stat norms are exact");
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b)).max(1e-12)
}

/// Sets every activation of the network's inverted residual blocks to `act`.
fn swap_block_activations(net: &mut Network, act: Act) {
    for block in &mut net.blocks {
        if let Some(body) = inverted_residual_mut(block) {
            for name in ["expand_act", "dw_act"] {
                if let Some(a) = layer_mut::<Activation>(body, name) {
                    a.act = act;
                }
            }
        }
    }
}

#[test]
fn mobiletl_v3_block_gradients_differ_only_by_the_hardswish_surrogate() {
    let spec = mobilenet(true, [3, 12, 12]);
    // With ReLU6 in place of Hard-Swish everything else in a V3 block
    // (squeeze-excite, shift-only norms, full last norm, convs) is exact ...
    let (mut vanilla, mut lean) = (frozen_inner_norms(&spec, 2), mobiletl(&spec, 2));
    swap_block_activations(&mut vanilla, Act::Relu6);
    swap_block_activations(&mut lean, Act::Relu6);
    assert_eq!(step_grads(&mut vanilla, 9), step_grads(&mut lean, 9));
    // ... so with Hard-Swish the blocks differ only by the mask, which the
    // activation test pins to dy·1[x > -1.5].
    let vanilla = step_grads(&mut frozen_inner_norms(&spec, 2), 9);
    let lean = step_grads(&mut mobiletl(&spec, 2), 9);
    let (mut all_a, mut all_b, mut differ) = (Vec::new(), Vec::new(), 0);
    for ((name, a), (_, b)) in vanilla.iter().zip(&lean) {
        if name.starts_with("head") {
            assert_eq!(a, b, "{name}: above the masked blocks nothing changes");
            continue;
        }
        differ += usize::from(a != b);
        all_a.extend_from_slice(a);
        all_b.extend_from_slice(b);
    }
    assert!(differ > 0, "the Hard-Swish ramp is approximated");
    let c = cosine(&all_a, &all_b);
    println!("V3 block gradients: cosine {c:.3} to the exact Hard-Swish backward");
    assert!(c > 0.9, "cosine {c}");
}

/// Bytes each trained inverted residual block keeps for backward.
fn block_bytes(net: &mut Network, seed: u64) -> Vec<(String, usize)> {
    let [c, h, w] = net.spec.input;
    let x = random(&[8, c, h, w], seed, 1.0);
    let labels = [0, 1, 2, 3, 0, 1, 2, 3];
    let mut opt = Optimizer::new(OptimizerKind::adamw(), 0.0);
    let m = measure_step(net, x, &labels, &mut opt, 1e-3).unwrap();
    assert_eq!(
        m.backward_bytes,
        m.blocks.iter().map(|b| b.bytes).sum::<usize>()
    );
    assert!(m.peak_bytes > m.backward_bytes);
    m.blocks
        .into_iter()
        .filter(|b| b.name.starts_with("block") && b.bytes > 0)
        .map(|b| (b.name, b.bytes))
        .collect()
}

#[test]
fn mobiletl_v2_blocks_keep_at_least_40_percent_less_for_backward() {
    let spec = mobilenet(false, [3, 16, 16]);
    let mut vanilla = Network::build(&spec).unwrap();
    configure(&mut vanilla, Method::TopBlocks(3)).unwrap();
    let vanilla = block_bytes(&mut vanilla, 10);
    let lean = block_bytes(&mut mobiletl(&spec, 3), 10);
    assert_eq!(vanilla.len(), 3, "{vanilla:?}");
    for ((name, v), (_, m)) in vanilla.iter().zip(&lean) {
        let reduction = 1.0 - *m as f64 / *v as f64;
        println!("V2 {name}: vanilla {v} B, MobileTL {m} B, reduction {reduction:.3}");
        assert!(
            reduction >= 0.40,
            "{name}: {m} vs {v} bytes, reduction {reduction:.3}"
        );
    }
}

#[test]
fn mobiletl_v3_blocks_keep_less_for_backward() {
    let spec = mobilenet(true, [3, 16, 16]);
    let mut vanilla = Network::build(&spec).unwrap();
    configure(&mut vanilla, Method::TopBlocks(3)).unwrap();
    let vanilla = block_bytes(&mut vanilla, 12);
    let lean = block_bytes(&mut mobiletl(&spec, 3), 12);
    assert_eq!(vanilla.len(), 3, "{vanilla:?}");
    for ((name, v), (_, m)) in vanilla.iter().zip(&lean) {
        let reduction = 1.0 - *m as f64 / *v as f64;
        println!("V3 {name}: vanilla {v} B, MobileTL {m} B, reduction {reduction:.3}");
        assert!(reduction >= 0.25, "{name}: {m} vs {v} bytes");
    }
}

#[test]
fn frozen_blocks_keep_nothing_and_cost_no_backward() {
    let spec = mobilenet(false, [3, 16, 16]);
    let mut net = Network::build(&spec).unwrap();
    let full = backward_flops(&mut net);
    configure(&mut net, Method::TopBlocks(1)).unwrap();
    let top = backward_flops(&mut net);
    let kept = block_bytes(&mut net, 11);
    assert_eq!(
        kept.len(),
        1,
        "only the top block keeps activations: {kept:?}"
    );
    configure(&mut net, Method::BiasOnly).unwrap();
    let bias = backward_flops(&mut net);
    assert!(top < full / 2, "top block {top} vs full {full}");
    assert!(bias < full, "no weight gradients: {bias} vs {full}");
}

#[test]
fn methods_refuse_what_they_cannot_do() {
    let mut net = Network::build(&mobilenet(false, [3, 16, 16])).unwrap();
    let err = configure(&mut net, Method::TopBlocks(9)).unwrap_err();
    assert!(err.to_string().contains("pass 1 to 5"), "{err}");
    let vit = ModelSpec {
        family: Family::Vit {
            patch: 4,
            dim: 16,
            depth: 2,
            heads: 2,
            mlp_ratio: 2.0,
        },
        ..mobilenet(false, [3, 16, 16])
    };
    let mut net = Network::build(&vit).unwrap();
    let hswish = HardSwishMask::Sign;
    let err = configure(&mut net, Method::MobileTl { blocks: 1, hswish }).unwrap_err();
    assert!(err.to_string().contains("mobilenet"), "{err}");
}

#[test]
fn transfer_keeps_the_backbone_and_replaces_a_different_classifier() {
    let mut source = Network::build(&mobilenet(false, [1, 28, 28])).unwrap();
    let target = ModelSpec {
        input: [1, 8, 8],
        classes: 10,
        ..mobilenet(false, [1, 28, 28])
    };
    let mut net = transfer(&mut source, &target).unwrap();
    let mut a = Vec::new();
    source.visit(&mut |n, p| a.push((n.to_string(), p.value.clone())));
    let mut same = 0;
    net.visit(&mut |n, p| {
        let src = a.iter().find(|(m, _)| m == n).map(|(_, v)| v);
        if n.starts_with("head.fc") {
            assert_eq!(p.value.shape[0], 10, "{n}: new classes");
        } else {
            assert_eq!(Some(&p.value), src, "{n}");
            same += 1;
        }
    });
    assert!(same > 20);
    let vit = |input| ModelSpec {
        family: Family::Vit {
            patch: 4,
            dim: 16,
            depth: 1,
            heads: 2,
            mlp_ratio: 2.0,
        },
        ..mobilenet(false, input)
    };
    let mut source = Network::build(&vit([1, 16, 16])).unwrap();
    let err = transfer(&mut source, &vit([1, 8, 8])).err().unwrap();
    assert!(err.to_string().contains("embed.tokens.pos"), "{err}");
}
