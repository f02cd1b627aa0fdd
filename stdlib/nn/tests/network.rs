//! Whole networks: every family builds, trains a step, describes itself with
//! consistent shapes, and round-trips through safetensors bit-identically.

use pipe_nn::optim::{Optimizer, OptimizerKind};
use pipe_nn::{Family, Mode, ModelSpec, Network, Tensor};
use pipe_sim::arch::Op;

fn spec(family: Family, input: [usize; 3]) -> ModelSpec {
    ModelSpec {
        family,
        input,
        classes: 10,
        dropout: 0.1,
        seed: 3,
    }
}

fn families() -> Vec<Family> {
    vec![
        Family::Mlp {
            hidden: vec![32, 16],
        },
        Family::Cnn {
            channels: vec![8, 16],
            kernel: 3,
            hidden: 16,
        },
        Family::Vit {
            patch: 2,
            dim: 16,
            depth: 2,
            heads: 2,
            mlp_ratio: 2.0,
        },
        Family::MobilenetV2 {
            width: 0.5,
            blocks: 5,
            expansion: 4,
        },
        Family::MobilenetV3 {
            width: 0.5,
            blocks: 5,
            expansion: 4,
            se: true,
        },
    ]
}

fn images(n: usize) -> Tensor {
    let data = (0..n * 64)
        .map(|i| ((i * 37) % 101) as f32 / 101.0)
        .collect();
    Tensor::from_vec(&[n, 1, 8, 8], data)
}

#[test]
fn every_family_trains_saves_and_reloads_bit_identically() {
    for family in families() {
        let spec = spec(family, [1, 8, 8]);
        let mut net = Network::build(&spec).unwrap();
        let mut opt = Optimizer::new(OptimizerKind::adamw(), 0.01);
        let before = net.forward(images(4), Mode::Eval);
        let logits = net.forward(images(4), Mode::Train);
        assert_eq!(logits.shape, vec![4, 10], "{}", spec.name());
        let labels = [1, 2, 3, 4];
        let out = pipe_nn::loss::cross_entropy(&logits, &labels, 0.0);
        net.backward(out.grad);
        net.step(&mut opt, 1e-2, 1.0);
        let after = net.forward(images(4), Mode::Eval);
        assert_ne!(before, after, "{}: a step changed nothing", spec.name());
        let bytes = net.save_weights().unwrap();
        let mut loaded = Network::load(&spec, &bytes).unwrap();
        assert_eq!(
            loaded.forward(images(4), Mode::Eval).data,
            after.data,
            "{}",
            spec.name()
        );
        let fresh = Network::build(&spec)
            .unwrap()
            .forward(images(4), Mode::Eval);
        assert_ne!(fresh, after);
    }
}

#[test]
fn descriptors_chain_shapes_and_count_work() {
    for family in families() {
        let spec = spec(family, [1, 28, 28]);
        let net = Network::build(&spec).unwrap();
        let arch = net.arch();
        assert_eq!(arch.input, vec![1, 28, 28]);
        assert!(arch.macs() > 0);
        let last = arch.layers.last().unwrap();
        assert!(
            matches!(
                last.op,
                Op::Linear {
                    out_features: 10,
                    tokens: 1,
                    ..
                }
            ),
            "{}: {last:?}",
            spec.name()
        );
        let mut prev: Option<[usize; 2]> = None;
        for layer in &arch.layers {
            if let Op::Conv2d { in_hw, out_hw, .. } = layer.op {
                if let Some(p) = prev {
                    assert!(
                        in_hw[0] <= p[0],
                        "{}: {} grows the image",
                        spec.name(),
                        layer.name
                    );
                }
                prev = Some(out_hw);
            }
        }
    }
}

#[test]
fn mobilenet_has_depthwise_convolutions_and_vit_attention_per_head() {
    let v2 = Network::build(&spec(families().remove(3), [1, 8, 8]))
        .unwrap()
        .arch();
    assert!(v2.layers.iter().any(
        |l| matches!(l.op, Op::Conv2d { groups, in_ch, .. } if groups == in_ch && groups > 1)
    ));
    let vit = Network::build(&spec(families().remove(2), [1, 8, 8]))
        .unwrap()
        .arch();
    assert!(vit.layers.iter().any(|l| matches!(
        l.op,
        Op::Matmul {
            m: 17,
            k: 8,
            n: 17,
            count: 2
        }
    )));
}

