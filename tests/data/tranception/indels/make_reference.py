#!/usr/bin/python3
"""Independent reference for Tranception indel scoring (spec tranception.md §3.6-§3.7, §4).

Run by hand (never by the build or the tests), from anywhere:
    /usr/bin/python3 tests/data/tranception/indels/make_reference.py
Needs Debian's python3-torch, python3-numpy and clustalo (Clustal Omega).

What it does, on the tiny fixture checkpoint (tests/data/tranception/models/tiny) and
P53_HUMAN (393 aa) with its full-length fixture MSA (msa/P53_HUMAN_b0.1_sub6.a2m):

1. A PyTorch implementation of the official forward pass (spec §2; the token-type row 0
   is added at every position), checked first against the official fixture logits
   (forward/tiny/seq{0..4}_logits_tt.npy; aborts if max |diff| > 1e-5).
2. A hand-made set of variants of P53 (variants.csv): deletions and insertions of 1..20
   residues at the start, middle and end, indels inside repeats (ambiguous placement),
   delins, indels combined with substitutions, pure substitutions, and the wild type.
3. (a) Indel scoring without retrieval (spec §4.2 "Optimal (indels)"): every sequence is
   scored on [0, len) in both directions, in padded batches of 20 as the official CLI;
   S = float32 sum of log p over the residues and [SEP]; delta = S/len(s) - S_wt/len(wt)
   in float64; avg = mean of both directions. -> reference_no_retrieval.csv
   (b) Indel scoring with retrieval, alpha 0.6, following §3.7 literally, batch size 1:
   the official float32 log-prior of the fixture (msa_refs/P53_HUMAN_b0.1_sub6_log_prior_f32.npy,
   theta 0.2, focus-column threshold 0.3) as the model's MSA_log_prior; for every scored
   sequence (wild type included) the sampled MSA (first row renamed REFERENCE_SEQUENCE,
   uppercase, '.' -> '-', 80-column FASTA; with 612 rows < 100,000 the "sample" is the
   whole MSA, written in file order) is profile-aligned with
   `clustalo --profile1 SAMPLED --profile2 SEQ --outfile EXPANDED --force`; the columns of
   (SEQ_TO_SCORE, REFERENCE_SEQUENCE) are walked as the official code does (skip gap/gap,
   drop at deletions, insert a zero row at column index c at insertions); fusion
   (1-a)*lp + a*prior over the slice, flipped for right-to-left; positions whose prior row
   sums to 0 and the final [SEP] get the pure model log-prob. The unflipped sequence is
   aligned in both directions (official scoring_utils comment). -> reference_retrieval_0.6.csv
   The alignment each sequence got is written to clustalo_alignments.csv.
4. Row-order check: the MSA is also written in two seeded random row orders (the
   official code uses an unseeded random.sample, i.e. a permutation here) and every
   alignment is recomputed; the script reports whether any alignment changes.
"""
import csv, json, os, random, struct, subprocess, sys, tempfile

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.dirname(HERE)  # tests/data/tranception
AA = "ACDEFGHIKLMNPQRSTVWY"
TOK = {a: 5 + i for i, a in enumerate(AA)}
ALPHA = 0.6
BATCH = 20

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)


# ---------------------------------------------------------------- model
def load_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    sd = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        dt = {"F32": np.float32, "U8": np.uint8}[meta["dtype"]]
        a, b = meta["data_offsets"]
        sd[name] = torch.from_numpy(np.frombuffer(data[a:b], dtype=dt).reshape(meta["shape"]).copy())
    if "lm_head.weight" in sd and "transformer.wte.weight" not in sd:
        sd["transformer.wte.weight"] = sd["lm_head.weight"]
    return sd


