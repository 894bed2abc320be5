#include "tranception/indel_align.hpp"

#include "util/error.hpp"

#include <seqan3/alignment/configuration/align_config_edit.hpp>
#include <seqan3/alignment/configuration/align_config_gap_cost_affine.hpp>
#include <seqan3/alignment/configuration/align_config_method.hpp>
#include <seqan3/alignment/configuration/align_config_output.hpp>
#include <seqan3/alignment/configuration/align_config_scoring_scheme.hpp>
#include <seqan3/alignment/pairwise/align_pairwise.hpp>
#include <seqan3/alignment/scoring/aminoacid_scoring_scheme.hpp>
#include <seqan3/alphabet/aminoacid/aa27.hpp>
#include <seqan3/alphabet/gap/gapped.hpp>

namespace tranova::tranception {

std::vector<int> align_variant_to_target(const std::string& variant, const std::string& target) {
    using seqan3::operator""_aa27;
    std::vector<seqan3::aa27> v, t;
    for (char c : variant) v.push_back(seqan3::assign_char_to(c, seqan3::aa27{}));
    for (char c : target) t.push_back(seqan3::assign_char_to(c, seqan3::aa27{}));
    auto cfg = seqan3::align_cfg::method_global{} |
               seqan3::align_cfg::scoring_scheme{seqan3::aminoacid_scoring_scheme{seqan3::aminoacid_similarity_matrix::blosum62}} |
               seqan3::align_cfg::gap_cost_affine{seqan3::align_cfg::open_score{-10}, seqan3::align_cfg::extension_score{-1}} |
               // SeqAn3 3.2 returns an EMPTY alignment when output_alignment is the only
               // output requested; the score and both positions make it run the traceback.
               seqan3::align_cfg::output_alignment{} | seqan3::align_cfg::output_score{} |
               seqan3::align_cfg::output_begin_position{} | seqan3::align_cfg::output_end_position{};
    std::vector<int> pos(variant.size(), -1);
    for (auto const& res : seqan3::align_pairwise(std::tie(v, t), cfg)) {
        auto const& [gv, gt] = res.alignment();
        size_t iv = 0, it = 0;
        auto a = gv.begin();
        auto b = gt.begin();
        for (; a != gv.end() && b != gt.end(); ++a, ++b) {
            bool gap_v = (*a == seqan3::gap{}), gap_t = (*b == seqan3::gap{});
            if (!gap_v && !gap_t) pos[iv] = int(it);
            if (!gap_v) ++iv;
            if (!gap_t) ++it;
        }
        TRANOVA_CHECK(iv == variant.size() && it == target.size(), "indel alignment is incomplete");
    }
    return pos;
}

}  // namespace tranova::tranception
