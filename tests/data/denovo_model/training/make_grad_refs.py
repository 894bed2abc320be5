#!/usr/bin/python3
"""Gradient / AdamW references for tranova's de novo trainers (tests/denovo_model/test_training.cpp).

Run once with Debian 12's python3-torch (PyTorch 1.13, CPU):  /usr/bin/python3 make_grad_refs.py
Rewrites the files of this folder (see README.md). The build and the tests never run Python.

The models are rebuilt here from torch.nn parts exactly as the official code wires them
(depthcharge 0.2.3 SpectrumEncoder / PeptideDecoder for Casanovo v4.2.1, PrimeNovo's NAR
PeptideDecoder): FloatEncoder sinusoids from the stored sin/cos terms, PeakEncoder = m/z
sinusoids + Linear(1, d, bias=False)(intensity), a learned latent token, torch.nn post-LN
Transformer layers (ReLU, dropout 0, batch_first) with key padding masks; Casanovo's decoder
input is [precursor token; aa embeddings of the reversed peptide + '$'] + positions with a
causal mask; PrimeNovo's is the precursor token repeated 40x + positions, no causal mask.
The rebuilt models are checked against the official losses of the shared oracle fixtures
(README of tests/data/denovo_model): Casanovo training_step CE (label smoothing 0.01)
3.361360788345337 and PrimeNovo CTC 9.571734428405762 on the random tiny checkpoints.
"""
import json
import os
import struct

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)
torch.set_num_threads(1)
torch.manual_seed(0)

N_HEAD = 4
ADAM = dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
STEPS = 100


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        blob = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        assert e["dtype"] == "F32", name
        a, b = e["data_offsets"]
        out[name] = torch.from_numpy(np.frombuffer(blob[a:b], dtype="<f4").reshape(e["shape"]).copy())
    return out


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        b = np.ascontiguousarray(t.detach().numpy().astype("<f4")).tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def float_enc(x, sin_term, cos_term):
    """depthcharge FloatEncoder: x (...) -> (..., n_sin + n_cos)."""
    return torch.cat([torch.sin(x[..., None] / sin_term), torch.cos(x[..., None] / cos_term)], dim=-1)


def make_layers(sd, prefix, n, decoder):
    d = sd[prefix + "0.linear1.weight"].shape[1]
    ff = sd[prefix + "0.linear1.weight"].shape[0]
    cls = torch.nn.TransformerDecoderLayer if decoder else torch.nn.TransformerEncoderLayer
    layers = []
    for i in range(n):
        layer = cls(d, N_HEAD, ff, dropout=0.0, batch_first=True)
        p = f"{prefix}{i}."
        layer.load_state_dict({k[len(p):]: v for k, v in sd.items() if k.startswith(p)})
        layers.append(layer)
    return torch.nn.ModuleList(layers)


