#!/usr/bin/python3
"""Reference values for tests/core/test_loss.cpp and test_optim.cpp, from PyTorch.

Run once with Debian's python3-torch (1.13): /usr/bin/python3 make_loss_refs.py
Writes, beside this script:
  loss_refs.txt   cross-entropy (label smoothing, ignore index) and F.ctc_loss cases
  adamw_refs.txt  10 torch.optim.AdamW steps with decay groups, a frozen tensor,
                  gradient scaling (accumulation), clip_grad_norm_, a warm-up + cosine
                  schedule and one non-finite gradient step that is skipped
Format: one array per line, "name ndim d0 .. d{ndim-1} v0 v1 ..." (float32 values
printed with 9 significant digits, which round-trips exactly; ints as ints).
"""
import math
import os

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))


def put(out, name, t):
    t = torch.as_tensor(t)
    dims = list(t.shape)
    if t.dtype.is_floating_point:
        vals = ["%.9g" % v for v in t.float().flatten().tolist()]
    else:
        vals = [str(int(v)) for v in t.flatten().tolist()]
    out.write(" ".join([name, str(len(dims))] + [str(d) for d in dims] + vals) + "\n")


def cross_entropy_cases(out):
    g = torch.Generator().manual_seed(1)
    # Casanovo: 29 classes, padding index 0 ignored, label smoothing 0.01
    for case, (N, V, ignore, eps) in enumerate([(9, 29, 0, 0.01), (7, 5, -100, 0.0), (6, 4, -100, 0.3)]):
        logits = (torch.randn(N, V, generator=g) * 3).requires_grad_()
        targets = torch.randint(0, V, (N,), generator=g)
        targets[1] = ignore
        targets[N - 2] = ignore
        loss = F.cross_entropy(logits, targets, ignore_index=ignore, label_smoothing=eps)
        loss.backward()
        p = "ce%d_" % case
        put(out, p + "shape", torch.tensor([N, V, ignore]))
        put(out, p + "eps", torch.tensor([eps]))
        put(out, p + "logits", logits.detach())
        put(out, p + "targets", targets)
        put(out, p + "loss", loss.detach().reshape(1))
        put(out, p + "grad", logits.grad)


def ctc_cases(out):
    g = torch.Generator().manual_seed(2)
    cases = [
        # PrimeNovo: 28 classes, blank 27, mean, zero_infinity; sample 2 cannot fit
        # (5 labels with 2 repeated pairs need 7 frames, it has 6)
        dict(B=4, T=12, C=28, blank=27, reduction="mean", zero_inf=True,
             targets=[[3, 3, 5], [1, 2, 3, 4, 5, 6, 7], [4, 4, 9, 9, 2], [8]], in_len=[12, 10, 6, 3]),
        # blank 0, sum, repeated labels, all feasible (one exactly at the limit)
        dict(B=3, T=7, C=5, blank=0, reduction="sum", zero_inf=False,
             targets=[[1, 1, 1], [2, 3, 2, 4], [3, 3]], in_len=[5, 7, 3]),
        # an infeasible sample without zero_infinity: loss inf
        dict(B=2, T=4, C=4, blank=0, reduction="mean", zero_inf=False,
             targets=[[1, 1, 1], [2, 3]], in_len=[4, 4]),
    ]
    for case, c in enumerate(cases):
        B, T, C = c["B"], c["T"], c["C"]
        S = max(len(t) for t in c["targets"])
        logits = (torch.randn(B, T, C, generator=g) * 2).requires_grad_()
        lp_btc = F.log_softmax(logits, dim=2)
        lp_btc.retain_grad()
        targets = torch.full((B, S), -1, dtype=torch.long)
        for b, t in enumerate(c["targets"]):
            targets[b, : len(t)] = torch.tensor(t)
        tl = torch.tensor([len(t) for t in c["targets"]])
        il = torch.tensor(c["in_len"])
        args = dict(blank=c["blank"], zero_infinity=c["zero_inf"])
        loss = F.ctc_loss(lp_btc.transpose(0, 1), targets, il, tl, reduction=c["reduction"], **args)
        per = F.ctc_loss(lp_btc.detach().transpose(0, 1), targets, il, tl, reduction="none", **args)
        p = "ctc%d_" % case
        put(out, p + "shape", torch.tensor([B, T, C, S, c["blank"], c["reduction"] == "mean", c["zero_inf"]]))
        put(out, p + "log_probs", lp_btc.detach())
        put(out, p + "targets", targets)
        put(out, p + "input_lengths", il)
        put(out, p + "target_lengths", tl)
        put(out, p + "loss", loss.detach().reshape(1))
        put(out, p + "per_sample", per)
        if torch.isfinite(loss):
            loss.backward()
            put(out, p + "grad_torch", lp_btc.grad)  # PyTorch's "log_probs" gradient
            put(out, p + "grad_logits", logits.grad)  # end to end through log_softmax


