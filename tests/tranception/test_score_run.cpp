// run_score, the library behind `tranova score`: the output table keeps the input columns
// and carries exactly the numbers of score_variants; options are checked; the target is
// read from a FASTA file or a literal; Spearman and the heatmap come with the run.
#include "tranception/model.hpp"
#include "tranception/score_run.hpp"

#include "test_data.hpp"
#include "util/csv.hpp"
#include "util/error.hpp"
#include "util/stats.hpp"
#include "util/text.hpp"

#include "temp_dir.hpp"

#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

using namespace tranova::tranception;
namespace fs = std::filesystem;

using tranova::test::temp_dir;

namespace {
const std::string model_dir = tranception_test::data_dir + "/models/tiny_ctx64";
const std::string target_seq = "MKVLAAGIVGLLLAACGQHRSEAPQKPAE";


using tranova::test::file_bytes;
}  // namespace

TEST_CASE("run_score writes score_variants' numbers beside the input columns", "[tranception][score_run]") {
    temp_dir d("score_run");
    score_options o;
    o.model = model_dir;
    o.target = d.write("t.fasta", ">wt\n" + target_seq + "\n");
    o.dms = d.write("in.csv", "mutant,DMS_score,avg_score\nK2A,1.5,x\nV3W:L4G,-0.5,y\nM1M,0,z\nA5C,2,w\n");
    o.out = d / "out.csv";
    o.spearman_column = "DMS_score";
    score_result r = run_score(o);
    CHECK(r.num_variants == 4);
    CHECK(r.heatmap.empty());
    REQUIRE(r.spearman);
    CHECK(r.spearman->n == 4);
    CHECK(r.spearman->label == "Tranception");

    // The same variants through score_variants directly.
    model m = model_load(model_dir);
    std::vector<variant> vars;
    for (const char* mut : {"K2A", "V3W:L4G", "M1M", "A5C"}) vars.push_back(variant_from_mutant(mut, target_seq, "t"));
    auto want = score_variants(m, target_seq, vars, scoring_options{});

    tranova::csv_reader rd(o.out);
    // avg_score was an input column: replaced in place, the other two appended.
    CHECK(rd.header() == std::vector<std::string>{"mutant", "DMS_score", "avg_score", "avg_score_L_to_R", "avg_score_R_to_L"});
    std::vector<std::string> f;
    std::vector<double> x, y;
    for (size_t i = 0; rd.next(f); ++i) {
        REQUIRE(i < want.size());
        double l, rr, a;
        REQUIRE(tranova::parse_double(f[3], l));
        REQUIRE(tranova::parse_double(f[4], rr));
        REQUIRE(tranova::parse_double(f[2], a));
        CHECK(l == want[i].l_to_r);
        CHECK(rr == want[i].r_to_l);
        CHECK(a == want[i].avg);
        x.push_back(want[i].avg);
        y.push_back(std::stod(f[1]));
    }
    CHECK(r.spearman->rho == tranova::spearman_finite(x, y));
}

TEST_CASE("run_score with all singles draws the heatmap beside the table", "[tranception][score_run]") {
    temp_dir d("score_run");
    score_options o;
    o.model = model_dir;
    o.target = "MKVLAAGIVG";
    o.all_singles = true;
    o.mirror = false;
    o.out = d / "dms.csv";
    score_result r = run_score(o);
    CHECK(r.num_variants == 10 * 19);
    CHECK(r.heatmap == d / "dms.svg");
    CHECK(file_bytes(r.heatmap).find("<svg") != std::string::npos);
    CHECK(file_bytes(o.out).substr(0, 51) == "mutant,mutated_sequence,avg_score_L_to_R,avg_score\n");
}

TEST_CASE("run_score checks its options and inputs before writing", "[tranception][score_run]") {
    temp_dir d("score_run");
    score_options o;
    o.model = model_dir;
    o.target = target_seq;
    o.out = d / "out.csv";
    CHECK_THROWS_AS(run_score(o), tranova::usage_error);  // neither --dms nor --all-singles
    o.all_singles = true;
    o.alpha = 2;
    CHECK_THROWS_AS(run_score(o), tranova::usage_error);
    o.alpha = 0.6;
    o.model = "site-independent";
    CHECK_THROWS_WITH(run_score(o), Catch::Contains("needs --msa"));
    o.model = model_dir;
    o.all_singles = false;
    o.dms = d.write("bad.csv", "mutant\nK2A\nA99G\n");
    CHECK_THROWS_WITH(run_score(o), Catch::Contains("bad.csv:3") && Catch::Contains("outside"));
    CHECK_FALSE(fs::exists(o.out));
    o.skip_bad_rows = true;
    CHECK(run_score(o).num_variants == 1);
}

TEST_CASE("read_target takes a FASTA file or an upper-case literal", "[tranception][score_run]") {
    temp_dir d("score_run");
    CHECK(read_target(d.write("t.fa", ">a\nmkvl\nAAGIV\n>b\nWW\n"), "target") == "MKVLAAGIV");
    CHECK(read_target("MKVLAAGIV", "target") == "MKVLAAGIV");
    CHECK_THROWS_WITH(read_target("missing.fasta", "target"), Catch::Contains("no such file"));
    CHECK_THROWS_WITH(read_target("MKV", "target"), Catch::Contains("at least 8"));
    CHECK_THROWS_WITH(read_target("MKVLAAG1V", "target"), Catch::Contains("non-amino-acid character '1'"));
    CHECK_THROWS_WITH(read_target(d.path.string(), "target"), Catch::Contains("is a directory"));
}
