#!/usr/bin/python3
"""Benchmark: `tranova score` against a PyTorch baseline of the same architecture and weights.

Builds a random Tranception model of the Small shape (12 layers x 768, 12 heads; random
weights, official init), converts it with `tranova convert`, and scores the same single
mutants of BLAT_ECOLX (286 residues) with
  * tranova score (C++: wild-type prefix cache, variants from their first changed token,
    batched, OpenMP), and
  * a PyTorch implementation of the official forward pass and scoring procedure (every
    sequence in full, both directions, batches of 20 as the official CLI; the wild type once).
Prints mutants/s for both, the ratio, and the max |avg_score| difference between them.

Needs Debian's python3-torch (benchmark only; nothing in the build or tests uses it).
Usage: benchmarks/tranception/bench_score.py BUILD/apps/tranova [--mutants 200] [--threads 2]
"""
import argparse, csv, math, os, resource, subprocess, sys, tempfile, time

import torch
import torch.nn.functional as F

AA = "ACDEFGHIKLMNPQRSTVWY"
TOK = {a: 5 + i for i, a in enumerate(AA)}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def slopes_grouped(H):
    def pow2(n):
        start = 2 ** (-2 ** -(math.log2(n) - 3))
        return [start * start ** i for i in range(n)]
    def std(n):
        if math.log2(n).is_integer():
            return pow2(n)
        c = 2 ** math.floor(math.log2(n))
        return pow2(c) + std(2 * c)[0::2][: n - c]
    return std(H // 4) * 4


def make_state_dict(L, d, H, inner, n_pos, seed=7):
    g = torch.Generator().manual_seed(seed)
    n = lambda *s, std=0.02: torch.randn(*s, generator=g) * std
    hd = d // H
    sd = {"transformer.wte.weight": n(25, d)}
    sl = torch.tensor(slopes_grouped(H))
    sd["transformer.alibi"] = (sl[:, None] * torch.arange(n_pos)[None, :]).unsqueeze(1).contiguous()
    for i in range(L):
        p = f"transformer.h.{i}."
        sd[p + "ln_1.weight"] = 1 + n(d, std=0.2); sd[p + "ln_1.bias"] = n(d, std=0.2)
        sd[p + "attn.c_attn.weight"] = n(d, 3 * d); sd[p + "attn.c_attn.bias"] = n(3 * d, std=0.05)
        sd[p + "attn.c_proj.weight"] = n(d, d, std=0.02 / math.sqrt(2 * L)); sd[p + "attn.c_proj.bias"] = n(d, std=0.05)
        for qkv in ("query", "key", "value"):
            for gi, k in enumerate((3, 5, 7)):
                sd[p + f"attn.{qkv}_depthwiseconv.{gi}.conv.weight"] = (torch.rand(hd, 1, k, generator=g) * 2 - 1) / math.sqrt(k)
                sd[p + f"attn.{qkv}_depthwiseconv.{gi}.conv.bias"] = (torch.rand(hd, generator=g) * 2 - 1) / math.sqrt(k)
        sd[p + "ln_2.weight"] = 1 + n(d, std=0.2); sd[p + "ln_2.bias"] = n(d, std=0.2)
        sd[p + "mlp.c_fc.weight"] = n(d, inner); sd[p + "mlp.c_fc.bias"] = n(inner, std=0.05)
        sd[p + "mlp.c_proj.weight"] = n(inner, d, std=0.02 / math.sqrt(2 * L)); sd[p + "mlp.c_proj.bias"] = n(d, std=0.05)
    sd["transformer.ln_f.weight"] = 1 + n(d, std=0.2); sd["transformer.ln_f.bias"] = n(d, std=0.2)
    return sd


class Tranception(torch.nn.Module):
    """The official forward pass (spec tranception.md §2), inference only, token-type row 0 added."""

    def __init__(self, sd, L, d, H, inner):
        super().__init__()
        self.sd, self.L, self.d, self.H, self.hd = sd, L, d, H, d // H
        self.slopes = torch.tensor(slopes_grouped(H))

    def conv(self, x, w, b, k):  # x [B, G, T, hd] -> causal depthwise conv over T, shared filter per group
        B, G, T, hd = x.shape
        y = x.permute(0, 1, 3, 2).reshape(B * G, hd, T)
        y = F.conv1d(y, w, b, padding=k - 1, groups=hd)[..., :T]
        return y.reshape(B, G, hd, T).permute(0, 1, 3, 2)

    def forward(self, ids, mask):
        sd, H, hd, d = self.sd, self.H, self.hd, self.d
        B, T = ids.shape
        wte = sd["transformer.wte.weight"]
        h = wte[ids] + wte[0]
        G = H // 4
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        alibi = self.slopes[:, None] * torch.arange(T)[None, :]  # [H, T]
        pad = (1.0 - mask[:, None, None, :].float()) * -10000.0
        for i in range(self.L):
            p = f"transformer.h.{i}."
            a = F.layer_norm(h, (d,), sd[p + "ln_1.weight"], sd[p + "ln_1.bias"], 1e-5)
            qkv = torch.addmm(sd[p + "attn.c_attn.bias"], a.reshape(-1, d), sd[p + "attn.c_attn.weight"]).reshape(B, T, 3 * d)
            q, k, v = [t.reshape(B, T, H, hd).permute(0, 2, 1, 3) for t in qkv.split(d, dim=2)]
            outs = []
            for name, x in (("query", q), ("key", k), ("value", v)):
                parts = [x[:, :G]]
                for gi, ks in enumerate((3, 5, 7)):
                    parts.append(self.conv(x[:, G * (gi + 1): G * (gi + 2)], sd[p + f"attn.{name}_depthwiseconv.{gi}.conv.weight"],
                                           sd[p + f"attn.{name}_depthwiseconv.{gi}.conv.bias"], ks))
                outs.append(torch.cat(parts, dim=1))
            q, k, v = outs
            s = torch.matmul(q, k.transpose(-1, -2)) / (hd ** 0.5)
            s = torch.where(causal, s, torch.tensor(-1e4))
            s = s + alibi[None, :, None, :] + pad
            o = torch.matmul(torch.softmax(s, dim=-1), v).permute(0, 2, 1, 3).reshape(B * T, d)
            h = h + torch.addmm(sd[p + "attn.c_proj.bias"], o, sd[p + "attn.c_proj.weight"]).reshape(B, T, d)
            b = F.layer_norm(h, (d,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], 1e-5).reshape(B * T, d)
            f = torch.relu(torch.addmm(sd[p + "mlp.c_fc.bias"], b, sd[p + "mlp.c_fc.weight"]))
            h = h + torch.addmm(sd[p + "mlp.c_proj.bias"], f * f, sd[p + "mlp.c_proj.weight"]).reshape(B, T, d)
        h = F.layer_norm(h, (d,), sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"], 1e-5)
        return h @ wte.t()


def seq_logprob_sums(model, seqs, batch=20):
    out = []
    for i in range(0, len(seqs), batch):
        chunk = seqs[i:i + batch]
        T = max(len(s) for s in chunk) + 2
        ids = torch.full((len(chunk), T), 3, dtype=torch.long)
        mask = torch.zeros((len(chunk), T), dtype=torch.long)
        for j, s in enumerate(chunk):
            ids[j, :len(s) + 2] = torch.tensor([1] + [TOK[c] for c in s] + [2])
            mask[j, :len(s) + 2] = 1
        with torch.no_grad():
            lp = torch.log_softmax(model(ids, mask)[:, :-1], dim=-1)
            tok = lp.gather(2, ids[:, 1:, None])[..., 0] * mask[:, 1:]
        out += tok.sum(1).tolist()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("tranova")
    ap.add_argument("--mutants", type=int, default=200)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--heads", type=int, default=12)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    L, d, H = args.layers, args.dim, args.heads
    inner = 4 * d
    rows = list(csv.DictReader(open(os.path.join(ROOT, "data/tranception/BLAT_ECOLX_Jacquier_2013.csv"))))
    muts = [r for r in rows if ":" not in r["mutant"]][: args.mutants]
    target = None
    for r in rows:  # the target: undo the first mutant
        m = r["mutant"]; pos = int(m[1:-1]) - 1
        s = r["mutated_sequence"]; target = s[:pos] + m[0] + s[pos + 1:]
        break
    tmp = tempfile.mkdtemp(prefix="tranova_bench_")
    sd = make_state_dict(L, d, H, inner, 1024)
    ck = os.path.join(tmp, "ckpt"); os.makedirs(ck)
    torch.save(sd, os.path.join(ck, "pytorch_model.bin"))
    import json
    json.dump({"n_layer": L, "n_embd": d, "n_head": H, "n_inner": inner, "vocab_size": 25, "n_ctx": 1024,
               "n_positions": 1024, "layer_norm_epsilon": 1e-5, "tranova_random_weights": 1}, open(os.path.join(ck, "config.json"), "w"))
    h5 = os.path.join(tmp, "model.h5")
    subprocess.run([args.tranova, "convert", "-q", "--arch", "tranception", "--checkpoint", ck, "-o", h5], check=True)
    dms = os.path.join(tmp, "bench.csv")
    with open(dms, "w", newline="") as f:
        w = csv.writer(f); w.writerow(["mutant", "mutated_sequence"])
        for r in muts: w.writerow([r["mutant"], r["mutated_sequence"]])
    print(f"model: {L} layers x {d}, {H} heads (random weights); assay: {len(muts)} single mutants of a "
          f"{len(target)}-residue protein; threads: {args.threads}; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")

    out = os.path.join(tmp, "scores.csv")
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    c0 = ru.ru_utime + ru.ru_stime
    t0 = time.perf_counter()
    subprocess.run([args.tranova, "score", "-q", "-t", str(args.threads), "--model", h5, "--dms", dms, "--target", target,
                    "-o", out], check=True)
    t_tranova = time.perf_counter() - t0
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    c_tranova = ru.ru_utime + ru.ru_stime - c0
    ours = {r["mutant"]: float(r["avg_score"]) for r in csv.DictReader(open(out))}

    model = Tranception(sd, L, d, H, inner)
    c0 = time.process_time()
    t0 = time.perf_counter()
    seqs = [target] + [r["mutated_sequence"] for r in muts]
    l2r = seq_logprob_sums(model, seqs)
    r2l = seq_logprob_sums(model, [s[::-1] for s in seqs])
    t_torch = time.perf_counter() - t0
    c_torch = time.process_time() - c0
    n = len(target)
    ref = {r["mutant"]: ((l2r[i + 1] - l2r[0]) / n + (r2l[i + 1] - r2l[0]) / n) / 2 for i, r in enumerate(muts)}
    diff = max(abs(ours[k] - ref[k]) for k in ref)

    r_tr, r_pt = len(muts) / t_tranova, len(muts) / t_torch
    print(f"tranova score : {t_tranova:8.2f} s  {r_tr:8.2f} mutants/s (wall, incl. model load)")
    print(f"PyTorch {torch.__version__}: {t_torch:8.2f} s  {r_pt:8.2f} mutants/s (forward + scoring only)")
    print(f"speed-up      : {r_tr / r_pt:8.2f}x (wall clock)")
    print(f"CPU time      : tranova {c_tranova:.1f} s, PyTorch {c_torch:.1f} s -> {len(muts) / c_tranova:.3f} vs "
          f"{len(muts) / c_torch:.3f} mutants per CPU-second, ratio {c_torch / c_tranova:.2f}x "
          f"(the fair figure on a shared machine)")
    print(f"max |avg_score difference| tranova vs PyTorch: {diff:.3g}")

    # Rates against the machine's measured peaks. Useful work of each side: PyTorch runs
    # every sequence in full (T = L + 2 rows, both directions); tranova the rows after each
    # mutant's first change (L + 1 rows over both directions for a single mutant, the
    # wild type in full). FLOPs per row: the linear layers (Q/K/V, output, MLP) and head.
    f_row = 2.0 * L * (4 * d * d + 2 * d * inner) + 2.0 * 25 * d
    T = n + 2
    fl_torch = f_row * (len(muts) + 1) * 2 * T
    fl_ours = f_row * (len(muts) * (n + 1) + 2 * (T - 1))
    g_ours, g_torch = fl_ours / t_tranova / 1e9, fl_torch / t_torch / 1e9
    peaks = {}
    bench_core = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(args.tranova))), "benchmarks/core/bench_core")
    if os.path.exists(bench_core):
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
        for line in subprocess.run([bench_core, "--peak-only"], capture_output=True, text=True, env=env).stdout.splitlines():
            k, v = line.split()
            peaks[k] = float(v)
    line = f"linear-layer rate: tranova {g_ours:.1f} GFLOP/s, PyTorch {g_torch:.1f} GFLOP/s (wall)"
    if "fma_peak_gflops" in peaks:
        line += f"; tranova = {100 * g_ours / peaks['fma_peak_gflops']:.0f}% of the measured AVX-512 FMA peak ({peaks['fma_peak_gflops']:.0f})"
    if "sgemm_peak_gflops" in peaks:
        line += f"; PyTorch = {100 * g_torch / peaks['sgemm_peak_gflops']:.0f}% of the measured OpenBLAS SGEMM peak ({peaks['sgemm_peak_gflops']:.0f}, this environment)"
    print(line)
    subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
