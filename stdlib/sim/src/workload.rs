//! Workloads for the simulators: built-in reference networks with their real
//! layer shapes (ResNet-50, MobileNetV2 1.0 and ViT-B/16, all at 224×224), and
//! SCALE-Sim topology CSV files (convolution and GEMM forms), all as an `Arch`.
//! Shapes only: no weights, no simulation.

use crate::arch::{Arch, Layer, Op};
use crate::csv::CsvTable;
use crate::error::SimError;

/// Names accepted by `builtin`. The `mobilenet_v2_<width>` variants are the
/// paper's width multipliers (weight-shared sub-networks of a slimmable model).
pub const BUILTIN: &[&str] = &[
    "resnet50",
    "mobilenet_v2",
    "mobilenet_v2_0.75",
    "mobilenet_v2_0.5",
    "mobilenet_v2_0.35",
    "vit_b16",
];

/// A built-in reference workload by name, at 16-bit precision.
pub fn builtin(name: &str) -> Result<Arch, SimError> {
    match name {
        "resnet50" => Ok(resnet50()),
        "mobilenet_v2" => Ok(mobilenet_v2()),
        "mobilenet_v2_0.75" => Ok(mobilenet_v2_width(0.75)),
        "mobilenet_v2_0.5" => Ok(mobilenet_v2_width(0.5)),
        "mobilenet_v2_0.35" => Ok(mobilenet_v2_width(0.35)),
        "vit_b16" => Ok(vit_b16()),
        other => Err(SimError::Invalid(format!(
            "unknown built-in workload `{other}`; choose one of {}",
            BUILTIN.join(", ")
        ))),
    }
}

/// Builds a layer list while tracking the current feature map (channels, size).
struct Builder {
    layers: Vec<Layer>,
    ch: usize,
    hw: usize,
}

impl Builder {
    fn new(ch: usize, hw: usize) -> Self {
        Builder {
            layers: Vec::new(),
            ch,
            hw,
        }
    }

    fn push(&mut self, name: String, op: Op) {
        self.layers.push(Layer {
            name,
            op,
            weight_bits: 16,
            act_bits: 16,
            pow2_shifts: None,
        });
    }

    /// A square convolution with "same"-style padding `kernel / 2`.
    fn conv(&mut self, name: String, out_ch: usize, kernel: usize, stride: usize, groups: usize) {
        self.conv_padded(name, out_ch, kernel, stride, groups, kernel / 2);
    }

    fn conv_padded(
        &mut self,
        name: String,
        out_ch: usize,
        kernel: usize,
        stride: usize,
        groups: usize,
        padding: usize,
    ) {
        let out = (self.hw + 2 * padding - kernel) / stride + 1;
        let op = Op::Conv2d {
            in_ch: self.ch,
            out_ch,
            kernel: [kernel, kernel],
            stride,
            padding,
            groups,
            in_hw: [self.hw, self.hw],
            out_hw: [out, out],
        };
        self.push(name, op);
        self.ch = out_ch;
        self.hw = out;
    }

    fn elementwise(&mut self, name: String, elements: usize) {
        self.push(name, Op::Elementwise { elements });
    }

    /// A 3×3 stride-2 max pool (padding 1), as in ResNet's stem.
    fn max_pool(&mut self, name: String) {
        self.hw = (self.hw + 2 - 3) / 2 + 1;
        self.elementwise(name, self.ch * self.hw * self.hw);
    }

    fn global_pool_and_fc(&mut self, classes: usize) {
        self.elementwise("avgpool".into(), self.ch);
        let op = Op::Linear {
            in_features: self.ch,
            out_features: classes,
            tokens: 1,
        };
        self.push("fc".into(), op);
    }

    fn finish(self, name: &str, input_hw: usize) -> Arch {
        Arch {
            name: name.to_string(),
            input: vec![3, input_hw, input_hw],
            layers: self.layers,
        }
    }
}

/// ResNet-50 v1.5 (torchvision): stride in the 3×3 convolution of each bottleneck.
pub fn resnet50() -> Arch {
    let mut b = Builder::new(3, 224);
    b.conv("conv1".into(), 64, 7, 2, 1);
    b.max_pool("maxpool".into());
    let stages = [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)];
    for (s, &(width, blocks, stride)) in stages.iter().enumerate() {
        for i in 0..blocks {
            let stride = if i == 0 { stride } else { 1 };
            let (in_ch, in_hw) = (b.ch, b.hw);
            let p = format!("layer{}.{}", s + 1, i);
            b.conv(format!("{p}.conv1"), width, 1, 1, 1);
            b.conv(format!("{p}.conv2"), width, 3, stride, 1);
            b.conv(format!("{p}.conv3"), width * 4, 1, 1, 1);
            if i == 0 {
                let (out_ch, out_hw) = (b.ch, b.hw);
                b.ch = in_ch;
                b.hw = in_hw;
                b.conv(format!("{p}.downsample"), out_ch, 1, stride, 1);
                b.hw = out_hw;
            }
            b.elementwise(format!("{p}.add"), b.ch * b.hw * b.hw);
        }
    }
    b.global_pool_and_fc(1000);
    b.finish("resnet50", 224)
}

