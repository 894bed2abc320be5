// Results: ranking hits, the query-anchored MSA, the BLAST-tabular hits table.
#include "retrieval/search.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>

namespace tranova::retrieval {

void sort_hits(std::vector<search_hit>& hits) {
    std::stable_sort(hits.begin(), hits.end(), [](const search_hit& x, const search_hit& y) {
        return x.sort_score != y.sort_score ? x.sort_score > y.sort_score : x.record < y.record;
    });
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
