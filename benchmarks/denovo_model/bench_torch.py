#!/usr/bin/env python3
"""PyTorch baseline for bench_denovo_model (benchmark only; Debian python3-torch).

Same shapes as the C++ benchmark: torch.nn Transformer stacks (post-LN, ReLU, batch_first),
random weights, the same synthetic spectra sizes. The AR search follows Casanovo v4's
beam_search_decode loop (the whole prefix is re-decoded at every step, top-k over
beams x vocabulary of the nan-mean score, tokens/scores rebuilt), without the mass filter
(no beam ends early, as in the C++ run). NAR = PrimeNovo's decoder forward + log-softmax +
greedy argmax (PrimeNovo's CTC beam search runs in C++ ctcdecode and PMC in CUDA: not
included, so the baseline does less work than the C++ nar mode). Prints the same TSV rows.
"""
import argparse, math, time
import torch
import torch.nn as nn

p = argparse.ArgumentParser()
p.add_argument("--dim", type=int, default=512)
p.add_argument("--heads", type=int, default=8)
p.add_argument("--ff", type=int, default=1024)
p.add_argument("--layers", type=int, default=9)
p.add_argument("--spectra", type=int, default=16)
p.add_argument("--peaks", type=int, default=150)
p.add_argument("--steps", type=int, default=20)
p.add_argument("--repeat", type=int, default=3)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--batch", type=int, default=16)
p.add_argument("--mode", default="")
a = p.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(1)
d, H, FF, L, V_AR, V_NAR, T = a.dim, a.heads, a.ff, a.layers, 29, 28, 40


def terms(lmin, lmax, n):
    return torch.tensor([lmin / (2 * math.pi) * (lmax / lmin) ** (k / max(n - 1, 1)) for k in range(n)],
                        dtype=torch.float32)


mz_sin = terms(1e-3, 1e4, (d + 1) // 2); mz_cos = terms(1e-3, 1e4, d - (d + 1) // 2)
pos_sin = terms(1.0, 1e4, (d + 1) // 2); pos_cos = terms(1.0, 1e4, d - (d + 1) // 2)


def fenc(x, s, c):
    return torch.cat([torch.sin(x[..., None] / s), torch.cos(x[..., None] / c)], -1)


def pe(n, start=0):
    return fenc(torch.arange(start, start + n, dtype=torch.float32), pos_sin, pos_cos)


enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(d, H, FF, 0.0, batch_first=True), L).eval()
ardec = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, H, FF, 0.0, batch_first=True), L).eval()
nardec = nn.ModuleList([nn.TransformerDecoderLayer(d, H, FF, 0.0, batch_first=True) for _ in range(L)]).eval()
int_enc = nn.Linear(1, d, bias=False)
latent = torch.randn(1, 1, d) * 0.02
charge_ar = nn.Embedding(10, d); charge_nar = nn.Embedding(10, d)
aa_emb = nn.Embedding(V_AR, d, padding_idx=0)
final_ar = nn.Linear(d, V_AR); final_nar = nn.Linear(d, V_NAR)
with torch.no_grad():
    final_ar.bias[0] = -100.0; final_ar.bias[V_AR - 1] = -100.0
cross = nn.Linear(d, d)

g = torch.Generator().manual_seed(7)
B = a.spectra
mz = torch.sort(torch.rand(B, a.peaks, generator=g) * 1400 + 100, dim=1).values
it = torch.sqrt(torch.rand(B, a.peaks, generator=g) * 0.99 + 0.01)
it = it / it.norm(dim=1, keepdim=True)
spectra = torch.stack([mz, it], -1)
mass = torch.rand(B, generator=g) * 1200 + 800
charge = torch.full((B,), 2, dtype=torch.long)


def encode(sp):
    zeros = ~sp.sum(dim=2).bool()
    mask = torch.cat([torch.zeros(sp.shape[0], 1, dtype=torch.bool), zeros], 1)
    x = fenc(sp[:, :, 0], mz_sin, mz_cos) + int_enc(sp[:, :, [1]])
    x = torch.cat([latent.expand(sp.shape[0], -1, -1), x], 1)
    return enc(x, src_key_padding_mask=mask), mask


def causal(n):
    return torch.triu(torch.full((n, n), float("-inf")), 1)


