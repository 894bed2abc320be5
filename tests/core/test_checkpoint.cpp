// Checkpoint import (PyTorch zip, Lightning .ckpt, safetensors). The Tranception converter
// and the HDF5 weight file round trip are tested in tests/tranception/test_convert.cpp. Corrupt and hostile inputs are built in memory
// (hand-made zips and pickles, truncations, byte flips): each must give a one-line
// tranova::error, never a crash.
#include "core/checkpoint.hpp"
#include "core/weights.hpp"
#include "util/error.hpp"

#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include "stored_zip.hpp"  // the zip writer the pickle fuzzer uses

#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

using namespace tranova;
using namespace tranova::core;

namespace {
const std::string kData = TRANOVA_TEST_DATA "/core/";
const std::string kTiny = kData + "tranception_tiny_ctx64/";

std::vector<uint8_t> slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    REQUIRE(in);
    return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}


// Pickle building blocks (protocol 2).
std::string uni(const std::string& s) { return "X" + std::string(1, (char)s.size()) + std::string(3, '\0') + s; }
// a literal with embedded NULs, kept whole
template <size_t N>
std::string lit(const char (&a)[N]) { return std::string(a, N - 1); }
std::string int1(int v) { return std::string("K") + (char)v; }
const std::string kRebuild = "ctorch._utils\n_rebuild_tensor_v2\n";
std::string storage(const std::string& type, const std::string& key, int numel) {
    return "(" + uni("storage") + "ctorch\n" + type + "\n" + uni(key) + uni("cpu") + int1(numel) + "tQ";
}
// tensor = _rebuild_tensor_v2(storage, offset, size, stride, False, OrderedDict())
std::string tensor(const std::string& stor, int offset, std::vector<int> size, std::vector<int> stride) {
    std::string s = kRebuild + "(" + stor + int1(offset) + "(";
    for (int x : size) s += int1(x);
    s += "t(";
    for (int x : stride) s += int1(x);
    s += "t\x89" "ccollections\nOrderedDict\n)Rt" "R";
    return s;
}
std::string floats(std::vector<float> v) { return std::string((const char*)v.data(), v.size() * 4); }

checkpoint read_mem(const std::vector<uint8_t>& b, const std::string& label = "mem") {
    return checkpoint_read_memory(b.data(), b.size(), label);
}
checkpoint read_zip(const std::string& pkl, const std::vector<std::pair<std::string, std::string>>& extra = {}) {
    std::vector<std::pair<std::string, std::string>> files{{"archive/data.pkl", pkl}};
    files.insert(files.end(), extra.begin(), extra.end());
    return read_mem(tranova_fuzz::make_stored_zip(files), "hand.pt");
}
using tranova::test::error_of;
}  // namespace

TEST_CASE("hand-made torch zip: strided views and shared storages", "[core][checkpoint]") {
    // one storage of 6 floats 0..5; 'a' = 2x3 view with stride (1, 2) (a transpose),
    // 'b' = 1-D slice [2, 5) of the same storage, 'c' = uint8 storage
    std::string pkl = "\x80\x02}(" + uni("a") + tensor(storage("FloatStorage", "0", 6), 0, {2, 3}, {1, 2}) +
                      uni("b") + tensor("h\x01", 2, {3}, {1}) + uni("c") +
                      tensor(storage("ByteStorage", "1", 3), 0, {3}, {1}) + "u.";
    // BINGET 1 needs the storage memoised: re-run with BINPUT after the first storage
    pkl = "\x80\x02}(" + uni("a") + kRebuild + "(" + storage("FloatStorage", "0", 6) + "q\x01" + int1(0) + "(" +
          int1(2) + int1(3) + "t(" + int1(1) + int1(2) + "t\x89" "ccollections\nOrderedDict\n)RtR" + uni("b") +
          tensor("h\x01", 2, {3}, {1}) + uni("c") + tensor(storage("ByteStorage", "1", 3), 0, {3}, {1}) + "u.";
    checkpoint ck = read_zip(pkl, {{"archive/data/0", floats({0, 1, 2, 3, 4, 5})}, {"archive/data/1", "\x01\x02\xff"}});
    CHECK(ck.format == "pytorch-zip");
    REQUIRE(ck.names == std::vector<std::string>{"a", "b", "c"});
    CHECK(ck.at("a").shape == std::vector<int64_t>{2, 3});
    CHECK(ck.at("a").data == std::vector<float>{0, 2, 4, 1, 3, 5});
    CHECK(ck.at("b").data == std::vector<float>{2, 3, 4});
    CHECK(ck.at("c").source == dtype::u8);
    CHECK(ck.at("c").data == std::vector<float>{1, 2, 255});
}

