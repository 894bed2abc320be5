#!/usr/bin/python3
"""Gradient and AdamW references for Tranception training (tests/tranception/test_training.cpp).

Run by hand (never by the build or the tests), from anywhere:
    /usr/bin/python3 tests/data/tranception/training/make_grad_refs.py
Needs Debian 12's python3-torch (PyTorch 1.13, CPU) and python3-numpy. Deterministic:
one thread, fixed seeds; rerunning rewrites the same files.

Model: the official-architecture PyTorch forward of ../indels/make_reference.py (spec
tranception.md §2: pre-LN, grouped ALiBi, causal depthwise Q/K/V convolutions, squared
ReLU, tied head, token-type row 0 added at every position, key padding -1e4), first checked
against the official fixture logits, run on the tiny fixture checkpoint (models/tiny) with
every parameter a leaf tensor (dropout off).

Loss: next-token cross-entropy as HF GPT2LMHeadModel with DataCollatorForLanguageModeling
(spec §2.8): labels = input ids with pads set to -100, logits[:, :-1] against labels[:, 1:],
mean over the non-ignored tokens ([SEP] is a target, pads are not).

Outputs (this folder):
  grad_ids.npy        int32 (B, T)  the gradient batch: [CLS] residues [SEP] then [PAD]=3
  grad_lengths.npy    int32 (B)     real tokens per row ([CLS] and [SEP] included)
  grad_loss.npy       float64 (1)   the float32 loss
  grads.npy           float32 (n)   d loss / d parameter, every parameter, tranova names and
                                    layouts (docs/weights-format.md), concatenated in the order
                                    of grads_manifest.txt
  grads_manifest.txt  "name numel max_abs_grad" per line
  adamw_ids.npy       int32 (S, B2, T2), adamw_lengths.npy int32 (S, B2): one batch per step
  adamw_losses.npy    float64 (S)   loss of step s's batch BEFORE update s (float32 values)
AdamW: torch.optim.AdamW lr 1e-3, betas (0.9, 0.999), eps 1e-8, weight decay 0.01 on every
tensor except biases and LayerNorm parameters (tranova's default decay_rule), constant lr,
no clipping, S = 100 steps from the fixture weights.
"""
import importlib.util, os, sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
spec = importlib.util.spec_from_file_location("make_reference", os.path.join(DATA, "indels", "make_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)  # sets 1 thread + deterministic algorithms

PAD, CLS, SEP = 3, 1, 2
AA = "ACDEFGHIKLMNPQRSTVWY"


def tranova_names(cfg):
    """(official name, tranova name, transpose?) in the order of the converter (alibi excluded)."""
    out = [("transformer.wte.weight", "token_embd.weight", False)]
    for i in range(cfg["n_layer"]):
        t, o = f"transformer.h.{i}.", f"blk.{i}."
        out += [(t + "ln_1.weight", o + "ln_1.weight", False), (t + "ln_1.bias", o + "ln_1.bias", False),
                (t + "attn.c_attn.weight", o + "attn_qkv.weight", True), (t + "attn.c_attn.bias", o + "attn_qkv.bias", False)]
        for q, mod in (("q", "query"), ("k", "key"), ("v", "value")):
            for g in range(3):
                k = 3 + 2 * g
                out += [(f"{t}attn.{mod}_depthwiseconv.{g}.conv.weight", f"{o}attn_conv_{q}_k{k}.weight", False),
                        (f"{t}attn.{mod}_depthwiseconv.{g}.conv.bias", f"{o}attn_conv_{q}_k{k}.bias", False)]
        out += [(t + "attn.c_proj.weight", o + "attn_out.weight", True), (t + "attn.c_proj.bias", o + "attn_out.bias", False),
                (t + "ln_2.weight", o + "ln_2.weight", False), (t + "ln_2.bias", o + "ln_2.bias", False),
                (t + "mlp.c_fc.weight", o + "mlp_fc.weight", True), (t + "mlp.c_fc.bias", o + "mlp_fc.bias", False),
                (t + "mlp.c_proj.weight", o + "mlp_proj.weight", True), (t + "mlp.c_proj.bias", o + "mlp_proj.bias", False)]
    out += [("transformer.ln_f.weight", "ln_f.weight", False), ("transformer.ln_f.bias", "ln_f.bias", False)]
    return out


def encode(seqs):
    T = max(len(s) for s in seqs) + 2
    ids = np.full((len(seqs), T), PAD, dtype=np.int32)
    lengths = np.zeros(len(seqs), dtype=np.int32)
    for j, s in enumerate(seqs):
        ids[j, :len(s) + 2] = [CLS] + [5 + AA.index(c) for c in s] + [SEP]
        lengths[j] = len(s) + 2
    return ids, lengths


def loss_of(model, ids, lengths):
    ids_t = torch.from_numpy(ids.astype(np.int64))
    mask = torch.zeros_like(ids_t)
    for b, n in enumerate(lengths):
        mask[b, :n] = 1
    logits = model(ids_t, mask)
    labels = ids_t.masked_fill(mask == 0, -100)
    V = logits.shape[-1]
    return F.cross_entropy(logits[:, :-1].reshape(-1, V), labels[:, 1:].reshape(-1), ignore_index=-100)


def random_seq(rng, n):
    return "".join(AA[i] for i in rng.randint(0, 20, size=n))


def main():
    cfg = ref.json.load(open(os.path.join(DATA, "models", "tiny", "config.json")))
    sd0 = ref.load_safetensors(os.path.join(DATA, "models", "tiny", "model.safetensors"))
    ref.check_forward(ref.Tranception(sd0, cfg))
    names = tranova_names(cfg)
    params = {o: sd0[o].clone().requires_grad_(True) for o, _, _ in names}
    sd = dict(sd0)
    sd.update(params)
    model = ref.Tranception(sd, cfg)

    # ---- gradients of one ragged batch
    rng = np.random.RandomState(14)
    ids, lengths = encode([random_seq(rng, n) for n in (25, 11, 18)])
    loss = loss_of(model, ids, lengths)
    loss.backward()
    flat, manifest = [], []
    for o, t, tr in names:
        g = params[o].grad.detach()
        if tr:
            g = g.t()
        g = g.contiguous().numpy().astype(np.float32).reshape(-1)
        flat.append(g)
        manifest.append(f"{t} {g.size} {np.abs(g).max():.6e}")
    np.save(os.path.join(HERE, "grad_ids.npy"), ids)
    np.save(os.path.join(HERE, "grad_lengths.npy"), lengths)
    np.save(os.path.join(HERE, "grad_loss.npy"), np.array([loss.item()], dtype=np.float64))
    np.save(os.path.join(HERE, "grads.npy"), np.concatenate(flat))
    open(os.path.join(HERE, "grads_manifest.txt"), "w").write("\n".join(manifest) + "\n")
    print(f"gradient batch: B={ids.shape[0]} T={ids.shape[1]} lengths={lengths.tolist()} loss={loss.item():.9g}")

    # float64 rerun: how far float32 autograd itself is from exact (reported in the README)
    sd64 = {k: (v.detach().double() if v.dtype == torch.float32 else v) for k, v in sd.items()}
    p64 = {o: sd64[o].clone().requires_grad_(True) for o, _, _ in names}
    sd64.update(p64)
    loss64 = loss_of(ref.Tranception(sd64, cfg), ids, lengths)
    loss64.backward()
    # Key biases (conv K biases) have an exact gradient of 0: adding a constant to every key
    # adds q.b to a whole score row, which softmax ignores. They are reported apart.
    gmax = max(float(p64[o].grad.abs().max()) for o, _, _ in names)
    zero = [t for o, t, _ in names if float(p64[o].grad.abs().max()) < 1e-9 * gmax]
    worst = max(float((params[o].grad.double() - p64[o].grad).abs().max() / p64[o].grad.abs().max())
                for o, t, _ in names if t not in zero)
    worst0 = max([float(params[o].grad.abs().max()) / gmax for o, t, _ in names if t in zero] + [0.0])
    print(f"float32 vs float64 autograd: loss rel {abs(loss.item() - loss64.item()) / loss64.item():.2e}, "
          f"worst per-tensor max|dg|/max|g| {worst:.2e}; exactly-zero gradients: {' '.join(zero)} "
          f"(float32 max|g| / global max|g| {worst0:.2e})")

    # ---- 100 AdamW steps
    for p in params.values():
        p.grad = None
    S, B2 = 100, 2
    pool = [random_seq(rng, n) for n in rng.randint(8, 21, size=6)]
    T2 = max(len(s) for s in pool) + 2
    a_ids = np.full((S, B2, T2), PAD, dtype=np.int32)
    a_len = np.zeros((S, B2), dtype=np.int32)
    for s in range(S):
        batch_ids, batch_len = encode([pool[j] for j in rng.randint(0, len(pool), size=B2)])
        a_ids[s, :, :batch_ids.shape[1]] = batch_ids
        a_len[s] = batch_len
    decay = [params[o] for o, t, _ in names if not (t.endswith("bias") or "ln_" in t)]
    no_decay = [params[o] for o, t, _ in names if t.endswith("bias") or "ln_" in t]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.01}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    losses = []
    for s in range(S):
        opt.zero_grad()
        loss = loss_of(model, a_ids[s], a_len[s])
        loss.backward()
        opt.step()
        losses.append(loss.item())
    np.save(os.path.join(HERE, "adamw_ids.npy"), a_ids)
    np.save(os.path.join(HERE, "adamw_lengths.npy"), a_len)
    np.save(os.path.join(HERE, "adamw_losses.npy"), np.array(losses, dtype=np.float64))
    print(f"AdamW: {S} steps, B={B2}, T={T2}, loss {losses[0]:.6f} -> {losses[-1]:.6f}")


if __name__ == "__main__":
    main()
