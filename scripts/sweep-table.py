#!/usr/bin/env python3
"""sweep-table.py - a Markdown table of a finished sweep, one row per policy.

Usage: sweep-table.py SWEEP_OUT [--handler NAME]

Reads SWEEP_OUT/points.csv (written by `modyn sweep`) and each point's
triggers.csv and eval/score.csv. Points that differ only in training.seed
form one row: triggers, samples trained, and the mean composite score of
the currently trained and currently active model (mean over the seeds, with
min-max), in the grid's order. Points that have not finished are counted in
a last column and left out of the means.
"""
import csv
import os
import sys


def mean_range(xs, fmt):
    if not xs:
        return "-"
    m = sum(xs) / len(xs)
    if len(xs) == 1 or max(xs) == min(xs):
        return fmt.format(m)
    return (fmt + " ({}-{})").format(m, fmt.format(min(xs)), fmt.format(max(xs)))


def main():
    args = sys.argv[1:]
    if not args or args[0] in ("-h", "--help"):
        print(__doc__.strip())
        sys.exit(0 if args else 2)
    out = args[0]
    handler = None
    if len(args) >= 3 and args[1] == "--handler":
        handler = args[2]
    try:
        with open(os.path.join(out, "points.csv"), newline="") as f:
            rows = list(csv.reader(f))
    except OSError as e:
        sys.exit(f"sweep-table.py: {e}; run the whole sweep first (it writes points.csv)")
    head, points = rows[0], rows[1:]
    axes = [i for i in range(2, len(head)) if head[i] != "training.seed"]
    groups, order = {}, []
    for p in points:
        key = " · ".join(p[i] for i in axes) or "all"
        if key not in groups:
            groups[key] = {"triggers": [], "samples": [], "trained": [], "active": [], "missing": 0}
            order.append(key)
        g = groups[key]
        run = p[1]
        try:
            with open(os.path.join(run, "triggers.csv"), newline="") as f:
                trig = list(csv.DictReader(f))
            with open(os.path.join(run, "eval", "score.csv"), newline="") as f:
                score = [r for r in csv.DictReader(f) if handler in (None, r["handler"])]
        except OSError:
            g["missing"] += 1
            continue
        first = score[0]["handler"] if score else None
        sc = {r["model"]: float(r["mean"]) for r in score if r["handler"] == first}
        if "active" not in sc:
            g["missing"] += 1
            continue
        g["triggers"].append(len(trig))
        g["samples"].append(sum(int(r["trained_samples"]) for r in trig))
        g["trained"].append(sc.get("trained", float("nan")))
        g["active"].append(sc["active"])
    print("| policy | runs | triggers | samples trained | currently trained | currently active |")
    print("|---|---|---|---|---|---|")
    for key in order:
        g = groups[key]
        runs = str(len(g["active"])) + (f" ({g['missing']} unfinished)" if g["missing"] else "")
        print(f"| {key} | {runs} | {mean_range(g['triggers'], '{:.0f}')} | "
              f"{mean_range(g['samples'], '{:.0f}')} | {mean_range(g['trained'], '{:.3f}')} | "
              f"{mean_range(g['active'], '{:.3f}')} |")


if __name__ == "__main__":
    main()
