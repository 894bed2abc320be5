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
Usage: benchmarks/train/bench_train.py BUILD/apps/tranova [--model tranception|casanovo|primenovo|crossnovo]
       [--config small] [--batch 4]
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


# ---------------------------------------------------------------------------------------
# Casanovo shape (512 x 9 + 9 layers, 8 heads, 1024 feed-forward: `--config casanovo`):
# B spectra of exactly NP peaks (all kept by the casanovo preprocessing: m/z 100-1400 away
# from the precursor, intensities 0.1-1, NP <= 150) with peptides of exactly LP residues
# whose precursor m/z is exact (nothing skipped), so every batch is B x (NP + 1) encoder
# rows and B x (LP + 2) decoder rows on both sides.
MONO = {"G": 57.02146, "A": 71.03711, "S": 87.03203, "P": 97.05276, "V": 99.06841, "T": 101.04768, "L": 113.08406,
        "I": 113.08406, "N": 114.04293, "D": 115.02694, "Q": 128.05858, "K": 128.09496, "E": 129.04259,
        "M": 131.04049, "H": 137.05891, "F": 147.06841, "R": 156.10111, "Y": 163.06333, "W": 186.07931}
H2O, PROTON = 18.010565, 1.007276


def write_mgf(path, n, peaks, residues, seed=1):
    rnd = random.Random(seed)
    aa = sorted(MONO)
    with open(path, "w") as f:
        for i in range(n):
            pep = "".join(rnd.choice(aa) for _ in range(residues))
            mz = (sum(MONO[c] for c in pep) + H2O + 2 * PROTON) / 2
            f.write(f"BEGIN IONS\nTITLE=s{i}\nPEPMASS={mz:.6f}\nCHARGE=2+\nSEQ={pep}\n")
            got = set()
            while len(got) < peaks:
                x = round(rnd.uniform(100, 1400), 4)
                if abs(x - mz) > 3:
                    got.add(x)
            for x in sorted(got):
                f.write(f"{x:.4f} {rnd.uniform(0.1, 1.0):.4f}\n")
            f.write("END IONS\n")


# tranova's training command per de novo model: architecture, shape, extra options
DENOVO = {"casanovo": ("casanovo", "casanovo", []), "primenovo": ("primenovo", "primenovo", []),
          "crossnovo": ("crossnovo", "casanovo", ["--stage", "1"])}


def casanovo_tranova_rates(tranova, batch, peaks, residues, steps, threads, work, model="casanovo"):
    mgf = os.path.join(work, "random.mgf")
    write_mgf(mgf, max(64, 4 * batch), peaks, residues)
    out = os.path.join(work, model + ".h5")
    arch, shape, extra = DENOVO[model]
    cmd = [tranova, "denovo", "train", "-q", "--arch", arch, "--config", shape, "--train", mgf,
           "--split", "0.05", "--val-recall", "0", "--clip", "0", "--batch-size", str(batch), "--max-steps", str(steps),
           "--lr", "1e-4", "-t", str(threads), "-o", out] + extra
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    subprocess.run(cmd, check=True, env=env)
    with open(out + ".train.tsv") as f:
        return [float(r["spectra_per_s"]) for r in csv.DictReader(f, delimiter="\t")]


