// k-mer neighbourhood prefilter, ungapped X-drop filter, gapped alignment, statistics, MSA.
#include "retrieval/search.hpp"

#include "retrieval/align.hpp"
#include "retrieval/fasta_db.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/text.hpp"

#include <omp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cctype>
#include <cmath>
#include <cstdlib>
#include <numeric>

namespace tranova::retrieval {

namespace {

constexpr int A = 21;   // alphabet incl. X
constexpr int K = 3;    // word length
constexpr int W = 20 * 20 * 20;

// BLOSUM62, rows/cols in ARNDCQEGHILKMFPSTWYV order (NCBI).
constexpr int b62_arnd[20][20] = {
    {4, -1, -2, -2, 0, -1, -1, 0, -2, -1, -1, -1, -1, -2, -1, 1, 0, -3, -2, 0},
    {-1, 5, 0, -2, -3, 1, 0, -2, 0, -3, -2, 2, -1, -3, -2, -1, -1, -3, -2, -3},
    {-2, 0, 6, 1, -3, 0, 0, 0, 1, -3, -3, 0, -2, -3, -2, 1, 0, -4, -2, -3},
    {-2, -2, 1, 6, -3, 0, 2, -1, -1, -3, -4, -1, -3, -3, -1, 0, -1, -4, -3, -3},
    {0, -3, -3, -3, 9, -3, -4, -3, -3, -1, -1, -3, -1, -2, -3, -1, -1, -2, -2, -1},
    {-1, 1, 0, 0, -3, 5, 2, -2, 0, -3, -2, 1, 0, -3, -1, 0, -1, -2, -1, -2},
    {-1, 0, 0, 2, -4, 2, 5, -2, 0, -3, -3, 1, -2, -3, -1, 0, -1, -3, -2, -2},
    {0, -2, 0, -1, -3, -2, -2, 6, -2, -4, -4, -2, -3, -3, -2, 0, -2, -2, -3, -3},
    {-2, 0, 1, -1, -3, 0, 0, -2, 8, -3, -3, -1, -2, -1, -2, -1, -2, -2, 2, -3},
    {-1, -3, -3, -3, -1, -3, -3, -4, -3, 4, 2, -3, 1, 0, -3, -2, -1, -3, -1, 3},
    {-1, -2, -3, -4, -1, -2, -3, -4, -3, 2, 4, -2, 2, 0, -3, -2, -1, -2, -1, 1},
    {-1, 2, 0, -1, -3, 1, 1, -2, -1, -3, -2, 5, -1, -3, -1, 0, -1, -3, -2, -2},
    {-1, -1, -2, -3, -1, 0, -2, -3, -2, 1, 2, -1, 5, 0, -2, -1, -1, -1, -1, 1},
    {-2, -3, -3, -3, -2, -3, -3, -3, -1, 0, 0, -3, 0, 6, -4, -2, -2, 1, 3, -1},
    {-1, -2, -2, -1, -3, -1, -1, -2, -2, -3, -3, -1, -2, -4, 7, -1, -1, -4, -3, -2},
    {1, -1, 1, 0, -1, 0, 0, 0, -1, -2, -2, 0, -1, -2, -1, 4, 1, -3, -2, -2},
    {0, -1, 0, -1, -1, -1, -1, -2, -2, -1, -1, -1, -1, -2, -1, 1, 5, -2, -2, 0},
    {-3, -3, -4, -4, -2, -2, -3, -2, -2, -3, -2, -3, -1, 1, -4, -3, -2, 11, 2, -3},
    {-2, -2, -2, -3, -2, -1, -2, -3, 2, -1, -1, -2, -1, 3, -3, -2, -2, 2, 7, -1},
    {0, -3, -3, -3, -1, -2, -2, -3, -3, 3, 1, -2, 1, -1, -2, -2, 0, -3, -1, 4},
};

struct b62_table {
    std::array<std::array<std::int8_t, A>, A> s{};
    b62_table() {
        const char* arnd = "ARNDCQEGHILKMFPSTWYV";
        int map[20];
        for (int i = 0; i < 20; ++i) map[i] = static_cast<int>(msa::amino_acids.find(arnd[i]));
        // X (and other letters) as NCBI BLOSUM62's X row; X-X = -1.
        constexpr int x_arnd[20] = {0, -1, -1, -1, -2, -1, -1, -1, -1, -1, -1, -1, -1, -1, -2, 0, 0, -2, -1, -1};
        s[20][20] = -1;
        for (int i = 0; i < 20; ++i) s[map[i]][20] = s[20][map[i]] = static_cast<std::int8_t>(x_arnd[i]);
        for (int i = 0; i < 20; ++i)
            for (int j = 0; j < 20; ++j) s[map[i]][map[j]] = static_cast<std::int8_t>(b62_arnd[i][j]);
    }
};
const b62_table& b62() {
    static const b62_table t;
    return t;
}

// Robinson & Robinson background frequencies, msa::amino_acids order.
constexpr double background[20] = {0.07805, 0.01925, 0.05364, 0.06295, 0.03856, 0.07377, 0.02199, 0.05142, 0.05744, 0.09019,
                                   0.02243, 0.04487, 0.05203, 0.04264, 0.05129, 0.07120, 0.05841, 0.06441, 0.01330, 0.03216};

constexpr double lambda_g = 0.267, K_g = 0.041, H_g = 0.14;
constexpr int band_half_width = 64;
constexpr double lambda_u = 0.3176, K_u = 0.134;  // ungapped BLOSUM62

std::vector<std::uint8_t> encode(std::string_view s) {
    std::vector<std::uint8_t> v(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        int c = encode_aa(s[i]);
        v[i] = static_cast<std::uint8_t>(c < 0 ? 20 : c);
    }
    return v;
}

// Per-query search state for one round.
struct query_plan {
    const query_sequence* q = nullptr;
    std::vector<std::uint8_t> codes;
    std::vector<std::int16_t> pssm;          // L x A
    std::vector<std::uint32_t> word_start;   // W + 1 (CSR)
    std::vector<std::uint16_t> word_pos;     // query positions (L < 65536)
    std::vector<bool> masked;                // low-complexity residues: no seed word starts on them
    bool profile = false;
};

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

struct candidate {
    std::string name, description, seq;  // seq: the window of the target around the hit diagonal
    int offset = 0;                      // window start in the target
    int ungapped = 0;
    int diag = 0;                        // best ungapped diagonal, in window coordinates
    std::uint64_t record = 0;            // 0-based database record
};

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

std::vector<std::int16_t> blosum_pssm(const std::vector<std::uint8_t>& codes) {
    std::vector<std::int16_t> p(codes.size() * A);
    for (std::size_t i = 0; i < codes.size(); ++i)
        for (int a = 0; a < A; ++a) p[i * A + static_cast<std::size_t>(a)] = b62().s[codes[i]][static_cast<std::size_t>(a)];
    return p;
}

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

}  // namespace

int encode_aa(char c) {
    int k = msa::aa_index1(c);
    if (k > 0) return k - 1;
    if (std::isalpha(static_cast<unsigned char>(c)) || c == '*') return 20;
    return -1;
}

int blosum62(int a, int b) { return b62().s[static_cast<std::size_t>(a)][static_cast<std::size_t>(b)]; }

double bit_score(int raw) { return (lambda_g * raw - std::log(K_g)) / std::log(2.0); }

double evalue(int raw, std::size_t m, std::size_t n, std::size_t s) {
    double mm = static_cast<double>(m), nn = static_cast<double>(n), ss = static_cast<double>(std::max<std::size_t>(s, 1));
    double ell = std::log(K_g * mm * nn) / H_g;
    ell = std::max(0.0, std::min(ell, mm * 0.9));  // keep the effective query length positive
    double me = std::max(1.0, mm - ell), ne = std::max(1.0, nn - ss * ell);
    return K_g * me * ne * std::exp(-lambda_g * raw);
}

std::vector<bool> low_complexity_mask(std::string_view seq, int window, double min_entropy) {
    const int n = static_cast<int>(seq.size());
    std::vector<bool> mask(seq.size(), false);
    if (n < window) return mask;
    int count[21] = {};
    auto code = [&](int i) {
        const int c = encode_aa(seq[static_cast<std::size_t>(i)]);
        return c < 0 ? 20 : c;
    };
    for (int i = 0; i < window; ++i) ++count[code(i)];
    for (int b = 0;; ++b) {
        double h = 0;
        for (int c : count)
            if (c > 0) {
                const double f = static_cast<double>(c) / window;
                h -= f * std::log2(f);
            }
        if (h < min_entropy)
            for (int i = b; i < b + window; ++i) mask[static_cast<std::size_t>(i)] = true;
        if (b + window >= n) break;
        --count[code(b)];
        ++count[code(b + window)];
    }
    return mask;
}

shard_spec parse_shard_spec(const std::string& text) {
    const auto slash = text.find('/');
    long long i = -1, n = -1;
    const bool parsed = slash != std::string::npos && parse_int(text.substr(0, slash), i) && parse_int(text.substr(slash + 1), n);
    if (!parsed || n < 1 || i < 0 || i >= n)
        throw usage_error(fmt::format("--shard '{}': expected i/N with N >= 1 and 0 <= i < N (shards are numbered from 0)", text));
    return {static_cast<std::uint64_t>(i), static_cast<std::uint64_t>(n)};
}

void sort_hits(std::vector<search_hit>& hits) {
    std::stable_sort(hits.begin(), hits.end(), [](const search_hit& x, const search_hit& y) {
        return x.sort_score != y.sort_score ? x.sort_score > y.sort_score : x.record < y.record;
    });
}

std::vector<query_sequence> read_queries(const std::string& path) {
    fasta_reader r(path);
    std::vector<query_sequence> out;
    fasta_record rec;
    while (r.next(rec)) {
        query_sequence q;
        q.name = rec.name;
        TRANOVA_CHECK(!rec.seq.empty(), "{}: query '{}' is empty", path, rec.name);
        std::size_t nuc = 0;
        for (char c : rec.seq) {
            TRANOVA_CHECK(encode_aa(c) >= 0, "{}: query '{}' has '{}', not an amino-acid letter", path, rec.name, c);
            char u = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
            nuc += u == 'A' || u == 'C' || u == 'G' || u == 'T' || u == 'U' || u == 'N';
            q.seq.push_back(u == '*' ? 'X' : u);
        }
        TRANOVA_CHECK(!(q.seq.size() >= 10 && nuc >= 0.9 * static_cast<double>(q.seq.size())),
                      "{}: query '{}' looks like a nucleotide sequence (not protein)", path, rec.name);
        TRANOVA_CHECK(q.seq.size() < 65000, "{}: query '{}' is longer than 65000 residues", path, rec.name);
        out.push_back(std::move(q));
    }
    TRANOVA_CHECK(!out.empty(), "{}: no query sequence (empty file)", path);
    return out;
}

std::vector<std::int16_t> build_pssm(const msa::alignment& a) {
    const std::size_t L = a.num_columns();
    std::vector<double> w = msa::evcouplings_weights(a, 0.8);
    std::vector<int> cols(L);
    std::iota(cols.begin(), cols.end(), 0);
    auto cnt = msa::weighted_counts(a, w, msa::amino_acids, cols);
    // Conditional probabilities from BLOSUM62 (half-bit scores): p(a|b) ~ p(a) 2^{s(a,b)/2}.
    double cond[20][20];
    for (int b = 0; b < 20; ++b) {
        double z = 0;
        for (int x = 0; x < 20; ++x) z += (cond[x][b] = background[x] * std::pow(2.0, b62().s[static_cast<std::size_t>(x)][static_cast<std::size_t>(b)] / 2.0));
        for (int x = 0; x < 20; ++x) cond[x][b] /= z;
    }
    std::vector<std::int16_t> p(L * A);
    const double beta = 10;
    for (std::size_t i = 0; i < L; ++i) {
        const double* c = &cnt[i * 20];
        double tot = 0;
        for (int x = 0; x < 20; ++x) tot += c[x];
        double f[20], g[20] = {};
        for (int x = 0; x < 20; ++x) f[x] = tot > 0 ? c[x] / tot : 0;
        for (int x = 0; x < 20; ++x)
            for (int b = 0; b < 20; ++b) g[x] += cond[x][b] * f[b];
        double alpha = std::max(0.0, tot - 1);  // effective observations beyond one
        for (int x = 0; x < 20; ++x) {
            double q = tot > 0 ? (alpha * f[x] + beta * g[x]) / (alpha + beta) : background[x];
            double sc = 2.0 * std::log2(std::max(q, 1e-6) / background[x]);
            p[i * A + static_cast<std::size_t>(x)] = static_cast<std::int16_t>(std::lround(std::clamp(sc, -20.0, 20.0)));
        }
        p[i * A + 20] = -1;
    }
    return p;
}

std::vector<query_result> search(const std::vector<query_sequence>& queries, const std::string& db_path,
                                 const search_options& opt) {
    using clock = std::chrono::steady_clock;
    std::vector<query_result> results(queries.size());
    std::vector<query_plan> plans(queries.size());
    for (std::size_t qi = 0; qi < queries.size(); ++qi) {
        results[qi].query = queries[qi];
        plans[qi].q = &queries[qi];
        plans[qi].codes = encode(queries[qi].seq);
        plans[qi].pssm = blosum_pssm(plans[qi].codes);
        if (opt.mask_low_complexity) plans[qi].masked = low_complexity_mask(queries[qi].seq);
    }
    const int threads = std::max(1, opt.threads);
    if (!(opt.shard.count >= 1 && opt.shard.index < opt.shard.count))
        throw usage_error(fmt::format("--shard {}/{}: needs 0 <= i < N", opt.shard.index, opt.shard.count));
    if (opt.shard.count > 1 && opt.iterations > 1)
        throw usage_error("--shard with --iterations > 1: profile rounds need the hits of every shard; search unsharded");
    std::vector<bool> active(queries.size(), true);
    db_identity database;
    std::size_t nseq = 0, nres = 0;
    for (int round = 1; round <= std::max(1, opt.iterations); ++round) {
        if (std::none_of(active.begin(), active.end(), [](bool b) { return b; })) break;
        for (std::size_t qi = 0; qi < queries.size(); ++qi)
            if (active[qi]) build_words(plans[qi], opt.word_threshold);
        // ---- Stream the database (or the index) once for all queries: word hits + ungapped filter.
        auto t0 = clock::now();
        std::vector<std::vector<candidate>> cands(queries.size());
        {
            target_source source(db_path, opt);
            std::vector<target_view> chunk;
            std::vector<scratch> scr(static_cast<std::size_t>(threads));
            std::vector<std::vector<std::uint8_t>> tcodes(static_cast<std::size_t>(threads));
            while (source.next(chunk)) {
                const std::size_t used = chunk.size();
                std::vector<std::vector<ungapped_hit>> best(queries.size(), std::vector<ungapped_hit>(used));
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
                    for (std::size_t qi = 0; qi < queries.size(); ++qi)
                        if (active[qi])
                            best[qi][k] = ungapped_best(plans[qi], tc.data(), chunk[k].words, static_cast<int>(tc.size()), scr[tid], opt);
                }
                for (std::size_t qi = 0; qi < queries.size(); ++qi) {
                    if (!active[qi]) continue;
                    const double m = static_cast<double>(plans[qi].codes.size());
                    const int L = static_cast<int>(plans[qi].codes.size());
                    for (std::size_t k = 0; k < used; ++k) {
                        const ungapped_hit& u = best[qi][k];
                        if (u.score < opt.min_ungapped_score) continue;
                        // Length-aware cut: the expected best random ungapped score plus a margin.
                        const double n = static_cast<double>(chunk[k].seq.size());
                        if (u.score < std::log(K_u * m * n) / lambda_u + opt.ungapped_excess) continue;
                        const int T = static_cast<int>(chunk[k].seq.size());
                        const int margin = 50 + L / 2;
                        const int b = std::max(0, u.diag - margin), e = std::min(T, u.diag + L + margin);
                        cands[qi].push_back({std::string(chunk[k].name), std::string(chunk[k].description),
                                             std::string(chunk[k].seq.substr(static_cast<std::size_t>(b), static_cast<std::size_t>(e - b))), b,
                                             u.score, u.diag - b, chunk[k].record});
                    }
                }
            }
            database = source.identity();
        }
        nseq = static_cast<std::size_t>(database.records);
        nres = static_cast<std::size_t>(database.residues);
        TRANOVA_CHECK(nseq > 0, "{}: the database has no sequences", db_path);
        auto t1 = clock::now();
        // ---- Gapped alignment, statistics, inclusion.
        for (std::size_t qi = 0; qi < queries.size(); ++qi) {
            if (!active[qi]) continue;
            query_result& res = results[qi];
            query_plan& plan = plans[qi];
            const int L = static_cast<int>(plan.codes.size());
            auto& cs = cands[qi];
            const std::size_t m = static_cast<std::size_t>(L);
            std::vector<local_alignment> scores;
            std::vector<std::string_view> views;
            for (auto& c : cs) views.emplace_back(c.seq);
            auto ta = clock::now();
            if (opt.striped && !plan.profile) {
                const striped_query sq(plan.pssm, L);
                scores.resize(cs.size());
                std::vector<std::vector<std::int16_t>> work(static_cast<std::size_t>(threads));
#pragma omp parallel for schedule(dynamic, 8) num_threads(threads)
                for (std::int64_t k = 0; k < static_cast<std::int64_t>(cs.size()); ++k) {
                    auto tc = encode(cs[static_cast<std::size_t>(k)].seq);
                    auto& sc = scores[static_cast<std::size_t>(k)];
                    sc.score = sq.score(tc.data(), static_cast<int>(tc.size()), work[static_cast<std::size_t>(omp_get_thread_num())], &sc.qend,
                                        &sc.tend);
                }
            } else if (!plan.profile) {
                scores = seqan_align(plan.q->seq, views, false, threads);
            } else {
                scores.resize(cs.size());
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
                for (std::int64_t k = 0; k < static_cast<std::int64_t>(cs.size()); ++k) {
                    auto tc = encode(cs[static_cast<std::size_t>(k)].seq);
                    scores[static_cast<std::size_t>(k)] = profile_align(plan.pssm, L, plan.q->seq, tc, cs[static_cast<std::size_t>(k)].seq, false);
                }
            }
            auto tb = clock::now();
            // Inclusion on the gapped score.
            std::vector<std::size_t> keep;
            for (std::size_t k = 0; k < cs.size(); ++k) {
                double e = evalue(scores[k].score, m, nres, nseq), b = bit_score(scores[k].score);
                bool in = opt.bits_per_residue > 0 ? b >= opt.bits_per_residue * L : e <= opt.evalue;
                if (in) keep.push_back(k);
            }
            std::sort(keep.begin(), keep.end(), [&](std::size_t x, std::size_t y) {
                return scores[x].score != scores[y].score ? scores[x].score > scores[y].score : x < y;
            });
            if (keep.size() > opt.max_hits) keep.resize(opt.max_hits);
            // Traceback for the included targets.
            std::vector<local_alignment> full;
            // Traceback of the included targets in a band around the end diagonal of the
            // score pass; a score mismatch (the path left the band) falls back to the full matrix.
            full.resize(keep.size());
            std::size_t fallbacks = 0;
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads) reduction(+ : fallbacks)
            for (std::int64_t k = 0; k < static_cast<std::int64_t>(keep.size()); ++k) {
                const std::size_t idx = keep[static_cast<std::size_t>(k)];
                const auto& c = cs[idx];
                auto tcodes = encode(c.seq);
                // Profile rounds know the end diagonal; round 1 (SeqAn3 score-only) uses the
                // best ungapped diagonal. Widen the band until the score is the optimum.
                // The striped pass knows an end cell too: the band then spans the diagonals
                // from the ungapped segment to the alignment's end.
                const bool ends = plan.profile || (opt.striped && scores[idx].score > 0);
                const int dend = scores[idx].tend - scores[idx].qend;
                int dlo = plan.profile ? dend : ends ? std::min(c.diag, dend) : c.diag;
                int dhi = plan.profile ? dend : ends ? std::max(c.diag, dend) : c.diag;
                local_alignment al = profile_align(plan.pssm, L, plan.q->seq, tcodes, c.seq, true, dlo - band_half_width, dhi + band_half_width);
                if (al.score < scores[idx].score && ends && !plan.profile) {
                    // The path left the band: find its start cell (the end cell of the best
                    // alignment of the reversed prefixes) and span start to end.
                    ++fallbacks;
                    const int qe = scores[idx].qend, te = scores[idx].tend;
                    std::vector<std::int16_t> rev(static_cast<std::size_t>(qe) * A);
                    for (int i = 0; i < qe; ++i)
                        std::copy_n(&plan.pssm[static_cast<std::size_t>(qe - 1 - i) * A], A, &rev[static_cast<std::size_t>(i) * A]);
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
                    if (al.score >= scores[idx].score) break;
                    ++fallbacks;
                    al = profile_align(plan.pssm, L, plan.q->seq, tcodes, c.seq, true, half == (1 << 30) ? -(1 << 30) : dlo - half,
                                       half == (1 << 30) ? (1 << 30) : dhi + half);
                }
                full[static_cast<std::size_t>(k)] = std::move(al);
            }
            auto tc = clock::now();
            log::debug("{}: prefilter {:.3f} s, gapped scores {:.3f} s ({} targets), traceback {:.3f} s ({} hits, {} band widenings)", plan.q->name,
                       std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(tb - ta).count(), cs.size(),
                       std::chrono::duration<double>(tc - tb).count(), keep.size(), fallbacks);
            std::vector<search_hit> hits(keep.size());
            for (std::size_t h = 0; h < keep.size(); ++h) {
                const candidate& c = cs[keep[h]];
                hits[h].target = c.name;
                hits[h].description = c.description;
                fill_hit(hits[h], full[h], L);
                hits[h].tstart += c.offset;
                hits[h].tend += c.offset;
                hits[h].raw_score = full[h].score;
                hits[h].bits = bit_score(full[h].score);
                hits[h].evalue = evalue(full[h].score, m, nres, nseq);
                hits[h].record = c.record;
                hits[h].sort_score = scores[keep[h]].score;
            }
            std::size_t before = res.hits.size();
            res.hits = std::move(hits);
            res.stats.db_sequences = nseq;
            res.stats.db_residues = nres;
            res.stats.database = database;
            res.stats.prefilter_pass = cs.size();
            res.stats.aligned = cs.size() + keep.size();
            res.stats.included = res.hits.size();
            res.stats.rounds = round;
            res.stats.seconds_prefilter += std::chrono::duration<double>(t1 - t0).count();
            log::info("{} round {}: {} sequences ({} residues), {} passed the prefilter, {} included", plan.q->name, round, nseq,
                      nres, cs.size(), res.hits.size());
            if (round < opt.iterations) {
                if (round > 1 && res.hits.size() <= before) {
                    active[qi] = false;  // converged: no new hits
                    continue;
                }
                msa::alignment a = build_msa(res, {0.0, 1.0});
                plan.pssm = build_pssm(a);
                plan.profile = true;
            }
        }
        auto t2 = clock::now();
        for (std::size_t qi = 0; qi < queries.size(); ++qi) results[qi].stats.seconds_align += std::chrono::duration<double>(t2 - t1).count();
    }
    return results;
}

