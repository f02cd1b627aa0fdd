"""Differential fixtures for stdlib/nn/tests/torch_parity.rs.

Builds each catalog architecture in PyTorch exactly as stdlib/nn/src/models
builds it, with random weights (and random BatchNorm statistics), and writes
per architecture under tests/fixtures/weights/:

  {arch}.weights.safetensors  model.state_dict() under PyTorch's names
  {arch}.check.safetensors    input, labels, eval-mode logits, train-mode
                              logits and the gradient of every parameter of
                              mean cross-entropy on the labels (train mode);
                              metadata "spec" is our ModelSpec as JSON

Run once from the repository root (needs torch, timm, torchvision, safetensors):
    python3 bench/weights/make_fixtures.py
"""

import json
import os

from functools import partial

import timm.models.vision_transformer as timm_vit
import torch
import torch.nn as nn
from torchvision.models.mobilenetv2 import InvertedResidual
from torchvision.models.mobilenetv3 import InvertedResidual as InvertedResidualV3
from torchvision.models.mobilenetv3 import InvertedResidualConfig
from torchvision.ops.misc import Conv2dNormActivation
from safetensors.torch import save_file

OUT = "tests/fixtures/weights"
BATCH = 4


class Mlp(nn.Module):
    def __init__(self, input, hidden, classes):
        super().__init__()
        width = input[0] * input[1] * input[2]
        self.hidden = nn.ModuleList()
        for h in hidden:
            self.hidden.append(nn.Linear(width, h))
            width = h
        self.head = nn.Linear(width, classes)

    def forward(self, x):
        x = x.flatten(1)
        for fc in self.hidden:
            x = torch.relu(fc(x))
        return self.head(x)


class CnnStage(nn.Module):
    def __init__(self, cin, cout, kernel, pool):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, padding=kernel // 2, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.pool = pool

    def forward(self, x):
        x = torch.relu(self.bn(self.conv(x)))
        return nn.functional.max_pool2d(x, 2) if self.pool else x


class Cnn(nn.Module):
    def __init__(self, input, channels, kernel, hidden, classes):
        super().__init__()
        cin, h, w = input
        self.stages = nn.ModuleList()
        for c in channels:
            pool = h >= 2 and w >= 2
            self.stages.append(CnnStage(cin, c, kernel, pool))
            if pool:
                h, w = h // 2, w // 2
            cin = c
        self.fc1 = nn.Linear(cin, hidden) if hidden > 0 else None
        self.head = nn.Linear(hidden if hidden > 0 else cin, classes)

    def forward(self, x):
        for s in self.stages:
            x = s(x)
        x = x.mean((2, 3))
        if self.fc1 is not None:
            x = torch.relu(self.fc1(x))
        return self.head(x)


STAGE_CHANNELS = [16, 24, 32, 64, 96]


def make_divisible(v):
    """stdlib/nn/src/models/mobilenet.rs's rounding."""
    rounded = max(int((v + 4.0) // 8) * 8, 8)
    return rounded + 8 if rounded < 0.9 * v else rounded


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 names and blocks on our channel plan
    (stdlib/nn/src/models/mobilenet.rs): stride-1 stem below 64x64, blocks
    spread over five stages, stride 2 at stages 1-3 while larger than 2x2,
    head conv of 4x the last channels."""

    def __init__(self, input, width, blocks, expansion, classes):
        super().__init__()
        c, h, w = input
        side = lambda s, stride: (s + 2 - 3) // stride + 1
        stem_stride = 2 if min(h, w) >= 64 else 1
        ch = make_divisible(16 * width)
        layers = [Conv2dNormActivation(c, ch, 3, stem_stride, activation_layer=nn.ReLU6)]
        h, w = side(h, stem_stride), side(w, stem_stride)
        prev = None
        for i in range(blocks):
            stage = i * 5 // max(blocks, 1)
            first = stage != prev
            prev = stage
            stride = 2 if first and 1 <= stage <= 3 and min(h, w) > 2 else 1
            out = make_divisible(STAGE_CHANNELS[stage] * width)
            layers.append(InvertedResidual(ch, out, stride, expansion))
            h, w, ch = side(h, stride), side(w, stride), out
        layers.append(Conv2dNormActivation(ch, 4 * ch, 1, activation_layer=nn.ReLU6))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(4 * ch, classes))

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


class MobileNetV3(nn.Module):
    """torchvision's MobileNetV3 names and blocks on our channel plan: ReLU in
    the first stage and Hard-Swish after it (stem and head conv Hard-Swish),
    squeeze-excite in the Hard-Swish blocks when `se`, one linear classifier."""

    def __init__(self, input, width, blocks, expansion, se, classes):
        super().__init__()
        c, h, w = input
        side = lambda s, stride: (s + 2 - 3) // stride + 1
        stem_stride = 2 if min(h, w) >= 64 else 1
        ch = make_divisible(16 * width)
        layers = [Conv2dNormActivation(c, ch, 3, stem_stride, activation_layer=nn.Hardswish)]
        h, w = side(h, stem_stride), side(w, stem_stride)
        prev = None
        for i in range(blocks):
            stage = i * 5 // max(blocks, 1)
            first = stage != prev
            prev = stage
            stride = 2 if first and 1 <= stage <= 3 and min(h, w) > 2 else 1
            out = make_divisible(STAGE_CHANNELS[stage] * width)
            act = "RE" if stage == 0 else "HS"
            cnf = InvertedResidualConfig(ch, 3, ch * expansion, out, se and act == "HS", act, stride, 1, 1.0)
            layers.append(InvertedResidualV3(cnf, nn.BatchNorm2d))
            h, w, ch = side(h, stride), side(w, stride), out
        layers.append(Conv2dNormActivation(ch, 4 * ch, 1, activation_layer=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.0), nn.Linear(4 * ch, classes))

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


def randomize_norms(model, gen):
    """BatchNorm/LayerNorm start at 1/0 with unit statistics, which would hide
    a swapped scale, shift, mean or variance: draw them all."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm2d, nn.LayerNorm)):
            with torch.no_grad():
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.2 * torch.randn(m.bias.shape, generator=gen))
        if isinstance(m, nn.BatchNorm2d):
            with torch.no_grad():
                m.running_mean.copy_(0.2 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))


