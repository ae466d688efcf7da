#!/usr/bin/python3
"""pvalue_crosscheck.py - our exact small-sample p-values of the two-sample
Kolmogorov-Smirnov and Cramer-von Mises tests against brute force.

Usage: pvalue_crosscheck.py DRIFT_DRIVER   (tests/drift_driver.c; CTest runs
this as the test pvalue_crosscheck)

The reference enumerates every one of the C(n+m, n) ways to split the
pooled ranks between the two samples (all equally likely under the null
hypothesis) and counts those whose statistic is at least the observed one:
that is the definition of the exact p-value (scipy's method "exact" for
ks_2samp, and cramervonmises_2samp's exact p-value, which alibi-detect's
CVMDrift gets with method "auto" when both samples have at most 20
values). Pure Python (no NumPy), exact rational arithmetic for the KS
distances (integers in units of 1/(n m)). Random samples (seeded) of sizes up to 8 + 9, with and without
ties (CvM; KS assumes distinct values).
"""
import itertools
import random
import subprocess
import sys
from fractions import Fraction


def avg_ranks(a, b):
    pooled = sorted(a + b)
    first = {}
    for k, v in enumerate(pooled):
        first.setdefault(v, k)
    count = {v: pooled.count(v) for v in set(pooled)}
    rank = {v: first[v] + (count[v] + 1) / 2 for v in count}
    return [rank[v] for v in sorted(a)], [rank[v] for v in sorted(b)]


def cvm_u(rx, ry):
    n, m = len(rx), len(ry)
    return (n * sum((r - i) ** 2 for i, r in enumerate(sorted(rx), 1)) +
            m * sum((r - j) ** 2 for j, r in enumerate(sorted(ry), 1)))


def cvm_reference(a, b):
    n, m = len(a), len(b)
    u = cvm_u(*avg_ranks(a, b))
    N = n + m
    hit = total = 0
    for c in itertools.combinations(range(1, N + 1), n):
        chosen = set(c)
        rest = [r for r in range(1, N + 1) if r not in chosen]
        total += 1
        hit += cvm_u(list(c), rest) >= u - 1e-9
    k = n * m
    t = u / (k * N) - (4 * k - 1) / (6 * N)
    return t, hit / total


def ks_stat(a, b, alternative):
    n, m = len(a), len(b)
    hi = lo = Fraction(0)
    for v in sorted(set(a + b)):
        diff = Fraction(sum(x <= v for x in a), n) - Fraction(sum(y <= v for y in b), m)
        hi, lo = max(hi, diff), max(lo, -diff)
    return lo if alternative == 1 else hi if alternative == 2 else max(hi, lo)


def ks_reference(a, b, alternative):
    n, m = len(a), len(b)
    d = ks_stat(a, b, alternative)
    h = d * n * m  # distances in units of 1/(n m): integers
    hit = total = 0
    for c in itertools.combinations(range(n + m), n):
        chosen = set(c)
        i = j = 0
        worst = 0
        for k in range(n + m):
            if k in chosen:
                i += 1
            else:
                j += 1
            diff = i * m - j * n
            worst = max(worst, -diff if alternative == 1 else diff if alternative == 2 else abs(diff))
        total += 1
        hit += worst >= h
    return float(d), hit / total


def driver(path, mode, head, values):
    text = head + "\n" + " ".join(repr(float(v)) for v in values) + "\n"
    out = subprocess.run([path, mode], input=text, capture_output=True, text=True, check=True)
    return [float(x) for x in out.stdout.split()]


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    path = sys.argv[1]
    rng = random.Random(12345)
    fails = checks = 0
    sizes = [(3, 2), (4, 4), (5, 3), (6, 6), (7, 5), (8, 9), (2, 9)]
    for n, m in sizes:
        for shift in (0.0, 0.8, 2.0):
            a = [round(rng.gauss(0, 1), 6) for _ in range(n)]
            b = [round(rng.gauss(shift, 1), 6) for _ in range(m)]
            for alt in (0, 1, 2):
                d, want = ks_reference(a, b, alt)
                got_d, _, got = driver(path, "ks", f"{n} {m} {alt}", a + b)
                ok = abs(got_d - d) < 1e-12 and abs(got - want) <= 1e-12 + 1e-9 * want
                fails += not ok
                checks += 1
                if not ok or shift == 0.8:
                    print(f"{'ok  ' if ok else 'FAIL'} KS  n={n} m={m} alt={alt} D={d:.6f}"
                          f" exact {want:.12g} ours {got:.12g}")
            # CvM, also with ties (values rounded to one decimal)
            for tied in (False, True):
                x = [round(v, 1) for v in a] if tied else a
                y = [round(v, 1) for v in b] if tied else b
                t, want = cvm_reference(x, y)
                got_t, got = driver(path, "cvm", f"{n} {m}", x + y)
                ok = abs(got_t - t) < 1e-12 and abs(got - want) <= 1e-12 + 1e-9 * want
                fails += not ok
                checks += 1
                if not ok or shift == 0.8:
                    print(f"{'ok  ' if ok else 'FAIL'} CvM n={n} m={m}{' ties' if tied else '     '}"
                          f" T={t:.6f} exact {want:.12g} ours {got:.12g}")
    print(f"pvalue_crosscheck: {checks} comparisons, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