TEST_CASE("Lightning-style extras: opaque plain-data globals, parameters, nested dicts", "[core][checkpoint]") {
    // {'state_dict': {'w': Parameter(tensor)}, 'callbacks': {'best': numpy scalar, 'path': PosixPath},
    //  'hyper_parameters': AttributeDict-free dict {'lr': 0.5, 'layers': [1, 2]}}
    std::string pkl = "\x80\x02}(" + uni("state_dict") + "}(" + uni("w") + "ctorch._utils\n_rebuild_parameter\n(" +
                      tensor(storage("FloatStorage", "0", 2), 0, {2}, {1}) + "\x88" "ccollections\nOrderedDict\n)RtRu" +
                      uni("callbacks") + "}(" + uni("best") + "cnumpy.core.multiarray\nscalar\n(" +
                      "cnumpy\ndtype\n(" + uni("f8") + lit("\x89\x88tRC\x08\x00\x00\x00\x00\x00\x00\xf0?tR") +
                      uni("path") + "cpathlib\nPosixPath\n(" + uni("tmp") + "tRu" + uni("hyper_parameters") + "}(" +
                      uni("lr") + lit("G?\xe0\x00\x00\x00\x00\x00\x00") + uni("layers") + "](" + int1(1) + int1(2) + "eu" + "u.";
    checkpoint ck = read_zip(pkl, {{"archive/data/0", floats({1.5f, -2.0f})}});
    CHECK(ck.format == "lightning-ckpt");
    CHECK(ck.at("w").data == std::vector<float>{1.5f, -2.0f});
    CHECK(ck.meta.at("callbacks.best") == "<object numpy.core.multiarray.scalar>");
    CHECK(ck.meta.at("callbacks.path") == "<object pathlib.PosixPath>");
    CHECK(ck.meta.at("hyper_parameters.lr") == "0.5");
    CHECK(ck.meta.at("hyper_parameters.layers") == "[1, 2]");
}