def write(arch, model, spec):
    gen = torch.Generator().manual_seed(7)
    randomize_norms(model, gen)
    c, h, w = spec["input"]
    x = torch.randn(BATCH, c, h, w, generator=gen)
    labels = torch.randint(0, spec["classes"], (BATCH,), generator=gen)
    state = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    train_logits = model(x)
    nn.functional.cross_entropy(train_logits, labels).backward()
    check = {
        "input": x,
        "labels": labels,
        "logits_eval": eval_logits,
        "logits_train": train_logits.detach(),
    }
    for name, p in model.named_parameters():
        check["grad." + name] = p.grad
    save_file(state, f"{OUT}/{arch}.weights.safetensors")
    save_file(
        {k: v.contiguous() for k, v in check.items()},
        f"{OUT}/{arch}.check.safetensors",
        metadata={"spec": json.dumps(spec)},
    )


def spec(family, input, classes=5, **params):
    return {"family": family, **params, "input": input, "classes": classes, "dropout": 0.0, "seed": 0}


def main():
    torch.manual_seed(0)
    os.makedirs(OUT, exist_ok=True)
    s = spec("mlp", [2, 4, 4], hidden=[16, 8])
    write("mlp", Mlp(s["input"], s["hidden"], s["classes"]), s)
    s = spec("cnn", [3, 8, 8], channels=[4, 8], kernel=3, hidden=8)
    write("cnn", Cnn(s["input"], s["channels"], s["kernel"], s["hidden"], s["classes"]), s)
    # Ours: LayerNorm eps 1e-5 (timm's default is 1e-6), GELU in tanh form,
    # qkv with bias, CLS-token pooling, no LayerScale.
    s = spec("vit", [3, 8, 8], patch=2, dim=16, depth=2, heads=2, mlp_ratio=2.0)
    vit = timm_vit.VisionTransformer(
        img_size=8, patch_size=2, in_chans=3, num_classes=s["classes"], embed_dim=16,
        depth=2, num_heads=2, mlp_ratio=2.0, qkv_bias=True, global_pool="token",
        norm_layer=partial(nn.LayerNorm, eps=1e-5), act_layer=partial(nn.GELU, approximate="tanh"),
    )
    with torch.no_grad():
        vit.cls_token.normal_(0, 0.5)
        vit.pos_embed.normal_(0, 0.5)
    write("vit", vit, s)
    s = spec("mobilenet_v2", [3, 8, 8], width=0.25, blocks=5, expansion=2)
    write("mobilenet_v2", MobileNetV2(s["input"], 0.25, 5, 2, s["classes"]), s)
    s = spec("mobilenet_v2", [3, 8, 8], width=0.25, blocks=2, expansion=1)
    write("mobilenet_v2_noexpand", MobileNetV2(s["input"], 0.25, 2, 1, s["classes"]), s)
    s = spec("mobilenet_v3", [3, 8, 8], width=0.25, blocks=5, expansion=2, se=True)
    write("mobilenet_v3", MobileNetV3(s["input"], 0.25, 5, 2, True, s["classes"]), s)


if __name__ == "__main__":
    main()
