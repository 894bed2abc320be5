// Forward-pass parity against the official-code fixtures (tests/data/tranception/forward):
// logits with and without the token-type quirk, max relative error <= 1e-5 (max abs diff
// over positions divided by the max |logit|), and the prefix cache giving the same
// log-probabilities as a full forward.
#include "tranception/model.hpp"
#include "tranception/tokenizer.hpp"

#include "npy.hpp"
#include "test_data.hpp"

#include <catch2/catch.hpp>

#include <cmath>
#include <string>

using namespace tranova::tranception;

namespace {
using tranception_test::data_dir;

const model& load_cfg(const std::string& name) {
    static model tiny = model_load(data_dir + "/models/tiny/model.safetensors");
    static model ctx64 = model_load(data_dir + "/models/tiny_ctx64/model.safetensors");
    return name == "tiny" ? tiny : ctx64;
}

double rel_err(const std::vector<float>& got, const npy::array& want) {
    REQUIRE(got.size() == want.size());
    double md = 0, mx = 0;
    for (size_t i = 0; i < got.size(); ++i) {
        md = std::max(md, std::abs(double(got[i]) - want.data[i]));
        mx = std::max(mx, std::abs(want.data[i]));
    }
    return md / mx;
}
}  // namespace

TEST_CASE("grouped ALiBi slopes match the official get_slopes", "[tranception]") {
    auto s12 = grouped_alibi_slopes(12);
    REQUIRE(s12.size() == 12);
    CHECK(s12[0] == 1.0f / 16);
    CHECK(s12[1] == 1.0f / 256);
    CHECK(s12[2] == 0.25f);
    CHECK(s12[11] == 0.25f);
    auto s20 = grouped_alibi_slopes(20);
    CHECK(s20[4] == 0.5f);
    auto s16 = grouped_alibi_slopes(16);
    CHECK(s16[0] == 0.25f);
    CHECK(s16[3] == 1.0f / 256);
    auto s4 = grouped_alibi_slopes(4);
    CHECK(s4[0] == 1.0f / 256);
}

TEST_CASE("tokenizer gives the official ids", "[tranception]") {
    CHECK(encode("MKV") == std::vector<int>{1, 15, 13, 22, 2});
    CHECK(encode("Ma*") == std::vector<int>{1, 15, 0, 0, 2});
    CHECK(encode("UO-.x1") == std::vector<int>{1, 0, 0, 0, 0, 0, 0, 2});
    std::string s = "AXBJZC";
    CHECK(replace_nonstandard(s, 7) == 4);
    CHECK(s[0] == 'A');
    CHECK(s[5] == 'C');
    CHECK(is_standard_aa(s[1]));
    CHECK((s[2] == 'D' || s[2] == 'N'));
    CHECK((s[3] == 'I' || s[3] == 'L'));
    CHECK((s[4] == 'E' || s[4] == 'Q'));
    std::string s2 = "AXBJZC";
    replace_nonstandard(s2, 7);
    CHECK(s == s2);
}

TEST_CASE("logits equal the official forward within 1e-5 relative", "[tranception]") {
    for (std::string cfg : {"tiny", "tiny_ctx64"}) {
        model m = model_load(data_dir + "/models/" + cfg + "/model.safetensors");  // move-only: its own copy
        for (int i = 0; i < 5; ++i) {
            std::string p = data_dir + "/forward/" + cfg + "/seq" + std::to_string(i) + "_";
            auto ids_npy = npy::load(p + "input_ids.npy");
            std::vector<int> ids(ids_npy.data.begin(), ids_npy.data.end());
            m.token_type_quirk = true;
            double e_tt = rel_err(model_logits(m, ids), npy::load(p + "logits_tt.npy"));
            m.token_type_quirk = false;
            double e_nott = rel_err(model_logits(m, ids), npy::load(p + "logits_nott.npy"));
            INFO(cfg << " seq" << i << " rel err tt " << e_tt << " nott " << e_nott);
            CHECK(e_tt <= 1e-5);
            CHECK(e_nott <= 1e-5);
        }
    }
}

TEST_CASE("token log-probabilities equal the official per-token values", "[tranception]") {
    for (std::string cfg : {"tiny", "tiny_ctx64"}) {
        const model& m = load_cfg(cfg);
        for (int i = 0; i < 5; ++i) {
            std::string p = data_dir + "/forward/" + cfg + "/seq" + std::to_string(i) + "_";
            auto ids_npy = npy::load(p + "input_ids.npy");
            std::vector<int> ids(ids_npy.data.begin(), ids_npy.data.end());
            auto want = npy::load(p + "token_logprob_tt.npy");
            workspace ws;
            prefix_cache pc = model_prefix(m, ids, ws);
            double md = 0;
            for (size_t t = 0; t + 1 < ids.size(); ++t)
                md = std::max(md, std::abs(double(pc.logprobs[t * 25 + ids[t + 1]]) - want.data[t]));
            INFO(cfg << " seq" << i << " max abs diff " << md);
            CHECK(md <= 1e-5);
        }
    }
}

TEST_CASE("a mutant run from its first changed token equals the full forward", "[tranception]") {
    const model& m = load_cfg("tiny_ctx64");
    std::string wt = "QRDPSLRKKGSGNIFIKNLHPDIDNKALYDTFSVFGDILSSKIATDENGKSKGFGFVHF";
    auto wt_ids = encode(wt);
    workspace ws;
    prefix_cache pc = model_prefix(m, wt_ids, ws);
    std::vector<std::vector<int>> muts;
    std::vector<int> starts;
    for (int pos : {0, 1, 5, 6, 7, 30, 58}) {
        std::string s = wt;
        s[pos] = s[pos] == 'A' ? 'C' : 'A';
        muts.push_back(encode(s));
        starts.push_back(pos + 1);
    }
    std::vector<batch_item> items;
    for (size_t i = 0; i < muts.size(); ++i) items.push_back({muts[i].data(), int(muts[i].size()), starts[i]});
    std::vector<float> lp_batch;
    model_forward(m, &pc, items, lp_batch, ws);
    size_t off = 0;
    double md = 0;
    for (size_t i = 0; i < muts.size(); ++i) {
        std::vector<float> full;
        workspace ws2;
        model_forward(m, nullptr, {batch_item{muts[i].data(), int(muts[i].size()), 0}}, full, ws2);
        int T = int(muts[i].size());
        for (int t = starts[i]; t < T; ++t)
            for (int k = 0; k < 25; ++k) md = std::max(md, std::abs(double(full[t * 25 + k]) - lp_batch[off + (t - starts[i]) * 25 + k]));
        off += size_t(T - starts[i]) * 25;
    }
    INFO("max abs diff cached vs full: " << md);
    CHECK(md <= 1e-5);
}
