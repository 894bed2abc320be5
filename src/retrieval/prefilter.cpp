// k-mer neighbourhood prefilter and ungapped X-drop filter (prefilter.hpp).
#include "retrieval/prefilter.hpp"

#include "retrieval/fasta_db.hpp"
#include "retrieval/scoring.hpp"
#include "util/error.hpp"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <memory>

namespace tranova::retrieval {

namespace {

constexpr int A = alphabet_size;
constexpr int K = 3;  // word length
constexpr int W = 20 * 20 * 20;

}  // namespace

void build_words(query_plan& p, int T) {
    const int L = static_cast<int>(p.codes.size());
    std::vector<std::vector<std::uint16_t>> lists(W);
    std::vector<int> rowmax(static_cast<std::size_t>(L), 0);
    for (int i = 0; i < L; ++i) {
        int m = -100;
        for (int a = 0; a < 20; ++a) m = std::max(m, static_cast<int>(p.pssm[static_cast<std::size_t>(i) * A + a]));
        rowmax[static_cast<std::size_t>(i)] = m;
    }
    for (int i = 0; i + K <= L; ++i) {
        if (!p.masked.empty() && (p.masked[static_cast<std::size_t>(i)] || p.masked[static_cast<std::size_t>(i + 1)] || p.masked[static_cast<std::size_t>(i + 2)]))
            continue;
        const std::int16_t* r0 = &p.pssm[static_cast<std::size_t>(i) * A];
        const std::int16_t* r1 = r0 + A;
        const std::int16_t* r2 = r1 + A;
        int max12 = rowmax[static_cast<std::size_t>(i + 1)] + rowmax[static_cast<std::size_t>(i + 2)];
        for (int a = 0; a < 20; ++a) {
            int s0 = r0[a];
            if (s0 + max12 < T) continue;
            for (int b = 0; b < 20; ++b) {
                int s1 = s0 + r1[b];
                if (s1 + rowmax[static_cast<std::size_t>(i + 2)] < T) continue;
                for (int c = 0; c < 20; ++c)
                    if (s1 + r2[c] >= T) lists[static_cast<std::size_t>((a * 20 + b) * 20 + c)].push_back(static_cast<std::uint16_t>(i));
            }
        }
    }
    p.word_start.assign(W + 1, 0);
    for (int w = 0; w < W; ++w) p.word_start[static_cast<std::size_t>(w + 1)] = p.word_start[static_cast<std::size_t>(w)] + static_cast<std::uint32_t>(lists[static_cast<std::size_t>(w)].size());
    p.word_pos.clear();
    p.word_pos.reserve(p.word_start[W]);
    for (auto& l : lists) p.word_pos.insert(p.word_pos.end(), l.begin(), l.end());
}

namespace {

// Scratch per thread: per-diagonal last hit and extension reach, stamped by target (one
// 12-byte record per diagonal, so a word hit touches one cache line).
struct diagonal_state {
    std::int32_t last, reach;
    std::uint32_t stamp;
};
struct scratch {
    std::vector<diagonal_state> diag;
    std::vector<std::uint32_t> range;  // per target position: begin, end of its word's query positions
    std::uint32_t cur = 0;
    void prepare(std::size_t diags) {
        if (diag.size() < diags) {
            diag.assign(diags, {0, 0, 0});
            cur = 0;
        }
        if (++cur == 0) {
            for (auto& x : diag) x.stamp = 0;
            cur = 1;
        }
    }
};

struct ungapped_hit {
    int score = 0;
    int diag = 0;  // target position - query position of the best segment
};

// Best ungapped X-drop segment of the target against the plan (score 0 if no trigger).
// `words` (from an index) holds the 3-mer word id at each target position (no_word for X);
// null: computed from the codes.
ungapped_hit ungapped_best(const query_plan& p, const std::uint8_t* t, const std::uint16_t* words, int tlen, scratch& s,
                           const search_options& opt) {
    const int L = static_cast<int>(p.codes.size());
    if (tlen < K || L < K) return {};
    s.prepare(static_cast<std::size_t>(L + tlen));
    const std::int16_t* P = p.pssm.data();
    ungapped_hit best;
    const int window = opt.two_hit_window;
    // Pass 1: the query-position range of every target word. These table loads do not depend
    // on each other, so the CPU overlaps their cache misses (in one loop with the hits, each
    // waited for the previous hit's branches): the same hits in the same order, less waiting.
    const int npos = tlen - K + 1;
    s.range.resize(2 * static_cast<std::size_t>(npos));
    std::uint32_t* rg = s.range.data();
    const std::uint32_t* ws = p.word_start.data();
    for (int j = 0; j < npos; ++j) {
        int w;
        if (words) {
            w = words[j] == no_word ? -1 : words[j];
        } else {
            int a = t[j], b = t[j + 1], c = t[j + 2];
            w = (a == 20 || b == 20 || c == 20) ? -1 : (a * 20 + b) * 20 + c;
        }
        rg[2 * j] = w < 0 ? 0 : ws[w];
        rg[2 * j + 1] = w < 0 ? 0 : ws[w + 1];
    }
    const std::uint16_t* wp = p.word_pos.data();
    for (int j = 0; j < npos; ++j) {
        if (j + 8 < npos) __builtin_prefetch(wp + rg[2 * (j + 8)]);
        for (std::uint32_t k = rg[2 * j], kend = rg[2 * j + 1]; k < kend; ++k) {
            int i = p.word_pos[k];
            std::size_t d = static_cast<std::size_t>(j - i + L);
            diagonal_state& ds = s.diag[d];
            if (window > 0) {
                // Two-hit rule without data-dependent branches (whether a diagonal was seen
                // for this target is random, and mispredicted branches cost more than the
                // work): a hit inside an earlier extension (j < reach) or overlapping the
                // last hit (dist < K) changes nothing; otherwise it becomes the last hit and
                // triggers an extension when the previous one is at most `window` before it.
                const bool fresh = ds.stamp != s.cur;
                const int reach0 = fresh ? -1 : ds.reach;
                const int last0 = fresh ? j : ds.last;
                const int dist = j - last0;
                const bool counts = j >= reach0 && dist >= K;
                ds.stamp = s.cur;
                ds.reach = reach0;
                ds.last = (fresh || counts) ? j : last0;
                if (fresh || !counts || dist > window) continue;
            } else if (ds.stamp != s.cur) {
                ds.stamp = s.cur;
                ds.reach = -1;
            } else if (j < ds.reach) {
                continue;  // inside an extension already done
            }
            // X-drop extension of the diagonal both ways from the word.
            int score = 0;
            for (int x = 0; x < K; ++x) score += P[static_cast<std::size_t>(i + x) * A + t[j + x]];
            int best_r = score, run = score, r_end = K;
            for (int x = K; i + x < L && j + x < tlen; ++x) {
                run += P[static_cast<std::size_t>(i + x) * A + t[j + x]];
                if (run > best_r) {
                    best_r = run;
                    r_end = x + 1;
                } else if (best_r - run > opt.xdrop_ungapped) {
                    break;
                }
            }
            int best_l = 0;
            run = 0;
            for (int x = 1; i - x >= 0 && j - x >= 0; ++x) {
                run += P[static_cast<std::size_t>(i - x) * A + t[j - x]];
                if (run > best_l) best_l = run;
                else if (best_l - run > opt.xdrop_ungapped) break;
            }
            int sc = best_r + best_l;
            if (sc > best.score) best = {sc, j - i};
            ds.reach = j + r_end;
        }
    }
    return best;
}

// A database record handed to the prefilter.
struct target_view {
    std::string_view name, description, seq;
    const std::uint16_t* words = nullptr;  // from an index, else null
    std::uint64_t record = 0;
};

// The database of one search pass: a streamed FASTA or a mapped index, restricted to a
// shard. next() fills a chunk of about `residues` residues of the shard's records; the
// totals (records, residues of the whole database) are known after the last chunk.
class target_source {
public:
    target_source(const std::string& db_path, const search_options& opt) : path_(db_path), opt_(opt), dup_(db_path) {
        if (is_db_index(db_path)) {
            index_ = std::make_unique<db_index>(db_path);
            index_->check_fresh();
        } else if (!opt.index_path.empty()) {
            index_ = std::make_unique<db_index>(opt.index_path);
            index_->check_matches(db_path);
        }
        if (index_) {
            id_ = index_->identity();
            next_record_ = opt.shard.index;
        } else {
            reader_ = std::make_unique<fasta_reader>(db_path);  // names the file if it cannot be read
            // Size and mtime identify the database in shard files; a stream ("-", a pipe) has none.
            try {
                id_ = file_identity(db_path);
            } catch (const error&) {
                id_ = {};
                id_.path = db_path;
            }
        }
    }
    const db_identity& identity() const { return id_; }  // totals complete after the last chunk

