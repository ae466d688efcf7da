#!/usr/bin/env python3
"""torch_gpu.py - the PyTorch peer of bench_gpu: training throughput on one
GPU for the same models, batch sizes and synthetic data.

A step is forward, CrossEntropyLoss(reduction='sum') on the logits divided
by the batch, backward, SGD step (lr 0.01, momentum 0.9), eager mode, on
uniform [0, 1) inputs and uniform labels already on the device (8 batches
cycled). fp32 runs with TF32 off (cuBLAS and cuDNN) and
cudnn.benchmark on; bf16 runs the forward and the loss under
torch.autocast(dtype=torch.bfloat16) (weights and the optimizer stay fp32).
Each case warms up, then times a loop of N steps between two
torch.cuda.synchronize() calls, N chosen to last about --seconds.

One line per case and precision:
  case=<name> precision=<fp32|bf16> batch=<B> samples_per_s=<x> gflop_s=<y> step_ms=<z>
gflop_s is an estimate: 3 x the forward FLOPs of the convolutions and
linear layers (2 FLOPs per multiply-add; backward counted as twice the
forward), times samples/s.

  python3 bench/torch_gpu.py [--cases yearbook64,...] [--seconds 2]
        [--precisions fp32,bf16] [--device cuda|cpu]

--device cpu is a smoke test of the script itself (tiny --seconds).
Not part of the build: PyTorch is a peer, never linked."""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


# the same SmallCNN and YearbookNet as the CPU peer
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import YearbookNet, small_cnn  # noqa: E402


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        # Convolutions carry a bias, as in our engine (torchvision's have none).
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=True)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, stride=1, padding=1, bias=True)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=True),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + sc)


class ResNet18(nn.Module):
    """CIFAR variant: 3x3 stem, no max-pool, 4 stages of 2 BasicBlocks."""

    def __init__(self, k=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 64, 3, stride=1, padding=1, bias=True),
                                  nn.BatchNorm2d(64), nn.ReLU())
        blocks, cin = [], 64
        for i, c in enumerate((64, 128, 256, 512)):
            for j in range(2):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(BasicBlock(cin, c, stride))
                cin = c
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(512, k)

    def forward(self, x):
        x = self.blocks(self.stem(x))
        return self.fc(x.mean(dim=(2, 3)))


CASES = {  # name: (constructor, per-sample input shape, classes, batch)
    "yearbook64": (lambda: YearbookNet(k=2), (3, 32, 32), 2, 64),
    "yearbook256": (lambda: YearbookNet(k=2), (3, 32, 32), 2, 256),
    "smallcnn64": (small_cnn, (1, 28, 28), 10, 64),
    "smallcnn256": (small_cnn, (1, 28, 28), 10, 256),
    "resnet18_128": (ResNet18, (3, 32, 32), 10, 128),
    "resnet18_256": (ResNet18, (3, 32, 32), 10, 256),
}


def forward_flops(model, shape):
    """Forward FLOPs per sample of the conv and linear layers (2 per MAC)."""
    total = [0]

    def conv_hook(m, inp, out):
        k = m.kernel_size[0] * m.kernel_size[1] * (m.in_channels // m.groups)
        total[0] += 2 * out.numel() * k

    def lin_hook(m, inp, out):
        total[0] += 2 * out.numel() * m.in_features

    hooks = []
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(lin_hook))
    was_training = model.training
    model.eval()
    with torch.no_grad():
        model(torch.zeros(1, *shape))
    model.train(was_training)
    for h in hooks:
        h.remove()
    return total[0]


def sync(dev):
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def bench_case(name, precision, seconds, dev):
    ctor, shape, k, batch = CASES[name]
    torch.manual_seed(0)
    model = ctor()
    flops = forward_flops(model, shape)
    model = model.to(dev).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    nb = 8
    xs = torch.rand(nb, batch, *shape, device=dev)
    ys = torch.randint(0, k, (nb, batch), device=dev)
    use_amp = precision == "bf16"

    def step(i):
        opt.zero_grad(set_to_none=True)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=use_amp):
            logits = model(xs[i % nb])
            loss = F.cross_entropy(logits.float(), ys[i % nb], reduction="sum")
        (loss / batch).backward()
        opt.step()

    # Warm-up: cudnn.benchmark autotunes in the first steps; then a short
    # timed run picks the step count of the measured loop.
    for i in range(5):
        step(i)
    sync(dev)
    probe = 5
    t0 = time.perf_counter()
    for i in range(probe):
        step(i)
    sync(dev)
    per_step = max((time.perf_counter() - t0) / probe, 1e-6)
    n = max(5, int(seconds / per_step))
    sync(dev)
    t0 = time.perf_counter()
    for i in range(n):
        step(i)
    sync(dev)
    el = time.perf_counter() - t0
    sps = n * batch / el
    return batch, sps, sps * 3 * flops / 1e9, 1e3 * el / n


def main():
    ap = argparse.ArgumentParser(description="PyTorch GPU training throughput (peer of bench_gpu)")
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--seconds", type=float, default=2.0, help="timed seconds per case")
    ap.add_argument("--precisions", default="fp32,bf16")
    ap.add_argument("--device", default="cuda", help="cuda, cuda:N, or cpu (smoke test)")
    a = ap.parse_args()
    cases = [c for c in a.cases.split(",") if c]
    for c in cases:
        if c not in CASES:
            sys.exit(f"torch_gpu.py: unknown case '{c}' (known: {','.join(CASES)})")
    precs = [p for p in a.precisions.split(",") if p]
    for p in precs:
        if p not in ("fp32", "bf16"):
            sys.exit(f"torch_gpu.py: unknown precision '{p}' (fp32, bf16)")
    dev = torch.device(a.device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        print("torch_gpu.py: no CUDA device visible to torch; skipped", file=sys.stderr)
        sys.exit(77)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if dev.type == "cuda":
        name = torch.cuda.get_device_name(dev)
        info = f"cuda {torch.version.cuda}, cudnn {torch.backends.cudnn.version()}"
    else:
        name, info = "cpu", f"{torch.get_num_threads()} threads"
    print(f"# torch {torch.__version__} on {name} ({info}); eager; cudnn.benchmark=True; "
          f"TF32 off (matmul and cudnn); bf16 = autocast, fp32 weights; {a.seconds}s per case")
    sys.stdout.flush()
    for c in cases:
        for p in precs:
            try:
                batch, sps, gf, ms = bench_case(c, p, a.seconds, dev)
            except Exception as e:  # one failing case must not hide the others
                print(f"# case={c} precision={p} failed: {type(e).__name__}: {e}", flush=True)
                if dev.type == "cuda":
                    torch.cuda.empty_cache()
                continue
            print(f"case={c} precision={p} batch={batch} samples_per_s={sps:.1f} "
                  f"gflop_s={gf:.1f} step_ms={ms:.3f}", flush=True)


if __name__ == "__main__":
    main()