/// MobileNetV2 width 1.0 (Sandler et al. 2018, Table 2 settings).
pub fn mobilenet_v2() -> Arch {
    mobilenet_v2_width(1.0)
}

/// Channels rounded to a multiple of 8, never more than 10% below `v`
/// (torchvision's `_make_divisible`).
fn make_divisible(v: f64) -> usize {
    let rounded = (((v + 4.0) as usize) / 8 * 8).max(8);
    if (rounded as f64) < 0.9 * v {
        rounded + 8
    } else {
        rounded
    }
}

/// MobileNetV2 with a width multiplier, as torchvision builds it.
pub fn mobilenet_v2_width(width: f64) -> Arch {
    let mut b = Builder::new(3, 224);
    b.conv("features.0".into(), make_divisible(32.0 * width), 3, 2, 1);
    // (expansion t, output channels c, repeats n, first stride s)
    let settings = [
        (1, 16, 1, 1),
        (6, 24, 2, 2),
        (6, 32, 3, 2),
        (6, 64, 4, 2),
        (6, 96, 3, 1),
        (6, 160, 3, 2),
        (6, 320, 1, 1),
    ];
    let mut index = 1;
    for &(t, c, n, s) in &settings {
        let c = make_divisible(c as f64 * width);
        for i in 0..n {
            let stride = if i == 0 { s } else { 1 };
            let in_ch = b.ch;
            let p = format!("features.{index}");
            if t != 1 {
                b.conv(format!("{p}.expand"), in_ch * t, 1, 1, 1);
            }
            let hidden = b.ch;
            b.conv(format!("{p}.depthwise"), hidden, 3, stride, hidden);
            b.conv(format!("{p}.project"), c, 1, 1, 1);
            if stride == 1 && in_ch == c {
                b.elementwise(format!("{p}.add"), b.ch * b.hw * b.hw);
            }
            index += 1;
        }
    }
    b.conv(
        format!("features.{index}"),
        make_divisible(1280.0 * width.max(1.0)),
        1,
        1,
        1,
    );
    b.global_pool_and_fc(1000);
    let name = if width == 1.0 {
        "mobilenet_v2".to_string()
    } else {
        format!("mobilenet_v2_{width}")
    };
    b.finish(&name, 224)
}

/// ViT-B/16 at 224×224: 196 patches + class token, 12 blocks of width 768, 12 heads.
pub fn vit_b16() -> Arch {
    let (dim, heads, depth, mlp) = (768, 12, 12, 3072);
    let tokens = 197;
    let mut b = Builder::new(3, 224);
    b.conv_padded("patch_embed".into(), dim, 16, 16, 1, 0);
    let linear = |in_features, out_features| Op::Linear {
        in_features,
        out_features,
        tokens,
    };
    let head_dim = dim / heads;
    for i in 0..depth {
        let p = format!("blocks.{i}");
        b.elementwise(format!("{p}.norm1"), tokens * dim);
        b.push(format!("{p}.qkv"), linear(dim, 3 * dim));
        let scores = Op::Matmul {
            m: tokens,
            k: head_dim,
            n: tokens,
            count: heads,
        };
        b.push(format!("{p}.attn_scores"), scores);
        b.elementwise(format!("{p}.softmax"), heads * tokens * tokens);
        let values = Op::Matmul {
            m: tokens,
            k: tokens,
            n: head_dim,
            count: heads,
        };
        b.push(format!("{p}.attn_values"), values);
        b.push(format!("{p}.proj"), linear(dim, dim));
        b.elementwise(format!("{p}.norm2"), tokens * dim);
        b.push(format!("{p}.fc1"), linear(dim, mlp));
        b.elementwise(format!("{p}.gelu"), tokens * mlp);
        b.push(format!("{p}.fc2"), linear(mlp, dim));
    }
    b.elementwise("norm".into(), dim);
    let head = Op::Linear {
        in_features: dim,
        out_features: 1000,
        tokens: 1,
    };
    b.push("head".into(), head);
    b.finish("vit_b16", 224)
}

