#include "denovo/source.hpp"
#include "denovo/spectrum.hpp"
#include "mzml_builder.hpp"
#include "util/error.hpp"

#include <MSNumpress.hpp>
#include "temp_dir.hpp"

#include <catch2/catch.hpp>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <unistd.h>

using namespace tranova::denovo;

static const std::string kData = std::string(TRANOVA_TEST_DATA) + "/denovo/";

static std::vector<spectrum> all(spectrum_reader& r) {
    std::vector<spectrum> out;
    spectrum s;
    while (r.next(s)) out.push_back(s);
    return out;
}

TEST_CASE("charge lists", "[denovo][readers]") {
    std::vector<int> c;
    CHECK(parse_charge_list("2+", c));
    CHECK(c == std::vector<int>{2});
    CHECK(parse_charge_list("3", c));
    CHECK(c == std::vector<int>{3});
    CHECK(parse_charge_list("2+ and 3+", c));
    CHECK(c == std::vector<int>{2, 3});
    CHECK(parse_charge_list("2+,3+", c));
    CHECK(c == std::vector<int>{2, 3});
    CHECK(parse_charge_list("2-", c));
    CHECK(c == std::vector<int>{-2});
    CHECK(parse_charge_list("+4", c));
    CHECK(c == std::vector<int>{4});
    CHECK_FALSE(parse_charge_list("", c));
    CHECK_FALSE(parse_charge_list("unknown", c));
}

