// A search: rounds of prefilter (prefilter.cpp) -> gapped scores -> inclusion -> banded
// traceback -> hits, and the PSSM of the next round (pssm.cpp).
#include "retrieval/search.hpp"

#include "retrieval/align.hpp"
#include "retrieval/prefilter.hpp"
#include "retrieval/scoring.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cctype>

namespace tranova::retrieval {

namespace {

constexpr int A = alphabet_size;
constexpr int band_half_width = 64;
using seconds = std::chrono::duration<double>;
using steady = std::chrono::steady_clock;

void fill_hit(search_hit& h, const local_alignment& al, int L) {
    h.raw_score = al.score;
    h.row.assign(static_cast<std::size_t>(L), '-');
    h.insertions.clear();
    int qi = al.qbegin, ti = al.tbegin, ident = 0, mism = 0, opens = 0;
    char prev = 'M';
    for (std::size_t c = 0; c < al.qaln.size(); ++c) {
        char qc = al.qaln[c], tc = al.taln[c];
        if (qc != '-' && tc != '-') {
            char u = static_cast<char>(std::toupper(static_cast<unsigned char>(tc)));
            h.row[static_cast<std::size_t>(qi)] = u;
            if (std::toupper(static_cast<unsigned char>(qc)) == u) ++ident;
            else ++mism;
            ++qi;
            ++ti;
            prev = 'M';
        } else if (qc == '-') {
            if (prev != 'I') ++opens;
            if (h.insertions.empty() || h.insertions.back().after != qi) h.insertions.push_back({qi, {}});
            h.insertions.back().residues.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(tc))));
            ++ti;
            prev = 'I';
        } else {
            if (prev != 'D') ++opens;
            ++qi;
            prev = 'D';
        }
    }
    h.aln_length = static_cast<int>(al.qaln.size());
    h.identity = h.aln_length > 0 ? 100.0 * ident / h.aln_length : 0;
    h.mismatches = mism;
    h.gap_opens = opens;
    h.qstart = al.qbegin + 1;
    h.qend = qi;
    h.tstart = al.tbegin + 1;
    h.tend = ti;
}

// Gapped local alignment scores of the prefilter survivors (score, and an end cell where the
// kernel gives one): striped SIMD for BLOSUM62 rounds, SeqAn3 when striped is off (tests),
// the scalar PSSM kernel in profile rounds.
std::vector<local_alignment> gapped_scores(const query_plan& plan, const std::vector<candidate>& cs, const search_options& opt) {
    const int threads = std::max(1, opt.threads);
    const int L = static_cast<int>(plan.codes.size());
    std::vector<local_alignment> scores;
    if (opt.striped && !plan.profile) {
        const striped_query sq(plan.pssm, L);
        scores.resize(cs.size());
        std::vector<std::vector<std::int16_t>> work(static_cast<std::size_t>(threads));
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
        for (std::int64_t k = 0; k < static_cast<std::int64_t>(cs.size()); ++k) {
            auto tc = encode(cs[static_cast<std::size_t>(k)].seq);
            auto& sc = scores[static_cast<std::size_t>(k)];
            sc.score = sq.score(tc.data(), static_cast<int>(tc.size()), work[static_cast<std::size_t>(omp_get_thread_num())], &sc.qend, &sc.tend);
        }
    } else if (!plan.profile) {
        std::vector<std::string_view> views;
        for (auto& c : cs) views.emplace_back(c.seq);
        scores = seqan_align(plan.q->seq, views, false, threads);
    } else {
        scores.resize(cs.size());
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
        for (std::int64_t k = 0; k < static_cast<std::int64_t>(cs.size()); ++k) {
            auto tc = encode(cs[static_cast<std::size_t>(k)].seq);
            scores[static_cast<std::size_t>(k)] = profile_align(plan.pssm, L, plan.q->seq, tc, cs[static_cast<std::size_t>(k)].seq, false);
        }
    }
    return scores;
}

// The factor on each candidate's scores: 1, or with composition-based statistics (profile
// rounds with a rescaled PSSM by default, BLOSUM62 rounds with composition_stats) the pair's
// composition_scale (BLOSUM62 under both compositions; in profile rounds the PSSM under the
// target's), the target's composition taken over its candidate window.
std::vector<double> score_scales(const query_plan& plan, const std::vector<candidate>& cs, const search_options& opt) {
    std::vector<double> f(cs.size(), 1.0);
    const bool on = plan.profile ? opt.rescale_profile && opt.profile_composition_stats : opt.composition_stats;
    if (!on) return f;
    const int L = static_cast<int>(plan.codes.size());
    const auto qc = composition(plan.q->seq);
    for (std::size_t k = 0; k < cs.size(); ++k)
        f[k] = plan.profile ? composition_scale(plan.pssm, L, composition(cs[k].seq)) : composition_scale(qc, composition(cs[k].seq));
    return f;
}

// A raw score under a factor, rounded (an integer score, as a rescaled matrix would give).
int scaled(int score, double f) { return f == 1.0 ? score : static_cast<int>(std::lround(score * f)); }

