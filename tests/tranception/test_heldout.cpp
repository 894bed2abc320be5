// Held-out NLL (src/tranception/heldout.hpp): the site-independent baseline on a tiny
// hand-computed set, the column maps sequences_from_msa builds (gaps, A3M insertions,
// lower case), the validation split carrying them, and the model's NLL against the
// inference forward's log-probabilities.
#include "tranception/heldout.hpp"

#include "tranception/model.hpp"
#include "tranception/tokenizer.hpp"

#include "test_data.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

using namespace tranova;
using namespace tranova::tranception;

namespace {

sequence_set hand_set(std::vector<std::string> seqs, std::vector<double> w, std::vector<std::vector<int32_t>> cols) {
    sequence_set s;
    s.seqs = std::move(seqs);
    s.weights = std::move(w);
    s.columns = std::move(cols);
    s.names.resize(s.seqs.size(), "x");
    s.num_columns = 2;
    s.source = "hand";
    return s;
}

}  // namespace

TEST_CASE("site-independent NLL on a hand-computed two-column MSA", "[tranception][heldout]") {
    // Training split: AC (w 1), AD (w 3), gC (w 2: 'G' an insertion, column 0 a gap).
    const sequence_set train = hand_set({"AC", "AD", "GC"}, {1, 3, 2}, {{0, 1}, {0, 1}, {-1, 1}});
    const column_frequencies f = fit_column_frequencies(train, 0.5);
    const int A = 0, C = 1, D = 2, E = 3, G = 5;  // msa::amino_acids order ACDEFGHIKLMNPQRSTVWY
    // column 0: A weight 4 of 4; column 1: C 3, D 3 of 6; pseudocount 0.5 x 20.
    CHECK(f.log_p[0 * 20 + A] == Approx(std::log(4.5 / 14)).epsilon(1e-12));
    CHECK(f.log_p[0 * 20 + G] == Approx(std::log(0.5 / 14)).epsilon(1e-12));
    CHECK(f.log_p[1 * 20 + C] == Approx(std::log(3.5 / 16)).epsilon(1e-12));
    CHECK(f.log_p[1 * 20 + D] == Approx(std::log(3.5 / 16)).epsilon(1e-12));
    CHECK(f.log_p[1 * 20 + E] == Approx(std::log(0.5 / 16)).epsilon(1e-12));
    double sum0 = 0;
    for (int a = 0; a < 20; ++a) sum0 += std::exp(f.log_p[a]);
    CHECK(sum0 == Approx(1.0).epsilon(1e-12));

    // Held out: AD; WAC (W an insertion: not counted); E in column 1; a long one skipped.
    const sequence_set val = hand_set({"AD", "WAC", "E", "AAAAAA"}, {1, 1, 1, 1},
                                      {{0, 1}, {-1, 0, 1}, {1}, {-1, -1, -1, -1, 0, 1}});
    const heldout_nll h = site_independent_nll(f, val, 100, 5);
    CHECK(h.sequences == 3);
    CHECK(h.skipped == 1);
    CHECK(h.residues == 5);
    const double want = -(2 * std::log(4.5 / 14) + 2 * std::log(3.5 / 16) + std::log(0.5 / 16)) / 5;
    CHECK(h.site_independent == Approx(want).epsilon(1e-12));
    CHECK(std::isnan(h.model));
    // max_sequences bounds the set (only AD).
    CHECK(site_independent_nll(f, val, 1, 100).residues == 2);

    CHECK_THROWS(fit_column_frequencies(train, 0.0));
    sequence_set db = train;
    db.columns.clear();
    CHECK_THROWS(fit_column_frequencies(db, 1.0));
}

TEST_CASE("sequences_from_msa maps residues to match columns; the split keeps the maps", "[tranception][heldout]") {
    const tranova::test::temp_dir tmp("heldout");
    const std::filesystem::path& dir = tmp.path;
    const std::string path = (dir / "tiny.a3m").string();
    // Query MKLV (4 match columns); row 2 has an insertion 'gg' after column 1 and a gap;
    // rows are distinct enough that every one is kept (theta 0.01).
    std::ofstream(path) << ">q\nMKLV\n>a\nMggK-W\n>b\nAKLW\n>c\nMRRV\n";
    msa_train_options o;
    o.theta = 0.01;
    sequence_set s = sequences_from_msa(path, o);
    REQUIRE(s.seqs.size() == 4);
    CHECK(s.num_columns == 4);
    CHECK(s.seqs[1] == "MGGKW");
    CHECK(s.columns[1] == std::vector<int32_t>{0, -1, -1, 1, 3});
    CHECK(s.columns[0] == std::vector<int32_t>{0, 1, 2, 3});
    o.focus_only = true;
    const sequence_set f = sequences_from_msa(path, o);
    CHECK(f.seqs[1] == "MKW");
    CHECK(f.columns[1] == std::vector<int32_t>{0, 1, 3});
    sequence_set val;
    split_validation(s, val, 0.5, 3);
    REQUIRE(val.seqs.size() == 2);
    REQUIRE(val.columns.size() == 2);
    REQUIRE(s.columns.size() == 2);
    for (size_t i = 0; i < 2; ++i) {
        CHECK(val.columns[i].size() == val.seqs[i].size());
        CHECK(s.columns[i].size() == s.seqs[i].size());
    }
    CHECK(val.num_columns == 4);
}

TEST_CASE("held-out model NLL equals the inference forward's, both directions", "[tranception][heldout]") {
    const core::weights w = model_weights_load(tranception_test::data_dir + "/models/tiny");
    const trainable_model m = trainable_from_weights(w, "tiny");
    const model inf = model_from_weights(w, "tiny");
    // Two sequences of different lengths (padding in the batch), an insertion not counted.
    sequence_set val = hand_set({"MKVLA", "WCDEFGH"}, {1, 1}, {{0, 1, -1, 0, 1}, {0, 1, 0, 1, 0, 1, -1}});
    sequence_set train = hand_set({"MK"}, {1}, {{0, 1}});
    const column_frequencies f = fit_column_frequencies(train, 1.0);
    const heldout_nll h = compare_heldout_nll(m, f, val, 10, 3);
    double sum = 0;
    size_t n = 0;
    for (size_t i = 0; i < val.seqs.size(); ++i) {
        const std::string& s = val.seqs[i];
        const size_t L = s.size();
        for (bool rev : {false, true}) {
            std::string r = s;
            if (rev) r.assign(s.rbegin(), s.rend());
            const std::vector<int> ids = encode(r);
            const std::vector<float> z = model_logits(inf, ids);
            for (size_t k = 0; k < L; ++k) {
                if (val.columns[i][k] < 0) continue;
                const size_t p = rev ? L - 1 - k : k;
                const float* row = z.data() + p * vocab_size;
                double mx = row[0], se = 0;
                for (int v = 1; v < vocab_size; ++v) mx = std::max(mx, double(row[v]));
                for (int v = 0; v < vocab_size; ++v) se += std::exp(double(row[v]) - mx);
                sum += mx + std::log(se) - row[residue_id(s[k])];
                n += !rev;
            }
        }
    }
    CHECK(h.residues == n);
    CHECK(h.residues == 10);
    CHECK(h.model == Approx(sum / 2 / double(n)).epsilon(1e-5));
    CHECK(std::isfinite(h.site_independent));
}
