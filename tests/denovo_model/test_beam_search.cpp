// Casanovo v4.2.1 beam search against the fixtures: identical per-step traces (tokens,
// finished / fits / discarded), identical peptides, scores and aa scores <= 1e-5 absolute.
#include "denovo_model/beam_search.hpp"
#include "denovo_model/sequencer.hpp"
#include "test_util.hpp"

#include <fmt/format.h>

#include <memory>

using namespace tranova::denovo_model;

TEST_CASE("numpy_random reproduces np.random.seed(0); random_sample()", "[denovo_model][beam]") {
    numpy_random r(0);
    CHECK(r.random_sample() == 0.5488135039273248);
    CHECK(r.random_sample() == 0.7151893663724195);
}

static std::string ar_peptide(const std::vector<int>& toks, const residue_table& r) {
    std::string s;
    for (auto it = toks.rbegin(); it != toks.rend(); ++it) s += r.tokens[size_t(*it - 1)];
    return s;
}

static std::string join_beams(const std::vector<std::vector<int>>& x) {
    std::string s;
    for (size_t i = 0; i < x.size(); ++i) {
        if (i) s += ';';
        for (size_t j = 0; j < x[i].size(); ++j) s += (j ? "," : "") + std::to_string(x[i][j]);
    }
    return s;
}
static std::string bits(const std::vector<bool>& x) {
    std::string s;
    for (bool b : x) s += b ? '1' : '0';
    return s;
}

// The fixture's spectra P_spectra encoded and projected for the AR decoder, with their
// precursors (P_precursors: mass, charge, m/z): one ar_input per spectrum, pointing into mems.
static std::vector<ar_input> fixture_inputs(const denovo_model& m, const std::string& P, std::vector<ar_memory>& mems) {
    const int d = m.cfg.dim_model;
    auto sp = dm_npy(P + "_spectra");
    auto spectra = sp.f32();
    auto prec = dm_npy(P + "_precursors").f32();
    const int B = int(sp.shape[0]), N = int(sp.shape[1]);
    mems.assign(static_cast<size_t>(B), ar_memory{});
    std::vector<ar_input> inputs;
    for (int i = 0; i < B; ++i) {
        std::vector<float> mem(size_t(N + 1) * d);
        std::unique_ptr<bool[]> mask(new bool[size_t(N + 1)]);
        encoder_forward(m, spectra.data() + size_t(i) * N * 2, N, mem.data(), mask.get());
        ar_prepare_memory(m, mem.data(), mask.get(), N + 1, mems[size_t(i)]);
        inputs.push_back({&mems[size_t(i)], prec[size_t(i) * 3], int(prec[size_t(i) * 3 + 1]), prec[size_t(i) * 3 + 2]});
    }
    return inputs;
}

TEST_CASE("Casanovo beam search matches the reference", "[denovo_model][beam]") {
    for (std::string P : {"casanovo", "casanovo_trained"}) {
        auto m = dm_fixture_model(P);
        auto prec = dm_npy(P + "_precursors").f32();
        std::vector<ar_memory> mems;
        const std::vector<ar_input> inputs = fixture_inputs(m, P, mems);
        const int B = int(inputs.size());
        for (std::string cfg : {"n_beams1_top1", "n_beams5_top5"}) {
            INFO(P << " " << cfg);
            beam_params bp;
            bp.n_beams = bp.top_match = cfg == "n_beams1_top1" ? 1 : 5;
            numpy_random rng(0);
            std::vector<beam_trace_step> trace;
            auto out = ar_beam_search(m, inputs, bp, rng, &trace);
            auto want_trace = read_tsv(P + "_" + cfg + "_trace.tsv");
            REQUIRE(trace.size() == want_trace.size());
            for (size_t s = 0; s < trace.size(); ++s) {
                INFO("step " << s);
                CHECK(join_beams(trace[s].tokens_in) == want_trace[s][1]);
                CHECK(bits(trace[s].finished) == want_trace[s][2]);
                CHECK(bits(trace[s].fits) == want_trace[s][3]);
                CHECK(bits(trace[s].discarded) == want_trace[s][4]);
                if (want_trace[s].size() > 5 && !want_trace[s][5].empty())
                    CHECK(join_beams(trace[s].tokens_out) == want_trace[s][5]);
            }
            auto rows = read_tsv(P + "_" + cfg + "_predictions.tsv");
            size_t k = 0;
            for (int i = 0; i < B; ++i) {
                for (size_t r = 0; r < out[size_t(i)].size(); ++r, ++k) {
                    INFO("spectrum " << i << " rank " << r);
                    REQUIRE(k < rows.size());
                    CHECK(std::stoi(rows[k][0]) == i);
                    const ar_psm& psm = out[size_t(i)][r];
                    CHECK(ar_peptide(psm.tokens, m.cfg.residues) == rows[k][2]);
                    CHECK(std::fabs(psm.score - std::stod(rows[k][3])) <= 1e-5);
                    auto aa = split_str(rows[k][4], ',');
                    REQUIRE(aa.size() == psm.aa_scores.size());
                    for (size_t j = 0; j < aa.size(); ++j) CHECK(std::fabs(psm.aa_scores[j] - std::stod(aa[j])) <= 1e-5);
                }
            }
            CHECK(k == rows.size());
            // the rows Casanovo hands to its mzTab writer: sequence, score, charge, exp m/z,
            // calc m/z = (sum of residue masses + H2O)/z + proton, aa scores %.5f (C->N in v4.2.1)
            auto mz_rows = read_tsv(P + "_" + cfg + "_mztab_rows.tsv");
            size_t q = 0;
            for (int i = 0; i < B; ++i) {
                for (const ar_psm& psm : out[size_t(i)]) {
                    REQUIRE(q < mz_rows.size());
                    auto& r = mz_rows[q++];
                    CHECK(ar_peptide(psm.tokens, m.cfg.residues) == r[0]);
                    CHECK(std::fabs(psm.score - std::stod(r[1])) <= 1e-5);
                    CHECK(std::stod(r[2]) == prec[size_t(i) * 3 + 1]);
                    CHECK(std::stod(r[3]) == double(prec[size_t(i) * 3 + 2]));
                    double sum = 0;
                    for (auto it = psm.tokens.rbegin(); it != psm.tokens.rend(); ++it)
                        sum += m.cfg.residues.masses[size_t(*it - 1)];
                    double calc = (sum + 18.0105647) / double(prec[size_t(i) * 3 + 1]) + 1.00727646688;
                    CHECK(calc == Approx(std::stod(r[4])).epsilon(1e-12));
                    std::string aa;
                    for (size_t j = 0; j < psm.aa_scores.size(); ++j) aa += fmt::format("{}{:.5f}", j ? "," : "", psm.aa_scores[j]);
                    // rounding of the 5th decimal may differ by one unit when a score sits on the edge
                    auto got = split_str(aa, ','), want = split_str(r[5], ',');
                    REQUIRE(got.size() == want.size());
                    for (size_t j = 0; j < got.size(); ++j) CHECK(std::fabs(std::stod(got[j]) - std::stod(want[j])) <= 1.01e-5);
                }
            }
            CHECK(q == mz_rows.size());
        }
    }
}