    bool next(std::vector<target_view>& out) {
        out.clear();
        if (index_) {
            std::size_t residues = 0;
            for (; next_record_ < index_->records() && residues < opt_.chunk_residues; next_record_ += opt_.shard.count) {
                const std::uint64_t r = next_record_;
                index_->check_words(r);  // a corrupt word id would index past the query's word table
                out.push_back({index_->name(r), {}, index_->seq(r), index_->words(r), r});
                residues += out.back().seq.size();
            }
            return !out.empty();
        }
        // FASTA: every record is read (to count the whole database for the E-values and to
        // number the records); the shard's records of each chunk are searched.
        for (;;) {
            std::size_t used = 0;
            if (reader_->next_chunk(chunk_, opt_.chunk_residues, used) == 0) break;
            for (std::size_t k = 0; k < used; ++k) {
                const std::uint64_t r = records_++;
                id_.residues += chunk_[k].seq.size();
                if (opt_.check_duplicate_names) dup_.add(chunk_[k].name, static_cast<std::size_t>(r + 1));
                if (r % opt_.shard.count == opt_.shard.index) out.push_back({chunk_[k].name, chunk_[k].description, chunk_[k].seq, nullptr, r});
            }
            id_.records = records_;
            if (!out.empty()) return true;
        }
        id_.records = records_;
        return false;
    }

private:
    std::string path_;
    const search_options& opt_;
    duplicate_name_check dup_;
    std::unique_ptr<db_index> index_;
    std::unique_ptr<fasta_reader> reader_;
    db_identity id_;
    std::vector<fasta_record> chunk_;
    std::uint64_t records_ = 0, next_record_ = 0;
};

}  // namespace

namespace {

// The targets of one chunk that pass the ungapped cut for one query: `best` holds each
// target's best ungapped segment (score 0: no two-hit trigger).
void collect_survivors(const query_plan& plan, const std::vector<target_view>& chunk, const std::vector<ungapped_hit>& best,
                       const search_options& opt, std::vector<candidate>& out) {
    const double m = static_cast<double>(plan.codes.size());
    const int L = static_cast<int>(plan.codes.size());
    for (std::size_t k = 0; k < chunk.size(); ++k) {
        const ungapped_hit& u = best[k];
        if (u.score < opt.min_ungapped_score) continue;
        // Length-aware cut: the expected best random ungapped score plus a margin.
        const double n = static_cast<double>(chunk[k].seq.size());
        if (u.score < std::log(K_ungapped * m * n) / lambda_ungapped + opt.ungapped_excess) continue;
        const int T = static_cast<int>(chunk[k].seq.size());
        const int margin = 50 + L / 2;
        const int b = std::max(0, u.diag - margin), e = std::min(T, u.diag + L + margin);
        out.push_back({std::string(chunk[k].name), std::string(chunk[k].description),
                       std::string(chunk[k].seq.substr(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b))), b, u.score, u.diag - b,
                       chunk[k].record});
    }
}

}  // namespace

