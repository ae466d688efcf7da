#!/usr/bin/python3
"""mmd_crosscheck.py - our drift MMD against an independent NumPy one.

Usage: mmd_crosscheck.py DRIFT_DRIVER   (tests/drift_driver.c, built as
drift_driver; CTest runs this as the test mmd_crosscheck)

The NumPy side follows alibi-detect's MMDDrift (the original's
AlibiDetectMmdDriftMetric) step by step, written from its definitions:
squared Euclidean distances floored at 1e-30; the Gaussian RBF kernel
exp(-d2 / (2 sigma^2)); sigma by alibi-detect's median heuristic
(sigma_median: sort all entries of the distance matrix, take entry
n + (size - n) // 2 - 1 where n is the number of leading rows the two point
sets share (all of them for the reference with itself, else 0), and
sigma = sqrt(median / 2)), from the reference with itself
(configure_kernel_from_x_ref) or from reference x current; and the
unbiased estimator (mmd2_from_kernel_matrix): mean kernel over distinct
reference pairs + over distinct current pairs - 2 x mean over all cross
pairs. Everything in float64 on float32 inputs (ours computes distances
with a float32 GEMM, so agreement is to about 1e-6).

Cases: same distribution, a shifted mean, a scaled spread, identical
windows (MMD^2 = -2 (1 - mean off-diagonal kernel) / n: about 0 and not
positive) and a strong shift (large), each with the bandwidth from the
reference and from the cross distances. Exits 77 (skipped) without NumPy.
"""
import subprocess
import sys

try:
    import numpy as np
except ImportError:
    print("mmd_crosscheck: NumPy is not installed for", sys.executable, "- skipped")
    sys.exit(77)


def sq_dist(a, b):
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * a @ b.T
    return np.maximum(d, 1e-30)


def sigma_median(x, y, d2):
    n = min(x.shape[0], y.shape[0])
    n = n if x.shape == y.shape and np.array_equal(x[:n], y[:n]) else 0
    k = n + (d2.size - n) // 2 - 1
    return np.sqrt(0.5 * np.sort(d2, axis=None)[k])


def mmd2(x, y, from_ref):
    x = x.astype(np.float64)
    y = y.astype(np.float64)
    nx, ny = len(x), len(y)
    dxx, dyy, dxy = sq_dist(x, x), sq_dist(y, y), sq_dist(x, y)
    sigma = sigma_median(x, x, dxx) if from_ref else sigma_median(x, y, dxy)
    g = 1.0 / (2.0 * sigma * sigma)
    kxx, kyy, kxy = np.exp(-g * dxx), np.exp(-g * dyy), np.exp(-g * dxy)
    np.fill_diagonal(kxx, 0.0)
    np.fill_diagonal(kyy, 0.0)
    m = kxx.sum() / (nx * (nx - 1)) + kyy.sum() / (ny * (ny - 1)) - 2.0 * kxy.mean()
    return m, sigma


def ours(driver, x, y, from_ref):
    rows = [f"{len(x)} {len(y)} {x.shape[1]} {from_ref}"]
    rows += [" ".join(repr(float(v)) for v in r) for r in np.concatenate([x, y])]
    out = subprocess.run([driver, "mmd"], input="\n".join(rows) + "\n", capture_output=True,
                         text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    driver = sys.argv[1]
    rng = np.random.default_rng(20240611)
    d = 8
    ref = rng.normal(size=(300, d)).astype(np.float32)
    cases = {
        "same distribution": rng.normal(size=(250, d)),
        "mean shifted by 0.3": rng.normal(size=(250, d)) + 0.3,
        "spread x 1.5": 1.5 * rng.normal(size=(250, d)),
        "identical windows": ref.copy(),
        "mean shifted by 2": rng.normal(size=(200, d)) + 2.0,
    }
    fails = 0
    for name, cur in cases.items():
        cur = cur.astype(np.float32)
        for from_ref in (1, 0):
            want, want_sigma = mmd2(ref, cur, from_ref)
            got, got_sigma = ours(driver, ref, cur, from_ref)
            ok = abs(got - want) <= 2e-6 and abs(got_sigma - want_sigma) <= 1e-5 * want_sigma
            if name == "identical windows":
                ok = ok and -0.01 < want <= 0.0
            if name == "mean shifted by 2":
                ok = ok and want > 0.5
            print(f"{'ok  ' if ok else 'FAIL'} {name:22s} sigma from {'ref  ' if from_ref else 'cross'}"
                  f" numpy {want:+.9f} (sigma {want_sigma:.6f})  ours {got:+.9f} (sigma {got_sigma:.6f})"
                  f"  diff {got - want:+.2e}")
            fails += not ok
    print(f"mmd_crosscheck: {2 * len(cases)} comparisons, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
