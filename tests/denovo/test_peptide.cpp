#include "denovo/peptide.hpp"
#include "denovo/spectrum.hpp"
#include "util/error.hpp"

#include <catch2/catch.hpp>

#include <cmath>

using namespace tranova::denovo;

static const std::string kData = std::string(TRANOVA_TEST_DATA) + "/denovo/";

TEST_CASE("vocabulary: MassIVE-KB tokens and masses", "[denovo][peptide]") {
    const auto& v = vocabulary::massivekb();
    REQUIRE(v.size() == 27);
    CHECK(v.index("G") == 0);
    CHECK(v.index("+43.006-17.027") == 26);
    CHECK(*v.mass("C+57.021") == Approx(160.030649).margin(1e-9));
    CHECK(*v.mass("-17.027") == Approx(-17.026549).margin(1e-9));
    CHECK(*v.mass("+43.006-17.027") == Approx(25.980265).margin(1e-9));
    CHECK(*v.mass("I") == *v.mass("L"));
    CHECK_FALSE(v.mass("C").has_value());
    CHECK(v.mass_or_zero("X") == 0);
    CHECK(v.find('M', 15.995) == v.index("M+15.995"));
    CHECK(v.find(0, 42.01) == v.index("+42.011"));
}

TEST_CASE("split_tokens follows Casanovo's regex", "[denovo][peptide]") {
    CHECK(split_tokens("+42.011FMK") == peptide{"+42.011", "F", "M", "K"});
    CHECK(split_tokens("+43.006-17.027QLLK") == peptide{"+43.006-17.027", "Q", "L", "L", "K"});
    CHECK(split_tokens("C+57.021GHM+15.995") == peptide{"C+57.021", "G", "H", "M+15.995"});
    CHECK(split_tokens("PE+42.011PK") == peptide{"P", "E+42.011", "P", "K"});
    CHECK(split_tokens("").empty());
    CHECK(split_tokens("LIK", true) == peptide{"L", "L", "K"});
}

TEST_CASE("parse_peptide reads Casanovo tokens, ProForma and DeepNovo style alike", "[denovo][peptide]") {
    const peptide want{"+42.011", "C+57.021", "M+15.995", "N+0.984", "Q+0.984", "K"};
    CHECK(parse_peptide("+42.011C+57.021M+15.995N+0.984Q+0.984K") == want);
    CHECK(parse_peptide("[Acetyl]-C[Carbamidomethyl]M[Oxidation]N[Deamidated]Q[Deamidated]K") == want);
    CHECK(parse_peptide("[UNIMOD:1]-C[UNIMOD:4]M[UNIMOD:35]N[UNIMOD:7]Q[UNIMOD:7]K") == want);
    CHECK(parse_peptide("[+42.011]-C[+57.021]M[+15.995]N[+0.984]Q[+0.984]K") == want);
    CHECK(parse_peptide("(+42.01)C(+57.02)M(+15.99)N(+.98)Q(+.98)K") == want);
    CHECK(parse_peptide("[+25.980265]-QLLK") == peptide{"+43.006-17.027", "Q", "L", "L", "K"});
    CHECK(parse_peptide("[Carbamyl][Ammonia-loss]-QLLK") == peptide{"+43.006-17.027", "Q", "L", "L", "K"});
    CHECK(parse_peptide("Q[Gln->pyro-Glu]PEK") == peptide{"-17.027", "Q", "P", "E", "K"});
    CHECK(parse_peptide("pyro-QPEK") == peptide{"-17.027", "Q", "P", "E", "K"});
    CHECK(parse_peptide("PEPTIDE", vocabulary::massivekb(), true) == peptide{"P", "E", "P", "T", "L", "D", "E"});
    CHECK_THROWS_AS(parse_peptide("PEPCK"), tranova::error);      // plain C is not in the alphabet
    CHECK_THROWS_AS(parse_peptide("PEPXK"), tranova::error);
    CHECK_THROWS_AS(parse_peptide("PEPM[Phospho]K"), tranova::error);
    CHECK_THROWS_AS(parse_peptide("PEP[Oxidation"), tranova::error);
    peptide p;
    std::string why;
    CHECK_FALSE(try_parse_peptide("PEPS[+79.966]K", p, &why));
    CHECK(why.find("S") != std::string::npos);
}

