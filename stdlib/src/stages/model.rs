//! `model.*`: signatures of every model constructor, one function each. A model
//! stage builds an untrained network (weights initialised from `seed`) shaped for
//! its `input:` dataset; training happens in `train.*`. `model.export` hands a
//! model back to PyTorch.

use super::common::*;
use crate::params::Seed;
use crate::stage::StageDef;
use pipe_lang::catalog::ParamSig;
use pipe_lang::types::Type;

pub fn defs() -> Vec<StageDef> {
    vec![
        mlp(),
        cnn(),
        vit(),
        mobilenet_v2(),
        mobilenet_v3(),
        detector(),
        temporal_transformer(),
        dual_encoder(),
        slimmable(),
        export(),
    ]
}

fn dropout() -> ParamSig {
    float(
        "dropout",
        0.0,
        0.0,
        0.95,
        "Dropout probability during training.",
    )
}

/// PyTorch weights to start from instead of the seed's (docs/weights.md).
fn weights() -> ParamSig {
    override_path(
        "weights",
        "A safetensors file of PyTorch weights under PyTorch's names for this architecture \
         (docs/weights.md); empty: initialise from `seed`.",
    )
}

fn mlp() -> StageDef {
    def(
        sig(
            "model",
            "mlp",
            "A multilayer perceptron on the flattened input: Linear + ReLU per hidden \
             layer, then a linear classifier.",
            vec![
                model_input(ANY_TASK),
                int_list(
                    "hidden",
                    &[128, 64],
                    "Widths of the hidden layers, in order.",
                )
                .default_note("project default, not from a paper"),
                dropout(),
                Seed::param(),
                weights(),
            ],
            Type::Model,
        ),
        Some(crate::run::model::mlp),
    )
}

fn cnn() -> StageDef {
    def(
        sig(
            "model",
            "cnn",
            "A small convolutional network: per stage Conv2d + BatchNorm2d + ReLU and 2×2 \
             max pooling, then global average pooling, a hidden linear layer and the \
             classifier.",
            vec![
                model_input(ANY_TASK),
                int_list(
                    "channels",
                    &[16, 32],
                    "Output channels of each convolution stage.",
                )
                .default_note("project default, not from a paper"),
                int(
                    "kernel",
                    3,
                    1,
                    11,
                    "Convolution kernel size (odd sizes keep the spatial size).",
                ),
                int(
                    "hidden",
                    64,
                    0,
                    65_536,
                    "Width of the hidden linear layer; 0 omits it.",
                ),
                dropout(),
                Seed::param(),
                weights(),
            ],
            Type::Model,
        ),
        Some(crate::run::model::cnn),
    )
}

fn vit() -> StageDef {
    def(
        sig(
            "model",
            "vit",
            "A Vision Transformer: non-overlapping patches, a CLS token, learned position \
             embeddings, pre-norm blocks of multi-head self-attention and a GELU MLP, and a \
             linear head on the CLS token.",
            vec![
                model_input(ANY_TASK),
                int("patch", 2, 1, 64, "Patch side in pixels; must divide the image side."),
                int("dim", 64, 8, 4096, "Token width; must be divisible by `heads`."),
                int("depth", 4, 1, 64, "Number of transformer blocks."),
                int("heads", 4, 1, 64, "Attention heads per block."),
                float("mlp_ratio", 2.0, 0.25, 16.0, "MLP hidden width as a multiple of `dim`.")
                    .default_note("project default, not from a paper: ViT-B uses 4.0; 2.0 keeps small models fast"),
                dropout(),
                Seed::param(),
                weights(),
            ],
            Type::Model,
        ),
        Some(crate::run::model::vit),
    )
}

fn mobilenet_v2() -> StageDef {
    def(
        sig(
            "model",
            "mobilenet_v2",
            "MobileNetV2: a stem convolution, inverted residual blocks (1×1 expansion, \
             3×3 depthwise, 1×1 projection, BatchNorm2d and ReLU6, residual when shapes \
             match) and a 1×1 head convolution, global pooling and classifier.",
            vec![
                model_input(ANY_TASK),
                float("width", 1.0, 0.1, 4.0, "Width multiplier applied to every layer's channels."),
                int("blocks", 7, 1, 64, "Number of inverted residual blocks.")
                    .default_note("project default, not from the paper: a 7-block scaled-down MobileNetV2 for small images"),
                int("expansion", 6, 1, 16, "Expansion ratio of each inverted residual block."),
                dropout(),
                Seed::param(),
                weights(),
            ],
            Type::Model,
        ),
        Some(crate::run::model::mobilenet_v2),
    )
}

fn mobilenet_v3() -> StageDef {
    def(
        sig(
            "model",
            "mobilenet_v3",
            "MobileNetV3: inverted residual blocks with Hard-Swish (ReLU in the early \
             blocks) and optional squeeze-and-excite.",
            vec![
                model_input(ANY_TASK),
                float("width", 1.0, 0.1, 4.0, "Width multiplier applied to every layer's channels."),
                int("blocks", 7, 1, 64, "Number of inverted residual blocks.")
                    .default_note("project default, not from the paper: a 7-block scaled-down MobileNetV3 for small images"),
                int("expansion", 6, 1, 16, "Expansion ratio of each inverted residual block."),
                flag("se", true, "Squeeze-and-excite in the blocks that use Hard-Swish."),
                dropout(),
                Seed::param(),
                weights(),
            ],
            Type::Model,
        ),
        Some(crate::run::model::mobilenet_v3),
    )
}