// The candidates whose (scaled) gapped score passes inclusion, best first (ties: database
// order), at most max_hits.
std::vector<std::size_t> included(const std::vector<int>& rank, std::size_t m, std::size_t nres, std::size_t nseq, const search_options& opt) {
    std::vector<std::size_t> keep;
    for (std::size_t k = 0; k < rank.size(); ++k) {
        double e = evalue(rank[k], m, nres, nseq), b = bit_score(rank[k]);
        bool in = opt.bits_per_residue > 0 ? b >= opt.bits_per_residue * static_cast<double>(m) : e <= opt.evalue;
        if (in) keep.push_back(k);
    }
    std::sort(keep.begin(), keep.end(), [&](std::size_t x, std::size_t y) { return rank[x] != rank[y] ? rank[x] > rank[y] : x < y; });
    if (keep.size() > opt.max_hits) keep.resize(opt.max_hits);
    return keep;
}

// Traceback of one included target in a band around the diagonals the score pass knows
// (profile rounds: the end diagonal; BLOSUM62 rounds: from the best ungapped diagonal to the
// striped pass's end cell, or the ungapped diagonal alone for SeqAn3's score-only pass),
// widened until the banded score reaches the score pass's. `widenings` counts the retries.
local_alignment traceback_one(const query_plan& plan, const candidate& c, const local_alignment& score, const search_options& opt,
                              std::size_t& widenings) {
    const int L = static_cast<int>(plan.codes.size());
    auto tcodes = encode(c.seq);
    const bool ends = plan.profile || (opt.striped && score.score > 0);
    const int dend = score.tend - score.qend;
    int dlo = plan.profile ? dend : ends ? std::min(c.diag, dend) : c.diag;
    int dhi = plan.profile ? dend : ends ? std::max(c.diag, dend) : c.diag;
    local_alignment al = profile_align(plan.pssm, L, plan.q->seq, tcodes, c.seq, true, dlo - band_half_width, dhi + band_half_width);
    if (al.score < score.score && ends && !plan.profile) {
        // The path left the band: find its start cell (the end cell of the best alignment of
        // the reversed prefixes) and span start to end.
        ++widenings;
        const int qe = score.qend, te = score.tend;
        std::vector<std::int16_t> rev(static_cast<std::size_t>(qe) * A);
        for (int i = 0; i < qe; ++i) std::copy_n(&plan.pssm[static_cast<std::size_t>(qe - 1 - i) * A], A, &rev[static_cast<std::size_t>(i) * A]);
        std::vector<std::uint8_t> trev(tcodes.rend() - te, tcodes.rend());
        std::vector<std::int16_t> work;
        int rq = 0, rt = 0;
        striped_query(rev, qe).score(trev.data(), te, work, &rq, &rt);
        const int dstart = (te - rt) - (qe - rq);
        dlo = std::min(dlo, dstart);
        dhi = std::max(dhi, dstart);
        al = profile_align(plan.pssm, L, plan.q->seq, tcodes, c.seq, true, dlo - band_half_width, dhi + band_half_width);
    }
    // Widen the band until the score is the optimum.
    for (int half : {4 * band_half_width, 1 << 30}) {
        if (al.score >= score.score) break;
        ++widenings;
        al = profile_align(plan.pssm, L, plan.q->seq, tcodes, c.seq, true, half == (1 << 30) ? -(1 << 30) : dlo - half,
                           half == (1 << 30) ? (1 << 30) : dhi + half);
    }
    return al;
}

std::vector<local_alignment> traceback_all(const query_plan& plan, const std::vector<candidate>& cs, const std::vector<local_alignment>& scores,
                                           const std::vector<std::size_t>& keep, const search_options& opt, std::size_t& widenings) {
    const int threads = std::max(1, opt.threads);
    std::vector<local_alignment> full(keep.size());
    std::size_t fallbacks = 0;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads) reduction(+ : fallbacks)
    for (std::int64_t k = 0; k < static_cast<std::int64_t>(keep.size()); ++k) {
        const std::size_t idx = keep[static_cast<std::size_t>(k)];
        full[static_cast<std::size_t>(k)] = traceback_one(plan, cs[idx], scores[idx], opt, fallbacks);
    }
    widenings = fallbacks;
    return full;
}

std::vector<search_hit> make_hits(const std::vector<candidate>& cs, const std::vector<int>& rank, const std::vector<double>& scale,
                                  const std::vector<std::size_t>& keep, const std::vector<local_alignment>& full, int L, std::size_t nres,
                                  std::size_t nseq) {
    std::vector<search_hit> hits(keep.size());
    for (std::size_t h = 0; h < keep.size(); ++h) {
        const candidate& c = cs[keep[h]];
        hits[h].target = c.name;
        hits[h].description = c.description;
        fill_hit(hits[h], full[h], L);
        hits[h].tstart += c.offset;
        hits[h].tend += c.offset;
        hits[h].raw_score = full[h].score;
        const int s = scaled(full[h].score, scale[keep[h]]);
        hits[h].bits = bit_score(s);
        hits[h].evalue = evalue(s, static_cast<std::size_t>(L), nres, nseq);
        hits[h].record = c.record;
        hits[h].sort_score = rank[keep[h]];
    }
    return hits;
}