# ---------------------------------------------------------------------------------------
def schedule(step, warmup, total, max_lr, min_lr):
    """linear warm-up (step+1)/warmup, then cosine from max_lr to min_lr at `total`."""
    if step < warmup:
        return max_lr * (step + 1) / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / (total - warmup)
    return min_lr + (max_lr - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def adamw_case(out):
    g = torch.Generator().manual_seed(3)
    shapes = [("wte", (5, 4)), ("blk.0.ln_1.weight", (4,)), ("blk.0.ln_1.bias", (4,)),
              ("blk.0.mlp_fc.weight", (6, 4)), ("blk.0.mlp_fc.bias", (6,)), ("head.weight", (3, 6))]
    params = {n: torch.randn(*s, generator=g).requires_grad_() for n, s in shapes}
    frozen = {"head.weight"}  # freeze prefix "head."
    no_decay = {"wte", "blk.0.ln_1.weight", "blk.0.ln_1.bias", "blk.0.mlp_fc.bias"}  # embeddings excluded too
    lr_max, lr_min, warmup, total, wd, clip, scale = 1e-2, 1e-3, 3, 10, 0.1, 1.0, 0.5
    betas, eps = (0.9, 0.95), 1e-8
    trainable = [n for n, _ in shapes if n not in frozen]
    opt = torch.optim.AdamW(
        [dict(params=[params[n] for n in trainable if n not in no_decay], weight_decay=wd),
         dict(params=[params[n] for n in trainable if n in no_decay], weight_decay=0.0)],
        lr=lr_max, betas=betas, eps=eps)
    put(out, "hyper", torch.tensor([lr_max, lr_min, warmup, total, wd, clip, scale, betas[0], betas[1], eps],
                                   dtype=torch.float64))
    for n, _ in shapes:
        put(out, "init." + n, params[n].detach())
    for step in range(10):
        # step 0 small gradients (no clipping), later ones large (clipped)
        mag = 0.05 if step in (0, 1) else 2.0
        grads = {n: torch.randn(*s, generator=g) * mag for n, s in shapes}
        if step == 6:
            grads["blk.0.mlp_fc.weight"][2, 1] = float("inf")
        for n, _ in shapes:
            put(out, "grad%d.%s" % (step, n), grads[n])
        lr = schedule(step, warmup, total, lr_max, lr_min)
        for n in trainable:
            params[n].grad = grads[n] * scale
        finite = all(torch.isfinite(params[n].grad).all() for n in trainable)
        if finite:
            norm = torch.nn.utils.clip_grad_norm_([params[n] for n in trainable], clip)
            for group in opt.param_groups:
                group["lr"] = lr
            opt.step()
        else:
            norm = torch.tensor(float("inf"))
        put(out, "report%d" % step, torch.tensor([lr, float(norm), 1.0 if finite else 0.0], dtype=torch.float64))
        for n, _ in shapes:
            put(out, "param%d.%s" % (step, n), params[n].detach())
        opt.zero_grad()


def main():
    torch.set_num_threads(1)
    with open(os.path.join(HERE, "loss_refs.txt"), "w") as out:
        cross_entropy_cases(out)
        ctc_cases(out)
    with open(os.path.join(HERE, "adamw_refs.txt"), "w") as out:
        adamw_case(out)


if __name__ == "__main__":
    main()
