//! Built-in workloads have their published sizes; topology CSVs parse in both
//! SCALE-Sim forms and bad files give errors naming the file and the row.

use pipe_sim::arch::Op;
use pipe_sim::workload::{builtin, slim, topology, topology_from_text};

fn within(x: f64, target: f64, rel: f64) -> bool {
    (x - target).abs() <= rel * target
}

#[test]
fn builtin_workloads_have_published_mac_counts() {
    // Published multiply-accumulates per 224×224 image: ResNet-50 4.1 G,
    // MobileNetV2 1.0 300 M, ViT-B/16 17.6 G.
    let resnet = builtin("resnet50").unwrap();
    assert!(
        within(resnet.macs() as f64, 4.09e9, 0.02),
        "resnet50 {}",
        resnet.macs()
    );
    let mbv2 = builtin("mobilenet_v2").unwrap();
    assert!(
        within(mbv2.macs() as f64, 300.8e6, 0.02),
        "mobilenet_v2 {}",
        mbv2.macs()
    );
    let vit = builtin("vit_b16").unwrap();
    assert!(
        within(vit.macs() as f64, 17.56e9, 0.02),
        "vit_b16 {}",
        vit.macs()
    );
}

#[test]
fn mobilenet_v2_widths_have_published_mac_counts() {
    // Sandler et al. 2018, Table 6 / the TF-slim model zoo at 224×224.
    for (name, macs) in [
        ("mobilenet_v2_0.75", 209e6),
        ("mobilenet_v2_0.5", 97e6),
        ("mobilenet_v2_0.35", 59e6),
    ] {
        let got = builtin(name).unwrap().macs() as f64;
        assert!(within(got, macs, 0.05), "{name}: {got}");
    }
}

#[test]
fn builtin_workloads_have_published_parameter_counts() {
    let weights = |name| {
        builtin(name)
            .unwrap()
            .layers
            .iter()
            .map(|l| l.op.weights())
            .sum::<u64>() as f64
    };
    // Weights of the MAC layers only (no biases or norms): ResNet-50 25.5 M, MobileNetV2 3.5 M, ViT-B/16 86 M.
    assert!(
        within(weights("resnet50"), 25.5e6, 0.03),
        "{}",
        weights("resnet50")
    );
    assert!(
        within(weights("mobilenet_v2"), 3.47e6, 0.03),
        "{}",
        weights("mobilenet_v2")
    );
    assert!(
        within(weights("vit_b16"), 86.0e6, 0.03),
        "{}",
        weights("vit_b16")
    );
}

#[test]
fn unknown_builtin_lists_the_choices() {
    let err = builtin("resnet18").unwrap_err().to_string();
    assert!(
        err.contains("resnet18") && err.contains("mobilenet_v2"),
        "{err}"
    );
}

#[test]
fn conv_topology_is_sized_like_scalesim() {
    let text = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n\
                Conv1, 224, 224, 7, 7, 3, 64, 2,\n\
                DP1, 56, 56, 3, 3, 32, 1, 1,\n";
    let arch = topology_from_text("net.csv", text).unwrap();
    assert_eq!(arch.layers.len(), 2);
    match arch.layers[0].op {
        Op::Conv2d { out_hw, out_ch, .. } => {
            // ceil((224 - 7 + 2) / 2) = 110 (SCALE-Sim pads nothing).
            assert_eq!(out_hw, [110, 110]);
            assert_eq!(out_ch, 64);
        }
        ref other => panic!("expected a convolution, got {other:?}"),
    }
    match arch.layers[1].op {
        Op::Conv2d { groups, out_ch, .. } => assert_eq!((groups, out_ch), (32, 32)),
        ref other => panic!("expected a depthwise convolution, got {other:?}"),
    }
}

#[test]
fn gemm_topology_reads_m_n_k() {
    let arch = topology_from_text("g.csv", "Layer, M, N, K,\nfc, 64, 128, 256,\n").unwrap();
    assert_eq!(
        arch.layers[0].op,
        Op::Matmul {
            m: 64,
            n: 128,
            k: 256,
            count: 1
        }
    );
    assert_eq!(arch.macs(), 64 * 128 * 256);
}

#[test]
fn bad_topologies_name_file_and_row() {
    let err = topology_from_text("bad.csv", "Layer, M, N, K,\nfc, 64, x, 256,\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bad.csv") && err.contains("line 2") && err.contains("`n`"),
        "{err}"
    );
    let err = topology_from_text("bad.csv", "name,a,b\nx,1,2\n")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("unrecognised SCALE-Sim topology header"),
        "{err}"
    );
    let err = topology_from_text(
        "bad.csv",
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\nc, 4, 4, 5, 5, 3, 8, 1,\n",
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("larger than"), "{err}");
    let err = topology_from_text("empty.csv", "# only a comment\n")
        .unwrap_err()
        .to_string();
    assert!(err.contains("empty.csv") && err.contains("empty"), "{err}");
    let err = topology(std::path::Path::new("/nonexistent/topo.csv"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("/nonexistent/topo.csv") && err.contains("cannot read"),
        "{err}"
    );
}

#[test]
fn slimming_scales_macs_about_quadratically_and_keeps_the_ends() {
    let full = builtin("mobilenet_v2").unwrap();
    let half = slim(&full, 0.5).unwrap();
    let ratio = half.macs() as f64 / full.macs() as f64;
    // Inner layers scale by w^2, the stem and classifier by w.
    assert!(ratio > 0.25 && ratio < 0.4, "{ratio}");
    assert_eq!(half.layers[0].op, {
        let mut op = full.layers[0].op.clone();
        if let Op::Conv2d { ref mut out_ch, .. } = op {
            *out_ch = 16;
        }
        op
    });
    match half.layers.last().unwrap().op {
        Op::Linear {
            out_features,
            in_features,
            ..
        } => assert_eq!((in_features, out_features), (640, 1000)),
        ref other => panic!("{other:?}"),
    }
    assert!(slim(&full, 1.5).unwrap_err().to_string().contains("(0, 1]"));
    assert_eq!(slim(&full, 1.0).unwrap().macs(), full.macs());
}