fn detector() -> StageDef {
    def(
        sig(
            "model",
            "detector",
            "A small anchor-free detector on a backbone's feature map: per cell an \
             objectness score, a class distribution and a box; non-maximum suppression at \
             inference. Output per frame: detections with scores and full class \
             distributions.",
            vec![
                model_input(DETECT),
                model("backbone", "Any `model.*` network built for the same input; its last feature map is used."),
                int("head_dim", 64, 1, 4096, "Width of the detection head's hidden convolution.")
                    .default_note("project default, not from a paper"),
                float("nms_iou", 0.5, 0.0, 1.0, "IoU above which non-maximum suppression drops the lower-scored box."),
                float("score_threshold", 0.05, 0.0, 1.0, "Detections below this score are dropped.")
                    .default_note("project default, not from a paper: COCO-style evaluation keeps low-score boxes"),
                int("max_detections", 100, 1, 10_000, "Detections kept per frame (COCO's maxDets)."),
                Seed::param(),
            ],
            Type::Model,
        ),
        Some(crate::run::detector::detector),
    )
}

fn temporal_transformer() -> StageDef {
    def(
        sig(
            "model",
            "temporal_transformer",
            "AVE-CLIP's fusion network: attention within windows of several lengths over \
             the segments (short windows for transitions, long for global context), over the \
             time and the feature domain, fusion of the window scales, a joint \
             event/background head and a multi-class head, event-guided temporal \
             refinement and post-processing that removes isolated predictions between event \
             transitions.",
            vec![
                model_input(AV_EVENT),
                int_list(
                    "windows",
                    &[1, 2, 5, 10],
                    "Window lengths in segments; one entry gives a single-window model.",
                )
                .default_note(
                    "project default, not from the paper (its window sizes are not published)",
                ),
                int("dim", 128, 8, 4096, "Model width; divisible by `heads`.")
                    .default_note("project default, not from the paper"),
                int("heads", 4, 1, 64, "Attention heads.")
                    .default_note("project default, not from the paper"),
                int("layers", 2, 1, 32, "Attention layers per window scale.")
                    .default_note("project default, not from the paper"),
                flag(
                    "refine",
                    true,
                    "Event-guided temporal refinement (off for the ablation).",
                ),
                flag(
                    "postprocess",
                    true,
                    "Remove isolated predictions between event transitions (off for the ablation).",
                ),
                dropout(),
                Seed::param(),
            ],
            Type::Model,
        ),
        Some(crate::run::ave::model),
    )
}

fn dual_encoder() -> StageDef {
    def(
        sig(
            "model",
            "dual_encoder",
            "A small CLIP-like pair: a ViT image tower and a text tower over noun tokens and \
             attribute words, projecting both to a shared embedding; logits = 100 · cosine.",
            vec![
                model_input(SEGMENT),
                int("dim", 64, 8, 4096, "Embedding width of both towers."),
                int(
                    "patch",
                    4,
                    1,
                    64,
                    "Image tower patch side; must divide the region crop side.",
                ),
                int("depth", 4, 1, 64, "Image tower transformer blocks."),
                int("heads", 4, 1, 64, "Image tower attention heads."),
                int("text_depth", 2, 1, 64, "Text tower transformer blocks.")
                    .default_note("project default, not from the paper"),
                int(
                    "crop",
                    16,
                    4,
                    512,
                    "Side of the square region crops the image tower reads (ov-seg: 224).",
                )
                .default_note("project default, not from the paper"),
                Seed::param(),
            ],
            Type::Model,
        ),
        Some(crate::run::ovseg::dual_encoder),
    )
}

fn slimmable() -> StageDef {
    def(
        sig(
            "model",
            "slimmable",
            "A weight-shared network over width multipliers (Joslim-style): convolutions \
             and linears slice their first output and input channels, batch norm keeps \
             separate statistics per width. Any width runs by choosing it at inference; \
             each width has its own architecture descriptor for the simulators.",
            vec![
                model("base", "The network to make slimmable: a `model.mlp`, `model.cnn` or `model.mobilenet_v2`."),
                float_list("widths", &[0.35, 0.5, 0.75, 1.0], "Width multipliers, each in (0, 1].")
                    .default_note("project default, not from the paper: Joslim samples widths down to 0.42"),
                int("repeats", 15, 1, 10_000, "Timed inference runs per width and batch size (1 and 64); the median is recorded in the model's metrics.")
                    .default_note("enough runs for a steady median on a busy machine"),
                Seed::param(),
            ],
            Type::Model,
        ),
        Some(crate::run::slimmable::model),
    )
}

fn export() -> StageDef {
    def(
        sig(
            "model",
            "export",
            "The model's weights as a PyTorch safetensors file under PyTorch's names \
             (timm's for `vit`, torchvision's for `mobilenet_v2`/`v3`; docs/weights.md), \
             written into every run directory as `<binding>.safetensors`: \
             `model.load_state_dict(safetensors.torch.load_file(path))` on the same \
             architecture loads it. A quantized model exports the weights its forward \
             pass uses (on the quantization grid) and names the bit widths in the file's \
             metadata; activation quantization is not part of a state dict.",
            vec![model("model", "The model to export: any `model.mlp`, `cnn`, `vit`, `mobilenet_v2` or `mobilenet_v3`, trained, fine-tuned or quantized.")],
            Type::File,
        ),
        Some(crate::run::model::export),
    )
}
