#!/usr/bin/env python3
"""Baseline for bench_gym: the ProteinGym zero-shot metric code path in Python/pandas.

For each sampled model and every assay of a tranova gym HDF5 file this builds the merged
per-assay DataFrame (DMS_score, DMS_score_bin, mutant, model column) and computes the five
metrics with the same library calls as ProteinGym's performance_DMS_benchmarks.py
(conventions: docs/gym.md): scipy.stats.spearmanr,
sklearn roc_auc_score, matthews_corrcoef on the pandas-median binarisation, NDCG@10%
from a double numpy argsort and min-max gains, top-10% recall with np.percentile and >=,
plus the mutation-depth breakdown (--performance_by_depth). Aggregation and the bootstrap
are not timed here (tranova's timing includes them).

Needs Debian's python3-numpy, python3-pandas, python3-scipy, python3-sklearn, python3-h5py
(benchmark only). Prints seconds_per_model=<float> for the extrapolation.
"""
import argparse
import time

import h5py
import numpy as np
import pandas as pd
from scipy.stats import spearmanr
from sklearn.metrics import matthews_corrcoef, roc_auc_score


def scaled_gains(y):
    return (y - np.min(y)) / (np.max(y) - np.min(y))


def ndcg_top10(y_true, y_score):
    k = int(np.floor(y_true.shape[0] * (10 / 100)))
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    gains = scaled_gains(y_true)

    def dcg(order_values):
        rank = np.argsort(np.argsort(-order_values)) + 1
        sel = (rank <= k)
        r, g = rank[sel], gains[sel]
        keep = g != 0
        return r[keep], g[keep]

    r, g = dcg(y_score)
    if len(r) == 0:
        return 0
    num = np.sum([gi / np.log2(ri + 1) for ri, gi in zip(r, g)])
    r, g = dcg(gains)
    den = np.sum([gi / np.log2(ri + 1) for ri, gi in zip(r, g)])
    return num / den


def top_recall(y_true, y_score):
    in_true = y_true >= np.percentile(y_true, 90)
    in_model = y_score >= np.percentile(y_score, 90)
    n_true = in_true.sum()
    return (in_true & in_model).sum() / n_true if n_true > 0 else 0


def five_metrics(df, col, bin_col):
    out = {}
    out["Spearman"] = spearmanr(df["DMS_score"], df[col])[0]
    out["NDCG"] = ndcg_top10(df["DMS_score"], df[col])
    out["Top_recall"] = top_recall(df["DMS_score"], df[col])
    try:
        out["AUC"] = roc_auc_score(y_true=df["DMS_score_bin"], y_score=df[col])
    except Exception:
        out["AUC"] = np.nan
    try:
        out["MCC"] = matthews_corrcoef(y_true=df["DMS_score_bin"], y_pred=df[bin_col])
    except Exception:
        out["MCC"] = np.nan
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--h5", required=True)
    ap.add_argument("--models", type=int, default=2)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    f = h5py.File(args.h5, "r")
    ids = list(f["assay_ids"].asstr()[:])
    models = sorted(m for m in f["predictions"] if not m.startswith("."))[: args.models]
    rows = []
    t_load = 0.0
    t_metrics = 0.0
    # As the official script: per assay, load the data once, then loop over the models.
    for dms in ids:
        t0 = time.process_time()
        g = f["assays/" + dms]
        base = pd.DataFrame({
            "mutant": g["mutant"].asstr()[:],
            "DMS_score": g["DMS_score"][:],
            "DMS_score_bin": g["DMS_score_bin"][:].astype(int),
        })
        preds = {m: f["predictions/" + m + "/" + dms][:] for m in models}
        t1 = time.process_time()
        t_load += t1 - t0
        df = base.copy()
        df["mutation_depth"] = df["mutant"].apply(lambda x: len(x.split(":")))
        df["mutation_depth_grouped"] = df["mutation_depth"].apply(lambda x: "5+" if x >= 5 else str(x))
        for m in models:
            df[m] = preds[m]
            res = five_metrics_with_bin(df, m)
            for depth in ["1", "2", "3", "4", "5+"]:
                sub = df[df.mutation_depth_grouped == depth]
                if len(sub) > 0:
                    five_metrics(sub, m, m + "_bin")
            rows.append((m, dms, res))
        t_metrics += time.process_time() - t1
    elapsed = t_load + t_metrics
    with open(args.out, "w") as out:
        out.write("model,DMS_id,Spearman,AUC,MCC,NDCG,Top_recall\n")
        for m, dms, r in rows:
            out.write(f"{m},{dms}," + ",".join(repr(float(r[k])) for k in ["Spearman", "AUC", "MCC", "NDCG", "Top_recall"]) + "\n")
    print(f"baseline: {len(models)} models x {len(ids)} assays in {elapsed:.1f} s CPU "
          f"(loading {t_load:.1f} s, metrics incl. depth breakdown {t_metrics:.1f} s; single-threaded)")
    print(f"seconds_load={t_load:.3f}")
    print(f"seconds_per_model={t_metrics / max(1, len(models)):.3f}")


def five_metrics_with_bin(df, col):
    median_cutoff = df[col].median()
    df[col + "_bin"] = df[col].map(lambda x: 1 if x >= median_cutoff else 0)
    return five_metrics(df, col, col + "_bin")


if __name__ == "__main__":
    main()
