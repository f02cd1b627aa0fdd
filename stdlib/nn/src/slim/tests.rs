//! Slimmable networks against plain ones: the largest width is the base
//! network, a smaller width computes exactly what a plain network of the
//! sliced shape with the sliced weights computes (outputs and gradients),
//! batch norm keeps statistics per width, descriptors match the simulators'
//! slicing, and bad specs are explained.

use super::*;
use crate::layer::{Mode, Tensor};
use crate::param::Param;
use pipe_sim::workload;

fn spec(family: Family, seed: u64) -> ModelSpec {
    ModelSpec {
        family,
        input: [1, 8, 8],
        classes: 4,
        dropout: 0.0,
        seed,
    }
}

fn slimmable(base: Family, widths: &[f64]) -> Family {
    Family::Slimmable {
        base: Box::new(base),
        widths: widths.to_vec(),
        profile: Vec::new(),
    }
}

fn bases() -> Vec<Family> {
    vec![
        Family::Mlp {
            hidden: vec![12, 10],
        },
        Family::Cnn {
            channels: vec![6, 10],
            kernel: 3,
            hidden: 8,
        },
        Family::MobilenetV2 {
            width: 0.5,
            blocks: 4,
            expansion: 3,
        },
    ]
}

fn input(n: usize) -> Tensor {
    let data = (0..n * 64)
        .map(|i| ((i * 37 % 101) as f32 / 101.0) - 0.3)
        .collect();
    Tensor::from_vec(&[n, 1, 8, 8], data)
}

#[test]
fn the_largest_width_is_the_base_network() {
    for base in bases() {
        let mut plain = Network::build(&spec(base.clone(), 3)).unwrap();
        let mut slim = Network::build(&spec(slimmable(base, &[0.5, 1.0]), 3)).unwrap();
        let want = plain.forward(input(3), Mode::Eval);
        assert_eq!(slim.forward(input(3), Mode::Eval).data, want.data);
    }
}

#[test]
fn from_base_starts_from_the_base_weights() {
    let base = bases()[1].clone();
    let mut plain = Network::build(&spec(base, 3)).unwrap();
    plain.visit(&mut |_, p: &mut Param| p.value.data.iter_mut().for_each(|v| *v *= 1.5));
    let mut slim = from_base(&mut plain, vec![0.25, 1.0], 99).unwrap();
    let want = plain.forward(input(2), Mode::Eval);
    assert_eq!(slim.forward(input(2), Mode::Eval).data, want.data);
    assert_eq!(slim.spec.seed, 99);
}

/// Copies the leading block of `full` (shape `fs`) into `part` (shape `ps`, same rank).
fn copy_block(full: &[f32], fs: &[usize], part: &mut [f32], ps: &[usize]) {
    for (i, v) in part.iter_mut().enumerate() {
        let (mut rest, mut offset, mut stride) = (i, 0, 1);
        for d in (0..ps.len()).rev() {
            offset += (rest % ps[d]) * stride;
            rest /= ps[d];
            stride *= fs[d];
        }
        *v = full[offset];
    }
}

/// The plain network of width `w` of a CNN base, with the slimmable network's sliced weights.
fn sliced_plain(slim: &mut Network, w: f64) -> Network {
    let plain_family = Family::Cnn {
        channels: vec![scaled(6, w), scaled(10, w)],
        kernel: 3,
        hidden: scaled(8, w),
    };
    let mut plain = Network::build(&spec(plain_family, 1)).unwrap();
    let mut shared = HashMap::new();
    let label = width_label(w);
    slim.visit(&mut |name, p| {
        let key = name.replace(&format!("@{label}"), "");
        if !name.contains('@') || name.ends_with(&format!("@{label}")) {
            shared.insert(key, (p.value.data.clone(), p.value.shape.clone()));
        }
    });
    plain.visit(&mut |name, p| {
        let (data, shape) = &shared[name];
        let ps = p.value.shape.clone();
        if shape.len() == ps.len() {
            copy_block(data, shape, &mut p.value.data, &ps);
        } else {
            let n = p.value.len();
            p.value.data.copy_from_slice(&data[..n]);
        }
    });
    plain
}