// The gapped stage of one query in one round: scores, inclusion, traceback -> res.hits.
void gapped_stage(query_plan& plan, query_result& res, const std::vector<candidate>& cs, const db_identity& database, int round,
                  const search_options& opt) {
    const int L = static_cast<int>(plan.codes.size());
    const auto nseq = static_cast<std::size_t>(database.records), nres = static_cast<std::size_t>(database.residues);
    auto ta = steady::now();
    const std::vector<local_alignment> scores = gapped_scores(plan, cs, opt);
    auto tb = steady::now();
    const std::vector<double> scale = score_scales(plan, cs, opt);
    std::vector<int> rank(cs.size());
    for (std::size_t k = 0; k < cs.size(); ++k) rank[k] = scaled(scores[k].score, scale[k]);
    const std::vector<std::size_t> keep = included(rank, static_cast<std::size_t>(L), nres, nseq, opt);
    std::size_t widenings = 0;
    const std::vector<local_alignment> full = traceback_all(plan, cs, scores, keep, opt, widenings);
    auto tc = steady::now();
    log::debug("{}: gapped scores {:.3f} s ({} targets), traceback {:.3f} s ({} hits, {} band widenings)", plan.q->name,
               seconds(tb - ta).count(), cs.size(), seconds(tc - tb).count(), keep.size(), widenings);
    res.hits = make_hits(cs, rank, scale, keep, full, L, nres, nseq);
    res.stats.db_sequences = nseq;
    res.stats.db_residues = nres;
    res.stats.database = database;
    res.stats.prefilter_pass = cs.size();
    res.stats.aligned = cs.size() + keep.size();
    res.stats.included = res.hits.size();
    res.stats.rounds = round;
    log::info("{} round {}: {} sequences ({} residues), {} passed the prefilter, {} included", plan.q->name, round, nseq, nres, cs.size(),
              res.hits.size());
}

// After a round: the next round's profile from the hits (those with E <= inclusion_evalue
// when set), or the query stops (a profile round that added no hit).
bool next_profile(query_plan& plan, const query_result& res, std::size_t hits_before, int round, const search_options& opt) {
    if (round > 1 && res.hits.size() <= hits_before) return false;  // converged: no new hits
    query_result in = res;
    if (opt.inclusion_evalue > 0)
        in.hits.erase(std::remove_if(in.hits.begin(), in.hits.end(), [&](const search_hit& h) { return h.evalue > opt.inclusion_evalue; }),
                      in.hits.end());
    plan.pssm = build_pssm(build_msa(in, {0.0, 1.0}), opt.rescale_profile);
    plan.profile = true;
    return true;
}

void check_options(const search_options& opt) {
    if (!(opt.shard.count >= 1 && opt.shard.index < opt.shard.count))
        throw usage_error(fmt::format("--shard {}/{}: needs 0 <= i < N", opt.shard.index, opt.shard.count));
    if (opt.shard.count > 1 && opt.iterations > 1)
        throw usage_error("--shard with --iterations > 1: profile rounds need the hits of every shard; search unsharded");
}

}  // namespace

std::vector<query_result> search(const std::vector<query_sequence>& queries, const std::string& db_path, const search_options& opt) {
    std::vector<query_result> results(queries.size());
    std::vector<query_plan> plans(queries.size());
    for (std::size_t qi = 0; qi < queries.size(); ++qi) {
        results[qi].query = queries[qi];
        plans[qi].q = &queries[qi];
        plans[qi].codes = encode(queries[qi].seq);
        plans[qi].pssm = blosum_pssm(plans[qi].codes);
        if (opt.mask_low_complexity) plans[qi].masked = low_complexity_mask(queries[qi].seq);
    }
    check_options(opt);
    std::vector<bool> active(queries.size(), true);
    for (int round = 1; round <= std::max(1, opt.iterations); ++round) {
        if (std::none_of(active.begin(), active.end(), [](bool b) { return b; })) break;
        for (std::size_t qi = 0; qi < queries.size(); ++qi)
            if (active[qi]) build_words(plans[qi], opt.word_threshold);
        // Stream the database (or the index) once for all queries.
        auto t0 = steady::now();
        const prefilter_result pre = prefilter_pass(plans, active, db_path, opt);
        TRANOVA_CHECK(pre.database.records > 0, "{}: the database has no sequences", db_path);
        auto t1 = steady::now();
        log::debug("round {}: prefilter {:.3f} s", round, seconds(t1 - t0).count());
        for (std::size_t qi = 0; qi < queries.size(); ++qi) {
            if (!active[qi]) continue;
            const std::size_t before = results[qi].hits.size();
            gapped_stage(plans[qi], results[qi], pre.candidates[qi], pre.database, round, opt);
            results[qi].stats.seconds_prefilter += seconds(t1 - t0).count();
            if (round < opt.iterations) active[qi] = next_profile(plans[qi], results[qi], before, round, opt);
        }
        auto t2 = steady::now();
        for (auto& r : results) r.stats.seconds_align += seconds(t2 - t1).count();
    }
    return results;
}

}  // namespace tranova::retrieval