msa::alignment build_msa(const query_result& r, const msa_options& opt) {
    msa::alignment a;
    const std::size_t L = r.query.seq.size();
    a.names.push_back(fmt::format("{}/{}-{}", r.query.name, r.query.first, r.query.first + static_cast<long long>(L) - 1));
    a.rows.push_back(r.query.seq);
    a.insertions.emplace_back();
    for (const auto& h : r.hits) {
        std::size_t res = 0;
        for (char c : h.row) res += c != '-';
        if (static_cast<double>(res) < opt.min_coverage * static_cast<double>(L)) continue;
        a.names.push_back(fmt::format("{}/{}-{}", h.target, h.tstart, h.tend));
        a.rows.push_back(h.row);
        a.insertions.push_back(h.insertions);
    }
    // Low-coverage columns: lowercase letters, '.' gaps (query included).
    for (std::size_t j = 0; j < L; ++j) {
        std::size_t gaps = 0;
        for (const auto& row : a.rows) gaps += row[j] == '-';
        if (static_cast<double>(gaps) / static_cast<double>(a.rows.size()) > opt.max_column_gaps)
            for (auto& row : a.rows) row[j] = row[j] == '-' ? '.' : static_cast<char>(std::tolower(static_cast<unsigned char>(row[j])));
    }
    return a;
}

std::string hits_tsv(const std::vector<query_result>& results, bool header) {
    std::string out;
    if (header) out += "qseqid\tsseqid\tpident\tlength\tmismatch\tgapopen\tqstart\tqend\tsstart\tsend\tevalue\tbitscore\n";
    for (const auto& r : results)
        for (const auto& h : r.hits)
            out += fmt::format("{}\t{}\t{:.3f}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{:.3g}\t{:.1f}\n", r.query.name, h.target, h.identity,
                               h.aln_length, h.mismatches, h.gap_opens, h.qstart, h.qend, h.tstart, h.tend, h.evalue, h.bits);
    return out;
}

}  // namespace tranova::retrieval