TEST_CASE("peptide writers", "[denovo][peptide]") {
    const peptide p = parse_peptide("+42.011PEPC+57.021M+15.995K");
    CHECK(to_casanovo(p) == "+42.011PEPC+57.021M+15.995K");
    CHECK(to_proforma(p) == "[Acetyl]-PEPC[Carbamidomethyl]M[Oxidation]K");
    CHECK(to_proforma(p, proforma_style::unimod) == "[UNIMOD:1]-PEPC[UNIMOD:4]M[UNIMOD:35]K");
    CHECK(to_proforma(p, proforma_style::mass) == "[+42.011]-PEPC[+57.021]M[+15.995]K");
    CHECK(to_plain(p) == "PEPCMK");
    const peptide q = parse_peptide("+43.006-17.027QLLK");
    CHECK(to_proforma(q) == "[+25.980265]-QLLK");
    CHECK(parse_peptide(to_proforma(q)) == q);
    CHECK(parse_peptide(to_proforma(p)) == p);
    CHECK(parse_peptide(to_proforma(p, proforma_style::unimod)) == p);
    CHECK(parse_peptide(to_proforma(p, proforma_style::mass)) == p);
}

TEST_CASE("masses, m/z and ppm error", "[denovo][peptide]") {
    const peptide p = parse_peptide("PEPTIDEK");
    const double residues = 97.052764 * 2 + 129.042593 * 2 + 101.047670 + 113.084064 + 115.026943 + 128.094963;
    CHECK(residue_mass_sum(p) == Approx(residues).margin(1e-9));
    CHECK(peptide_neutral_mass(p) == Approx(residues + 18.0105647).margin(1e-9));
    CHECK(peptide_mz(p, 2) == Approx((residues + 18.0105647) / 2 + 1.00727646688).margin(1e-9));
    CHECK(precursor_neutral_mass(500.0, 2) == Approx((500.0 - 1.007276) * 2).margin(1e-12));
    const double calc = peptide_mz(p, 2);
    CHECK(precursor_ppm_error(calc, calc, 2) == Approx(0).margin(1e-9));
    // Observed one C13 peak up: isotope 1 fits, isotope 0 does not.
    const double obs = calc + 1.00335 / 2;
    CHECK(std::fabs(precursor_ppm_error(calc, obs, 2, 0)) > 1000);
    CHECK(precursor_ppm_error(calc, obs, 2, 1) == Approx(0).margin(1e-6));
    CHECK(precursor_fits(calc, obs, 2, 50, 0, 1));
    CHECK_FALSE(precursor_fits(calc, obs, 2, 50, 0, 0));
    CHECK_THROWS_AS(peptide_mz(parse_peptide("PEK"), 0), tranova::error);
}

// Every annotated spectrum of the shared files matches its precursor within 10 ppm.
static void check_annotated_file(const std::string& name, size_t expected) {
    read_stats st;
    auto spectra = read_all_spectra(kData + name, {}, &st);
    REQUIRE(spectra.size() == expected);
    CHECK(st.skipped == 0);
    double worst = 0;
    for (const auto& s : spectra) {
        INFO(name << " TITLE=" << s.title << " SEQ=" << s.seq);
        REQUIRE_FALSE(s.seq.empty());
        peptide p = parse_peptide(s.seq);
        double ppm = std::fabs(precursor_ppm_error(peptide_mz(p, s.charge), s.precursor_mz, s.charge));
        CHECK(ppm < 10.0);
        worst = std::max(worst, ppm);
    }
    WARN(name << ": worst precursor error " << worst << " ppm");
}

TEST_CASE("annotated spectra match their precursors within 10 ppm", "[denovo][peptide][data]") {
    check_annotated_file("casanovo_v4.2.1_sample_preprocessed_spectra_massivekb_tokens.mgf", 128);
    check_annotated_file("casanovo_v5_sample_preprocessed_spectra_proforma.mgf", 128);
    check_annotated_file("ms2pip_massivekb_selected_500.annotated_massivekb_tokens.mgf", 500);
}

TEST_CASE("both annotation styles parse to the same peptides", "[denovo][peptide][data]") {
    auto v4 = read_all_spectra(kData + "casanovo_v4.2.1_sample_preprocessed_spectra_massivekb_tokens.mgf");
    auto v5 = read_all_spectra(kData + "casanovo_v5_sample_preprocessed_spectra_proforma.mgf");
    REQUIRE(v4.size() == v5.size());
    int n_modified = 0;
    for (size_t i = 0; i < v4.size(); ++i) {
        INFO(v4[i].seq << " vs " << v5[i].seq);
        peptide a = parse_peptide(v4[i].seq), b = parse_peptide(v5[i].seq);
        CHECK(a == b);
        CHECK(to_casanovo(b) == v4[i].seq);
        CHECK(to_proforma(a) == v5[i].seq);
        n_modified += v4[i].seq != v5[i].seq;
    }
    CHECK(n_modified > 20);
}
