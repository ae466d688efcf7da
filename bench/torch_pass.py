#!/usr/bin/python3
"""torch_pass.py - the PyTorch peer of bench_pass: the same models (from
torch_train.py), batch sizes and synthetic inputs (uniform [0, 1) features,
uniform labels, 8 batches cycled), in eval mode under torch.inference_mode(),
computing what the model pass computes for embeddings + loss: the
penultimate embeddings (the model split before its last linear layer) and
the per-sample cross-entropy (reduction='none'). yearbook_train64 times
YearbookNet's training step (forward, summed cross-entropy / batch,
backward, SGD lr 0.01 momentum 0.9), as torch_train.py does. Prints the
same fixed-width table as bench_pass (best of --rounds rounds).

  python3 bench/torch_pass.py [--threads 2] [--seconds 3] [--rounds 1] [--cases mlp256,...]

Not part of the build; PyTorch is a peer, never linked."""
import argparse
import os
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_train import YearbookNet, mlp, small_cnn, timed  # noqa: E402

CASES = {  # name: (constructor, per-sample input shape, classes, batch, train)
    "mlp256": (mlp, (1, 28, 28), 10, 256, False),
    "smallcnn64": (small_cnn, (1, 28, 28), 10, 64, False),
    "smallcnn256": (small_cnn, (1, 28, 28), 10, 256, False),
    "yearbook64": (YearbookNet, (3, 32, 32), 2, 64, False),
    "yearbook256": (YearbookNet, (3, 32, 32), 2, 256, False),
    "yearbook_train64": (YearbookNet, (3, 32, 32), 2, 64, True),
}


def split(model):
    """(body, head): body(x) is the penultimate embedding, head the last
    linear layer, so that head(body(x)) == model(x)."""
    if isinstance(model, nn.Sequential):
        return model[:-1], model[-1]
    return (lambda x: model.enc(x).mean(dim=(2, 3))), model.classifier


def bench_case(name, seconds, rounds):
    ctor, shape, k, batch, train = CASES[name]
    torch.manual_seed(0)
    model = ctor()
    nb = 8
    xs = torch.rand(nb, batch, *shape)
    ys = torch.randint(0, k, (nb, batch))
    if train:
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        model.train()

        def step(i):
            opt.zero_grad()
            loss = F.cross_entropy(model(xs[i % nb]), ys[i % nb], reduction="sum") / batch
            loss.backward()
            opt.step()

        warm = 3
    else:
        model.eval()
        body, head = split(model)

        def step(i):
            with torch.inference_mode():
                emb = body(xs[i % nb])
                loss = F.cross_entropy(head(emb), ys[i % nb], reduction="none")
            return emb, loss

        warm = 2
    for i in range(warm):
        step(i)
    return max(timed(step, seconds) for _ in range(rounds)) * batch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--cases", default=",".join(CASES))
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    print(f"# torch {torch.__version__}, {a.threads} threads")
    print(f"#{'engine':<7}{'case':<18}{'batch':>6}{'samples/s':>14}")
    for name in a.cases.split(","):
        rate = bench_case(name, a.seconds, max(1, a.rounds))
        print(f"{'torch':<8}{name:<18}{CASES[name][3]:>6}{rate:>14.0f}", flush=True)


if __name__ == "__main__":
    main()