prefilter_result prefilter_pass(const std::vector<query_plan>& plans, const std::vector<bool>& active, const std::string& db_path,
                                const search_options& opt) {
    const int threads = std::max(1, opt.threads);
    const std::size_t nq = plans.size();
    prefilter_result out;
    out.candidates.resize(nq);
    target_source source(db_path, opt);
    std::vector<target_view> chunk;
    std::vector<scratch> scr(static_cast<std::size_t>(threads));
    std::vector<std::vector<std::uint8_t>> tcodes(static_cast<std::size_t>(threads));
    while (source.next(chunk)) {
        const std::size_t used = chunk.size();
        std::vector<std::vector<ungapped_hit>> best(nq, std::vector<ungapped_hit>(used));
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
        for (std::int64_t kk = 0; kk < static_cast<std::int64_t>(used); ++kk) {
            const auto k = static_cast<std::size_t>(kk);
            const auto tid = static_cast<std::size_t>(omp_get_thread_num());
            auto& tc = tcodes[tid];
            const std::string_view s = chunk[k].seq;
            tc.resize(s.size());
            for (std::size_t x = 0; x < s.size(); ++x) {
                int c = encode_aa(s[x]);
                tc[x] = static_cast<std::uint8_t>(c < 0 ? 20 : c);
            }
            for (std::size_t qi = 0; qi < nq; ++qi)
                if (active[qi]) best[qi][k] = ungapped_best(plans[qi], tc.data(), chunk[k].words, static_cast<int>(tc.size()), scr[tid], opt);
        }
        for (std::size_t qi = 0; qi < nq; ++qi)
            if (active[qi]) collect_survivors(plans[qi], chunk, best[qi], opt, out.candidates[qi]);
    }
    out.database = source.identity();
    return out;
}

}  // namespace tranova::retrieval
