// Retrieval prior parity against the official msa_utils outputs (tests/data/tranception/
// msa_refs): EVE weights and N_eff (1e-6 relative), weighted and unweighted float32
// log-priors (1e-6 absolute), the weight cache, and the MSA/target checks.
#include "tranception/prior.hpp"

#include "npy.hpp"
#include "test_data.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdio>
#include <fstream>

using namespace tranova::tranception;

namespace {
using tranception_test::data_dir;
using tranception_test::read_fasta;
struct msa_case {
    const char* stem;
    const char* target;
    int start0;
    double neff;
};
const msa_case cases[] = {{"SCN5A_HUMAN_b1.0_sub8", "SCN5A_HUMAN", 1516, 78.53380976083018},
                          {"P53_HUMAN_b0.1_sub6", "P53_HUMAN", 0, 142.98946104700653}};
}  // namespace

TEST_CASE("EVE weights and N_eff equal the official ones", "[tranception]") {
    for (const auto& c : cases) {
        auto a = tranova::msa::read_alignment(data_dir + "/msa/" + c.stem + ".a2m");
        prior_options opt;
        auto pw = compute_prior_weights(a, opt);
        auto want = npy::load(data_dir + "/msa_refs/" + c.stem + "_theta_0.2.npy");
        REQUIRE(pw.weights.size() == want.size());
        double md = 0;
        for (size_t i = 0; i < want.size(); ++i) md = std::max(md, std::abs(pw.weights[i] - want.data[i]));
        INFO(c.stem << " max abs weight diff " << md << " neff " << pw.neff);
        CHECK(md <= 1e-6);
        CHECK(std::abs(pw.neff - c.neff) <= 1e-6 * c.neff);
    }
}

TEST_CASE("log-priors equal the official float32 log-priors", "[tranception]") {
    for (const auto& c : cases) {
        std::string target = read_fasta(data_dir + "/dms/" + c.target + ".fasta");
        auto a = tranova::msa::read_alignment(data_dir + "/msa/" + c.stem + ".a2m");
        for (bool weighted : {true, false}) {
            prior_options opt;
            opt.weighted = weighted;
            auto pw = compute_prior_weights(a, opt);
            log_prior lp = make_log_prior(a, pw.row_weight, opt, target, c.start0, c.stem);
            auto want = npy::load(data_dir + "/msa_refs/" + c.stem + (weighted ? "" : "_unweighted") + "_log_prior_f32.npy");
            REQUIRE(lp.rows.size() == want.size());
            double md = 0;
            for (size_t i = 0; i < want.size(); ++i) md = std::max(md, std::abs(double(lp.rows[i]) - want.data[i]));
            INFO(c.stem << (weighted ? " weighted" : " unweighted") << " max abs log-prior diff " << md);
            CHECK(md <= 1e-6);
        }
        CHECK(locate_msa(a, target, c.stem) == c.start0);
    }
}

TEST_CASE("the weight cache is reused only for the same MSA and options", "[tranception]") {
    auto a = tranova::msa::read_alignment(data_dir + "/msa/P53_HUMAN_b0.1_sub6.a2m");
    std::string path = "test_prior_weight_cache.h5";
    std::remove(path.c_str());
    prior_options opt;
    bool reused = true;
    auto w1 = cached_prior_weights(a, opt, path, &reused);
    CHECK_FALSE(reused);
    auto w2 = cached_prior_weights(a, opt, path, &reused);
    CHECK(reused);
    CHECK(w1.row_weight == w2.row_weight);
    CHECK(w1.neff == w2.neff);
    opt.theta = 0.01;
    cached_prior_weights(a, opt, path, &reused);
    CHECK_FALSE(reused);
    std::remove(path.c_str());
}

TEST_CASE("an MSA that does not match the target is an error", "[tranception]") {
    std::string target = read_fasta(data_dir + "/dms/SCN5A_HUMAN.fasta");
    auto a = tranova::msa::read_alignment(data_dir + "/msa/SCN5A_HUMAN_b1.0_sub8.a2m");
    prior_options opt;
    std::vector<double> w(a.num_rows(), 1.0);
    CHECK_THROWS_WITH(make_log_prior(a, w, opt, target, 1500, "x.a2m"), Catch::Contains("does not match the target"));
    CHECK_THROWS_WITH(make_log_prior(a, w, opt, target, 1900, "x.a2m"), Catch::Contains("outside the target"));
    std::string other = target;
    other[1520] = other[1520] == 'A' ? 'C' : 'A';
    CHECK_THROWS_WITH(locate_msa(a, other, "x.a2m"), Catch::Contains("does not match the target"));
}
