#include "tranception/heldout.hpp"

#include "msa/msa.hpp"
#include "tranception/tokenizer.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cmath>

namespace tranova::tranception {

namespace {

constexpr int Q = 20;

// Amino-acid index 0..19 (msa::amino_acids order) of a residue, -1 if not one of the 20.
int aa_of(char c) { return msa::aa_index1(c) - 1; }

bool counted(const sequence_set& s, size_t i, size_t k, int& column, int& aa) {
    column = s.columns[i][k];
    aa = aa_of(s.seqs[i][k]);
    return column >= 0 && aa >= 0;
}

}  // namespace

column_frequencies fit_column_frequencies(const sequence_set& train, double pseudocount) {
    TRANOVA_CHECK(pseudocount > 0 && std::isfinite(pseudocount), "site-independent pseudocount {} must be > 0",
                  pseudocount);
    TRANOVA_CHECK(train.num_columns > 0 && train.columns.size() == train.seqs.size(),
                  "{}: the site-independent model needs alignment columns (an MSA)", train.source);
    const size_t C = static_cast<size_t>(train.num_columns);
    std::vector<double> count(C * Q, 0.0), total(C, 0.0);
    for (size_t i = 0; i < train.seqs.size(); ++i) {
        const double w = train.weights[i];
        for (size_t k = 0; k < train.seqs[i].size(); ++k) {
            int c = 0, a = 0;
            if (!counted(train, i, k, c, a)) continue;
            count[static_cast<size_t>(c) * Q + static_cast<size_t>(a)] += w;
            total[static_cast<size_t>(c)] += w;
        }
    }
    column_frequencies f;
    f.columns = train.num_columns;
    f.pseudocount = pseudocount;
    f.log_p.resize(C * Q);
    for (size_t c = 0; c < C; ++c)
        for (int a = 0; a < Q; ++a)
            f.log_p[c * Q + a] = std::log((count[c * Q + a] + pseudocount) / (total[c] + Q * pseudocount));
    return f;
}

heldout_nll site_independent_nll(const column_frequencies& f, const sequence_set& val, size_t max_sequences,
                                 size_t max_residues) {
    TRANOVA_CHECK(val.columns.size() == val.seqs.size() && val.num_columns == f.columns,
                  "{}: the held-out sequences have no alignment columns matching the site-independent model", val.source);
    heldout_nll r;
    double sum = 0;
    for (size_t i = 0; i < std::min(max_sequences, val.seqs.size()); ++i) {
        if (val.seqs[i].size() > max_residues) {
            ++r.skipped;
            continue;
        }
        ++r.sequences;
        for (size_t k = 0; k < val.seqs[i].size(); ++k) {
            int c = 0, a = 0;
            if (!counted(val, i, k, c, a)) continue;
            sum -= f.log_p[static_cast<size_t>(c) * Q + static_cast<size_t>(a)];
            ++r.residues;
        }
    }
    if (r.residues) r.site_independent = sum / static_cast<double>(r.residues);
    return r;
}

heldout_nll compare_heldout_nll(const trainable_model& m, const column_frequencies& f, const sequence_set& val,
                                size_t max_sequences, int batch_items) {
    const size_t max_res = static_cast<size_t>(m.cfg.n_ctx) - 2;
    heldout_nll r = site_independent_nll(f, val, max_sequences, max_res);
    if (r.residues == 0) return r;
    const int V = m.cfg.vocab;
    // Items: (sequence, direction) pairs of the scored sequences, batch_items per pass.
    struct item {
        size_t seq;
        bool reverse;
    };
    std::vector<item> items;
    for (size_t i = 0; i < std::min(max_sequences, val.seqs.size()); ++i)
        if (val.seqs[i].size() <= max_res)
            for (bool rev : {false, true}) items.push_back({i, rev});
    train_activations acts;
    std::vector<int32_t> ids, lengths;
    double sum = 0;  // sum over counted residues of the NLL, both directions (halved at the end)
    for (size_t b0 = 0; b0 < items.size(); b0 += static_cast<size_t>(std::max(1, batch_items))) {
        const size_t nb = std::min(items.size() - b0, static_cast<size_t>(std::max(1, batch_items)));
        size_t T = 0;
        for (size_t j = 0; j < nb; ++j) T = std::max(T, val.seqs[items[b0 + j].seq].size() + 2);
        ids.assign(nb * T, tok_pad);
        lengths.resize(nb);
        for (size_t j = 0; j < nb; ++j) {
            const std::string& s = val.seqs[items[b0 + j].seq];
            const size_t L = s.size();
            int32_t* row = ids.data() + j * T;
            row[0] = tok_cls;
            for (size_t k = 0; k < L; ++k) row[k + 1] = residue_id(s[items[b0 + j].reverse ? L - 1 - k : k]);
            row[L + 1] = tok_sep;
            lengths[j] = static_cast<int32_t>(L + 2);
        }
        train_forward(m, train_batch{static_cast<int>(nb), static_cast<int>(T), ids.data(), lengths.data()}, acts);
        for (size_t j = 0; j < nb; ++j) {
            const size_t i = items[b0 + j].seq;
            const std::string& s = val.seqs[i];
            const size_t L = s.size();
            for (size_t k = 0; k < L; ++k) {
                int c = 0, a = 0;
                if (!counted(val, i, k, c, a)) continue;
                // Residue k is token p + 1 of the item (p its reading position), predicted by row p.
                const size_t p = items[b0 + j].reverse ? L - 1 - k : k;
                const float* z = acts.logits + (j * T + p) * static_cast<size_t>(V);
                double mx = z[0];
                for (int v = 1; v < V; ++v) mx = std::max(mx, static_cast<double>(z[v]));
                double se = 0;
                for (int v = 0; v < V; ++v) se += std::exp(static_cast<double>(z[v]) - mx);
                sum += mx + std::log(se) - static_cast<double>(z[residue_id(s[k])]);
            }
        }
    }
    r.model = sum / 2.0 / static_cast<double>(r.residues);
    return r;
}

}  // namespace tranova::tranception
