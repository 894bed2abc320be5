// The Tranception converter (tranception/convert.hpp): both checkpoint formats give
// bit-identical weights, tensor names and layouts, ALiBi slopes, shape checks; and the HDF5
// weight file round trip (core/weights.hpp) on the converted weights.
#include "core/checkpoint.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"
#include "tranception/convert.hpp"
#include "tranception/model.hpp"
#include "util/error.hpp"

#include "temp_dir.hpp"

#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>

using namespace tranova;
using namespace tranova::core;
using tranova::tranception::convert_checkpoint;
using tranova::tranception::grouped_alibi_slopes;

namespace {
const std::string kTiny = TRANOVA_TEST_DATA "/core/tranception_tiny_ctx64/";
using tranova::test::error_of;
}  // namespace

TEST_CASE("tranception: both formats convert to bit-identical weights; shape checks", "[tranception][convert]") {
    json_value cfg = json_parse_file(kTiny + "config.json");
    std::vector<std::string> notes;
    checkpoint bin = checkpoint_read(kTiny + "pytorch_model.bin");
    weights a = convert_checkpoint(bin, cfg, notes);
    weights b = convert_checkpoint(checkpoint_read(kTiny + "model.safetensors"), cfg, notes);
    REQUIRE(a.entries().size() == 2 + 2 * 30 + 2);
    REQUIRE(a.entries().size() == b.entries().size());
    for (size_t i = 0; i < a.entries().size(); i++) {
        const auto &ea = a.entries()[i], &eb = b.entries()[i];
        INFO(ea.name);
        CHECK(ea.name == eb.name);
        CHECK(ea.shape == eb.shape);
        CHECK(std::memcmp(a.data() + ea.offset, b.data() + eb.offset, 4 * ea.numel) == 0);
    }
    CHECK(a.parameter_count() == 69536 + 8);  // + 8 ALiBi slopes
    const float* sl = a.get("alibi_slopes", {8});
    CHECK(sl[0] == 1.0f / 16);
    CHECK(sl[1] == 1.0f / 256);
    CHECK(sl[2] == 1.0f / 16);
    // projections are stored (out, in): qkv[o, i] == c_attn[i, o]
    const float* qkv = a.get("blk.1.attn_qkv.weight", {192, 64});
    const auto& ca = bin.at("transformer.h.1.attn.c_attn.weight");
    CHECK(qkv[5 * 64 + 7] == ca.data[7 * 192 + 5]);
    CHECK(a.get("blk.0.attn_conv_v_k7.weight", {8, 7})[3] == bin.at("transformer.h.0.attn.value_depthwiseconv.2.conv.weight").data[3]);
    CHECK(a.config_int("n_layer") == 2);
    CHECK(a.config_int("head_dim") == 8);
    CHECK(a.config_double("layer_norm_epsilon") == 1e-5);
    CHECK(a.config_string("position_embedding") == "grouped_alibi");

    // HDF5 round trip: identical bytes, config and order
    const tranova::test::temp_dir tmp("convert_test");
    const std::string dir = tmp.path.string();
    weights_write(dir + "/a.h5", a);
    weights r = weights_read(dir + "/a.h5");
    CHECK(r.arch == "tranception");
    CHECK(r.format_version == weights_format_version);
    CHECK(r.config == a.config);
    REQUIRE(r.entries().size() == a.entries().size());
    for (size_t i = 0; i < a.entries().size(); i++) {
        CHECK(r.entries()[i].name == a.entries()[i].name);
        CHECK(r.entries()[i].offset % 16 == 0);
        CHECK(std::memcmp(r.data() + r.entries()[i].offset, a.data() + a.entries()[i].offset, 4 * a.entries()[i].numel) == 0);
    }
    CHECK_THAT(error_of([&] { r.get("ln_f.weight", {65}); }), Catch::Contains("'ln_f.weight' has shape [64], expected [65]"));
    CHECK_THAT(error_of([&] { r.get("nope", {1}); }), Catch::Contains("'nope' is missing"));
    CHECK_THAT(error_of([&] { weights_read(dir + "/missing.h5"); }), Catch::Contains("not a readable HDF5 file"));
    {
        std::ofstream(dir + "/junk.h5") << "not hdf5";
    }
    CHECK_THAT(error_of([&] { weights_read(dir + "/junk.h5"); }), Catch::Contains("not a readable HDF5 file"));
    weights v99;
    v99.arch = "x";
    v99.format_version = 99;
    weights_write(dir + "/v99.h5", v99);
    CHECK_THAT(error_of([&] { weights_read(dir + "/v99.h5"); }), Catch::Contains("version 99 is not supported"));
    // non-finite weights are refused at load, naming the file and the tensor; lookups of a
    // read file name the file too
    for (float bad_value : {std::numeric_limits<float>::quiet_NaN(), -std::numeric_limits<float>::infinity()}) {
        weights nan = weights_read(dir + "/a.h5");
        nan.get_mutable("blk.1.mlp_fc.bias", {128})[5] = bad_value;
        weights_write(dir + "/nan.h5", nan);
        CHECK_THAT(error_of([&] { weights_read(dir + "/nan.h5"); }),
                   Catch::Contains(dir + "/nan.h5: tensor 'blk.1.mlp_fc.bias' holds a non-finite value") &&
                       Catch::Contains("at flat index 5"));
    }
    CHECK_THAT(error_of([&] { r.get("no.such", {1}); }), Catch::StartsWith(dir + "/a.h5: tensor 'no.such' is missing"));
    CHECK_THAT(error_of([&] { a.require_finite("ck.bin"); }), Catch::Equals("(no error)"));

    // converter checks: wrong shape, missing tensor, unexpected tensor
    checkpoint bad = bin;
    bad.tensors.at("transformer.h.1.mlp.c_fc.weight").shape = {64, 127};
    CHECK_THAT(error_of([&] { convert_checkpoint(bad, cfg, notes); }),
               Catch::Contains("'transformer.h.1.mlp.c_fc.weight' has shape [64, 127], expected [64, 128]"));
    bad = bin;
    bad.tensors.erase("transformer.h.0.attn.key_depthwiseconv.1.conv.bias");
    CHECK_THAT(error_of([&] { convert_checkpoint(bad, cfg, notes); }),
               Catch::Contains("'transformer.h.0.attn.key_depthwiseconv.1.conv.bias' [8] is missing"));
    bad = bin;
    bad.tensors["transformer.wpe.weight"] = bad.tensors.at("transformer.ln_f.bias");
    bad.names.push_back("transformer.wpe.weight");
    CHECK_THAT(error_of([&] { convert_checkpoint(bad, cfg, notes); }), Catch::Contains("unexpected tensor 'transformer.wpe.weight'"));
    bad = bin;
    bad.tensors.at("lm_head.weight").data[3] += 1;
    CHECK_THAT(error_of([&] { convert_checkpoint(bad, cfg, notes); }), Catch::Contains("untied"));

    // Without the stored transformer.alibi buffer the slopes come from grouped_alibi_slopes:
    // the same values.
    bad = bin;
    bad.tensors.erase("transformer.alibi");
    bad.names.erase(std::find(bad.names.begin(), bad.names.end(), "transformer.alibi"));
    weights c = convert_checkpoint(bad, cfg, notes);
    CHECK(std::memcmp(c.get("alibi_slopes", {8}), a.get("alibi_slopes", {8}), 8 * sizeof(float)) == 0);
    CHECK(grouped_alibi_slopes(8) == std::vector<float>(sl, sl + 8));
}