class Tranception:
    """Official forward (spec §2.2-§2.5), inference, token-type row 0 added at every position."""

    def __init__(self, sd, cfg):
        self.sd, self.L, self.d, self.H = sd, cfg["n_layer"], cfg["n_embd"], cfg["n_head"]
        self.hd = self.d // self.H

    @staticmethod
    def conv(x, w, b, k):  # x [B, G, T, hd]: causal depthwise conv over T, one filter set per group
        B, G, T, hd = x.shape
        y = x.permute(0, 1, 3, 2).reshape(B * G, hd, T)
        y = F.conv1d(y, w, b, padding=k - 1, groups=hd)[..., :T]
        return y.reshape(B, G, hd, T).permute(0, 1, 3, 2)

    def __call__(self, ids, mask):
        sd, H, hd, d = self.sd, self.H, self.hd, self.d
        B, T = ids.shape
        wte = sd["transformer.wte.weight"]
        h = wte[ids] + wte[0]
        G = H // 4
        causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
        alibi = sd["transformer.alibi"][:, 0, :T]  # [H, T] = slope_h * j
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
                    parts.append(self.conv(x[:, G * (gi + 1): G * (gi + 2)],
                                           sd[p + f"attn.{name}_depthwiseconv.{gi}.conv.weight"],
                                           sd[p + f"attn.{name}_depthwiseconv.{gi}.conv.bias"], ks))
                outs.append(torch.cat(parts, dim=1))
            q, k, v = outs
            s = torch.matmul(q, k.transpose(-1, -2)) / (float(hd) ** 0.5)
            s = torch.where(causal, s, torch.tensor(-1e4))
            s = s + alibi[None, :, None, :] + pad
            o = torch.matmul(torch.softmax(s, dim=-1), v).permute(0, 2, 1, 3).reshape(B * T, d)
            h = h + torch.addmm(sd[p + "attn.c_proj.bias"], o, sd[p + "attn.c_proj.weight"]).reshape(B, T, d)
            b = F.layer_norm(h, (d,), sd[p + "ln_2.weight"], sd[p + "ln_2.bias"], 1e-5).reshape(B * T, d)
            f = torch.relu(torch.addmm(sd[p + "mlp.c_fc.bias"], b, sd[p + "mlp.c_fc.weight"]))
            h = h + torch.addmm(sd[p + "mlp.c_proj.bias"], f * f, sd[p + "mlp.c_proj.weight"]).reshape(B, T, d)
        h = F.layer_norm(h, (d,), sd["transformer.ln_f.weight"], sd["transformer.ln_f.bias"], 1e-5)
        return h @ wte.t()


def check_forward(model):
    worst = 0.0
    for i in range(5):
        ids = torch.from_numpy(np.load(f"{DATA}/forward/tiny/seq{i}_input_ids.npy"))[None, :]
        want = np.load(f"{DATA}/forward/tiny/seq{i}_logits_tt.npy")
        with torch.no_grad():
            got = model(ids, torch.ones_like(ids))[0].numpy()
        worst = max(worst, float(np.abs(got - want).max() / np.abs(want).max()))
    print(f"forward check vs fixture logits (tiny, 5 sequences): max |diff|/max|logit| = {worst:.2e}")
    if worst > 1e-5:
        sys.exit("the PyTorch forward does not reproduce the fixture logits")


def encode(seqs):
    T = max(len(s) for s in seqs) + 2
    ids = torch.full((len(seqs), T), 3, dtype=torch.long)
    mask = torch.zeros((len(seqs), T), dtype=torch.long)
    for j, s in enumerate(seqs):
        ids[j, :len(s) + 2] = torch.tensor([1] + [TOK[c] for c in s] + [2])
        mask[j, :len(s) + 2] = 1
    return ids, mask


# ---------------------------------------------------------------- variants
def read_fasta(path):
    return "".join(l.strip() for l in open(path) if not l.startswith(">"))