TEST_CASE("ar_score_peptide scores a peptide as the beam search scored it", "[denovo_model][beam]") {
    // every PSM of the 5-beam reference search, rescored by teacher forcing: same score
    // (with the -1 penalty where it does not fit) and aa scores
    auto m = dm_fixture_model("casanovo_trained");
    std::vector<ar_memory> mems;
    const std::vector<ar_input> inputs = fixture_inputs(m, "casanovo_trained", mems);
    const int B = int(inputs.size());
    beam_params bp;
    bp.n_beams = bp.top_match = 5;
    numpy_random rng(0);
    auto out = ar_beam_search(m, inputs, bp, rng);
    int scored = 0, penalised = 0;
    for (int i = 0; i < B; ++i)
        for (const ar_psm& psm : out[size_t(i)]) {
            if (psm.tokens.size() + 1 > size_t(bp.max_length)) continue;  // ended without a stop token
            decoded_spectrum pep;
            for (auto it = psm.tokens.rbegin(); it != psm.tokens.rend(); ++it)
                pep.tokens.push_back(m.cfg.residues.tokens[size_t(*it - 1)]);
            pep.fits = psm.score >= 0;
            ar_score_peptide(m, mems[size_t(i)], inputs[size_t(i)].mass, inputs[size_t(i)].charge, pep);
            INFO("spectrum " << i << " " << ar_peptide(psm.tokens, m.cfg.residues));
            REQUIRE(pep.aa_scores.size() == psm.aa_scores.size());
            // A beam that ended by outgrowing the precursor has no stop token: Casanovo counts
            // its stop probability as 0, the rescoring counts the decoder's, so the mean is
            // higher by p_stop / (n + 1) and every aa score by half that.
            const double shift = pep.score - psm.score, n1 = double(psm.tokens.size() + 1);
            const bool no_stop = std::fabs(shift) > 1e-5;
            if (no_stop) {
                CHECK(shift > 0);
                CHECK(shift * n1 <= 1.0 + 1e-5);
            }
            for (size_t j = 0; j < pep.aa_scores.size(); ++j)
                CHECK(std::fabs(pep.aa_scores[pep.aa_scores.size() - 1 - j] - psm.aa_scores[j] - shift / 2) <= 1e-5);
            scored += no_stop ? 0 : 1;
            penalised += pep.fits ? 0 : 1;
        }
    CHECK(scored >= 10);  // with a stop token: the same score to 1e-5
    CHECK(penalised >= 1);
    // a residue the AR vocabulary does not have
    decoded_spectrum bad;
    bad.tokens = {"G", "X", "K"};
    CHECK_THROWS_WITH(ar_score_peptide(m, mems[0], inputs[0].mass, inputs[0].charge, bad),
                      Catch::Contains("residue 'X' is not in the AR decoder's vocabulary"));
}
