// Casanovo v4.2.1 beam search (see beam_search.hpp). Step structure, masks and
// tie-breaking follow Spec2Pep.beam_search_decode / _finish_beams / _cache_finished_beams /
// _get_topk_beams; the decoder is run incrementally (per-beam key/value cache) instead of
// re-running the whole prefix, which gives the same logits.
#include "denovo_model/beam_search.hpp"

#include "denovo/peptide.hpp"
#include "util/error.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tranova::denovo_model {

namespace {

// torch.topk on CPU (values, k): the same std algorithms on (value, index) pairs, so equal
// values come out in the same order as upstream.
std::vector<int> torch_topk(const std::vector<float>& values, int k) {
    std::vector<std::pair<float, int>> q(values.size());
    for (size_t i = 0; i < values.size(); ++i) q[i] = {values[i], int(i)};
    auto cmp = [](const std::pair<float, int>& x, const std::pair<float, int>& y) {
        return (std::isnan(x.first) && !std::isnan(y.first)) || (x.first > y.first);
    };
    if (size_t(k) * 64 <= q.size()) {
        std::partial_sort(q.begin(), q.begin() + k, q.end(), cmp);
    } else {
        std::nth_element(q.begin(), q.begin() + (k - 1), q.end(), cmp);
        std::sort(q.begin(), q.begin() + (k - 1), cmp);
    }
    std::vector<int> out(static_cast<size_t>(k));
    for (int i = 0; i < k; ++i) out[size_t(i)] = q[size_t(i)].second;
    return out;
}

struct beam {
    std::vector<int> tok;    // (L) tokens, decoding order
    std::vector<float> sc;   // (L, V) raw decoder outputs (NaN = not computed)
    ar_cache cache;
};

struct cached_psm {
    double score;
    double rand;
    std::vector<double> aa_scores;
    std::vector<int> tokens;
    bool operator<(const cached_psm& o) const {
        if (score != o.score) return score < o.score;
        return rand < o.rand;
    }
};

}  // namespace