def make_variants(wt):
    """(id, mutated_sequence); positions in ids are 1-based on the wild type (HGVS-like)."""
    def dele(s, a, b):  # delete 1-based a..b
        return s[:a - 1] + s[b:]

    def ins(s, after, x):  # insert x after 1-based position `after` (0 = before the first)
        return s[:after] + x + s[after:]

    def sub(s, m):
        w, p, n = m[0], int(m[1:-1]), m[-1]
        assert s[p - 1] == w, m
        return s[:p - 1] + n + s[p:]

    v = [
        ("WT", wt),
        ("M1del", dele(wt, 1, 1)),
        ("M1_E3del", dele(wt, 1, 3)),
        ("E2del", dele(wt, 2, 2)),            # E2/E3: ambiguous placement
        ("W91del", dele(wt, 91, 91)),
        ("L111_K120del", dele(wt, 111, 120)),
        ("P152del", dele(wt, 152, 152)),      # PPP run 151-153
        ("A76_P77del", dele(wt, 76, 77)),     # inside the PAPAAPAPAPAP repeat
        ("C176_E180del", dele(wt, 176, 180)),
        ("L330_K349del", dele(wt, 330, 349)), # 20 residues
        ("G389_D391del", dele(wt, 389, 391)),
        ("S392del", dele(wt, 392, 392)),
        ("D393del", dele(wt, 393, 393)),      # last residue
        ("S392_D393del", dele(wt, 392, 393)),
        ("ins0_A", ins(wt, 0, "A")),          # before M1
        ("M1_E2insG", ins(wt, 1, "G")),
        ("S99_Q100insW", ins(wt, 99, "W")),
        ("G199_N200insGSGS", ins(wt, 199, "GSGS")),
        ("T284_E285insDYKDDDDKGS", ins(wt, 284, "DYKDDDDKGS")),
        ("P153dup", ins(wt, 153, "P")),        # PPP -> PPPP
        ("Q104_K120dup", ins(wt, 120, wt[103:120])),  # tandem duplication of 17 residues
        ("S392_D393insA", ins(wt, 392, "A")),  # before the last residue
        ("D393_ext_K", wt + "K"),              # insertion at the very end (PG issue #37)
        ("D393_ext_GSW", wt + "GSW"),
        ("R175H", sub(wt, "R175H")),
        ("R175H:G245S", sub(sub(wt, "R175H"), "G245S")),
        ("N30_S33del:R175H", dele(sub(wt, "R175H"), 30, 33)),
        ("R248W:L252_T253insL", ins(sub(wt, "R248W"), 252, "L")),
        ("T211_F212delinsAAAAA", wt[:210] + "AAAAA" + wt[212:]),
        ("Q52del:K305del", dele(dele(wt, 305, 305), 52, 52)),
        ("E56_D57delinsK", wt[:55] + "K" + wt[57:]),
        ("M1_E2insMG:D393_ext_E", "M" + "G" + wt + "E"),
        # a deletion and an insertion of the same total length: the wild type's length
        ("W91del:P300_P301insG", ins(dele(wt, 91, 91), 299, "G")),
    ]
    ids = [x for x, _ in v]
    assert len(set(ids)) == len(ids)
    return v


# ---------------------------------------------------------------- scoring
def seq_sums_no_retrieval(model, seqs):
    """float32 per-sequence sums of log p over residues + [SEP], official padded batches."""
    out = []
    for i in range(0, len(seqs), BATCH):
        chunk = seqs[i:i + BATCH]
        ids, mask = encode(chunk)
        with torch.no_grad():
            lp = torch.log_softmax(model(ids, mask)[:, :-1], dim=-1)
            tok = lp.gather(2, ids[:, 1:, None])[..., 0]
            m = mask[:, 1:].float()
            m[m == 0] = float("nan")
            tok = tok * m
            tok[torch.isnan(tok)] = 0
            out += [np.float32(x) for x in tok.sum(1).numpy()]
    return out


def process_msa_data(path):
    """Official process_msa_data: header line (rstripped) -> uppercased concatenated rows."""
    d, name = {}, None
    for line in open(path):
        line = line.rstrip()
        if line.startswith(">"):
            name = line
            d.setdefault(name, "")
        elif name is not None:
            d[name] += line.upper()
    return d