TEST_CASE("hostile and corrupt pickles give one-line errors", "[core][checkpoint]") {
    auto good_t = [](int numel, std::vector<int> size) {
        return "\x80\x02}(" + uni("w") + tensor(storage("FloatStorage", "0", numel), 0, size, {size.size() > 1 ? size[1] : 1, 1}) + "u.";
    };
    const std::string six = floats({0, 1, 2, 3, 4, 5});
    CHECK_NOTHROW(read_zip(good_t(6, {2, 3}), {{"archive/data/0", six}}));
    // a global outside the allow-list is rejected before anything else happens
    CHECK_THAT(error_of([&] { read_zip("\x80\x02" "cos\nsystem\n" + uni("ls") + "\x85R."); }),
               Catch::Contains("global 'os.system'") && Catch::Contains("not allowed"));
    CHECK_THAT(error_of([&] { read_zip("\x80\x02" "c__builtin__\neval\n."); }), Catch::Contains("not allowed"));
    // unsupported opcode (INST 'i', text INT 'I', PERSID 'P') names the offset
    CHECK_THAT(error_of([&] { read_zip("\x80\x02}I1\n."); }), Catch::Contains("unsupported pickle opcode 0x49 at offset 3"));
    CHECK_THAT(error_of([&] { read_zip("\x80\x02(i__main__\nX\n."); }), Catch::Contains("unsupported pickle opcode 0x69"));
    // shape needs more elements than the storage has
    CHECK_THAT(error_of([&] { read_zip(good_t(6, {4, 4}), {{"archive/data/0", six}}); }),
               Catch::Contains("tensor 'w'") && Catch::Contains("reads past its storage"));
    // storage bytes shorter than the declared element count
    CHECK_THAT(error_of([&] { read_zip(good_t(6, {2, 3}), {{"archive/data/0", six.substr(0, 20)}}); }),
               Catch::Contains("tensor 'w'") && Catch::Contains("storage data/0 has 20 bytes"));
    // storage missing from the archive
    CHECK_THAT(error_of([&] { read_zip(good_t(6, {2, 3})); }), Catch::Contains("data/0 is missing"));
    // truncated pickle, stack underflow, memo miss, no STOP
    CHECK_THAT(error_of([&] { read_zip("\x80\x02}X\xff\x00\x00\x00ab"); }), Catch::Contains("truncated pickle"));
    CHECK_THAT(error_of([&] { read_zip("\x80\x02s."); }), Catch::Contains("stack underflow"));
    CHECK_THAT(error_of([&] { read_zip("\x80\x02h\x07."); }), Catch::Contains("memo key 7"));
    CHECK_THAT(error_of([&] { read_zip("\x80\x02}"); }), Catch::Contains("truncated pickle"));
    CHECK_THAT(error_of([&] { read_zip("\x80\x02]."); }), Catch::Contains("not a dict"));
    // no data.pkl at all
    CHECK_THAT(error_of([&] { read_mem(tranova_fuzz::make_stored_zip({{"x/y", "z"}})); }), Catch::Contains("no data.pkl"));
    // 200,000 nested lists / dicts (once a SIGSEGV in the recursive destruction): the
    // nesting bound stops them with the offset; nothing recursive runs at any depth
    const int deep = 200000;
    std::string lists = "\x80\x02}(" + uni("w") + std::string(deep, ']') + std::string(deep - 1, 'a') + "u.";
    CHECK_THAT(error_of([&] { read_zip(lists); }),
               Catch::Contains("archive/data.pkl: bad pickle at offset") && Catch::Contains("nested deeper than 1000"));
    std::string dicts = "\x80\x02}";
    for (int i = 0; i < deep; i++) dicts += uni("k") + "}";
    dicts += std::string(deep, 's') + ".";
    CHECK_THAT(error_of([&] { read_zip(dicts); }), Catch::Contains("nested deeper than 1000"));
    // 999 levels are fine (Python's pickler itself stops near 1000)
    std::string ok = "\x80\x02}(" + uni("w") + std::string(999, ']') + std::string(998, 'a') + "u.";
    CHECK_NOTHROW(read_zip(ok));
    // a memo-made cycle (a list appended to itself) is bounded too, and never leaks
    std::string cyc = lit("\x80\x02]q\x00");
    for (int i = 0; i < 2000; i++) cyc += "h" + std::string(1, '\0') + "a";
    CHECK_THAT(error_of([&] { read_zip(cyc + "."); }), Catch::Contains("nested deeper than 1000"));
    // metadata: a dict holding itself 100 times would flatten to 100^6 entries
    std::string selfref = lit("\x80\x02}(") + uni("state_dict") + "}" + uni("hp") + lit("}q\x00(");
    for (int i = 0; i < 100; i++) selfref += uni("k" + std::to_string(i)) + lit("h\x00");
    selfref += "uu.";
    CHECK_THAT(error_of([&] { read_zip(selfref); }), Catch::Contains("metadata has more than 100000 entries"));
    // one storage of 65,536 floats viewed by stride-0 tensors of 2^20 elements each: each
    // view alone is allowed (16-fold), their total is bounded by the file size
    const std::string stor64k = "(" + uni("storage") + "ctorch\nFloatStorage\n" + uni("0") + uni("cpu") +
                                lit("J\x00\x00\x01\x00") + "tQ";
    std::string views = lit("\x80\x02}(");
    for (int i = 0; i < 10; i++)
        views += uni("t" + std::to_string(i)) + kRebuild + "(" + stor64k + int1(0) + lit("J\x00\x00\x10\x00\x85") +
                 lit("K\x00\x85\x89") + "ccollections\nOrderedDict\n)RtR";
    views += "u.";
    CHECK_THAT(error_of([&] { read_zip(views, {{"archive/data/0", std::string(4 * 65536, '\0')}}); }),
               Catch::Contains("tensor 't5'") && Catch::Contains("views add up to more than 16 times"));
    // object-count bound: 2.5 million empty lists, appended 500,000 at a time
    std::string many = "\x80\x02]";
    for (int i = 0; i < 5; i++) many += "(" + std::string(500000, ']') + "e";
    many += ".";
    CHECK_THAT(error_of([&] { read_zip(many); }), Catch::Contains("more than 2097152 objects"));
}