std::vector<std::vector<ar_psm>> ar_beam_search(const denovo_model& m, const std::vector<ar_input>& inputs,
                                                const beam_params& p, numpy_random& rng,
                                                std::vector<beam_trace_step>* trace) {
    TRANOVA_CHECK(m.has_ar(), "this model has no autoregressive decoder");
    TRANOVA_CHECK(p.n_beams >= 1 && p.n_beams <= m.ar_vocab, "--beam must be in 1..{}", m.ar_vocab);
    const int B = int(inputs.size()), S = p.n_beams, L = p.max_length + 1, V = m.ar_vocab, stop = m.stop_token();
    const int d = m.cfg.dim_model;
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const auto& res = m.cfg.residues;
    std::vector<bool> is_nterm(size_t(V), false);
    std::vector<int> neg_tokens;
    for (int r = 0; r < res.size(); ++r) {
        const std::string& t = res.tokens[size_t(r)];
        if (!t.empty() && (t[0] == '+' || t[0] == '-')) is_nterm[size_t(r + 1)] = true;
        if (res.masses[size_t(r)] < 0) neg_tokens.push_back(r + 1);
    }
    auto token_mass = [&](int t) { return res.masses[size_t(t - 1)]; };

    std::vector<beam> beams(size_t(B) * S);
    {
        // first pass: the precursor token of every spectrum, in one batch
        std::vector<ar_cache> c0(static_cast<size_t>(B));
        std::vector<float> first(size_t(B) * V);
        std::vector<ar_feed_item> items(static_cast<size_t>(B));
        for (int b = 0; b < B; ++b) {
            ar_cache_init(m, c0[size_t(b)], L + 1);
            items[size_t(b)].mem = inputs[size_t(b)].memory;
            items[size_t(b)].cache = &c0[size_t(b)];
            items[size_t(b)].mass = inputs[size_t(b)].mass;
            items[size_t(b)].charge = inputs[size_t(b)].charge;
            items[size_t(b)].n = 1;
            items[size_t(b)].all_logits = first.data() + size_t(b) * V;
        }
        ar_feed_batch(m, items);
        for (int b = 0; b < B; ++b) {
            std::vector<float> logits(first.begin() + long(b) * V, first.begin() + long(b + 1) * V);
            std::vector<int> top = torch_topk(logits, S);
            for (int s = 0; s < S; ++s) {
                beam& bm = beams[size_t(b) * S + size_t(s)];
                bm.tok.assign(size_t(L), 0);
                bm.sc.assign(size_t(L) * V, nan);
                bm.tok[0] = top[size_t(s)];
                std::copy(logits.begin(), logits.end(), bm.sc.begin());
                if (s + 1 == S) bm.cache = std::move(c0[size_t(b)]);
                else ar_cache_copy(bm.cache, c0[size_t(b)], d);
            }
        }
    }
    std::vector<std::vector<cached_psm>> cache(static_cast<size_t>(B));
    const int n = B * S;
    std::vector<bool> finished(static_cast<size_t>(n)), fits(static_cast<size_t>(n)), discarded(static_cast<size_t>(n));

    for (int step = 0; step < p.max_length; ++step) {
        beam_trace_step tr;
        if (trace)
            for (auto& bm : beams) tr.tokens_in.emplace_back(bm.tok.begin(), bm.tok.begin() + step + 1);
        // ---- _finish_beams
        for (int i = 0; i < n; ++i) {
            const std::vector<int>& tok = beams[size_t(i)].tok;
            const ar_input& in = inputs[size_t(i / S)];
            bool fin = tok[size_t(step)] == stop, dis = tok[size_t(step)] == 0, fit = false;
            if (step > 1) {
                int final_pos = fin ? step - 1 : step;
                bool multiple =
                    is_nterm[size_t(tok[size_t(final_pos)])] && is_nterm[size_t(tok[size_t(final_pos - 1)])];
                bool internal = false;
                for (int j = 0; j <= final_pos - 1; ++j) internal = internal || is_nterm[size_t(tok[size_t(j)])];
                if (multiple || internal) dis = true;
            }
            if (!dis) {
                // detokenize: keep tokens up to the first stop token, which is then dropped
                int len = step + 1, cut = step + 1;
                for (int j = 0; j <= step; ++j)
                    if (tok[size_t(j)] == stop) {
                        cut = j;
                        break;
                    }
                if (cut <= step) len -= 1;
                if (fin && len < p.min_peptide_len) {
                    dis = true;
                } else {
                    // residues N->C (reversed decoding order), as PeptideMass.mass sums them
                    bool unknown = false;
                    double base = 0.0;
                    for (int j = cut - 1; j >= 0; --j) {
                        int t = tok[size_t(j)];
                        if (t <= 0 || t >= stop) {
                            unknown = true;
                            break;
                        }
                        base += token_mass(t);
                    }
                    bool matches = false, exceeds = false;
                    std::vector<int> extra{0};
                    if (!fin) extra.insert(extra.end(), neg_tokens.begin(), neg_tokens.end());
                    if (!unknown) {
                        for (int aa : extra) {
                            double sum = aa == 0 ? base : base + token_mass(aa);
                            float charge = float(in.charge);
                            float calc = casanovo_calc_mz(sum, charge);
                            bool any_within = false, all_above = true;
                            for (int iso = p.isotope_min; iso <= p.isotope_max; ++iso) {
                                float dppm = casanovo_ppm_error(calc, in.precursor_mz, charge, iso);
                                if (std::fabs(dppm) < p.precursor_mass_tol) any_within = true;
                                if (!(dppm > p.precursor_mass_tol)) all_above = false;
                            }
                            matches = aa == 0 && any_within;
                            exceeds = matches ? false : (all_above && (fin || aa != 0));
                            if (matches || exceeds) break;
                        }
                    }
                    if (fin) fit = matches;
                    else if (exceeds) {
                        fin = true;
                        fit = matches;
                    }
                }
            }
            finished[size_t(i)] = fin;
            discarded[size_t(i)] = dis;
            fits[size_t(i)] = fit;
        }
        if (trace) {
            tr.finished = finished;
            tr.fits = fits;
            tr.discarded = discarded;
        }
        // ---- _cache_finished_beams
        for (int i = 0; i < n; ++i) {
            if (!finished[size_t(i)] || discarded[size_t(i)]) continue;
            const beam& bm = beams[size_t(i)];
            std::vector<cached_psm>& heap = cache[size_t(i / S)];
            bool has_stop = bm.tok[size_t(step)] == stop;
            std::vector<int> pep(bm.tok.begin(), bm.tok.begin() + step + (has_stop ? 0 : 1));
            bool dup = false;
            for (auto& c : heap) dup = dup || c.tokens == pep;
            if (dup) continue;
            std::vector<double> aa;
            for (int j = 0; j <= step; ++j) {
                const float* row = bm.sc.data() + size_t(j) * V;
                float mx = -std::numeric_limits<float>::infinity();
                for (int v = 0; v < V; ++v) mx = std::max(mx, row[v]);
                float sum = 0.0f;
                for (int v = 0; v < V; ++v) sum += std::exp(row[v] - mx);
                aa.push_back(double(std::exp(row[bm.tok[size_t(j)]] - mx) / sum));
            }
            if (!has_stop) aa.push_back(0.0);
            double mean = 0.0;
            for (double a : aa) mean += a;
            mean /= double(aa.size());
            for (double& a : aa) a = (a + mean) / 2;
            aa.pop_back();
            double score = fits[size_t(i)] ? mean : mean - 1.0;
            cached_psm item{score, rng.random_sample(), std::move(aa), std::move(pep)};
            if (int(heap.size()) < S) {
                heap.push_back(std::move(item));
            } else {
                auto mn = std::min_element(heap.begin(), heap.end());
                if (*mn < item) *mn = std::move(item);
            }
        }
        for (int i = 0; i < n; ++i) finished[size_t(i)] = finished[size_t(i)] || discarded[size_t(i)];
        if (std::all_of(finished.begin(), finished.end(), [](bool f) { return f; })) {
            if (trace) trace->push_back(std::move(tr));
            break;
        }
        // ---- decoder on the active beams (positions up to step+1), one batch
        {
            std::vector<ar_feed_item> items;
            std::vector<int> owner;
            for (int i = 0; i < n; ++i) {
                if (finished[size_t(i)]) continue;
                beam& bm = beams[size_t(i)];
                const ar_input& in = inputs[size_t(i / S)];
                int first = bm.cache.len;  // next position to feed (>= 1 here)
                int count = step + 2 - first;
                if (count <= 0) continue;
                ar_feed_item it;
                it.mem = in.memory;
                it.cache = &bm.cache;
                it.mass = in.mass;
                it.charge = in.charge;
                it.tokens = bm.tok.data() + (first - 1);
                it.n = count;
                it.all_logits = bm.sc.data() + long(first) * V;
                items.push_back(it);
            }
            ar_feed_batch(m, items);
        }
        // ---- _get_topk_beams at position step+1
        const int sp = step + 1;
        std::vector<beam> next(beams.size());
        std::vector<float> cand(size_t(V) * S);
        std::vector<int> uses(beams.size(), 0);
        std::vector<std::pair<int, int>> picks(beams.size());  // (parent, token)
        for (int b = 0; b < B; ++b) {
            for (int s = 0; s < S; ++s) {
                const beam& bm = beams[size_t(b) * S + size_t(s)];
                float prev_sum = 0.0f;
                int prev_n = 0;
                for (int j = 0; j < sp; ++j) {
                    float v = bm.sc[size_t(j) * V + size_t(bm.tok[size_t(j)])];
                    if (!std::isnan(v)) {
                        prev_sum += v;
                        ++prev_n;
                    }
                }
                bool fin = finished[size_t(b) * S + size_t(s)];
                for (int v = 0; v < V; ++v) {
                    float x = bm.sc[size_t(sp) * V + size_t(v)];
                    float sum = prev_sum;
                    int cnt = prev_n;
                    if (!std::isnan(x)) {
                        sum += x;
                        ++cnt;
                    }
                    float mean = cnt ? sum / float(cnt) : nan;
                    float mask = v == 0 ? 1e-8f : (fin ? 0.0f : 1.0f);
                    cand[size_t(v) * S + size_t(s)] = mean * mask;
                }
            }
            std::vector<int> top = torch_topk(cand, S);
            for (int r = 0; r < S; ++r) {
                int v = top[size_t(r)] / S, s = top[size_t(r)] % S;
                int parent = b * S + s;
                picks[size_t(b) * S + size_t(r)] = {parent, v};
                uses[size_t(parent)]++;
            }
        }
        // children: the last child of a parent takes it over, the others copy it into the
        // storage of a beam that has no child (reusing its allocations)
        std::vector<int> spare;
        for (int i = 0; i < n; ++i)
            if (uses[size_t(i)] == 0) spare.push_back(i);
        for (int i = 0; i < n; ++i) {
            auto [parent, v] = picks[size_t(i)];
            beam& nb = next[size_t(i)];
            beam& pb = beams[size_t(parent)];
            if (--uses[size_t(parent)] == 0) {
                nb = std::move(pb);
            } else {
                nb = std::move(beams[size_t(spare.back())]);
                spare.pop_back();
                nb.tok = pb.tok;
                nb.sc = pb.sc;
                ar_cache_copy(nb.cache, pb.cache, d);
            }
            nb.tok[size_t(sp)] = v;
            std::fill(nb.tok.begin() + sp + 1, nb.tok.end(), 0);
            std::fill(nb.sc.begin() + long(sp + 1) * V, nb.sc.end(), nan);
        }
        beams.swap(next);
        if (trace) {
            for (auto& bm : beams) tr.tokens_out.emplace_back(bm.tok.begin(), bm.tok.begin() + sp + 1);
            trace->push_back(std::move(tr));
        }
    }
    // ---- _get_top_peptide
    std::vector<std::vector<ar_psm>> out(static_cast<size_t>(B));
    for (int b = 0; b < B; ++b) {
        auto& heap = cache[size_t(b)];
        std::sort(heap.begin(), heap.end(), [](const cached_psm& x, const cached_psm& y) { return y < x; });
        for (size_t k = 0; k < heap.size() && int(k) < p.top_match; ++k) {
            ar_psm psm;
            for (int t : heap[k].tokens) {
                if (t == stop) break;
                psm.tokens.push_back(t);
            }
            psm.score = heap[k].score;
            psm.aa_scores = heap[k].aa_scores;
            out[size_t(b)].push_back(std::move(psm));
        }
    }
    return out;
}

}  // namespace tranova::denovo_model