/// The two SCALE-Sim topology layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopologyForm {
    /// `Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides`
    Conv,
    /// `Layer, M, N, K`: an (M×K)·(K×N) product.
    Gemm,
}

/// Reads a SCALE-Sim topology file; the form is taken from the header (`M, N, K`
/// columns mean GEMM). Layers named with `DP` are depthwise, as in SCALE-Sim.
pub fn topology(path: &std::path::Path) -> Result<Arch, SimError> {
    let table = CsvTable::read(path)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "topology".into());
    topology_from_table(&table, &name)
}

/// Parses topology text (see `topology`); `source` names it in errors.
pub fn topology_from_text(source: &str, text: &str) -> Result<Arch, SimError> {
    let table = CsvTable::parse(source, text)?;
    topology_from_table(&table, source)
}

fn topology_form(table: &CsvTable) -> Result<TopologyForm, SimError> {
    let h: Vec<&str> = table.header.iter().map(String::as_str).collect();
    if h.len() >= 4 && h[1] == "m" && h[2] == "n" && h[3] == "k" {
        return Ok(TopologyForm::Gemm);
    }
    if h.len() >= 8 && h[1].contains("ifmap") && h[3].contains("filter") {
        return Ok(TopologyForm::Conv);
    }
    Err(SimError::table(
        &table.source,
        "unrecognised SCALE-Sim topology header: expected `Layer name, IFMAP Height, IFMAP Width, \
         Filter Height, Filter Width, Channels, Num Filter, Strides` (convolution form) or \
         `Layer, M, N, K` (GEMM form)",
    ))
}

/// The most multiply-accumulates (or operand elements) one layer of a topology
/// file may have: 2^50, about 1.1e15, a thousand times the largest GEMM of a
/// GPT-3-sized model. The simulators count cycles, accesses and bytes in `u64`
/// as small multiples of these counts (two spad accesses per MAC, at most three
/// operands, one fold per row or column); under this bound and `MAX_TOTAL_MACS`
/// none of those products or sums can overflow.
pub const MAX_LAYER_OPS: u64 = 1 << 50;
/// The most multiply-accumulates of a whole topology file: 2^56, about 7.2e16.
pub const MAX_TOTAL_MACS: u64 = 1 << 56;

fn topology_from_table(table: &CsvTable, name: &str) -> Result<Arch, SimError> {
    let form = topology_form(table)?;
    let mut layers = Vec::with_capacity(table.rows.len());
    let mut total_macs: u64 = 0;
    for row in &table.rows {
        let layer_name = table.text(row, 0)?.to_string();
        let op = match form {
            TopologyForm::Gemm => gemm_row(table, row)?,
            TopologyForm::Conv => conv_row(table, row, &layer_name)?,
        };
        let macs = layer_size(&op).map_err(|what| {
            table.row_error(
                row,
                format!(
                    "the layer is too large to simulate: its {what} exceed {MAX_LAYER_OPS} \
                     (2^50); check the dimensions"
                ),
            )
        })?;
        total_macs = total_macs
            .checked_add(macs)
            .filter(|&t| t <= MAX_TOTAL_MACS)
            .ok_or_else(|| {
                table.row_error(
                    row,
                    format!(
                        "the file's layers up to this row have more than {MAX_TOTAL_MACS} \
                         (2^56) multiply-accumulates in all, too many to simulate; check the \
                         dimensions"
                    ),
                )
            })?;
        layers.push(Layer {
            name: layer_name,
            op,
            weight_bits: 16,
            act_bits: 16,
            pow2_shifts: None,
        });
    }
    let input = match layers.first().map(|l| &l.op) {
        Some(Op::Conv2d { in_ch, in_hw, .. }) => vec![*in_ch, in_hw[0], in_hw[1]],
        Some(Op::Matmul { m, k, .. }) => vec![*m, *k],
        _ => Vec::new(),
    };
    Ok(Arch {
        name: name.to_string(),
        input,
        layers,
    })
}

