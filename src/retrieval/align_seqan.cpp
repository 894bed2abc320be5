// The only translation unit that includes SeqAn3 (compile cost ~35 s, 1.2 GB).
#include "retrieval/align.hpp"

#include <seqan3/alignment/configuration/all.hpp>
#include <seqan3/alignment/pairwise/align_pairwise.hpp>
#include <seqan3/alignment/scoring/aminoacid_scoring_scheme.hpp>
#include <seqan3/alphabet/aminoacid/aa27.hpp>
#include <seqan3/alphabet/gap/gapped.hpp>

#include <cctype>
#include <string_view>
#include <utility>

namespace tranova::retrieval {

namespace {

std::vector<seqan3::aa27> to_aa27(std::string_view s) {
    std::vector<seqan3::aa27> v(s.size());
    // Letters outside the 20 amino acids score as X (as in the tranova kernels).
    for (std::size_t i = 0; i < s.size(); ++i) {
        char c = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
        bool aa20 = c >= 'A' && c <= 'Z' && std::string_view("BJOUXZ").find(c) == std::string_view::npos;
        v[i].assign_char(aa20 ? c : 'X');
    }
    return v;
}

template <bool traceback, bool ends, typename config_t>
void run(config_t const& cfg, std::vector<seqan3::aa27>& q, std::vector<std::vector<seqan3::aa27>>& ts,
         std::vector<local_alignment>& out) {
    using pair_t = std::pair<std::vector<seqan3::aa27>&, std::vector<seqan3::aa27>&>;
    std::vector<pair_t> pairs;
    pairs.reserve(ts.size());
    for (auto& t : ts) pairs.emplace_back(q, t);
    for (auto&& res : seqan3::align_pairwise(pairs, cfg)) {
        local_alignment& a = out[res.sequence1_id()];
        a.score = static_cast<int>(res.score());
        if constexpr (ends) {
            a.qend = static_cast<int>(res.sequence1_end_position());
            a.tend = static_cast<int>(res.sequence2_end_position());
        }
        if constexpr (traceback) {
            a.qbegin = static_cast<int>(res.sequence1_begin_position());
            a.tbegin = static_cast<int>(res.sequence2_begin_position());
            auto& [g1, g2] = res.alignment();
            a.qaln.clear();
            a.taln.clear();
            for (auto c : g1) a.qaln.push_back(seqan3::to_char(c));
            for (auto c : g2) a.taln.push_back(seqan3::to_char(c));
        }
    }
}

}  // namespace

std::vector<local_alignment> seqan_align(std::string_view query, const std::vector<std::string_view>& targets, bool traceback,
                                         int threads) {
    std::vector<local_alignment> out(targets.size());
    if (targets.empty()) return out;
    auto q = to_aa27(query);
    std::vector<std::vector<seqan3::aa27>> ts;
    ts.reserve(targets.size());
    for (auto t : targets) ts.push_back(to_aa27(t));
    // SeqAn3 charges open + k * extension for a gap of length k: open -10, extension -1
    // gives 11 for the first position, 1 for each further one (BLAST 11/1).
    auto common = seqan3::align_cfg::method_local{} |
                seqan3::align_cfg::scoring_scheme{seqan3::aminoacid_scoring_scheme{seqan3::aminoacid_similarity_matrix::blosum62}} |
                seqan3::align_cfg::gap_cost_affine{seqan3::align_cfg::open_score{-(gap_open - gap_extend)},
                                                   seqan3::align_cfg::extension_score{-gap_extend}} |
                seqan3::align_cfg::output_score{} | seqan3::align_cfg::output_sequence1_id{} |
                seqan3::align_cfg::parallel{static_cast<std::uint32_t>(threads > 0 ? threads : 1)};
    // SeqAn 3.2's vectorised kernel is fast only for scores: asking for end positions
    // switches it to the old implementation with a full SIMD trace matrix, and it returns
    // no traceback. So: vectorised scores (int16 lanes when the score cannot overflow),
    // scalar SeqAn3 for tracebacks (used by the tests as the oracle of tranova's kernel).
    if (traceback) {
        run<true, true>(common | seqan3::align_cfg::output_end_position{} | seqan3::align_cfg::output_begin_position{} |
                            seqan3::align_cfg::output_alignment{},
                        q, ts, out);
    } else if (query.size() * 11 < 30000) {
        run<false, false>(common | seqan3::align_cfg::vectorised{} | seqan3::align_cfg::score_type<std::int16_t>{}, q, ts, out);
    } else {
        run<false, false>(common | seqan3::align_cfg::vectorised{}, q, ts, out);
    }
    return out;
}

}  // namespace tranova::retrieval
