#!/usr/bin/env python3
"""fashion-stream.py - turn Fashion-MNIST into a drifting stream (IDX files).

Usage: fashion-stream.py [--src DIR] [--years N] [--train-per-year N]
                         [--test-per-year N] [--seed S] --out DIR

Reads Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist,
the four .gz IDX files) and writes, in stream order,
    DIR/train-images-idx3-ubyte  DIR/train-labels-idx1-ubyte
    DIR/test-images-idx3-ubyte   DIR/test-labels-idx1-ubyte
for `modyn ingest --format idx` (scripts/fashion-stream.sh does both steps).

The construction (every sample appears at most once; classes stay balanced):
  * The stream has N "years" (default 12) of equal length. Each split is
    shuffled with the seed, and year y takes the next train-per-year
    (test-per-year) images, so every year holds an independent sample of
    all ten classes.
  * Concepts: A = the original image; B = its negative (255 - x);
    C = B turned 90 degrees clockwise.
  * Years [0, N/3): A.  Abrupt shift at year N/3: B for years [N/3, 7N/12).
    Gradual shift over years [7N/12, 5N/6): each image is C with a
    probability that rises linearly with its position, from 0 at the start
    of the stretch to 1 at its end, else B. Years [5N/6, N): C.
    With N = 12: A 0-3, B 4-6, B->C 7-9, C 10-11.
  * Labels never change (covariate drift, not concept drift).
The test split follows the same schedule, so an evaluation interval of one
year holds the concept mix the training stream had in that year.
Only the standard library is used; the same seed gives the same bytes.
"""
import argparse
import gzip
import operator
import os
import random
import struct
import sys

ROWS = COLS = 28
PIX = ROWS * COLS
NEG = bytes(255 - v for v in range(256))
# Clockwise quarter turn: out[r][c] = in[ROWS - 1 - c][r].
ROT = operator.itemgetter(*[(ROWS - 1 - c) * COLS + r for r in range(ROWS) for c in range(COLS)])


def read_idx(path, magic):
    with gzip.open(path, "rb") as f:
        data = f.read()
    (m,) = struct.unpack(">I", data[:4])
    if m != magic:
        sys.exit(f"{path}: not an IDX file of the expected kind (magic {m:#x}, want {magic:#x})")
    if magic == 0x803:
        n, r, c = struct.unpack(">III", data[4:16])
        if (r, c) != (ROWS, COLS):
            sys.exit(f"{path}: images are {r}x{c}, expected {ROWS}x{COLS}")
        return n, data[16:]
    (n,) = struct.unpack(">I", data[4:8])
    return n, data[8:]


def concept_c_probability(years, year_frac):
    """P(concept C) at stream position year_frac (in years, 0..years)."""
    g0, g1 = 7 * years / 12, 5 * years / 6
    if year_frac < g0:
        return 0.0
    if year_frac >= g1:
        return 1.0
    return (year_frac - g0) / (g1 - g0)


def build(split, src, out, years, per_year, rng):
    img_name = "train-images-idx3-ubyte" if split == "train" else "t10k-images-idx3-ubyte"
    lab_name = "train-labels-idx1-ubyte" if split == "train" else "t10k-labels-idx1-ubyte"
    n, pixels = read_idx(os.path.join(src, img_name + ".gz"), 0x803)
    nl, labels = read_idx(os.path.join(src, lab_name + ".gz"), 0x801)
    if nl != n:
        sys.exit(f"{src}: {n} images but {nl} labels")
    total = years * per_year
    if total > n:
        sys.exit(f"{split}: {years} years x {per_year} = {total} samples, but the split has {n}")
    order = list(range(n))
    rng.shuffle(order)
    img_out = bytearray()
    lab_out = bytearray()
    counts = {"A": 0, "B": 0, "C": 0}
    for i in range(total):
        src_i = order[i]
        img = pixels[src_i * PIX:(src_i + 1) * PIX]
        year_frac = i / per_year
        if year_frac < years / 3:
            concept = "A"
        elif rng.random() < concept_c_probability(years, year_frac):
            concept = "C"
        else:
            concept = "B"
        if concept != "A":
            img = img.translate(NEG)
        if concept == "C":
            img = bytes(ROT(img))
        counts[concept] += 1
        img_out += img
        lab_out.append(labels[src_i])
    prefix = "train" if split == "train" else "test"
    with open(os.path.join(out, prefix + "-images-idx3-ubyte"), "wb") as f:
        f.write(struct.pack(">IIII", 0x803, total, ROWS, COLS))
        f.write(img_out)
    with open(os.path.join(out, prefix + "-labels-idx1-ubyte"), "wb") as f:
        f.write(struct.pack(">II", 0x801, total))
        f.write(lab_out)
    print(f"{split}: {total} samples, {years} years of {per_year}; "
          f"concepts A {counts['A']}, B {counts['B']}, C {counts['C']}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="\n".join(__doc__.split("\n")[2:]))
    p.add_argument("--src", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--years", type=int, default=12)
    p.add_argument("--train-per-year", type=int, default=4000)
    p.add_argument("--test-per-year", type=int, default=800)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--out", required=True)
    a = p.parse_args()
    if a.years < 1 or a.train_per_year < 1 or a.test_per_year < 1:
        sys.exit("--years, --train-per-year and --test-per-year must be at least 1")
    for name in ("train-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte.gz"):
        if not os.path.exists(os.path.join(a.src, name)):
            sys.exit(f"{a.src}/{name} is missing: install Debian's dataset-fashion-mnist "
                     "(apt-get install dataset-fashion-mnist) or pass --src DIR")
    os.makedirs(a.out, exist_ok=True)
    build("train", a.src, a.out, a.years, a.train_per_year, random.Random(a.seed))
    build("test", a.src, a.out, a.years, a.test_per_year, random.Random(a.seed + 1))


if __name__ == "__main__":
    main()
