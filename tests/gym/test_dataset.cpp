// The gym HDF5 dataset: mutant parsing, ingest validation, the official merge rules of
// `add` (directionality, duplicate averaging, strict-subset drop, left join), the
// transactional add (a failed add leaves the file as it was) and pandas-style number
// formatting of the reports.
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include "gym/dataset.hpp"
#include "gym/report.hpp"
#include "util/error.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>

using namespace tranova;
using namespace tranova::gym;
namespace fs = std::filesystem;

using tranova::test::temp_dir;

namespace {


void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
}

// Two tiny assays on target "MKTAYIAK" (8 aa).
void make_inputs(const temp_dir& d) {
    fs::create_directories(d / "assays");
    write(d / "ref.csv",
          "DMS_id,DMS_filename,UniProt_ID,taxon,target_seq,includes_multiple_mutants,DMS_total_number_mutants,"
          "DMS_binarization_cutoff,MSA_Neff_L_category,coarse_selection_type,title\n"
          "A1,A1.csv,P1,Human,MKTAYIAK,TRUE,4,0.5,medium,Activity,\"a title, with a comma\"\n"
          "B1,B1.csv,P2,Virus,MKTAYIAK,FALSE,3,0.0,low,Stability,t\n");
    write(d / "assays/A1.csv",
          "mutant,mutated_sequence,DMS_score,DMS_score_bin\n"
          "M1A,AKTAYIAK,0.1,0\nK2E,METAYIAK,0.9,1\nT3A:Y5F,MKAAFIAK,0.5,1\nA7G,MKTAYIGK,-1,0\n");
    write(d / "assays/B1.csv",
          "mutant,mutated_sequence,DMS_score,DMS_score_bin\n"
          "M1A,AKTAYIAK,1,1\nK2E,METAYIAK,-1,0\nI6V,MKTAYVAK,0.2,1\n");
}

}  // namespace

TEST_CASE("apply_mutant validates against the target sequence", "[gym][dataset]") {
    std::string out;
    CHECK(apply_mutant(out, "MKTAYIAK", "K2E:A7G", "f:1") == 2);
    CHECK(out == "METAYIGK");
    CHECK_THROWS_WITH(apply_mutant(out, "MKTAYIAK", "Q2E", "f:3"), Catch::Contains("f:3") && Catch::Contains("expects wild-type Q at position 2 but target_seq has K"));
    CHECK_THROWS_WITH(apply_mutant(out, "MKTAYIAK", "K20E", "f:4"), Catch::Contains("outside target_seq"));
    CHECK_THROWS_WITH(apply_mutant(out, "MKTAYIAK", "2E", "f:5"), Catch::Contains("malformed mutant"));
}

TEST_CASE("format_value writes numbers as pandas does", "[gym][report]") {
    CHECK(format_value(0.22) == "0.22");
    CHECK(format_value(1.0) == "1.0");
    CHECK(format_value(0.0) == "0.0");
    CHECK(format_value(-0.018) == "-0.018");
    CHECK(format_value(std::nan("")).empty());
}

TEST_CASE("ingest, add with the official merge rules, read back", "[gym][dataset]") {
    temp_dir d("gym_test");
    make_inputs(d);
    ingest_options io;
    io.reference = d / "ref.csv";
    io.assays_dir = d / "assays";
    io.output = d / "g.h5";
    auto rep = gym_ingest(io);
    CHECK(rep.n_assays == 2);
    CHECK(rep.n_variants == 7);
    CHECK(rep.mutation_type == "substitutions");
    {
        gym_file f(d / "g.h5");
        REQUIRE(f.assay_ids() == std::vector<std::string>{"A1", "B1"});
        auto a = f.read_assay("A1");
        CHECK(a.info.msa_depth == "Medium");  // capitalised as the official script does
        CHECK(a.info.function == "Activity");
        CHECK(a.y == std::vector<double>{0.1, 0.9, 0.5, -1});
        CHECK(a.depth == std::vector<int8_t>{1, 1, 2, 1});
        CHECK(f.read_strings("A1", "mutated_sequence")[2] == "MKAAFIAK");
        CHECK(f.models().empty());
    }
    // Scores for A1: duplicate (K2E twice, different values -> averaged), direction -1.
    // Scores for B1: only 2 of its 3 variants -> strict subset -> dropped for B1.
    write(d / "scores.csv",
          "DMS_id,mutant,avg_score\nA1,M1A,1\nA1,K2E,2\nA1,K2E,4\nA1,K2E,4\nA1,T3A:Y5F,3\nA1,A7G,0\n"
          "B1,M1A,1\nB1,K2E,2\n");
    add_options ao;
    ao.file = d / "g.h5";
    ao.model = "m1";
    ao.scores = d / "scores.csv";
    ao.directionality = -1;
    auto ar = gym_add(ao);
    CHECK(ar.n_assays_added == 1);
    REQUIRE(ar.subset.size() == 1);
    CHECK(ar.subset[0] == "B1 (2 of 3 variants)");
    CHECK(ar.n_duplicates_averaged == 1);
    {
        gym_file f(d / "g.h5");
        REQUIRE(f.models() == std::vector<std::string>{"m1"});
        std::vector<double> s(4);
        REQUIRE(f.read_predictions("m1", "A1", s.data(), 4));
        // (4, 4) is an exact duplicate row: dropped before averaging (2 + 4) / 2.
        CHECK(s == std::vector<double>{-1, -3, -3, -0.0});
        CHECK_FALSE(f.read_predictions("m1", "B1", s.data(), 3));
        CHECK(f.model_attr("m1", "directionality") == "-1");
    }
    // A failing add (bad number) leaves the file as it was.
    write(d / "bad.csv", "DMS_id,mutant,avg_score\nA1,M1A,1\nA1,K2E,x\n");
    ao.model = "m2";
    ao.scores = d / "bad.csv";
    CHECK_THROWS_WITH(gym_add(ao), Catch::Contains("bad.csv:3") && Catch::Contains("not a number"));
    // Same name again without --replace is refused; with replace it works.
    ao.model = "m1";
    ao.scores = d / "scores.csv";
    CHECK_THROWS_WITH(gym_add(ao), Catch::Contains("already has predictions"));
    ao.replace = true;
    ao.directionality = 1;
    CHECK(gym_add(ao).n_assays_added == 1);
    gym_file f(d / "g.h5");
    CHECK(f.models() == std::vector<std::string>{"m1"});
    std::vector<double> s(4);
    REQUIRE(f.read_predictions("m1", "A1", s.data(), 4));
    CHECK(s[0] == 1);
}