class Model(torch.nn.Module):
    """Encoder + one decoder; parameter names are tranova's weight-file names."""

    def __init__(self, sd, arch):
        super().__init__()
        self.arch = arch
        dec = "ar_decoder." if arch == "casanovo" else "nar_decoder."
        self.sd = {(dec + k[8:] if k.startswith("decoder.") else k): v for k, v in sd.items()}
        sd = self.sd
        self.buffers_ = {k: v for k, v in sd.items() if k.endswith("_term")}
        P = lambda k: torch.nn.Parameter(sd[k].clone())
        self.latent = P("encoder.latent_spectrum")
        self.int_w = P("encoder.peak_encoder.int_encoder.weight")
        n_enc = len({k.split(".")[3] for k in sd if k.startswith("encoder.transformer_encoder.layers.")})
        self.enc = make_layers(sd, "encoder.transformer_encoder.layers.", n_enc, False)
        self.charge = P(dec + "charge_encoder.weight")
        self.final_w = P(dec + "final.weight")
        self.final_b = P(dec + "final.bias")
        if arch == "casanovo":
            self.aa = torch.nn.Embedding.from_pretrained(sd[dec + "aa_encoder.weight"].clone(), freeze=False,
                                                         padding_idx=0)
            n_dec = len({k.split(".")[3] for k in sd if k.startswith(dec + "transformer_decoder.layers.")})
            self.dec = make_layers(sd, dec + "transformer_decoder.layers.", n_dec, True)
        else:
            n_dec = len({k.split(".")[2] for k in sd if k.startswith(dec + "layers.")})
            self.dec = make_layers(sd, dec + "layers.", n_dec, True)
            # stored but unused by PrimeNovo's forward (their gradient is None)
            self.unused = torch.nn.ParameterDict({k.replace(".", "__"): P(k) for k in sd
                                                  if k.startswith((dec + "aa_encoder", dec + "mass_ln", dec + "layer_ln"))})
        self.dec_prefix = dec

    def named_weights(self):
        """(tranova name, parameter) for every trainable tensor of the weight file."""
        out = {"encoder.latent_spectrum": self.latent, "encoder.peak_encoder.int_encoder.weight": self.int_w}
        for i, l in enumerate(self.enc):
            for k, v in l.named_parameters():
                out[f"encoder.transformer_encoder.layers.{i}.{k}"] = v
        dec = self.dec_prefix
        out[dec + "charge_encoder.weight"] = self.charge
        out[dec + "final.weight"] = self.final_w
        out[dec + "final.bias"] = self.final_b
        lp = dec + ("transformer_decoder.layers." if self.arch == "casanovo" else "layers.")
        for i, l in enumerate(self.dec):
            for k, v in l.named_parameters():
                out[f"{lp}{i}.{k}"] = v
        if self.arch == "casanovo":
            out[dec + "aa_encoder.weight"] = self.aa.weight
        else:
            for k, v in self.unused.items():
                out[k.replace("__", ".")] = v
        return out

    def encoder(self, spectra):
        b = self.buffers_
        mz_pre = "encoder.peak_encoder.mz_encoder." if "encoder.peak_encoder.mz_encoder.sin_term" in b else "encoder.peak_encoder."
        zeros = ~spectra.sum(dim=2).bool()
        mask = torch.cat([torch.zeros(spectra.shape[0], 1, dtype=torch.bool), zeros], dim=1)
        peaks = float_enc(spectra[:, :, 0], b[mz_pre + "sin_term"], b[mz_pre + "cos_term"])
        peaks = peaks + spectra[:, :, [1]] @ self.int_w.t()
        x = torch.cat([self.latent.reshape(1, 1, -1).expand(spectra.shape[0], -1, -1), peaks], dim=1)
        for l in self.enc:
            x = l(x, src_key_padding_mask=mask)
        return x, mask

    def precursor(self, precursors):
        dec, b = self.dec_prefix, self.buffers_
        mass = float_enc(precursors[:, None, 0], b[dec + "mass_encoder.sin_term"], b[dec + "mass_encoder.cos_term"])
        return mass + self.charge[precursors[:, 1].long() - 1][:, None, :]

    def positions(self, n):
        dec, b = self.dec_prefix, self.buffers_
        return float_enc(torch.arange(n, dtype=torch.float32), b[dec + "pos_encoder.sin_term"], b[dec + "pos_encoder.cos_term"])

    def casanovo_logits(self, spectra, precursors, tokens):
        memory, mask = self.encoder(spectra)
        tgt = torch.cat([self.precursor(precursors), self.aa(tokens)], dim=1)
        tgt_pad = tgt.sum(dim=2) == 0
        tgt = tgt + self.positions(tgt.shape[1])[None]
        causal = torch.triu(torch.full((tgt.shape[1], tgt.shape[1]), float("-inf")), diagonal=1)
        x = tgt
        for l in self.dec:
            x = l(x, memory, tgt_mask=causal, tgt_key_padding_mask=tgt_pad, memory_key_padding_mask=mask)
        return x @ self.final_w.t() + self.final_b

    def casanovo_loss(self, spectra, precursors, tokens):
        logits = self.casanovo_logits(spectra, precursors, tokens)[:, :-1, :]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tokens.flatten(), ignore_index=0,
                               label_smoothing=0.01)

    def primenovo_logits(self, spectra, precursors, T=40):
        memory, mask = self.encoder(spectra)
        x = self.precursor(precursors).expand(-1, T, -1) + self.positions(T)[None]
        for l in self.dec:
            x = l(x, memory, memory_key_padding_mask=mask)
        return x @ self.final_w.t() + self.final_b

    def primenovo_loss(self, spectra, precursors, targets, target_lengths):
        lp = F.log_softmax(self.primenovo_logits(spectra, precursors), dim=-1)
        B, T, _ = lp.shape
        return F.ctc_loss(lp.transpose(0, 1), targets, torch.full((B,), T, dtype=torch.long), target_lengths,
                          blank=27, reduction="mean", zero_infinity=True)


