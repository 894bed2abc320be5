#!/usr/bin/python3
"""Fits L(step) = L_inf + A * step^-alpha to the validation losses of a training log.

Reads a `tranova train` log (MODEL.h5.train.tsv: columns step and val_loss; rows without a
validation are skipped), grid-searches L_inf (0.001 nats) and alpha (0.01) with A by least
squares, and prints the fit, its asymptotic perplexity and the step at which the fit reaches
each --target perplexity (or that the target lies below the asymptote). Pure Python.
Usage: benchmarks/train/fit_curve.py LOG.train.tsv [--target 16 15]
"""
import argparse, csv, math


def fit(points):
    best = None
    lo = min(l for _, l in points)
    for i in range(1000, int(lo * 1000)):
        l_inf = i / 1000
        for j in range(5, 150):
            alpha = j / 100
            xs = [s ** -alpha for s, _ in points]
            ys = [l - l_inf for _, l in points]
            a = sum(x * y for x, y in zip(xs, ys)) / sum(x * x for x in xs)
            if a <= 0:
                continue
            err = sum((a * x - y) ** 2 for x, y in zip(xs, ys))
            if best is None or err < best[0]:
                best = (err, l_inf, a, alpha)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("log")
    ap.add_argument("--target", type=float, nargs="*", default=[16.0, 15.0], help="perplexities")
    a = ap.parse_args()
    with open(a.log) as f:
        points = [(int(r["step"]), float(r["val_loss"])) for r in csv.DictReader(f, delimiter="\t") if r["val_loss"]]
    err, l_inf, amp, alpha = fit(points)
    print(f"{a.log}: {len(points)} validations; L(step) = {l_inf:.3f} + {amp:.3f} * step^-{alpha:.2f}, "
          f"rms residual {math.sqrt(err / len(points)):.4f}; asymptote perplexity {math.exp(l_inf):.2f}")
    for ppl in a.target:
        t = math.log(ppl)
        if t <= l_inf:
            print(f"  perplexity {ppl:g} ({t:.3f} nats): below the asymptote")
        else:
            print(f"  perplexity {ppl:g} ({t:.3f} nats): at step {(amp / (t - l_inf)) ** (1 / alpha):.3g}")


if __name__ == "__main__":
    main()
