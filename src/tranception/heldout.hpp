// Held-out per-residue NLL of a family model against the site-independent model, on the
// validation sequences of `tranova train --msa` (split before training): the issue's
// "proof that it learns" beyond a falling loss. Definitions (docs/training.md):
//
//   - Counted residues: in each held-out sequence, the residues that sit in a match
//     column of the alignment (the query's upper-case columns; every column of an A3M)
//     and are one of the 20 standard amino acids. Insertions (A2M lower case, A3M insert
//     states) are part of the model's input but not counted; gaps are not residues.
//   - Site-independent model: per match column c, weighted frequencies over the TRAINING
//     split with the EVE weights the trainer samples by, and a pseudocount lambda per
//     amino acid: p_c(a) = (sum_n w_n [x_nc = a] + lambda) / (sum_n w_n [x_nc in AA20] + 20 lambda).
//   - Model: -log p(x_k | the residues before it) on the whole de-gapped sequence
//     ("[CLS] residues [SEP]", insertions included, no cropping), read left-to-right and
//     right-to-left, the two NLLs averaged per residue. Sequences longer than the model's
//     context (n_ctx - 2 residues) are skipped for both models.
//   - Both figures are means over the same (sequence, residue) pairs, unweighted, nats.
//
// The model's distribution is over 25 tokens, the site-independent one over 20 amino
// acids: the comparison gives the baseline that (small) advantage.
#pragma once

#include "tranception/train.hpp"
#include "tranception/train_task.hpp"

#include <cstddef>
#include <vector>

namespace tranova::tranception {

// Per match column, log p_c(a) for the 20 amino acids (msa::amino_acids order).
struct column_frequencies {
    int columns = 0;
    double pseudocount = 0;
    std::vector<double> log_p;  // columns x 20
};

// Fits the site-independent model above on `train` (sequences with their `columns`
// maps, i.e. read by sequences_from_msa). Throws if the set has no column maps or
// pseudocount <= 0.
column_frequencies fit_column_frequencies(const sequence_set& train, double pseudocount);

struct heldout_nll {
    double model = 0.0 / 0.0;             // nats per counted residue (NaN without a model)
    double site_independent = 0.0 / 0.0;  // nats per counted residue
    size_t sequences = 0;                 // held-out sequences scored
    size_t skipped = 0;                   // longer than the model's context
    size_t residues = 0;                  // counted residues
};

// Mean site-independent NLL of the counted residues of the first `max_sequences` of `val`
// (all residues of sequences up to `max_residues` long; larger ones skipped).
heldout_nll site_independent_nll(const column_frequencies& f, const sequence_set& val, size_t max_sequences,
                                 size_t max_residues);

// Both figures on the first `max_sequences` of `val` with model `m` (its n_ctx bounds the
// sequence length); `batch_items` items (sequence directions) per forward pass.
heldout_nll compare_heldout_nll(const trainable_model& m, const column_frequencies& f, const sequence_set& val,
                                size_t max_sequences, int batch_items = 8);

}  // namespace tranova::tranception
