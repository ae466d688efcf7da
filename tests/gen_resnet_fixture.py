#!/usr/bin/python3
"""gen_resnet_fixture.py - the PyTorch reference for test_resnet.c.

Builds the CIFAR ResNet-18 that src/train/resnet18.c builds (convolutions
with bias, see there) at width 4 for 3x32x32 inputs and 10 classes, sets its
parameters to the formula the test uses, runs one training-mode forward on
a fixed batch of 2 with a summed cross-entropy loss, back-propagates, and
writes tests/data/resnet18_w4.txt: the logits, the loss, selected parameter
gradients and batchnorm running statistics, each at its offset in our flat
layout (named_parameters / named_buffers order without num_batches_tracked).
The reference runs in float64, so the fixture holds the exact values the
float32 engine approximates.

Run it with a Python that has torch (Debian's /usr/bin/python3 with torch
1.13 was used); CI only reads the fixture:
    /usr/bin/python3 tests/gen_resnet_fixture.py
"""
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

WIDTH, CIN, H, W, CLASSES, N = 4, 3, 32, 32, 10, 2
LABELS = [3, 7]


class BasicBlock(nn.Module):
    # attribute order = parameter order: the body, then the shortcut
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=True)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=True)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = nn.Sequential()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, 0, bias=True),
                                          nn.BatchNorm2d(cout))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class ResNet18(nn.Module):
    def __init__(self, cin, width, classes):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 3, 1, 1, bias=True)
        self.bn1 = nn.BatchNorm2d(width)
        stages, c = [], width
        for s in range(4):
            cout = width << s
            stages.append(nn.Sequential(BasicBlock(c, cout, 2 if s else 1),
                                        BasicBlock(cout, cout, 1)))
            c = cout
        self.layer1, self.layer2, self.layer3, self.layer4 = stages
        self.linear = nn.Linear(8 * width, classes)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer4(self.layer3(self.layer2(self.layer1(out))))
        return self.linear(out.mean(dim=(2, 3)))


def f32(values):
    """Round to float32 as the C test does, then widen for the reference."""
    return torch.from_numpy(np.asarray(values, dtype=np.float32).astype(np.float64))


def main():
    print("params at width 64, 3x32x32, 10 classes:",
          sum(p.numel() for p in ResNet18(3, 64, 10).parameters()))
    model = ResNet18(CIN, WIDTH, CLASSES).double().train()
    names = [n for n, _ in model.named_parameters()]
    total = sum(p.numel() for p in model.parameters())
    # the same formula as test_resnet.c's test_against_torch: p[i] = 0.25 sin(0.37 i).
    # (At 0.5 float32 rounding alone, torch's included, came within 0.6-0.9 of
    # the test's 1e-4 tolerance on the stem's BN gradient; 0.25 leaves ~0.08.)
    flat = f32([0.25 * math.sin(0.37 * i) for i in range(total)])
    offsets, off = {}, 0
    with torch.no_grad():
        for n, p in model.named_parameters():
            offsets[n] = off
            p.copy_(flat[off:off + p.numel()].view_as(p))
            off += p.numel()
    boffsets, boff = {}, 0
    for n, b in model.named_buffers():
        if n.endswith("num_batches_tracked"):
            continue
        boffsets[n] = boff
        boff += b.numel()
    # input: x[j] = cos(0.11 j) over the flat [N, C, H, W] batch
    x = f32([math.cos(0.11 * j) for j in range(N * CIN * H * W)]).view(N, CIN, H, W)
    logits = model(x)
    loss = F.cross_entropy(logits, torch.tensor(LABELS), reduction="sum")
    loss.backward()
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())

    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "resnet18_w4.txt")
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "w") as f:
        f.write("# ResNet18 width 4, 3x32x32, 10 classes, batch 2, labels 3 7: PyTorch %s, "
                "float64, train mode, cross-entropy summed.\n" % torch.__version__)
        f.write("# Written by tests/gen_resnet_fixture.py; read by tests/test_resnet.c.\n")
        f.write("# Lines: KIND NAME OFFSET COUNT values... (OFFSET into our flat params or "
                "buffers)\n")

        def emit(kind, name, offset, values):
            values = [float(v) for v in values]
            f.write("%s %s %d %d %s\n" % (kind, name, offset, len(values),
                                          " ".join("%.12g" % v for v in values)))

        emit("count", "nparams", 0, [total])
        emit("count", "nbuffers", 0, [boff])
        emit("logits", "logits", 0, logits.detach().flatten())
        emit("loss", "loss", 0, [loss.item()])
        for name, count in [("conv1.weight", 16), ("conv1.bias", 4), ("bn1.weight", 4),
                            ("layer1.0.conv1.weight", 16), ("layer2.0.conv2.weight", 16),
                            ("layer2.1.bn2.weight", 8), ("layer3.0.conv1.weight", 16),
                            ("layer3.0.shortcut.0.weight", 16), ("layer3.0.shortcut.1.bias", 16),
                            ("layer4.1.conv2.weight", 16), ("linear.weight", 16),
                            ("linear.bias", 10)]:
            emit("grad", name, offsets[name], params[name].grad.flatten()[:count])
        for name in ["bn1.running_mean", "bn1.running_var", "layer3.0.shortcut.1.running_var",
                     "layer4.1.bn2.running_mean"]:
            emit("buffer", name, boffsets[name], buffers[name].flatten())
    print("wrote", out, "(%d parameters, %d buffer values, loss %.6f)" % (total, boff, loss.item()))


if __name__ == "__main__":
    main()