#[test]
fn bad_configurations_and_weights_are_rejected_with_reasons() {
    let bad_patch = spec(
        Family::Vit {
            patch: 3,
            dim: 16,
            depth: 1,
            heads: 2,
            mlp_ratio: 2.0,
        },
        [1, 8, 8],
    );
    let err = Network::build(&bad_patch).err().unwrap().to_string();
    assert!(err.contains("patch") && err.contains("divide"), "{err}");
    let bad_heads = spec(
        Family::Vit {
            patch: 2,
            dim: 10,
            depth: 1,
            heads: 4,
            mlp_ratio: 2.0,
        },
        [1, 8, 8],
    );
    assert!(Network::build(&bad_heads)
        .err()
        .unwrap()
        .to_string()
        .contains("heads"));
    let mut one_class = spec(families().remove(0), [1, 8, 8]);
    one_class.classes = 1;
    assert!(Network::build(&one_class).is_err());
    let mlp = spec(families().remove(0), [1, 8, 8]);
    let err = Network::load(&mlp, b"not safetensors")
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("safetensors"), "{err}");
    let cnn_weights = Network::build(&spec(families().remove(1), [1, 8, 8]))
        .unwrap()
        .save_weights()
        .unwrap();
    let err = Network::load(&mlp, &cnn_weights).err().unwrap().to_string();
    assert!(err.contains("missing"), "{err}");
}

#[test]
fn freezing_lower_blocks_leaves_them_untouched() {
    let spec = spec(families().remove(3), [1, 8, 8]);
    let mut net = Network::build(&spec).unwrap();
    let top = net.blocks.len() - 2;
    for block in &mut net.blocks[..top] {
        pipe_nn::Layer::visit(&mut block.body, "", &mut |_, p| p.set_trainable(false));
    }
    assert_eq!(net.lowest_trainable_block(), top);
    let mut stem_before = Vec::new();
    pipe_nn::Layer::visit(&mut net.blocks[0].body, "", &mut |_, p| {
        stem_before.push(p.value.clone())
    });
    let mut opt = Optimizer::new(OptimizerKind::adamw(), 0.01);
    let logits = net.forward(images(4), Mode::Train);
    let out = pipe_nn::loss::cross_entropy(&logits, &[0, 1, 2, 3], 0.0);
    net.backward(out.grad);
    net.step(&mut opt, 1e-2, 0.0);
    let mut stem_after = Vec::new();
    pipe_nn::Layer::visit(&mut net.blocks[0].body, "", &mut |_, p| {
        stem_after.push(p.value.clone())
    });
    assert_eq!(stem_before, stem_after);
}

#[test]
fn training_is_deterministic_for_a_seed() {
    use pipe_nn::optim::OptimizerKind;
    use pipe_nn::schedule::ScheduleKind;
    use pipe_nn::train::{train, Images, SampleError, TrainConfig};
    let x = images(40);
    let y: Vec<u32> = (0..40).map(|i| i % 10).collect();
    let cfg = |seed| TrainConfig {
        epochs: 2,
        batch_size: 8,
        lr: 1e-2,
        optimizer: OptimizerKind::adamw(),
        weight_decay: 0.01,
        schedule: ScheduleKind::Cosine,
        warmup_epochs: 1,
        clip: 1.0,
        label_smoothing: 0.1,
        augment: true,
        seed,
    };
    let run = |seed| {
        let mut net = Network::build(&spec(families().remove(4), [1, 8, 8])).unwrap();
        let data = Images {
            x: &x.data,
            y: &y,
            shape: [1, 8, 8],
        };
        let curve = train(&mut net, &data, &cfg(seed), |_| Ok::<(), SampleError>(())).unwrap();
        (curve, net.save_weights().unwrap())
    };
    let (a, b, c) = (run(1), run(1), run(2));
    assert_eq!(a, b);
    assert_ne!(a.1, c.1);
}

/// A panic inside a forward or backward reaches the caller: the pool thread
/// that keeps itself busy during the call (`Network`'s `in_pool`) stops too,
/// instead of spinning forever and hanging the call.
#[test]
fn a_panic_inside_a_pass_reaches_the_caller() {
    let mut net = Network::build(&spec(Family::Mlp { hidden: vec![8] }, [1, 8, 8])).unwrap();
    net.forward(images(2), Mode::Train);
    net.backward(Tensor::zeros(&[2, 10]));
    let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        net.backward(Tensor::zeros(&[2, 10]));
    }));
    assert!(
        again.is_err(),
        "a second backward without a forward must panic"
    );
    let logits = net.forward(images(2), Mode::Eval);
    assert_eq!(logits.shape, vec![2, 10]);
}