class Casanovo(torch.nn.Module):
    """Casanovo v4 (depthcharge 0.2.3 SpectrumEncoder + PeptideDecoder) as
    tests/data/denovo_model/training/make_grad_refs.py rebuilds it, random weights; with
    nar=True also PrimeNovo's CTC decoder (T = 40 queries: the precursor's mass encoding +
    charge embedding repeated, + positions; bidirectional self-attention, cross-attention to
    the encoder, 28 outputs with the blank last). ar / nar pick the decoders: casanovo (AR),
    primenovo (NAR), crossnovo stage 1 (both, L = lambda L_AR + (1 - lambda) L_NAR)."""

    def __init__(self, d=512, heads=8, ff=1024, layers=9, vocab=29, ar=True, nar=False, nar_len=40):
        super().__init__()
        nn = torch.nn
        self.latent = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.int_enc = nn.Linear(1, d, bias=False)
        self.enc = nn.ModuleList(nn.TransformerEncoderLayer(d, heads, ff, dropout=0.0, batch_first=True) for _ in range(layers))
        self.ar, self.nar, self.nar_len = ar, nar, nar_len
        if ar:
            self.dec = nn.ModuleList(nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, batch_first=True) for _ in range(layers))
            self.aa = nn.Embedding(vocab, d, padding_idx=0)
            self.charge = nn.Embedding(10, d)
            self.final = nn.Linear(d, vocab)
        if nar:
            self.nar_dec = nn.ModuleList(nn.TransformerDecoderLayer(d, heads, ff, dropout=0.0, batch_first=True) for _ in range(layers))
            self.nar_charge = nn.Embedding(10, d)
            self.nar_final = nn.Linear(d, vocab - 1)
        self.register_buffer("terms", 10000.0 ** (torch.arange(d // 2) / (d // 2)))

    def sinus(self, x):
        return torch.cat([torch.sin(x[..., None] / self.terms), torch.cos(x[..., None] / self.terms)], dim=-1)

    def loss(self, spectra, precursors, tokens, lam=0.5):
        zeros = ~spectra.sum(dim=2).bool()
        mask = torch.cat([torch.zeros(spectra.shape[0], 1, dtype=torch.bool), zeros], dim=1)
        x = self.sinus(spectra[:, :, 0]) + self.int_enc(spectra[:, :, [1]])
        x = torch.cat([self.latent.expand(spectra.shape[0], -1, -1), x], dim=1)
        for l in self.enc:
            x = l(x, src_key_padding_mask=mask)
        loss_ar = loss_nar = 0
        if self.ar:
            prec = self.sinus(precursors[:, None, 0]) + self.charge(precursors[:, 1].long())[:, None, :]
            tgt = torch.cat([prec, self.aa(tokens)], dim=1)
            tgt_pad = tgt.sum(dim=2) == 0
            tgt = tgt + self.sinus(torch.arange(tgt.shape[1], dtype=torch.float32))[None]
            causal = torch.triu(torch.full((tgt.shape[1], tgt.shape[1]), float("-inf")), diagonal=1)
            y = tgt
            for l in self.dec:
                y = l(y, x, tgt_mask=causal, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=mask)
            logits = self.final(y)[:, :-1, :]
            loss_ar = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.flatten(), ignore_index=0,
                                      label_smoothing=0.01)
        if self.nar:
            q = self.sinus(precursors[:, None, 0]) + self.nar_charge(precursors[:, 1].long())[:, None, :]
            y = q.expand(-1, self.nar_len, -1) + self.sinus(torch.arange(self.nar_len, dtype=torch.float32))[None]
            for l in self.nar_dec:
                y = l(y, x, memory_key_padding_mask=mask)
            logp = F.log_softmax(self.nar_final(y), dim=-1).transpose(0, 1)  # (T, B, V)
            residues = tokens[:, :-1] - 1  # CTC ids: residue index, blank = V - 1
            B = tokens.shape[0]
            loss_nar = F.ctc_loss(logp, residues, torch.full((B,), self.nar_len, dtype=torch.long),
                                  torch.full((B,), residues.shape[1], dtype=torch.long), blank=logp.shape[-1] - 1)
        if self.ar and self.nar:
            return lam * loss_ar + (1 - lam) * loss_nar
        return loss_ar if self.ar else loss_nar


TORCH_SHAPES = {"casanovo": dict(d=512, ar=True), "primenovo": dict(d=400, ar=False, nar=True),
                "crossnovo": dict(d=512, ar=True, nar=True)}


def casanovo_torch_rates(batch, peaks, residues, steps, threads, seed=1, model="casanovo"):
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = Casanovo(**TORCH_SHAPES[model])
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
    rates = []
    for _ in range(steps):
        spectra = torch.stack([torch.rand(batch, peaks) * 1300 + 100, torch.rand(batch, peaks)], dim=2)
        precursors = torch.stack([torch.rand(batch) * 2000 + 500, torch.full((batch,), 2.0)], dim=1)
        tokens = torch.randint(1, 28, (batch, residues + 1))
        tokens[:, -1] = 28  # stop
        t0 = time.perf_counter()
        loss = model.loss(spectra, precursors, tokens)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        rates.append(batch / (time.perf_counter() - t0))
    return rates


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


def report(name, unit, tv, pt, base, baseline):
    tv_med, pt_med = statistics.median(tv[1:] or tv), statistics.median(pt[1:] or pt)
    print(f"tranova:      median {tv_med:,.2f} {unit}/s over steps 2..{len(tv)}")
    print(f"PyTorch 1.13: median {pt_med:,.2f} {unit}/s over steps 2..{len(pt)}")
    print(f"ratio tranova / PyTorch ({name}): {tv_med / pt_med:.2f}x")
    if base:
        b_med = statistics.median(base[1:] or base)
        print(f"baseline {baseline}: median {b_med:,.2f} {unit}/s, ratio to PyTorch {b_med / pt_med:.2f}x; "
              f"this build / baseline {tv_med / b_med:.2f}x")
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    return tv_med, pt_med


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("tranova")
    ap.add_argument("--model", default="tranception", choices=["tranception", "casanovo", "primenovo", "crossnovo"])
    ap.add_argument("--config", default="small", choices=sorted(SHAPES), help="tranception shape")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--length", type=int, default=254, help="tranception: residues per sequence (T = length + 2 tokens)")
    ap.add_argument("--peaks", type=int, default=150, help="casanovo: peaks per spectrum (<= 150)")
    ap.add_argument("--residues", type=int, default=12, help="casanovo: residues per peptide")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--baseline", help="a second tranova binary (e.g. the previous commit's) timed in the same run")
    a = ap.parse_args()
    print(f"{a.model}; {a.threads} threads; OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}; "
          f"load average at the start: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    base = None
    if a.model in DENOVO:
        shape = {"casanovo": "casanovo: 512 x (9 + 9) layers (encoder + AR)",
                 "primenovo": "primenovo: 400 x (9 + 9) layers (encoder + CTC decoder, 40 positions)",
                 "crossnovo": "crossnovo stage 1: 512 x (9 + 9 + 9) layers (encoder + AR + CTC decoders)"}[a.model]
        print(f"shape {shape}, 8 heads, 1024 feed-forward; batch {a.batch} spectra x {a.peaks} "
              f"peaks, peptides of {a.residues} residues")
        with tempfile.TemporaryDirectory() as work:
            if a.baseline:
                base = casanovo_tranova_rates(os.path.abspath(a.baseline), a.batch, a.peaks, a.residues, a.steps, a.threads,
                                              work, a.model)
            tv = casanovo_tranova_rates(os.path.abspath(a.tranova), a.batch, a.peaks, a.residues, a.steps, a.threads, work,
                                        a.model)
        pt = casanovo_torch_rates(a.batch, a.peaks, a.residues, a.steps, a.threads, model=a.model)
        report(a.model, "spectra", tv, pt, base, a.baseline)
        return
    L, d, H = SHAPES[a.config]
    params = 25 * d + L * (12 * d * d + 13 * d) + 2 * d
    T = a.length + 2
    print(f"shape {a.config}: {L} x {d}, {H} heads, {params / 1e6:.1f} M parameters; batch {a.batch} x {T} tokens")
    with tempfile.TemporaryDirectory() as work:
        if a.baseline:
            base = tranova_rates(os.path.abspath(a.baseline), a.config, a.batch, a.length, a.steps, a.threads, work)
        tv = tranova_rates(os.path.abspath(a.tranova), a.config, a.batch, a.length, a.steps, a.threads, work)
    pt = torch_rates(L, d, H, a.batch, a.length, a.steps, a.threads)
    tv_med, pt_med = report(a.config, "tokens", tv, pt, base, a.baseline)
    flops_per_token = 6 * params + 6 * L * 2 * T * d  # linear layers + attention products (fwd + bwd)
    print(f"GFLOP/s: tranova {tv_med * flops_per_token / 1e9:.1f}, PyTorch {pt_med * flops_per_token / 1e9:.1f}")
    pk = peaks(a.tranova, a.threads)
    if pk:
        print(f"fraction of the measured peaks: tranova {tv_med * flops_per_token / 1e9 / pk['fma_peak_gflops']:.0%} of the "
              f"AVX-512 FMA peak ({pk['fma_peak_gflops']:.0f} GFLOP/s), PyTorch {pt_med * flops_per_token / 1e9 / pk['sgemm_peak_gflops']:.0%} "
              f"of the OpenBLAS SGEMM peak ({pk['sgemm_peak_gflops']:.0f} GFLOP/s, this environment)")


if __name__ == "__main__":
    main()