TEST_CASE("mzML: the 4 MS2 spectra of the TMT10 file, charge from 'possible charge state'", "[denovo][readers]") {
    read_stats st;
    auto v = read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mzML", {}, &st);
    REQUIRE(v.size() == 4);
    CHECK(st.records == 11);
    CHECK(st.other_level == 7);
    CHECK(st.skipped == 0);
    const long scans[] = {501, 504, 507, 510};
    const int charges[] = {3, 2, 3, 3};
    const size_t peaks[] = {118, 76, 62, 107};
    for (int i = 0; i < 4; ++i) {
        CHECK(v[i].scan == scans[i]);
        CHECK(v[i].charge == charges[i]);
        CHECK(v[i].ms_level == 2);
        CHECK(v[i].mz.size() == peaks[i]);
        CHECK(v[i].intensity.size() == peaks[i]);
    }
    CHECK(v[0].title == "controllerType=0 controllerNumber=1 scan=501");
    CHECK(v[0].index == 1);
    CHECK(v[0].precursor_mz == Approx(804.774963378906).margin(1e-9));
    CHECK(v[0].precursor_intensity == Approx(11531.6333007813));
    CHECK(v[0].rt_seconds == Approx(1.06991494585 * 60).margin(1e-6));

    // Same peaks as the MGF export of the same scans.
    auto mgf = read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mgf");
    for (const auto& s : v) {
        const spectrum* m = nullptr;
        for (const auto& x : mgf)
            if (x.title.find("." + std::to_string(s.scan) + ".") != std::string::npos) m = &x;
        REQUIRE(m);
        REQUIRE(m->mz.size() == s.mz.size());
        for (size_t k = 0; k < s.mz.size(); ++k) {
            CHECK(s.mz[k] == Approx(m->mz[k]).margin(1e-4));
            CHECK(s.intensity[k] == Approx(m->intensity[k]).epsilon(1e-5));
        }
    }

    // All MSn levels; MS3 too.
    read_options all_levels;
    all_levels.ms_level = 0;
    // MS3 scan 505 has no charge (like its MGF record): skipped, or kept on request.
    CHECK(read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mzML", all_levels).size() == 6);
    all_levels.keep_chargeless = true;
    CHECK(read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mzML", all_levels).size() == 7);
    read_options ms1;
    ms1.ms_level = 1;
    ms1.keep_chargeless = true;
    read_stats st1;
    auto v1 = read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mzML", ms1, &st1);
    // MS1 spectra have no precursor: skipped as problems.
    CHECK(v1.empty());
    CHECK(st1.skipped == 4);
}

TEST_CASE("MGF: a charge-less record is skipped or kept, other labels intact", "[denovo][readers]") {
    const char* titles[] = {"TMT10-Trial-8.501.501.3", "TMT10-Trial-8.502.502.2", "TMT10-Trial-8.504.504.2",
                            "TMT10-Trial-8.505.505.",  "TMT10-Trial-8.507.507.3", "TMT10-Trial-8.508.508.2",
                            "TMT10-Trial-8.510.510.3"};
    const size_t peaks[] = {118, 21, 76, 35, 62, 41, 107};
    const int charges[] = {3, 2, 2, 0, 3, 2, 3};
    const double first_mz[] = {284.9170227, 0, 0, 0, 0, 0, 0};

    SECTION("skipped by default") {
        read_stats st;
        auto v = read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mgf", {}, &st);
        REQUIRE(v.size() == 6);
        CHECK(st.records == 7);
        CHECK(st.skipped == 1);
        CHECK(st.skipped_charge == 1);
        REQUIRE(st.first_problems.size() == 1);
        CHECK(st.first_problems[0].find("index=3") != std::string::npos);
        CHECK(st.first_problems[0].find("TMT10-Trial-8.505.505.") != std::string::npos);
        CHECK(st.first_problems[0].find("depthcharge_TMT10-Trial-8.mgf:234") != std::string::npos);
        const int rec[] = {0, 1, 2, 4, 5, 6};
        for (int i = 0; i < 6; ++i) {
            int r = rec[i];
            CHECK(v[i].index == r);
            CHECK(v[i].title == titles[r]);
            CHECK(v[i].mz.size() == peaks[r]);
            CHECK(v[i].charge == charges[r]);
        }
        CHECK(v[0].mz[0] == first_mz[0]);
        CHECK(v[0].precursor_mz == 804.774963378906);
        CHECK(v[0].precursor_intensity == Approx(11531.6333007813));
        CHECK(v[0].rt_seconds == Approx(64.19489675));
    }
    SECTION("kept with charge 0") {
        read_options o;
        o.keep_chargeless = true;
        auto v = read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mgf", o);
        REQUIRE(v.size() == 7);
        for (int i = 0; i < 7; ++i) {
            CHECK(v[i].index == i);
            CHECK(v[i].title == titles[i]);
            CHECK(v[i].mz.size() == peaks[i]);
            CHECK(v[i].charge == charges[i]);
        }
    }
}

TEST_CASE("MGF: quirks of the format", "[denovo][readers]") {
    const std::string text =
        "MASS=Monoisotopic\r\n"
        "CHARGE=2+\r\n"
        "BEGIN IONS\r\n"
        "title=lower-case keys\r\n"
        "pepmass=400.5\r\n"
        "100.0 1.0\r\n"
        "200.0\t2.5 1+ b2\r\n"
        "END IONS\r\n"
        "\n"
        "BEGIN IONS\n"
        "TITLE=charge 11 (BEAM bug trigger)\n"
        "PEPMASS=500.0 123.0\n"
        "CHARGE=11+\n"
        "SEQ=PEPTIDEK\n"
        "100 1\n"
        "END IONS\n"
        "BEGIN IONS\n"
        "TITLE=multi\n"
        "PEPMASS=600.0\n"
        "CHARGE=3+ and 4+\n"
        "SCANS=1234\n"
        "RTINSECONDS=12.5\n"
        "SEQ=LLK\n"
        "150 5\n"
        "END IONS\n"
        "BEGIN IONS\n"
        "TITLE=bad pepmass\n"
        "PEPMASS=abc\n"
        "100 1\n"
        "END IONS\n"
        "BEGIN IONS\n"
        "TITLE=bad peak\n"
        "PEPMASS=700\n"
        "100 x\n"
        "END IONS\n"
        "BEGIN IONS\n"
        "TITLE=negative\n"
        "PEPMASS=700\n"
        "CHARGE=2-\n"
        "100 1\n"
        "END IONS\n"
        "BEGIN IONS\n"
        "TITLE=no pepmass\n"
        "100 1\n"
        "END IONS\n"
        "BEGIN IONS\n"
        "TITLE=unterminated\n"
        "PEPMASS=800\n"
        "BEGIN IONS\n"
        "TITLE=last\n"
        "PEPMASS=900\n"
        "CHARGE=1\n"
        "SEQ=GG\n"
        "END IONS\n"
        "BEGIN IONS\n"
        "TITLE=truncated\n"
        "PEPMASS=950\n";
    auto r = mgf_from_memory(text, "quirks.mgf");
    auto v = all(*r);
    REQUIRE(v.size() == 3);
    CHECK(v[0].title == "lower-case keys");
    CHECK(v[0].charge == 2);  // from the global CHARGE
    CHECK(v[0].mz == std::vector<double>{100.0, 200.0});
    CHECK(v[0].intensity == std::vector<float>{1.0f, 2.5f});
    CHECK(v[1].title == "multi");
    CHECK(v[1].index == 2);
    CHECK(v[1].charge == 3);
    CHECK(v[1].charges == std::vector<int>{3, 4});
    CHECK(v[1].scan == 1234);
    CHECK(v[1].scans == "1234");
    CHECK(v[1].rt_seconds == 12.5);
    CHECK(v[1].seq == "LLK");  // not the skipped PEPTIDEK
    CHECK(v[1].mz == std::vector<double>{150});
    CHECK(v[2].title == "last");
    CHECK(v[2].seq == "GG");
    CHECK(v[2].index == 8);
    const auto& st = r->stats();
    CHECK(st.records == 10);
    CHECK(st.skipped == 7);
    CHECK(st.skipped_charge == 2);
    REQUIRE(st.first_problems.size() == 7);
    CHECK(st.first_problems[0].find("charge 11 outside 1..10") != std::string::npos);
    CHECK(st.first_problems[1].find("invalid PEPMASS") != std::string::npos);
    CHECK(st.first_problems[2].find("cannot parse peak line") != std::string::npos);
    CHECK(st.first_problems[3].find("charge -2") != std::string::npos);
    CHECK(st.first_problems[4].find("no PEPMASS") != std::string::npos);
    CHECK(st.first_problems[5].find("BEGIN IONS inside a record") != std::string::npos);
    CHECK(st.first_problems[6].find("no END IONS") != std::string::npos);
    CHECK(st.first_problems[6].find("quirks.mgf:") == 0);

    read_options o;
    o.max_charge = 20;
    auto r2 = mgf_from_memory(text, "quirks.mgf", o);
    auto v2 = all(*r2);
    REQUIRE(v2.size() == 4);
    CHECK(v2[1].seq == "PEPTIDEK");
    CHECK(v2[1].charge == 11);
}

TEST_CASE("line_source handles lines across chunk boundaries", "[denovo][readers]") {
    std::string text;
    for (int i = 0; i < 200; ++i) text += std::string(i % 37, 'a' + i % 26) + (i % 3 ? "\n" : "\r\n");
    text += "last";
    line_source ls(memory_source(text), 16);
    std::string_view line;
    int n = 0;
    while (ls.next(line)) {
        if (n < 200) CHECK(line == std::string(n % 37, 'a' + n % 26));
        else CHECK(line == "last");
        ++n;
    }
    CHECK(n == 201);
    CHECK(ls.consumed() == text.size());
}

TEST_CASE("mzML: zlib, 32/64-bit arrays, charge fallbacks, problems", "[denovo][readers]") {
    using mzml_test::spec;
    std::vector<spec> specs(6);
    specs[0].id = "scan=1";
    specs[0].zlib = true;
    specs[1].id = "scan=2";
    specs[1].f64_mz = false;
    specs[1].f32_in = false;
    specs[1].charge_xml = R"(<cvParam accession="MS:1000633" name="possible charge state" value="2"/><cvParam accession="MS:1000633" name="possible charge state" value="3"/>)";
    specs[2].id = "scan=3";
    specs[2].charge_xml = "";  // no charge
    specs[3].id = "17";        // integer id -> scan 17
    specs[3].zlib = true;
    specs[3].mz.assign(1000, 0);
    specs[3].intensity.assign(1000, 0);
    for (int i = 0; i < 1000; ++i) specs[3].mz[i] = 100 + i * 0.5, specs[3].intensity[i] = i;
    specs[4].id = "ms1";
    specs[4].ms_level = 1;
    specs[5].id = "scan=6";
    specs[5].charge_xml = R"(<cvParam accession="MS:1000633" value="4"/><cvParam accession="MS:1000041" value="3"/>)";
    const std::string doc = mzml_test::document(specs);

    read_stats st;
    auto r = mzml_from_memory(doc, "built.mzML");
    auto v = all(*r);
    REQUIRE(v.size() == 4);
    CHECK(v[0].scan == 1);
    CHECK(v[0].mz == std::vector<double>{100.5, 200.25, 300.125});
    CHECK(v[0].intensity == std::vector<float>{10, 20, 30});
    CHECK(v[0].rt_seconds == Approx(90));
    CHECK(v[1].charge == 2);
    CHECK(v[1].charges == std::vector<int>{2, 3});
    CHECK(v[1].mz[1] == 200.25);
    CHECK(v[2].scan == 17);
    CHECK(v[2].mz.size() == 1000);
    CHECK(v[2].mz[999] == 100 + 999 * 0.5);
    CHECK(v[2].intensity[999] == 999);
    CHECK(v[3].charge == 3);  // charge state wins over possible charge state
    CHECK(v[3].charges == std::vector<int>{3, 4});
    CHECK(r->stats().skipped == 1);
    CHECK(r->stats().first_problems[0].find("no charge state") != std::string::npos);

    // Broken XML is a file error naming the line.
    std::string broken = doc.substr(0, doc.size() / 2) + "<<<";
    auto rb = mzml_from_memory(broken, "broken.mzML");
    spectrum s;
    CHECK_THROWS_WITH([&] { while (rb->next(s)) {} }(), Catch::Contains("broken.mzML:") && Catch::Contains("XML error"));

    // A wrong array length is a per-spectrum problem.
    std::string bad = doc;
    auto pos = bad.find("defaultArrayLength=\"3\"");
    bad.replace(pos, 22, "defaultArrayLength=\"4\"");
    auto rl = mzml_from_memory(bad, "bad.mzML");
    CHECK(all(*rl).size() == 3);
    CHECK(rl->stats().first_problems[0].find("defaultArrayLength is 4") != std::string::npos);

    CHECK_THROWS_AS(open_spectra("x.txt"), tranova::error);
    CHECK_THROWS_WITH(open_spectra(kData + "missing.mgf"), Catch::Contains("cannot open"));
}

TEST_CASE("mzML: hostile nesting and entity declarations are file errors", "[denovo][readers]") {
    spectrum s;
    auto drain = [&](const std::string& doc) {
        auto r = mzml_from_memory(doc, "hostile.mzML");
        while (r->next(s)) {
        }
    };
    // 200,000 nested elements: stopped at level 257 with the line
    std::string deep = "<mzML>";
    for (int i = 0; i < 200000; ++i) deep += "<a>";
    CHECK_THROWS_WITH(drain(deep), Catch::Contains("hostile.mzML:1: XML elements nested deeper than 256 levels"));
    std::string ok = "<mzML>";
    for (int i = 0; i < 200; ++i) ok += "<a>";
    for (int i = 0; i < 200; ++i) ok += "</a>";
    ok += "</mzML>";
    CHECK_NOTHROW(drain(ok));
    // an entity-expansion bomb never expands
    std::string bomb = "<?xml version=\"1.0\"?>\n<!DOCTYPE mzML [\n<!ENTITY a \"aaaaaaaaaa\">\n"
                       "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">\n]>\n<mzML>&b;</mzML>\n";
    CHECK_THROWS_WITH(drain(bomb), Catch::Contains("hostile.mzML:3: entity declaration 'a' is not accepted"));
}

TEST_CASE("mzXML and referenceable parameter groups (fuzz seeds)", "[denovo][readers]") {
    const std::string fuzz = std::string(TRANOVA_TEST_DATA) + "/../../fuzz/denovo/corpus_mzml/";
    read_options all_levels;
    all_levels.ms_level = 0;
    auto v = read_all_spectra(fuzz + "synthetic_zlib.mzML", all_levels);
    REQUIRE(v.size() == 2);
    CHECK(v[0].scan == 7);
    CHECK(v[0].charges == std::vector<int>{2, 3});
    CHECK(v[0].rt_seconds == 12.5);
    CHECK(v[0].mz == std::vector<double>{100.5, 200.25, 300.125, 450.0});
    CHECK(v[0].intensity == std::vector<float>{10, 20, 5, 1});
    CHECK(v[1].ms_level == 3);
    CHECK(v[1].mz == std::vector<double>{100.5, 200.25, 300.125, 450.0});  // array type from the param group
    auto x = read_all_spectra(fuzz + "synthetic.mzXML");
    REQUIRE(x.size() == 1);
    CHECK(x[0].scan == 2);
    CHECK(x[0].charge == 2);
    CHECK(x[0].precursor_mz == 500.25);
    CHECK(x[0].precursor_intensity == 1000);
    CHECK(x[0].rt_seconds == 61);
    CHECK(x[0].mz == std::vector<double>{100.5, 200.25, 300.125, 450.0});
    CHECK(x[0].intensity == std::vector<float>{10, 20, 5, 1});
    read_stats st;
    CHECK(read_all_spectra(fuzz + "synthetic.mzXML", all_levels, &st).size() == 1);
    CHECK(st.records == 2);  // the MS1 scan, with the MS2 scan nested in it
    CHECK(st.other_level == 1);
}

namespace {

// One MS-Numpress <binaryDataArray>: codec accession (MS:1002312..14, or 1002746..48 with
// zlib after the codec), values encoded by the reference library.
std::string numpress_array(const std::vector<double>& v, const std::string& acc, const char* kind_acc) {
    namespace np = ms::numpress::MSNumpress;
    std::vector<unsigned char> enc;
    if (acc == "MS:1002312" || acc == "MS:1002746") np::encodeLinear(v, enc, np::optimalLinearFixedPoint(v.data(), v.size()));
    else if (acc == "MS:1002313" || acc == "MS:1002747") np::encodePic(v, enc);
    else np::encodeSlof(v, enc, np::optimalSlofFixedPoint(v.data(), v.size()));
    std::string raw(enc.begin(), enc.end());
    if (acc >= "MS:1002746") {
        uLongf n = compressBound(raw.size());
        std::string z(n, '\0');
        compress(reinterpret_cast<Bytef*>(z.data()), &n, reinterpret_cast<const Bytef*>(raw.data()), raw.size());
        z.resize(n);
        raw = z;
    }
    const std::string b64 = mzml_test::base64(raw);
    return "<binaryDataArray encodedLength=\"" + std::to_string(b64.size()) + "\">" +
           R"(<cvParam cvRef="MS" accession="MS:1000523" name="64-bit float" value=""/>)" +
           "<cvParam cvRef=\"MS\" accession=\"" + acc + "\" name=\"MS-Numpress\" value=\"\"/>" +
           "<cvParam cvRef=\"MS\" accession=\"" + kind_acc + "\" name=\"array\" value=\"\"/>" + "<binary>" + b64 +
           "</binary></binaryDataArray>\n";
}

std::string gzip_text(const std::string& text, const std::string& path) {
    gzFile g = gzopen(path.c_str(), "wb");
    REQUIRE(g);
    REQUIRE(gzwrite(g, text.data(), static_cast<unsigned>(text.size())) == static_cast<int>(text.size()));
    REQUIRE(gzclose(g) == Z_OK);
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("mzML: MS-Numpress arrays (linear, pic, slof; with and without zlib) decode to the plain values",
          "[denovo][readers][numpress]") {
    // Real peaks: the MS2 spectra of the depthcharge TMT10 file, re-encoded by libmsnumpress.
    auto plain = read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mzML");
    REQUIRE(plain.size() == 4);
    const std::vector<std::pair<std::string, std::string>> codecs = {
        {"MS:1002312", "MS:1002313"}, {"MS:1002312", "MS:1002314"}, {"MS:1002746", "MS:1002747"}, {"MS:1002746", "MS:1002748"}};
    for (const auto& [mz_acc, in_acc] : codecs) {
        std::vector<mzml_test::spec> specs;
        for (size_t i = 0; i < plain.size(); ++i) {
            mzml_test::spec sp;
            sp.id = "scan=" + std::to_string(i + 1);
            sp.mz = plain[i].mz;
            sp.intensity.assign(plain[i].intensity.begin(), plain[i].intensity.end());
            sp.mz_array_xml = numpress_array(sp.mz, mz_acc, "MS:1000514");
            sp.intensity_array_xml = numpress_array(sp.intensity, in_acc, "MS:1000515");
            specs.push_back(sp);
        }
        INFO(mz_acc << " + " << in_acc);
        auto r = mzml_from_memory(mzml_test::document(specs), "numpress.mzML");
        auto v = all(*r);
        REQUIRE(v.size() == plain.size());
        const bool slof = in_acc == "MS:1002314" || in_acc == "MS:1002748";
        for (size_t i = 0; i < v.size(); ++i) {
            REQUIRE(v[i].mz.size() == plain[i].mz.size());
            for (size_t k = 0; k < v[i].mz.size(); ++k) {
                // Linear prediction keeps m/z to the fixed point's resolution (< 1e-6 Th here).
                CHECK(std::abs(v[i].mz[k] - plain[i].mz[k]) < 1e-6);
                // pic rounds to integers; slof keeps ~4 significant digits of log(1 + x).
                const double want = plain[i].intensity[k];
                const double tol = slof ? 5e-4 * want + 1e-3 : 0.5 + 1e-9;
                CHECK(std::abs(v[i].intensity[k] - want) <= tol);
            }
        }
    }

    // Corrupt Numpress bytes are a per-spectrum problem naming the codec, never a crash.
    mzml_test::spec bad;
    bad.id = "scan=1";
    bad.mz_array_xml = "<binaryDataArray><cvParam accession=\"MS:1000523\"/><cvParam accession=\"MS:1002312\"/>"
                       "<cvParam accession=\"MS:1000514\"/><binary>" +
                       mzml_test::base64(std::string("\x01\x02\x03\x04\x05", 5)) + "</binary></binaryDataArray>";
    auto rb = mzml_from_memory(mzml_test::document({bad}), "bad_numpress.mzML");
    CHECK(all(*rb).empty());
    REQUIRE(!rb->stats().first_problems.empty());
    CHECK_THAT(rb->stats().first_problems[0], Catch::Contains("MS-Numpress"));
    // Halfbytes that end inside an integer: the library's own corruption check.
    bad.mz_array_xml = "<binaryDataArray><cvParam accession=\"MS:1000523\"/><cvParam accession=\"MS:1002313\"/>"
                       "<cvParam accession=\"MS:1000514\"/><binary>" +
                       mzml_test::base64(std::string(2, '\0')) + "</binary></binaryDataArray>";
    auto rc = mzml_from_memory(mzml_test::document({bad}), "bad_numpress.mzML");
    CHECK(all(*rc).empty());
    REQUIRE(!rc->stats().first_problems.empty());
    CHECK_THAT(rc->stats().first_problems[0], Catch::Contains("corrupt MS-Numpress data"));
    // An odd-length slof array: libmsnumpress would write one value past (n - 8) / 2.
    bad.mz_array_xml = "<binaryDataArray><cvParam accession=\"MS:1000523\"/><cvParam accession=\"MS:1002314\"/>"
                       "<cvParam accession=\"MS:1000514\"/><binary>" +
                       mzml_test::base64(std::string(15, '\x01')) + "</binary></binaryDataArray>";
    auto rd = mzml_from_memory(mzml_test::document({bad}), "bad_numpress.mzML");
    CHECK(all(*rd).empty());
    REQUIRE(!rd->stats().first_problems.empty());
    CHECK_THAT(rd->stats().first_problems[0], Catch::Contains("odd length"));
}

TEST_CASE("gzip-compressed MGF and mzML read like the plain files; truncation is an error",
          "[denovo][readers][gzip]") {
    namespace fs = std::filesystem;
    const tranova::test::temp_dir tmp("gz");
    const fs::path& dir = tmp.path;
    for (const std::string name : {"depthcharge_TMT10-Trial-8.mgf", "depthcharge_TMT10-Trial-8.mzML"}) {
        std::ifstream in(kData + name, std::ios::binary);
        const std::string text((std::istreambuf_iterator<char>(in)), {});
        const std::string gz = (dir / (name + ".gz")).string();
        const std::string bytes = gzip_text(text, gz);
        auto want = read_all_spectra(kData + name);
        auto got = read_all_spectra(gz);
        REQUIRE(got.size() == want.size());
        REQUIRE(!got.empty());
        for (size_t i = 0; i < got.size(); ++i) {
            CHECK(got[i].title == want[i].title);
            CHECK(got[i].precursor_mz == want[i].precursor_mz);
            CHECK(got[i].mz == want[i].mz);
            CHECK(got[i].intensity == want[i].intensity);
        }
        CHECK(spectrum_format_of(gz) == spectrum_format_of(kData + name));

        // Cut in the middle of the deflate stream: a file error, not a shorter file.
        const std::string cut = (dir / ("cut_" + name + ".gz")).string();
        std::ofstream(cut, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
        CHECK_THROWS_WITH(
            [&] {
                auto r = open_spectra(cut);
                spectrum s;
                while (r->next(s)) {
                }
            }(),
            Catch::Contains(cut) && Catch::Contains("gzip"));
        // Garbage after a valid gzip header.
        const std::string junk = (dir / ("junk_" + name + ".gz")).string();
        std::ofstream(junk, std::ios::binary) << bytes.substr(0, 10) << std::string(5000, '\x5a');
        CHECK_THROWS_WITH(
            [&] {
                auto r = open_spectra(junk);
                spectrum s;
                while (r->next(s)) {
                }
            }(),
            Catch::Contains(junk) && Catch::Contains("gzip"));
    }
    CHECK(spectrum_format_of("RUN.MGF.GZ") == spectrum_format::mgf);
    CHECK(spectrum_format_of("run.mzXML.gz") == spectrum_format::mzml);
    CHECK_THROWS_WITH(spectrum_format_of("run.txt.gz"), Catch::Contains("optionally .gz"));
}