TEST_CASE("torch zip, safetensors and Lightning fixtures load", "[core][checkpoint]") {
    checkpoint bin = checkpoint_read(kTiny + "pytorch_model.bin");
    checkpoint st = checkpoint_read(kTiny + "model.safetensors");
    CHECK(bin.format == "pytorch-zip");
    CHECK(st.format == "safetensors");
    CHECK(bin.names.size() == 69);
    CHECK(st.names.size() == 68);  // tied pair stored once (as lm_head.weight here)
    CHECK(bin.names.front() == "transformer.alibi");
    CHECK(bin.names.back() == "lm_head.weight");
    CHECK(bin.at("lm_head.weight").data == bin.at("transformer.wte.weight").data);  // shared storage
    CHECK(bin.at("transformer.h.0.attn.bias").source == dtype::u8);
    CHECK(bin.at("transformer.h.0.attn.bias").shape == std::vector<int64_t>{1, 1, 64, 64});
    CHECK(bin.at("transformer.h.0.attn.bias").data[1] == 0.0f);
    CHECK(bin.at("transformer.h.0.attn.bias").data[64] == 1.0f);
    CHECK(bin.at("transformer.h.0.attn.masked_bias").shape.empty());
    CHECK(bin.at("transformer.h.0.attn.masked_bias").data == std::vector<float>{-1e4f});
    for (const std::string& n : st.names) {
        INFO(n);
        REQUIRE(bin.has(n));
        CHECK(bin.at(n).shape == st.at(n).shape);
        CHECK(std::memcmp(bin.at(n).data.data(), st.at(n).data.data(), 4 * st.at(n).numel()) == 0);
    }
    CHECK(st.meta.at("__metadata__.format") == "pt");
    // folder form picks model.safetensors
    CHECK(checkpoint_read(kTiny).format == "safetensors");

    checkpoint cas = checkpoint_read(kData + "casanovo_tiny.ckpt");
    CHECK(cas.format == "lightning-ckpt");
    CHECK(cas.names.size() == 72);
    size_t params = 0;
    for (auto& [n, t] : cas.tensors) params += t.numel();
    CHECK(params == 171933 + 192);  // parameters + sin/cos term buffers (3 x 64)
    CHECK(cas.at("encoder.latent_spectrum").shape == std::vector<int64_t>{1, 1, 64});
    CHECK(cas.meta.at("hyper_parameters.dim_model") == "64");
    CHECK(cas.meta.at("hyper_parameters.residues.C+57.021") == "160.030649");
    CHECK(cas.meta.at("hyper_parameters.isotope_error_range") == "[0, 1]");
    CHECK(cas.meta.count("epoch") == 1);
    checkpoint pn = checkpoint_read(kData + "primenovo_tiny.ckpt");
    CHECK(pn.names.size() == 76);
    params = 0;
    for (auto& [n, t] : pn.tensors) params += t.numel();
    CHECK(params == 180188 + 192);
    CHECK(pn.meta.at("hyper_parameters.ctc_dic.beam_width") == "5");
    CHECK(pn.meta.at("hyper_parameters.weight_decay") == "8e-5");
}

