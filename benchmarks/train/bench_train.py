#!/usr/bin/python3
"""Benchmark: Tranception training steps, `tranova train` against PyTorch 1.13, same shape.

Both sides train the same architecture (default: the Small shape, 12 layers x 768, 12 heads)
from a random init on the same kind of batch: B sequences of T residues, next-token
cross-entropy (forward + backward + AdamW update, dropout off), on the same CPU threads.
  * tranova: `tranova train --sequences` on a FASTA of random sequences of exactly T
    residues (no cropping, no padding), --val-fraction 0; its per-step rate comes from the
    training log's tokens_per_s column (the step alone: data, forward, backward, AdamW).
  * PyTorch: the official-architecture forward of benchmarks/tranception/bench_score.py with
    every tensor a leaf parameter, F.cross_entropy, torch.optim.AdamW.
Prints the median tokens/s of each (first step dropped as warm-up), the ratio, and each
side's rate as a fraction of the machine's measured linear-layer peak (bench_core
--peak-only, when given): training FLOPs ~ 6 x parameters x tokens + attention.

Needs Debian's python3-torch (benchmark only; nothing in the build or tests uses it).
Usage: benchmarks/train/bench_train.py BUILD/apps/tranova [--config small] [--batch 4]
       [--length 254] [--steps 6] [--threads 2]
(bench_core --peak-only beside the binary gives the peaks, as in bench_score.py)
"""
import argparse, csv, importlib.util, math, os, random, statistics, subprocess, sys, tempfile, time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
spec = importlib.util.spec_from_file_location("bench_score", os.path.join(ROOT, "benchmarks", "tranception", "bench_score.py"))
bs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bs)

SHAPES = {"tiny": (2, 128, 8), "small": (12, 768, 12), "medium": (24, 1024, 16), "large": (36, 1280, 20)}
AA = "ACDEFGHIKLMNPQRSTVWY"


def torch_rates(L, d, H, batch, length, steps, threads, seed=1):
    torch.set_num_threads(threads)
    sd = bs.make_state_dict(L, d, H, 4 * d, 1024, seed)
    sd = {k: v.clone().requires_grad_(k != "transformer.alibi") for k, v in sd.items()}
    model = bs.Tranception(sd, L, d, H, 4 * d)
    opt = torch.optim.AdamW([v for k, v in sd.items() if k != "transformer.alibi"], lr=1e-4, weight_decay=0.01)
    g = torch.Generator().manual_seed(seed)
    rates = []
    T = length + 2
    for _ in range(steps):
        ids = torch.randint(5, 25, (batch, T), generator=g)
        ids[:, 0], ids[:, -1] = 1, 2
        mask = torch.ones(batch, T, dtype=torch.long)
        t0 = time.perf_counter()
        logits = model(ids, mask)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, 25), ids[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        rates.append(batch * (T - 1) / (time.perf_counter() - t0))
    return rates


def tranova_rates(tranova, config, batch, length, steps, threads, work):
    rnd = random.Random(1)
    fasta = os.path.join(work, "random.fasta")
    with open(fasta, "w") as f:
        for i in range(max(64, 4 * batch)):
            f.write(f">s{i}\n{''.join(rnd.choice(AA) for _ in range(length))}\n")
    out = os.path.join(work, "bench.h5")
    cmd = [tranova, "train", "-q", "--arch", "tranception", "--sequences", fasta, "--config", config,
           "--val-fraction", "0", "--batch-size", str(batch), "--context", str(length + 2), "--max-steps", str(steps),
           "--lr", "1e-4", "-t", str(threads), "-o", out]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run(cmd, check=True, env=env)
    with open(out + ".train.tsv") as f:
        return [float(r["tokens_per_s"]) for r in csv.DictReader(f, delimiter="\t")]


def peaks(tranova, threads):
    """bench_core --peak-only beside the binary: {fma_peak_gflops, sgemm_peak_gflops}."""
    bench_core = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(tranova))), "benchmarks/core/bench_core")
    out = {}
    if os.path.exists(bench_core):
        env = dict(os.environ, OMP_NUM_THREADS=str(threads))
        for line in subprocess.run([bench_core, "--peak-only"], capture_output=True, text=True, env=env).stdout.splitlines():
            k, v = line.split()
            out[k] = float(v)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tranova")
    ap.add_argument("--config", default="small", choices=sorted(SHAPES))
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=254, help="residues per sequence (T = length + 2 tokens)")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    L, d, H = SHAPES[a.config]
    with tempfile.TemporaryDirectory() as work:
        tv = tranova_rates(os.path.abspath(a.tranova), a.config, a.batch, a.length, a.steps, a.threads, work)
    pt = torch_rates(L, d, H, a.batch, a.length, a.steps, a.threads)
    tv_med, pt_med = statistics.median(tv[1:] or tv), statistics.median(pt[1:] or pt)
    params = 25 * d + L * (12 * d * d + 13 * d) + 2 * d
    T = a.length + 2
    flops_per_token = 6 * params + 6 * L * 2 * T * d  # linear layers + attention products (fwd + bwd)
    print(f"shape {a.config}: {L} x {d}, {H} heads, {params / 1e6:.1f} M parameters; batch {a.batch} x {T} tokens; "
          f"{a.threads} threads; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
    print(f"tranova train: median {tv_med:,.0f} tokens/s over steps 2..{len(tv)} ({tv_med * flops_per_token / 1e9:.1f} GFLOP/s)")
    print(f"PyTorch 1.13:  median {pt_med:,.0f} tokens/s over steps 2..{len(pt)} ({pt_med * flops_per_token / 1e9:.1f} GFLOP/s)")
    print(f"ratio tranova / PyTorch: {tv_med / pt_med:.2f}x")
    pk = peaks(a.tranova, a.threads)
    if pk:
        print(f"fraction of the measured peaks: tranova {tv_med * flops_per_token / 1e9 / pk['fma_peak_gflops']:.0%} of the "
              f"AVX-512 FMA peak ({pk['fma_peak_gflops']:.0f} GFLOP/s), PyTorch {pt_med * flops_per_token / 1e9 / pk['sgemm_peak_gflops']:.0%} "
              f"of the OpenBLAS SGEMM peak ({pk['sgemm_peak_gflops']:.0f} GFLOP/s, this environment)")

if __name__ == "__main__":
    main()
