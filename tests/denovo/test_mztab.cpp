#include "denovo/mztab.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace tranova::denovo;

TEST_CASE("mzTab write and read back", "[denovo][mztab]") {
    auto dir = std::filesystem::temp_directory_path() / ("tranova_mztab_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string path = (dir / "out.mztab").string();
    mztab_metadata meta;
    meta.software_version = "0.1.0";
    meta.ms_runs = {"/data/a.mgf"};
    meta.settings = {{"n_beams", "5"}, {"precursor_mass_tol", "50"}};
    {
        mztab_writer w(path, meta);
        psm p;
        p.tokens = parse_peptide("+42.011PEPTM+15.995K");
        p.score = 0.875;
        p.charge = 2;
        p.exp_mz = 500.25;
        p.index = 3;
        p.aa_scores = {0.5, 0.25, 1, 0.125, 0.75, 0.5, 0.1};
        p.title = "spec 3";
        w.add(p);
        psm q;
        q.tokens = parse_peptide("LLK");
        q.score = -0.5;
        q.charge = 3;
        q.exp_mz = 123.0;
        q.scan = 77;
        w.add(q);
        w.commit();
    }
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    const std::string text = ss.str();
    CHECK(text.find("MTD\tmzTab-version\t1.0.0\n") == 0);
    CHECK(text.find("MTD\tfixed_mod[1]\t[UNIMOD, UNIMOD:4, Carbamidomethyl, ]\nMTD\tfixed_mod[1]-site\tC\n") !=
          std::string::npos);
    CHECK(text.find("MTD\tvariable_mod[1]\t[UNIMOD, UNIMOD:35, Oxidation, ]\nMTD\tvariable_mod[1]-site\tM\n") !=
          std::string::npos);
    CHECK(text.find("[CHEMMOD, CHEMMOD:+25.980265, , ]") != std::string::npos);
    CHECK(text.find("MTD\tsoftware[1]-setting[1]\tn_beams = 5\n") != std::string::npos);
    CHECK(text.find("MTD\tms_run[1]-location\tfile:///data/a.mgf\n") != std::string::npos);
    CHECK(text.find("PSM\t+42.011PEPTM+15.995K\t1\tnull\tnull\tnull\tnull\t[MS, MS:1003281, tranova, 0.1.0]\t0.875\tnull\tnull\t2\t500.25\t") != std::string::npos);
    CHECK(text.find("ms_run[1]:index=3\tnull\tnull\tnull\tnull\t0.50000,0.25000,1.00000,0.12500,0.75000,0.50000,0.10000\t[Acetyl]-PEPTM[Oxidation]K\tspec 3\n") != std::string::npos);
    CHECK(text.find("ms_run[1]:scan=77") != std::string::npos);

    auto f = read_mztab(path);
    REQUIRE(f.psms.size() == 2);
    CHECK(f.ms_runs == std::vector<std::string>{"/data/a.mgf"});
    CHECK(f.psms[0].tokens == parse_peptide("+42.011PEPTM+15.995K"));
    CHECK(f.psms[0].score == 0.875);
    CHECK(f.psms[0].charge == 2);
    CHECK(f.psms[0].index == 3);
    CHECK(f.psms[0].title == "spec 3");
    CHECK(f.psms[0].aa_scores.size() == 7);
    CHECK(f.psms[0].calc_mz == Approx(peptide_mz(parse_peptide("+42.011PEPTM+15.995K"), 2)).margin(1e-9));
    CHECK(f.psms[1].scan == 77);
    CHECK(f.psms[1].index == -1);
    CHECK(f.psms[1].title.empty());
    std::filesystem::remove_all(dir);
}

TEST_CASE("mzTab reader accepts Casanovo v4 and v5 files", "[denovo][mztab]") {
    auto dir = std::filesystem::temp_directory_path() / ("tranova_mztab_cas_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const std::string v4 = (dir / "v4.mztab").string(), v5 = (dir / "v5.mztab").string();
    std::ofstream(v4) << "MTD\tmzTab-version\t1.0.0\n"
                         "MTD\tms_run[1]-location\tfile:///x/sample.mgf\n"
                         "PSH\tsequence\tPSM_ID\taccession\tunique\tdatabase\tdatabase_version\tsearch_engine\tsearch_engine_score[1]\tmodifications\tretention_time\tcharge\texp_mass_to_charge\tcalc_mass_to_charge\tspectra_ref\tpre\tpost\tstart\tend\topt_ms_run[1]_aa_scores\n"
                         "PSM\tLERPFVHLM+15.995VFLGGSGR\t1\tnull\tnull\tnull\tnull\t[MS, MS:1003281, Casanovo, 4.2.1]\t0.95\tnull\tnull\t3.0\t712.03\t712.03\tms_run[1]:index=12\tnull\tnull\tnull\tnull\t0.9,0.8\n";
    std::ofstream(v5) << "MTD\tmzTab-version\t1.0.0\n"
                         "PSH\tsequence\tPSM_ID\taccession\tunique\tdatabase\tdatabase_version\tsearch_engine\tsearch_engine_score[1]\tmodifications\tretention_time\tcharge\texp_mass_to_charge\tcalc_mass_to_charge\tspectra_ref\tpre\tpost\tstart\tend\topt_global_aa_scores\topt_global_cv_MS:1003169_proforma_peptidoform_sequence\n"
                         "PSM\tPEPTMK\t1\tnull\tnull\tnull\tnull\t[MS, MS:1003281, Casanovo, 5.2.0]\t0.5\t5-Oxidation (M):UNIMOD:35\tnull\t2\t400\t400\tms_run[1]:scan=5\tnull\tnull\tnull\tnull\t0.9\t[Acetyl]-PEPTM[Oxidation]K\n"
                         "PSM\tPEPCK\t2\tnull\tnull\tnull\tnull\t[MS, MS:1003281, Casanovo, 5.2.0]\t0.5\tnull\tnull\t2\t400\t400\tms_run[1]:scan=6\tnull\tnull\tnull\tnull\tnull\tPEPCK\n";
    auto a = read_mztab(v4);
    REQUIRE(a.psms.size() == 1);
    CHECK(a.psms[0].tokens == split_tokens("LERPFVHLM+15.995VFLGGSGR"));
    CHECK(a.psms[0].charge == 3);
    CHECK(a.psms[0].index == 12);
    CHECK(a.ms_runs[0] == "/x/sample.mgf");
    auto b = read_mztab(v5);
    REQUIRE(b.psms.size() == 2);
    CHECK(b.psms[0].tokens == parse_peptide("+42.011PEPTM+15.995K"));
    CHECK(b.psms[0].scan == 5);
    CHECK(b.psms[1].tokens == split_tokens("PEPCK"));  // plain C: kept as an unknown token

    const std::string bad = (dir / "bad.mztab").string();
    std::ofstream(bad) << "PSH\tsequence\tspectra_ref\nPSM\tPEPK\n";
    CHECK_THROWS_WITH(read_mztab(bad), Catch::Contains("bad.mztab:2") && Catch::Contains("2 fields"));
    std::filesystem::remove_all(dir);
}