/// The multiply-accumulates of a layer, after checking that every count the
/// simulators derive from its shape (MACs, weights, input and output elements)
/// stays within `MAX_LAYER_OPS`; otherwise which count is too large.
fn layer_size(op: &Op) -> Result<u64, &'static str> {
    let (macs, inputs, weights, outputs) = match *op {
        Op::Conv2d {
            in_ch,
            out_ch,
            kernel,
            groups,
            in_hw,
            out_hw,
            ..
        } => {
            let per_group = in_ch / groups.max(1);
            (
                product(&[
                    out_ch, out_hw[0], out_hw[1], per_group, kernel[0], kernel[1],
                ]),
                product(&[in_ch, in_hw[0], in_hw[1]]),
                product(&[out_ch, per_group, kernel[0], kernel[1]]),
                product(&[out_ch, out_hw[0], out_hw[1]]),
            )
        }
        Op::Matmul { m, k, n, count } => (
            product(&[m, k, n, count]),
            product(&[m, k, count]),
            product(&[k, n, count]),
            product(&[m, n, count]),
        ),
        Op::Linear {
            in_features,
            out_features,
            tokens,
        } => (
            product(&[in_features, out_features, tokens]),
            product(&[tokens, in_features]),
            product(&[in_features, out_features]),
            product(&[tokens, out_features]),
        ),
        Op::Elementwise { elements } => (Some(0), product(&[elements]), Some(0), Some(0)),
    };
    let within = |n: Option<u64>, what| n.filter(|&n| n <= MAX_LAYER_OPS).ok_or(what);
    within(inputs, "input elements")?;
    within(weights, "weights")?;
    within(outputs, "output elements")?;
    within(macs, "multiply-accumulates")
}

/// The product of `dims`, or `None` when it does not fit in a `u64`.
fn product(dims: &[usize]) -> Option<u64> {
    dims.iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(u64::try_from(d).ok()?))
}

fn gemm_row(table: &CsvTable, row: &crate::csv::CsvRow) -> Result<Op, SimError> {
    Ok(Op::Matmul {
        m: table.count(row, 1)?,
        n: table.count(row, 2)?,
        k: table.count(row, 3)?,
        count: 1,
    })
}

/// One convolution row, sized exactly as SCALE-Sim sizes it: no padding,
/// `out = ceil((in - filter + stride) / stride)`.
fn conv_row(table: &CsvTable, row: &crate::csv::CsvRow, name: &str) -> Result<Op, SimError> {
    let [ih, iw, fh, fw, ch, nf, stride] = [1, 2, 3, 4, 5, 6, 7].map(|c| table.count(row, c));
    let (ih, iw, fh, fw, ch, nf, stride) = (ih?, iw?, fh?, fw?, ch?, nf?, stride?);
    if fh > ih || fw > iw {
        return Err(table.row_error(
            row,
            format!("the {fh}×{fw} filter is larger than the {ih}×{iw} input"),
        ));
    }
    let too_large = |what: &str| {
        table.row_error(
            row,
            format!(
                "the layer is too large to simulate: its {what} overflows; check the dimensions"
            ),
        )
    };
    // `fh <= ih` was checked, so only the addition of the stride can overflow.
    let out = |i: usize, f: usize| {
        (i - f)
            .checked_add(stride)
            .map(|n| n.div_ceil(stride))
            .ok_or_else(|| too_large("output size"))
    };
    let depthwise = name.contains("DP");
    // SCALE-Sim runs a `DP` layer as `Channels` single-channel layers of `Num Filter` filters.
    let (in_ch, out_ch, groups) = if depthwise {
        let out_ch = ch
            .checked_mul(nf)
            .ok_or_else(|| too_large("output channels (Channels × Num Filter)"))?;
        (ch, out_ch, ch)
    } else {
        (ch, nf, 1)
    };
    Ok(Op::Conv2d {
        in_ch,
        out_ch,
        kernel: [fh, fw],
        stride,
        padding: 0,
        groups,
        in_hw: [ih, iw],
        out_hw: [out(ih, fh)?, out(iw, fw)?],
    })
}