def write_sampled(msa, path, order):
    keys = list(msa.keys())
    with open(path, "w") as f:
        for index, key in enumerate([keys[0]] + [keys[1 + i] for i in order]):
            name = ">REFERENCE_SEQUENCE" if index == 0 else key
            s = msa[key].upper().replace(".", "-")
            f.write(name + "\n" + "\n".join(s[i:i + 80] for i in range(0, len(s), 80)) + "\n")


def clustalo_align(sampled, seq, tmp):
    seq_path = os.path.join(tmp, "Seq_to_align.fasta")
    out_path = os.path.join(tmp, "Expanded.fasta")
    with open(seq_path, "w") as f:
        f.write("\n".join([">SEQ_TO_SCORE"] + [seq[i:i + 80] for i in range(0, len(seq), 80)]) + "\n")
    subprocess.run(["clustalo", "--profile1", sampled, "--profile2", seq_path, "--outfile", out_path, "--force"],
                   check=True, capture_output=True)
    d = process_msa_data(out_path)
    return d[">SEQ_TO_SCORE"], d[">REFERENCE_SEQUENCE"]


def update_log_prior_indel(log_prior, msa_start, aligned_a, aligned_b):
    """The official column walk (T msa_utils.py), on CPU. Returns (log_prior, msa_end, ok)."""
    try:
        keep = []
        for c in range(len(aligned_a)):
            if aligned_a[c] == "-" and aligned_b[c] == "-":
                continue
            elif aligned_a[c] == "-":
                keep.append(False)
            elif aligned_b[c] == "-":
                log_prior = torch.cat((log_prior[:c], torch.zeros(log_prior.shape[1]).view(1, -1), log_prior[c:]), dim=0)
                keep.append(True)
            else:
                keep.append(True)
        log_prior = log_prior[keep]
        return log_prior, msa_start + len(log_prior), True
    except Exception as e:  # the official code prints and continues with a partly modified prior
        print(f"  Error when processing the alignment: {e}")
        return log_prior, None, False


def seq_sum_retrieval(model, seq, flip, log_prior_full, aligned):
    """Official aggregate_indel forward + NLL sum for one sequence (batch size 1)."""
    s = seq[::-1] if flip else seq
    ids, mask = encode([s])
    with torch.no_grad():
        logits = model(ids, mask)
        lp = torch.log_softmax(logits[:, :-1], dim=-1)
        fused = lp.clone()
        msa_start, msa_end0 = 0, log_prior_full.shape[0]
        prior, msa_end, ok = update_log_prior_indel(log_prior_full, msa_start, *aligned)
        if not ok:
            msa_end = msa_end0
        a, b = 0, len(seq)
        lo, hi = max(a, msa_start), min(b, msa_end)
        assert hi > lo
        sp = prior[lo:hi]
        if flip:
            sp = torch.flip(sp, dims=(0,))
            i0 = max(0, b - msa_end)
        else:
            i0 = max(0, msa_start - a)
        i1 = i0 + (hi - lo)
        fused[0, i0:i1, :] = (1 - ALPHA) * lp[0, i0:i1, :] + ALPHA * sp
        inserted = [bool(sp[i].sum() == 0) for i in range(len(sp))] + [True]
        try:
            fused[:, inserted, :] = lp[:, inserted, :]
        except Exception as e:
            print(f"  Error when adding zero column(s): {e}")
        tok = fused.gather(2, ids[:, 1:, None])[0, :, 0]
        return np.float32(tok.sum().item()), len(sp) == len(seq)


def deltas(sums, seqs, wt_index):
    L = len(seqs[wt_index])
    wt = float(sums[wt_index]) / L
    return [float(s) / len(q) - wt for s, q in zip(sums, seqs)]


def target_positions(aligned_a, aligned_b):
    """Variant residue -> 0-based target position (-1 = inserted), from an alignment."""
    pos, it = [], 0
    for x, y in zip(aligned_a, aligned_b):
        if x != "-":
            pos.append(it if y != "-" else -1)
        if y != "-":
            it += 1
    return pos


def fmt(x):
    return repr(float(x))