def no_decay(name):
    """core::decay_rule defaults: biases and LayerNorm tensors get no weight decay."""
    parts = name.split(".")
    return parts[-1].endswith("bias") or any(m in p for p in parts for m in ("ln_", "_ln", "norm")) or "ln" in parts


def npy(name):
    return torch.from_numpy(np.load(os.path.join(DATA, name + ".npy")))


def run(arch, fixture, official_loss):
    model = Model(read_safetensors(os.path.join(DATA, fixture)), arch)
    tokens = npy("casanovo_tf_tokens").long()  # (8, 20): reversed peptide + '$' (28), 0-padded
    if arch == "casanovo":
        spectra, precursors = npy("casanovo_spectra").float(), npy("casanovo_precursors").float()
        loss_fn = lambda: model.casanovo_loss(spectra, precursors, tokens)
    else:
        spectra, precursors = npy("primenovo_spectra").float(), npy("primenovo_precursors").float()
        res = tokens.clone()
        res[(res == 0) | (res == 28)] = 0
        lengths = (res > 0).sum(dim=1)
        targets = torch.where(res > 0, res - 1, torch.full_like(res, -1))  # CTC ids 0..26, -1 pad
        loss_fn = lambda: model.primenovo_loss(spectra, precursors, targets, lengths)
    weights = model.named_weights()
    loss = loss_fn()
    assert abs(loss.item() - official_loss) <= 1e-5 * official_loss, (arch, loss.item(), official_loss)
    loss.backward()
    grads = {k: (v.grad if v.grad is not None else torch.zeros_like(v)) for k, v in weights.items()}
    write_safetensors(os.path.join(HERE, f"{arch}_grads.safetensors"), grads)

    # AdamW from the same weights on the same batch, the loss before every step
    model = Model(read_safetensors(os.path.join(DATA, fixture)), arch)
    weights = model.named_weights()
    # PrimeNovo's unused tensors never get a gradient, so torch.optim skips them: leave them out
    unused = tuple(model.dec_prefix + u for u in ("aa_encoder", "mass_ln", "layer_ln")) if arch == "primenovo" else ()
    used = {k: v for k, v in weights.items() if not (unused and k.startswith(unused))}
    groups = [{"params": [v for k, v in used.items() if not no_decay(k)]},
              {"params": [v for k, v in used.items() if no_decay(k)], "weight_decay": 0.0}]
    opt = torch.optim.AdamW(groups, **ADAM)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn()
        losses.append(loss.item())
        loss.backward()
        opt.step()
    with open(os.path.join(HERE, f"{arch}_adamw_losses.txt"), "w") as f:
        f.write(f"# {arch} {fixture}: loss before each of {STEPS} torch.optim.AdamW steps on one batch\n")
        f.write(f"# lr {ADAM['lr']} betas {ADAM['betas']} eps {ADAM['eps']} weight_decay {ADAM['weight_decay']} "
                "(0 for biases and LayerNorm tensors)\n")
        for i, l in enumerate(losses):
            f.write(f"{i} {l!r}\n")
    return losses


if __name__ == "__main__":
    a = run("casanovo", "casanovo_tiny.safetensors", 3.361360788345337)
    print("casanovo", a[0], a[49], a[-1])
    b = run("primenovo", "primenovo_tiny.safetensors", 9.571734428405762)
    print("primenovo", b[0], b[49], b[-1])
