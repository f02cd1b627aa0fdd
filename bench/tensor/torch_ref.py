#!/usr/bin/env python3
"""PyTorch CPU reference for bench/tensor/bench.rs: the same four models on the
same shapes, timed the same way (median after two warm-up calls), 2 threads.

Install (PyPI only; the default wheel pulls about 2.5 GB of CUDA libraries but
runs on the CPU):  python3 -m pip install torch
Prints one JSON object per row, like the Rust benchmark.
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

TRAIN_BATCH = 64
INFER_BATCH = 256
MIN_TIME = 1.5
MAX_ITERS = 50


def make_divisible(v):
    r = max(int((v + 4) // 8) * 8, 8)
    return r + 8 if r < 0.9 * v else r


def mlp(side):
    return nn.Sequential(nn.Flatten(), nn.Linear(side * side, 128), nn.ReLU(),
                         nn.Linear(128, 64), nn.ReLU(), nn.Linear(64, 10))


def cnn(side):
    layers, c, h = [], 1, side
    for ch in (16, 32):
        layers += [nn.Conv2d(c, ch, 3, padding=1, bias=False), nn.BatchNorm2d(ch), nn.ReLU()]
        if h >= 2:
            layers.append(nn.MaxPool2d(2))
            h //= 2
        c = ch
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 64), nn.ReLU(), nn.Linear(64, 10)]
    return nn.Sequential(*layers)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        n, t, d = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        o = F.scaled_dot_product_attention(q, k, v)
        return self.proj(o.transpose(1, 2).reshape(n, t, d))


class Block(nn.Module):
    def __init__(self, dim, heads, hidden):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    def __init__(self, side, patch, dim=64, depth=4, heads=4, mlp_ratio=2.0):
        super().__init__()
        tokens = (side // patch) ** 2
        self.patch = nn.Conv2d(1, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, tokens + 1, dim))
        self.blocks = nn.Sequential(*[Block(dim, heads, int(dim * mlp_ratio)) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        return self.head(self.norm(self.blocks(x))[:, 0])


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expansion):
        super().__init__()
        hidden = cin * expansion
        layers = []
        if expansion != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        layers += [nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
                   nn.BatchNorm2d(hidden), nn.ReLU6(),
                   nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


def mobilenet_v2(side, width=1.0, blocks=7, expansion=6):
    stages = [16, 24, 32, 64, 96]
    ch = make_divisible(16 * width)
    stem_stride = 2 if side >= 64 else 1
    layers = [nn.Conv2d(1, ch, 3, stem_stride, 1, bias=False), nn.BatchNorm2d(ch), nn.ReLU6()]
    h = (side - 1) // stem_stride + 1
    prev = None
    for i in range(blocks):
        stage = i * len(stages) // blocks
        first = stage != prev
        prev = stage
        stride = 2 if first and 1 <= stage <= 3 and h > 2 else 1
        out = make_divisible(stages[stage] * width)
        layers.append(InvertedResidual(ch, out, stride, expansion))
        h = (h - 1) // stride + 1
        ch = out
    last = 4 * ch
    layers += [nn.Conv2d(ch, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(last, 10)]
    return nn.Sequential(*layers)


def models(side):
    return [("mlp", mlp(side)), ("cnn", cnn(side)),
            ("vit", ViT(side, 4 if side >= 28 else 2)), ("mobilenet_v2", mobilenet_v2(side))]


def median_ms(f):
    f()
    f()
    times, start = [], time.perf_counter()
    while len(times) < MAX_ITERS and (time.perf_counter() - start < MIN_TIME or len(times) < 5):
        t = time.perf_counter()
        f()
        times.append((time.perf_counter() - t) * 1e3)
    times.sort()
    return times[len(times) // 2]


def main():
    torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
    torch.manual_seed(0)
    for data, side in (("digits", 8), ("mnist", 28)):
        for name, model in models(side):
            opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
            x = torch.rand(TRAIN_BATCH, 1, side, side)
            y = torch.arange(TRAIN_BATCH) % 10

            def step():
                opt.zero_grad()
                F.cross_entropy(model(x), y).backward()
                opt.step()

            model.train()
            train_ms = median_ms(step)
            model.eval()
            xi = torch.rand(INFER_BATCH, 1, side, side)
            with torch.no_grad():
                infer_ms = median_ms(lambda: model(xi))
            params = sum(p.numel() for p in model.parameters())
            print(json.dumps({"model": name, "data": data, "train_ms": round(train_ms, 3),
                              "infer_ms": round(infer_ms, 3), "params": params}), flush=True)


if __name__ == "__main__":
    main()