/// A weight-shared sub-network at `width` of `arch`'s channels, sliced as a
/// slimmable network slices its weights (`weight[:out·w, :in·w]`): every
/// channel count scales except the input image's channels and the classifier's
/// outputs; attention matmuls keep their shapes per head and lose heads.
pub fn slim(arch: &Arch, width: f64) -> Result<Arch, SimError> {
    if !(width > 0.0 && width <= 1.0) {
        return Err(SimError::Invalid(format!(
            "a slimmed width must be in (0, 1], got {width}"
        )));
    }
    let scale = |c: usize| ((c as f64 * width).round() as usize).max(1);
    let last_mac = arch.layers.iter().rposition(|l| l.op.macs() > 0);
    let first_mac = arch.layers.iter().position(|l| l.op.macs() > 0);
    let mut out = arch.clone();
    out.name = format!("{}@{width}", arch.name);
    for (i, layer) in out.layers.iter_mut().enumerate() {
        let keep_in = Some(i) == first_mac;
        let keep_out = Some(i) == last_mac;
        layer.op = match layer.op {
            Op::Conv2d {
                in_ch,
                out_ch,
                kernel,
                stride,
                padding,
                groups,
                in_hw,
                out_hw,
            } => {
                let depthwise = groups > 1 && groups == in_ch;
                let new_in = if keep_in { in_ch } else { scale(in_ch) };
                let new_out = if keep_out {
                    out_ch
                } else if depthwise {
                    new_in
                } else {
                    scale(out_ch)
                };
                let groups = if depthwise { new_in } else { groups };
                Op::Conv2d {
                    in_ch: new_in,
                    out_ch: new_out,
                    kernel,
                    stride,
                    padding,
                    groups,
                    in_hw,
                    out_hw,
                }
            }
            Op::Linear {
                in_features,
                out_features,
                tokens,
            } => Op::Linear {
                in_features: if keep_in {
                    in_features
                } else {
                    scale(in_features)
                },
                out_features: if keep_out {
                    out_features
                } else {
                    scale(out_features)
                },
                tokens,
            },
            Op::Matmul { m, k, n, count } => Op::Matmul {
                m,
                k,
                n,
                count: scale(count),
            },
            Op::Elementwise { elements } => Op::Elementwise {
                elements: scale(elements),
            },
        };
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accelerator::{simulate, Design};
    use crate::dataflow::Dataflow;
    use crate::ppa::{MemoryModel, PpaTable};

    const GEMM: &str = "Layer, M, N, K,\n";
    const CONV: &str = "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,\n";

    fn error(text: &str) -> String {
        topology_from_text("big.csv", text).unwrap_err().to_string()
    }

    /// A one-PE array: the most folds, so the most cycles and accesses per MAC.
    fn simulate_everywhere(arch: &Arch) {
        let ppa = PpaTable::default_table().unwrap();
        let mem = MemoryModel::default_model().unwrap();
        for dataflow in [Dataflow::Os, Dataflow::Ws, Dataflow::Is] {
            let design = Design {
                pe: "int16".into(),
                bits: 16,
                rows: 1,
                cols: 1,
                spad_bytes: 64.0,
                // Large enough that the DRAM model streams every operand once.
                glb_bytes: 1e18,
                freq_hz: 1e9,
                dataflow,
                bandwidth: 16e9,
            };
            let r = simulate(arch, &design, &ppa, &mem).unwrap();
            assert_eq!(r.totals.macs, arch.macs());
        }
    }

    #[test]
    fn dimensions_near_1e12_are_an_error_naming_the_row() {
        let err = error(&format!(
            "{GEMM}ok, 4, 4, 4,\nhuge, 1000000000000, 1000000000000, 1000000000000,\n"
        ));
        assert!(
            err.contains("big.csv") && err.contains("line 3") && err.contains("too large"),
            "{err}"
        );
        let err = error(&format!(
            "{CONV}c, 1000000, 1000000, 3, 3, 1000000, 1000000, 1,\n"
        ));
        assert!(err.contains("line 2") && err.contains("too large"), "{err}");
    }

    #[test]
    fn the_largest_layer_allowed_simulates_without_overflow() {
        // 2^16 · 2^17 · 2^17 = 2^50 MACs: exactly the limit.
        let arch =
            topology_from_text("max.csv", &format!("{GEMM}max, 65536, 131072, 131072,\n")).unwrap();
        assert_eq!(arch.macs(), MAX_LAYER_OPS);
        simulate_everywhere(&arch);
        let err = error(&format!("{GEMM}over, 65536, 131072, 131073,\n"));
        assert!(err.contains("multiply-accumulates"), "{err}");
    }

    #[test]
    fn the_largest_file_allowed_simulates_and_one_more_row_is_an_error() {
        let row = "max, 65536, 131072, 131072,\n";
        let full = format!("{GEMM}{}", row.repeat(64));
        let arch = topology_from_text("max.csv", &full).unwrap();
        assert_eq!(arch.macs(), MAX_TOTAL_MACS);
        simulate_everywhere(&arch);
        let err = error(&format!("{full}{row}"));
        assert!(err.contains("line 66") && err.contains("in all"), "{err}");
    }

    #[test]
    fn a_huge_stride_or_depthwise_channel_count_is_an_error() {
        let err = error(&format!("{CONV}c, 8, 8, 3, 3, 4, 4, {},\n", usize::MAX));
        assert!(err.contains("output size"), "{err}");
        let big = 1usize << 33;
        let err = error(&format!("{CONV}c_DP, 8, 8, 3, 3, {big}, {big}, 1,\n"));
        assert!(err.contains("output channels"), "{err}");
    }
}