def ar_search(memory, mask, m, z, S, steps):
    Bn = memory.shape[0]
    prec = fenc(m, mz_sin, mz_cos) + charge_ar(z - 1)
    out = ardec(prec[:, None] + pe(1), memory, tgt_mask=causal(1), memory_key_padding_mask=mask)
    first = final_ar(out)[:, 0]
    tokens = torch.zeros(Bn * S, steps + 1, dtype=torch.long)
    scores = torch.full((Bn * S, steps + 1, V_AR), float("nan"))
    tokens[:, 0] = torch.topk(first, S, dim=1)[1].reshape(-1)
    scores[:, 0] = first.repeat_interleave(S, 0)
    mem = memory.repeat_interleave(S, 0); msk = mask.repeat_interleave(S, 0); prec = prec.repeat_interleave(S, 0)
    for step in range(steps):
        tgt = torch.cat([prec[:, None], aa_emb(tokens[:, :step + 1])], 1)
        pad = tgt.sum(-1) == 0
        tgt = tgt + pe(step + 2)
        out = ardec(tgt, mem, tgt_mask=causal(step + 2), tgt_key_padding_mask=pad, memory_key_padding_mask=msk)
        scores[:, :step + 2] = final_ar(out)
        # Casanovo _get_topk_beams
        sp_ = step + 1
        tk = tokens.reshape(Bn, S, -1).transpose(1, 2)            # B L S
        sc = scores.reshape(Bn, S, steps + 1, V_AR).permute(0, 2, 3, 1)  # B L V S
        prev_tokens = tk[:, :sp_, None, :].expand(-1, -1, V_AR, -1)
        prev_scores = torch.gather(sc[:, :sp_], 2, prev_tokens)[:, :, 0, :]
        step_scores = torch.zeros(Bn, sp_ + 1, V_AR * S)
        step_scores[:, :sp_] = prev_scores.repeat(1, 1, V_AR)
        step_scores[:, sp_] = sc[:, sp_].reshape(Bn, -1)
        top = torch.topk(step_scores.nanmean(1), S).indices
        v_idx, s_idx = top // S, top % S
        b_idx = torch.arange(Bn)[:, None].expand(-1, S)
        new_tokens = tk[b_idx, :, s_idx].clone()      # B S L
        new_tokens[:, :, sp_] = v_idx
        new_scores = sc.permute(0, 3, 1, 2)[b_idx, s_idx].clone()
        tokens = new_tokens.reshape(Bn * S, -1)
        scores = new_scores.reshape(Bn * S, steps + 1, V_AR)
    return tokens


def nar(memory, mask, m, z):
    prec = fenc(m, mz_sin, mz_cos) + charge_nar(z - 1)
    x = prec[:, None].repeat(1, T, 1) + pe(T)
    for layer in nardec:
        x = layer(x, memory, memory_key_padding_mask=mask)
    logp = torch.log_softmax(final_nar(x), -1)
    return x, logp.argmax(-1)


def run(mode, n=None):
    n = B if n is None else n
    t0 = time.perf_counter()
    with torch.inference_mode():
        for s in range(0, n, a.batch):
            e = min(s + a.batch, n)
            sp = spectra[s:e]; m = mass[s:e]; z = charge[s:e]
            memory, mask = encode(sp)
            if mode == "encoder":
                continue
            if mode in ("ar_b1", "ar_b5"):
                ar_search(memory, mask, m, z, 1 if mode == "ar_b1" else 5, a.steps)
            elif mode == "nar":
                nar(memory, mask, m, z)
            elif mode == "hybrid_b1":
                feats, _ = nar(memory, mask, m, z)
                hm = torch.cat([cross(feats) + pe(T, 1), memory + pe(memory.shape[1], T + 1)], 1)
                hmask = torch.cat([torch.zeros(memory.shape[0], T, dtype=torch.bool), mask], 1)
                ar_search(hm, hmask, m, z, 1, a.steps)
    return time.perf_counter() - t0


print(f"# bench_torch: torch {torch.__version__}, d {d}, heads {H}, ff {FF}, layers {L}+{L}+{L}, {B} spectra x "
      f"{a.peaks} peaks, {a.steps} AR steps, {a.threads} threads, batch {a.batch}")
print("mode\tspectra\tseconds\tspectra_per_s")
for mode in ("encoder", "ar_b1", "ar_b5", "nar", "hybrid_b1"):
    if a.mode and mode != a.mode:
        continue
    run(mode, min(B, 2))  # warm-up (first-call allocations, nested-tensor setup)
    ts = sorted(run(mode) for _ in range(a.repeat))
    med = ts[len(ts) // 2]
    print(f"{mode}\t{B}\t{med:.4f}\t{B / med:.2f}", flush=True)
