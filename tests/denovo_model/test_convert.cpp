// tranova convert --arch casanovo|primenovo|crossnovo on the fixture checkpoints: weight
// file round trip, config fields from the Lightning hyper_parameters, hybrid assembly.
#include "core/checkpoint.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"
#include "denovo_model/beam_search.hpp"
#include "denovo_model/convert.hpp"
#include "temp_dir.hpp"
#include "test_util.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <unistd.h>

using namespace tranova::denovo_model;
namespace core = tranova::core;

static std::string tmp_path(const std::string& name) {
    static const tranova::test::temp_dir dir("dm_convert");
    return dir / name;
}

TEST_CASE("convert casanovo/primenovo .ckpt -> weight file -> same forward", "[denovo_model][convert]") {
    for (std::string P : {"casanovo_trained", "primenovo_trained"}) {
        INFO(P);
        bool cas = P[0] == 'c';
        core::checkpoint ck = core::checkpoint_read(dm_data(P + "_tiny.ckpt"));
        std::vector<std::string> notes;
        core::weights w = cas ? convert_casanovo(ck, core::json_value{}, notes) : convert_primenovo(ck, core::json_value{}, notes);
        CHECK(w.arch == (cas ? "casanovo" : "primenovo"));
        CHECK(w.config_int("n_head") == 4);
        CHECK(w.config_int("isotope_error_min") == 0);
        CHECK(w.config_int("isotope_error_max") == 1);
        if (cas) CHECK(w.config_int("max_length") == 100);
        else CHECK(w.config_int("nar_length") == 40);
        std::string path = tmp_path(P + ".h5");
        core::weights_write(path, w);
        denovo_model m = model_from_weights(read_weight_file(path));
        std::remove(path.c_str());
        CHECK(m.cfg.n_head == 4);
        CHECK(m.cfg.max_charge == 10);
        // encoder memory of spectrum 0 equals the fixture
        auto sp = dm_npy(P + "_spectra");
        auto spectra = sp.f32();
        const int N = int(sp.shape[1]), d = m.cfg.dim_model;
        auto want = dm_npy(P + "_encoder_memory").f32();
        auto len = dm_npy(P + "_spectra_lengths").i64();
        std::vector<float> mem(size_t(N + 1) * d);
        std::unique_ptr<bool[]> mask(new bool[size_t(N + 1)]);
        encoder_forward(m, spectra.data(), N, mem.data(), mask.get());
        CHECK(compare(mem.data(), want.data(), size_t(len[0] + 1) * d).max_rel <= 1e-5);
    }
}

TEST_CASE("convert rejects a checkpoint without n_head and bad configs", "[denovo_model][convert]") {
    core::checkpoint ck = core::checkpoint_read(dm_data("casanovo_tiny.safetensors"));  // no hyper_parameters
    std::vector<std::string> notes;
    CHECK_THROWS_WITH(convert_casanovo(ck, core::json_value{}, notes), Catch::Contains("n_head"));
    auto cfg = core::json_parse("{\"n_head\": 4}", 13, "cfg");
    core::weights w = convert_casanovo(ck, cfg, notes);
    CHECK(w.config_int("n_head") == 4);
    CHECK_THROWS_WITH(convert_crossnovo(ck, cfg, notes), Catch::Contains("nar_checkpoint"));
}

TEST_CASE("crossnovo assembly: hybrid memory and AR decoding over it", "[denovo_model][convert][hybrid]") {
    core::checkpoint ck = core::checkpoint_read(dm_data("casanovo_trained_tiny.ckpt"));
    std::string js = "{\"nar_checkpoint\": \"" + dm_data("primenovo_trained_tiny.ckpt") + "\", \"seed\": 3}";
    auto cfg = core::json_parse(js.data(), js.size(), "cfg");
    std::vector<std::string> notes;
    core::weights w = convert_crossnovo(ck, cfg, notes);
    CHECK(w.arch == "crossnovo");
    CHECK(w.has("cross.nar_proj.weight"));
    CHECK(w.has("nar_decoder.final.weight"));
    CHECK(w.has("ar_decoder.final.weight"));
    denovo_model m = model_from_weights(from_core_weights(w));
    REQUIRE(m.has_ar());
    REQUIRE(m.has_nar());
    auto sp = dm_npy("casanovo_trained_spectra");
    auto spectra = sp.f32();
    auto prec = dm_npy("casanovo_trained_precursors").f32();
    const int N = int(sp.shape[1]), d = m.cfg.dim_model, T = m.cfg.nar_length;
    std::vector<float> mem(size_t(N + 1) * d), logits(size_t(T) * m.nar_vocab), feats(size_t(T) * d), hm;
    std::unique_ptr<bool[]> mask(new bool[size_t(N + 1)]);
    encoder_forward(m, spectra.data(), N, mem.data(), mask.get());
    nar_forward(m, mem.data(), mask.get(), N + 1, prec[0], int(prec[1]), logits.data(), feats.data(), nullptr);
    std::vector<unsigned char> hmask;
    hybrid_memory(m, feats.data(), mem.data(), mask.get(), N + 1, hm, hmask);
    REQUIRE(hm.size() == size_t(T + N + 1) * d);
    // row 0 = proj(feature 0) + PE(1); row T = latent memory row + PE(T+1)
    std::vector<float> proj(static_cast<size_t>(d)), pe(static_cast<size_t>(d));
    core::linear_forward_naive(proj.data(), feats.data(), m.cross_w, m.cross_b, 1, d, d);
    float pos = 1.0f;
    core::sinusoidal_forward(pe.data(), &pos, 1, m.cross_pos.sin_term, m.cross_pos.n_sin, m.cross_pos.cos_term,
                             m.cross_pos.n_cos);
    for (int c = 0; c < d; ++c) CHECK(hm[size_t(c)] == Approx(proj[size_t(c)] + pe[size_t(c)]).margin(1e-5));
    pos = float(T + 1);
    core::sinusoidal_forward(pe.data(), &pos, 1, m.cross_pos.sin_term, m.cross_pos.n_sin, m.cross_pos.cos_term,
                             m.cross_pos.n_cos);
    for (int c = 0; c < d; ++c) CHECK(hm[size_t(T) * d + size_t(c)] == Approx(mem[size_t(c)] + pe[size_t(c)]).margin(1e-5));
    for (int i = 0; i < T; ++i) CHECK(hmask[size_t(i)] == 0);
    for (int i = 0; i <= N; ++i) CHECK(bool(hmask[size_t(T + i)]) == mask[size_t(i)]);
    ar_memory am;
    ar_prepare_memory(m, hm.data(), reinterpret_cast<const bool*>(hmask.data()), T + N + 1, am);
    numpy_random rng(0);
    beam_params bp;
    bp.n_beams = 5;
    bp.top_match = 5;
    auto out = ar_beam_search(m, {{&am, prec[0], int(prec[1]), prec[2]}}, bp, rng);
    REQUIRE(out.size() == 1);
    for (auto& psm : out[0]) {
        CHECK(std::isfinite(psm.score));
        CHECK(psm.aa_scores.size() == psm.tokens.size());
    }
}
