#!/usr/bin/env python3
"""Flattens the JSON results of the de novo oracle fixtures (Casanovo v4.2.1 / PrimeNovo run
on CPU; the project's shared data folder, fixtures/denovo) into small text files the C++
tests read (stdlib only).

Usage: python3 gen_expected.py [FIXTURES_DIR]
FIXTURES_DIR defaults to shared/fixtures/denovo in the folder `shared/` beside the
repository (../shared/fixtures/denovo from the repository root)."""
import json, sys, os

here = os.path.dirname(os.path.abspath(__file__))
repo = os.path.dirname(os.path.dirname(os.path.dirname(here)))  # tests/data/denovo_model -> repo
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(repo), "shared", "fixtures", "denovo")

for p in ("casanovo", "casanovo_trained"):
    d = json.load(open(os.path.join(src, p + "_results.json")))
    for cfg, bs in d["beam_search"].items():
        with open(os.path.join(here, f"{p}_{cfg}_predictions.tsv"), "w") as f:
            for pred in bs["predictions"]:
                i = pred["spectrum_index_in_batch"]
                for r, t in enumerate(pred["top"]):
                    f.write(f"{i}\t{r}\t{t['peptide']}\t{t['peptide_score']!r}\t"
                            + ",".join(repr(a) for a in t["aa_scores"]) + "\n")
        with open(os.path.join(here, f"{p}_{cfg}_trace.tsv"), "w") as f:
            for st in bs["trace"]:
                def toks(x):
                    return ";".join(",".join(str(t) for t in b) for b in x)
                def bits(x):
                    return "".join("1" if b else "0" for b in x)
                f.write(f"{st['step']}\t{toks(st['tokens_in'])}\t{bits(st['finished'])}\t{bits(st['fits_precursor'])}\t"
                        f"{bits(st['discarded'])}\t{toks(st['tokens_out']) if 'tokens_out' in st else ''}\n")
        with open(os.path.join(here, f"{p}_{cfg}_mztab_rows.tsv"), "w") as f:
            for row in bs["mztab_psm_rows"]:
                f.write(f"{row['sequence']}\t{row['peptide_score']!r}\t{row['charge']}\t{row['exp_mass_to_charge']!r}\t"
                        f"{row['calc_mass_to_charge']!r}\t{row['aa_scores']}\n")

for p in ("primenovo", "primenovo_trained"):
    d = json.load(open(os.path.join(src, p + "_results.json")))
    with open(os.path.join(here, f"{p}_results.tsv"), "w") as f:
        for r in d["results"]:
            f.write("\t".join([
                str(r["spectrum_index_in_batch"]), r["greedy_peptide"], r["beam_top_peptide"],
                repr(r["beam_top_score(-log p)"]), str(int(r["beam_within_tol"])),
                ",".join(str(t) for t in r["pmc"]["raw_path_40"]), r["pmc"]["peptide"],
                r["final_peptide"], repr(r["final_score"])]) + "\n")