TEST_CASE("corrupt files: truncation, wrong magic, byte flips never crash", "[core][checkpoint]") {
    for (std::string f : {"pytorch_model.bin", "model.safetensors"}) {
        std::vector<uint8_t> b = slurp(kTiny + f);
        for (size_t cut : {size_t(0), size_t(3), size_t(9), size_t(100), b.size() / 3, b.size() / 2, b.size() - 30,
                           b.size() - 1}) {
            std::vector<uint8_t> t(b.begin(), b.begin() + cut);
            std::string e = error_of([&] { read_mem(t, f); });
            INFO(f << " cut at " << cut << ": " << e);
            CHECK(e != "(no error)");
            CHECK(e.find('\n') == std::string::npos);
        }
        std::vector<uint8_t> m = b;
        m[0] = 'Z', m[8] = 'Z';
        CHECK_THAT(error_of([&] { read_mem(m, f); }), Catch::Contains("wrong magic"));
        // random byte flips: either a clean error or a successful read, never a crash
        std::mt19937 rng(7);
        int errors = 0;
        for (int trial = 0; trial < 300; trial++) {
            std::vector<uint8_t> x = b;
            size_t pos = f == "model.safetensors" ? rng() % 9000 : rng() % x.size();
            x[pos] ^= (uint8_t)(1 + rng() % 255);
            try {
                read_mem(x, f);
            } catch (const tranova::error&) {
                errors++;
            }
        }
        CHECK(errors > 0);
    }
    // safetensors: header length past the end, data_offsets past the end, byte count wrong
    auto st = [](const std::string& json, size_t data_bytes) {
        std::vector<uint8_t> v(8);
        uint64_t n = json.size();
        std::memcpy(v.data(), &n, 8);
        v.insert(v.end(), json.begin(), json.end());
        v.resize(v.size() + data_bytes, 0);
        return v;
    };
    CHECK_NOTHROW(read_mem(st(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 8)));
    CHECK_THAT(error_of([&] { read_mem(st(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,80]}})", 8)); }),
               Catch::Contains("'w' data [0, 80) lies outside"));
    CHECK_THAT(error_of([&] { read_mem(st(R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8)); }),
               Catch::Contains("tensor 'w' has 8 data bytes"));
    CHECK_THAT(error_of([&] { read_mem(st(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8)); }),
               Catch::Contains("unsupported dtype 'Q4'"));
    CHECK_THAT(error_of([&] { read_mem(st(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})", 8)); }),
               Catch::Contains("invalid JSON"));
    // the byte ranges must tile the data area: no overlap, no gap, no trailing bytes
    CHECK_NOTHROW(read_mem(st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]},)"
                              R"("b":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}})", 8)));
    CHECK_THAT(error_of([&] {
                   read_mem(st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8));
               }),
               Catch::Contains("tensor 'b' data [4, 8) overlaps tensor 'a'"));
    CHECK_THAT(error_of([&] {
                   read_mem(st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                               R"("b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})", 12));
               }),
               Catch::Contains("bytes [4, 8) belong to no tensor"));
    CHECK_THAT(error_of([&] { read_mem(st(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 12)); }),
               Catch::Contains("trailing bytes"));
    // dtype and byte count must agree (F64 x 2 = 16 bytes, not 8)
    CHECK_THAT(error_of([&] { read_mem(st(R"({"w":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}})", 8)); }),
               Catch::Contains("tensor 'w' has 8 data bytes, shape [2] x float64 needs 16"));
    CHECK_THAT(error_of([&] { read_mem(st(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":3})", 8)); }),
               Catch::Contains("__metadata__ is not an object"));
    std::vector<uint8_t> big = st("{}", 0);
    big[0] = 0xff, big[5] = 0x7f;
    big.resize(20);
    big[8] = '{';
    CHECK_THAT(error_of([&] { read_mem(big); }), Catch::Contains("header length"));
    CHECK_THAT(error_of([&] { checkpoint_read(kData + "no_such_file.bin"); }), Catch::Contains("cannot open"));
}
