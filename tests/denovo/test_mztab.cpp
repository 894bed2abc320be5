#include "denovo/eval_report.hpp"
#include "denovo/mztab.hpp"
#include "util/error.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

using namespace tranova::denovo;

TEST_CASE("mzTab write and read back", "[denovo][mztab]") {
    const tranova::test::temp_dir tmp("mztab");
    const std::filesystem::path& dir = tmp.path;
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
}

TEST_CASE("mzTab reader accepts Casanovo v4 and v5 files", "[denovo][mztab]") {
    const tranova::test::temp_dir tmp("mztab_cas");
    const std::filesystem::path& dir = tmp.path;
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
    // a second PSH row (its columns would index past the first header's rows)
    std::ofstream(bad) << "PSH\tsequence\tspectra_ref\tcharge\nPSH\tsequence\tspectra_ref\nPSM\tPEPK\tms_run[1]:index=1\n";
    CHECK_THROWS_WITH(read_mztab(bad), Catch::Contains("bad.mztab:2: a second PSH header row"));
}

// Casanovo v4.2.1's own PSM rows (casanovo_trained fixture model, n_beams 1) for MGF records
// 0,2,7,25,56,91,110,114 of the sample: our calc m/z equals Casanovo's PeptideMass to 1e-9,
// and an mzTab in Casanovo's layout evaluates against the sample MGF.
TEST_CASE("Casanovo's PSM rows: masses and evaluation of a Casanovo mzTab", "[denovo][mztab]") {
    struct row {
        long index;
        const char* seq;
        double score;
        int charge;
        double exp_mz, calc_mz;
    };
    const row rows[] = {
        {0, "LAHYNKR", 0.9891378954052925, 2, 451.25347900390625, 451.25376881688004},
        {2, "C+57.021GHTNNLRPK", 0.9899987253275785, 2, 598.800537109375, 598.80128431688},
        {7, "HNSYTC+57.021EATHK", 0.9906987398862839, 3, 449.86273193359375, 449.86305370021336},
        {25, "GDTPGHATPGHGGATSSAR", 0.9902429342269897, 2, 867.4004516601562, 867.4011258168799},
        {56, "TN+0.984GTTEEQTEAK", 0.9848725933295029, 2, 655.2908325195312, 655.2913193168799},
        {91, "HQGVM+15.995VGM+15.995GQK", 0.9849748214085897, 2, 602.2880859375, 602.28408431688},
        {110, "GHVEC+57.021LK", 0.9907511845231056, 2, 421.7118835449219, 421.71308831688003},
        {114, "SQKPVVVK", 0.9904909729957581, 2, 442.78155517578125, 442.78182781687997},
    };
    for (const auto& r : rows) CHECK(peptide_mz(parse_peptide(r.seq), r.charge) == Approx(r.calc_mz).margin(1e-9));

    const tranova::test::temp_dir tmp("mztab_eval");
    const std::filesystem::path& dir = tmp.path;
    const std::string path = (dir / "casanovo.mztab").string();
    {
        std::ofstream f(path);
        f << "MTD\tmzTab-version\t1.0.0\nMTD\tms_run[1]-location\tfile:///sample.mgf\n"
             "PSH\tsequence\tPSM_ID\taccession\tunique\tdatabase\tdatabase_version\tsearch_engine\t"
             "search_engine_score[1]\tmodifications\tretention_time\tcharge\texp_mass_to_charge\t"
             "calc_mass_to_charge\tspectra_ref\tpre\tpost\tstart\tend\topt_ms_run[1]_aa_scores\n";
        int k = 0;
        for (const auto& r : rows)
            f << "PSM\t" << r.seq << "\t" << ++k << "\tnull\tnull\tnull\tnull\t[MS, MS:1003281, Casanovo, 4.2.1]\t"
              << r.score << "\tnull\tnull\t" << r.charge << ".0\t" << r.exp_mz << "\t" << r.calc_mz
              << "\tms_run[1]:index=" << r.index << "\tnull\tnull\tnull\tnull\tnull\n";
    }
    auto preds = read_predictions(path);
    REQUIRE(preds.size() == 8);
    pairing_stats ps;
    auto evals = pair_predictions(std::string(TRANOVA_TEST_DATA) +
                                      "/denovo/casanovo_v4.2.1_sample_preprocessed_spectra_massivekb_tokens.mgf",
                                  preds, ps);
    CHECK(ps.truth_records == 128);
    CHECK(ps.unmatched_predictions == 0);
    auto s = evaluate(evals);
    CHECK(s.n_predicted == 8);
    CHECK(s.n_peptide_matched == 8);  // I/L predicted as L still match
    CHECK(s.peptide_precision == 1.0);
    CHECK(s.peptide_recall == Approx(8.0 / 128));
    CHECK(s.aa_precision == 1.0);
    CHECK(evals[0].title == "0");
    CHECK(evals[0].has_prediction);
    CHECK_FALSE(evals[1].has_prediction);
}