TEST_CASE("ingest refuses inconsistent assays and writes nothing", "[gym][dataset]") {
    temp_dir d("gym_test");
    make_inputs(d);
    ingest_options io;
    io.reference = d / "ref.csv";
    io.assays_dir = d / "assays";
    io.output = d / "g.h5";
    write(d / "assays/B1.csv", "mutant,mutated_sequence,DMS_score,DMS_score_bin\nM1A,AKTAYIAK,1,1\nK2E,MKTAYIAK,2,0\n");
    CHECK_THROWS_WITH(gym_ingest(io), Catch::Contains("B1.csv:3") && Catch::Contains("does not match"));
    CHECK_FALSE(fs::exists(d / "g.h5"));
    write(d / "assays/B1.csv", "mutant,DMS_score,DMS_score_bin\nM1A,1,1\n");
    CHECK_THROWS_WITH(gym_ingest(io), Catch::Contains("missing column 'mutated_sequence'"));
    fs::remove(d / "assays/B1.csv");
    CHECK_THROWS_WITH(gym_ingest(io), Catch::Contains("--only-present"));
    io.only_present = true;
    auto rep = gym_ingest(io);
    CHECK(rep.n_assays == 1);
    CHECK(rep.missing == std::vector<std::string>{"B1"});
    for (const auto& e : fs::directory_iterator(d.path)) CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("eval end to end on a tiny file", "[gym][report]") {
    temp_dir d("gym_test");
    make_inputs(d);
    ingest_options io;
    io.reference = d / "ref.csv";
    io.assays_dir = d / "assays";
    io.output = d / "g.h5";
    gym_ingest(io);
    write(d / "s.csv", "DMS_id,mutant,avg_score\nA1,M1A,0.1\nA1,K2E,0.9\nA1,T3A:Y5F,0.5\nA1,A7G,-1\n"
                       "B1,M1A,1\nB1,K2E,-1\nB1,I6V,0.2\n");
    add_options ao;
    ao.file = d / "g.h5";
    ao.model = "perfect";
    ao.scores = d / "s.csv";
    gym_add(ao);
    gym_file f(d / "g.h5");
    eval_options eo;
    eo.boot.replicates = 100;
    auto r = gym_evaluate(f, eo);
    REQUIRE(r.models.size() == 1);
    CHECK(r.per_assay[m_spearman][0] == 1.0);
    CHECK(r.per_assay[m_auc][0] == 1.0);
    CHECK(r.summary[m_spearman].average[0] == 1.0);
    CHECK(r.summary[m_spearman].bootstrap_se[0] == 0.0);  // the top model itself
    write_report(r, d / "report", eo);
    CHECK(fs::exists(d / "report/Spearman/Summary_performance_DMS_substitutions_Spearman.csv"));
    CHECK(fs::exists(d / "report/summary.md"));
}

TEST_CASE("indel assays: keyed on mutated_sequence, no depth breakdown", "[gym][dataset]") {
    temp_dir d("gym_test");
    fs::create_directories(d / "assays");
    write(d / "ref.csv",
          "DMS_id,DMS_filename,UniProt_ID,taxon,target_seq,MSA_Neff_L_category,coarse_selection_type\n"
          "I1,I1.csv,P1,Human,MKTAYIAK,high,Stability\n");
    write(d / "assays/I1.csv",
          "mutated_sequence,DMS_score,DMS_score_bin\nMKTAYIA,0.1,0\nMKTAAYIAK,0.9,1\nMKAYIAK,0.5,1\n"
          "MKTAYIAKG,-1,0\n");
    ingest_options io;
    io.reference = d / "ref.csv";
    io.assays_dir = d / "assays";
    io.output = d / "g.h5";
    CHECK(gym_ingest(io).mutation_type == "indels");
    write(d / "s.csv", "DMS_id,sequence,avg_score\nI1,MKTAYIA,1\nI1,MKTAAYIAK,4\nI1,MKAYIAK,3\nI1,MKTAYIAKG,0\n");
    add_options ao;
    ao.file = d / "g.h5";
    ao.model = "m";
    ao.scores = d / "s.csv";
    CHECK(gym_add(ao).n_assays_added == 1);
    gym_file f(d / "g.h5");
    eval_options eo;
    eo.boot.replicates = 10;
    auto r = gym_evaluate(f, eo);
    CHECK(r.mutation_type == "indels");
    CHECK(r.depth[0].empty());
    CHECK(r.per_assay[m_auc][0] == 1.0);
    write_report(r, d / "report", eo);
    CHECK(fs::exists(d / "report/AUC/Summary_performance_DMS_indels_AUC.csv"));
}
