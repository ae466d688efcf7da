#!/usr/bin/python3
"""torch_train.py - the PyTorch peer of bench_train: the same models, batch
sizes and synthetic inputs (uniform [0, 1) features, uniform labels), 2
threads, timed training steps (forward, summed cross-entropy, backward, SGD
momentum step) and inference at batch 256, printed in the same fixed-width
table as bench_train. With --fmnist DIR it trains MLP and SmallCNN on
Fashion-MNIST (3 epochs, batch 64, SGD lr 0.01 momentum 0.9) and prints the
test accuracy.

  /usr/bin/python3 bench/torch_train.py [--threads 2] [--seconds 3] [--cases mlp64,...]
  /usr/bin/python3 bench/torch_train.py --fmnist /usr/share/datasets/fashion-mnist

Not part of the build; Debian's python3-torch is a peer, never linked."""
import argparse
import gzip
import os
import struct
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def mlp(din=784, hidden=(256,), k=10):
    layers, d = [], din
    for h in hidden:
        layers += [nn.Linear(d, h), nn.ReLU()]
        d = h
    layers.append(nn.Linear(d, k))
    return nn.Sequential(nn.Flatten(), *layers)


def small_cnn(cin=1, k=10):
    return nn.Sequential(nn.Conv2d(cin, 32, 3), nn.ReLU(), nn.Conv2d(32, 64, 3), nn.ReLU(),
                         nn.MaxPool2d(2), nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(),
                         nn.Linear(128, k))


class YearbookNet(nn.Module):
    def __init__(self, cin=3, k=2, hidden=32):
        super().__init__()
        blocks, c = [], cin
        for _ in range(4):
            blocks += [nn.Conv2d(c, hidden, 3, padding=1), nn.BatchNorm2d(hidden), nn.ReLU(),
                       nn.MaxPool2d(2)]
            c = hidden
        self.enc = nn.Sequential(*blocks)
        self.classifier = nn.Linear(hidden, k)

    def forward(self, x):
        return self.classifier(self.enc(x).mean(dim=(2, 3)))


CASES = {  # name: (constructor, per-sample input shape, classes, batch)
    "mlp64": (mlp, (1, 28, 28), 10, 64),
    "mlp256": (mlp, (1, 28, 28), 10, 256),
    "smallcnn64": (small_cnn, (1, 28, 28), 10, 64),
    "yearbook64": (YearbookNet, (3, 32, 32), 2, 64),
}


def timed(fn, seconds, min_iters=5):
    """Run fn until seconds have passed (at least min_iters); iterations/s."""
    iters, t0 = 0, time.perf_counter()
    while True:
        fn(iters)
        iters += 1
        el = time.perf_counter() - t0
        if iters >= min_iters and el >= seconds:
            return iters / el


def bench_case(name, seconds, infer_batch=256):
    ctor, shape, k, batch = CASES[name]
    torch.manual_seed(0)
    model = ctor()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    nb = 8
    xs = torch.rand(nb, batch, *shape)
    ys = torch.randint(0, k, (nb, batch))
    model.train()

    def step(i):
        opt.zero_grad()
        loss = F.cross_entropy(model(xs[i % nb]), ys[i % nb], reduction="sum") / batch
        loss.backward()
        opt.step()

    for i in range(3):
        step(i)
    train = timed(step, seconds) * batch
    model.eval()
    xi = torch.rand(infer_batch, *shape)
    with torch.no_grad():
        for _ in range(2):
            model(xi)
        infer = timed(lambda i: model(xi), seconds / 2) * infer_batch
    return train, infer


def read_idx(path):
    with (gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")) as f:
        data = f.read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    t = torch.frombuffer(bytearray(data[4 + 4 * ndim:]), dtype=torch.uint8)
    return t.reshape(dims)


def fmnist(d, epochs=3, batch=64):
    xtr = read_idx(os.path.join(d, "train-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
    ytr = read_idx(os.path.join(d, "train-labels-idx1-ubyte.gz")).long()
    xte = read_idx(os.path.join(d, "t10k-images-idx3-ubyte.gz")).float().div(255).unsqueeze(1)
    yte = read_idx(os.path.join(d, "t10k-labels-idx1-ubyte.gz")).long()
    for name, ctor in (("MLP", mlp), ("SmallCNN", small_cnn)):
        torch.manual_seed(0)
        model = ctor()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        g = torch.Generator().manual_seed(0)
        t0 = time.perf_counter()
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(len(ytr), generator=g)
            for b in range(0, len(ytr), batch):
                idx = perm[b:b + batch]
                opt.zero_grad()
                F.cross_entropy(model(xtr[idx]), ytr[idx]).backward()
                opt.step()
        model.eval()
        with torch.no_grad():
            acc = sum((model(xte[b:b + 1000]).argmax(1) == yte[b:b + 1000]).sum().item()
                      for b in range(0, len(yte), 1000)) / len(yte)
        print(f"{'torch':<8}{name:<12}{epochs:>8}{acc:>10.4f}{time.perf_counter() - t0:>10.1f}",
              flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--cases", default=",".join(CASES))
    ap.add_argument("--fmnist", default="")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if a.fmnist:
        print(f"#{'engine':<7}{'model':<12}{'epochs':>8}{'test_acc':>10}{'wall_s':>10}")
        fmnist(a.fmnist)
        return
    print(f"# torch {torch.__version__}, {a.threads} threads")
    print(f"#{'engine':<7}{'case':<13}{'batch':>6}{'train_samples/s':>17}{'infer256_samples/s':>20}")
    for name in a.cases.split(","):
        tr, inf = bench_case(name, a.seconds)
        print(f"{'torch':<8}{name:<13}{CASES[name][3]:>6}{tr:>17.0f}{inf:>20.0f}", flush=True)


if __name__ == "__main__":
    main()
