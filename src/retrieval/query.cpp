// Queries: reading and validating them, the low-complexity mask of their seeds, shard specs.
#include "retrieval/search.hpp"

#include "retrieval/fasta_db.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <cctype>
#include <cmath>

namespace tranova::retrieval {

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

}  // namespace tranova::retrieval