#[test]
fn a_width_computes_the_sliced_plain_network_forward_and_backward() {
    let mut slim = Network::build(&spec(slimmable(bases()[1].clone(), &[0.5, 1.0]), 5)).unwrap();
    let mut plain = sliced_plain(&mut slim, 0.5);
    set_width(&mut slim, 0).unwrap();
    slim.zero_grad();
    plain.zero_grad();
    let ys = slim.forward(input(4), Mode::Train);
    let yp = plain.forward(input(4), Mode::Train);
    assert_eq!(ys.data, yp.data);
    let dy = Tensor::from_vec(
        &ys.shape,
        (0..ys.len()).map(|i| i as f32 / 10.0 - 0.7).collect(),
    );
    slim.backward(dy.clone());
    plain.backward(dy);
    let mut grads = HashMap::new();
    plain.visit(&mut |name, p| {
        grads.insert(name.to_string(), (p.grad.clone(), p.value.shape.clone()));
    });
    slim.visit(&mut |name, p| {
        let Some((g, shape)) = grads.get(name) else {
            return;
        };
        let mut sliced = vec![0.0; g.len()];
        copy_block(&p.grad, &p.value.shape, &mut sliced, shape);
        for (a, b) in sliced.iter().zip(g) {
            assert!(
                (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                "{name}: {a} vs {b}"
            );
        }
        let total: f32 = p.grad.iter().map(|v| v.abs()).sum();
        let inside: f32 = sliced.iter().map(|v| v.abs()).sum();
        assert!(
            (total - inside).abs() <= 1e-4 * (1.0 + total),
            "{name}: gradient outside the slice"
        );
    });
}

#[test]
fn batch_norm_statistics_are_kept_per_width() {
    let mut net = Network::build(&spec(slimmable(bases()[1].clone(), &[0.5, 1.0]), 2)).unwrap();
    let stats = |net: &mut Network| {
        let mut out = Vec::new();
        net.visit(&mut |name, p| {
            if name.starts_with("stage0.conv_bn.running_mean@") {
                out.push(p.value.data.clone());
            }
        });
        out
    };
    let before = stats(&mut net);
    set_width(&mut net, 0).unwrap();
    net.forward(input(4), Mode::Train);
    let after = stats(&mut net);
    assert_ne!(
        after[0], before[0],
        "width 0.5 did not update its statistics"
    );
    assert_eq!(after[1], before[1], "width 1 statistics changed");
    assert_eq!((after[0].len(), after[1].len()), (3, 6));
}

#[test]
fn every_width_descriptor_matches_the_simulators_slice_of_mac_layers() {
    for base in bases() {
        let widths = [0.35, 0.5, 0.75, 1.0];
        let mut net = Network::build(&spec(slimmable(base, &widths), 0)).unwrap();
        let full = width_arch(&mut net, 3).unwrap();
        for (i, &w) in widths.iter().enumerate() {
            let got = width_arch(&mut net, i).unwrap();
            let want = workload::slim(&full, w).unwrap();
            // The simulators scale elementwise work approximately; MAC layers exactly.
            let ops = |a: &Arch| {
                a.layers
                    .iter()
                    .filter(|l| l.op.macs() > 0)
                    .map(|l| l.op.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(ops(&got), ops(&want), "{} at {w}", got.name);
            assert!(got.name.ends_with(&format!("@{}", width_label(w))));
        }
        let flops: Vec<u64> = (0..4)
            .map(|i| width_arch(&mut net, i).unwrap().flops())
            .collect();
        assert!(flops.windows(2).all(|p| p[0] < p[1]), "{flops:?}");
    }
}

#[test]
fn the_profile_measures_every_width() {
    let mut net = Network::build(&spec(slimmable(bases()[0].clone(), &[0.5, 1.0]), 0)).unwrap();
    let p = latency::profile(&mut net, 1).unwrap();
    assert_eq!(p.len(), 2);
    assert!(p[0].flops < p[1].flops && p[0].weights < p[1].weights);
    assert!(p
        .iter()
        .all(|w| w.latency_b1_ns > 0 && w.latency_b64_ns > 0));
    assert_eq!((p[0].width, p[1].width), (0.5, 1.0));
}

#[test]
fn bad_specs_and_widths_are_explained() {
    let vit = Family::Vit {
        patch: 2,
        dim: 8,
        depth: 1,
        heads: 2,
        mlp_ratio: 2.0,
    };
    let cases = [
        (slimmable(vit, &[1.0]), "not `vit`"),
        (slimmable(bases()[0].clone(), &[]), "at least one width"),
        (slimmable(bases()[0].clone(), &[0.0, 1.0]), "outside (0, 1]"),
        (slimmable(bases()[0].clone(), &[0.5, 1.5]), "outside (0, 1]"),
        (slimmable(bases()[0].clone(), &[1.0, 0.5]), "ascending"),
        (
            slimmable(slimmable(bases()[0].clone(), &[1.0]), &[1.0]),
            "not `slimmable`",
        ),
        (
            slimmable(Family::Mlp { hidden: vec![0] }, &[1.0]),
            "zero width",
        ),
    ];
    for (family, want) in cases {
        let err = Network::build(&spec(family, 0)).err().unwrap().to_string();
        assert!(err.contains(want), "{err} (wanted {want})");
    }
    let mut plain = Network::build(&spec(bases()[0].clone(), 0)).unwrap();
    let err = set_width(&mut plain, 0).unwrap_err().to_string();
    assert!(err.contains("model.slimmable"), "{err}");
    let mut net = Network::build(&spec(slimmable(bases()[0].clone(), &[1.0]), 0)).unwrap();
    let err = set_width(&mut net, 1).unwrap_err().to_string();
    assert!(err.contains("out of range"), "{err}");
}