def main():
    cfg = json.load(open(f"{DATA}/models/tiny/config.json"))
    model = Tranception(load_safetensors(f"{DATA}/models/tiny/model.safetensors"), cfg)
    check_forward(model)

    wt = read_fasta(f"{DATA}/dms/P53_HUMAN.fasta")
    variants = make_variants(wt)
    ids = [v[0] for v in variants]
    seqs = [v[1] for v in variants]
    with open(f"{HERE}/variants.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["variant_id", "mutated_sequence"])
        w.writerows(variants)
    wi = ids.index("WT")

    # (a) no retrieval
    l2r = seq_sums_no_retrieval(model, seqs)
    r2l = seq_sums_no_retrieval(model, [s[::-1] for s in seqs])
    d_l, d_r = deltas(l2r, seqs, wi), deltas(r2l, seqs, wi)
    with open(f"{HERE}/reference_no_retrieval.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["variant_id", "avg_score_L_to_R", "avg_score_R_to_L", "avg_score"])
        for i, v in enumerate(ids):
            w.writerow([v, fmt(d_l[i]), fmt(d_r[i]), fmt((d_l[i] + d_r[i]) / 2)])
    print(f"(a) no retrieval: {len(ids)} sequences scored")

    # (b) retrieval (aggregate_indel)
    log_prior = torch.from_numpy(np.load(f"{DATA}/msa_refs/P53_HUMAN_b0.1_sub6_log_prior_f32.npy"))
    assert log_prior.shape == (len(wt), 25)
    msa = process_msa_data(f"{DATA}/msa/P53_HUMAN_b0.1_sub6.a2m")
    tmp = tempfile.mkdtemp(prefix="tranova_indel_ref_")
    sampled = os.path.join(tmp, "Sampled.a2m")
    write_sampled(msa, sampled, list(range(len(msa) - 1)))
    aligned = {}
    for v, s in variants:
        aligned[v] = clustalo_align(sampled, s, tmp)
        a, b = aligned[v]
        assert a.replace("-", "") == s and b.replace("-", "") == wt, v
    if target_positions(*aligned["WT"]) != list(range(len(wt))):
        print("NOTE: clustalo does not align the wild type to itself")
    sl, sr, complete = [], [], []
    for v, s in variants:
        x, ok1 = seq_sum_retrieval(model, s, False, log_prior, aligned[v])
        y, ok2 = seq_sum_retrieval(model, s, True, log_prior, aligned[v])
        sl.append(x), sr.append(y), complete.append(ok1 and ok2)
    d_l, d_r = deltas(sl, seqs, wi), deltas(sr, seqs, wi)
    with open(f"{HERE}/reference_retrieval_0.6.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["variant_id", "avg_score_L_to_R", "avg_score_R_to_L", "avg_score"])
        for i, v in enumerate(ids):
            w.writerow([v, fmt(d_l[i]), fmt(d_r[i]), fmt((d_l[i] + d_r[i]) / 2)])
    with open(f"{HERE}/clustalo_alignments.csv", "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["variant_id", "aligned_variant", "aligned_reference"])
        for v in ids:
            w.writerow([v, aligned[v][0], aligned[v][1]])
    bad = [v for v, c in zip(ids, complete) if not c]
    print(f"(b) retrieval: {len(ids)} sequences; prior length != sequence length for: {bad or 'none'}")

    # Row-order sensitivity of the profile alignment.
    for seed in (1, 2):
        order = list(range(len(msa) - 1))
        random.Random(seed).shuffle(order)
        write_sampled(msa, sampled, order)
        changed = [v for v, s in variants if clustalo_align(sampled, s, tmp) != aligned[v]]
        print(f"row order seed {seed}: alignments that change: {changed or 'none'}")
    subprocess.run(["rm", "-rf", tmp])
    out = subprocess.run(["clustalo", "--version"], capture_output=True, text=True).stdout.strip()
    print(f"clustalo {out}, torch {torch.__version__}, numpy {np.__version__}")


if __name__ == "__main__":
    main()
