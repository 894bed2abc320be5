#include "denovo/preprocess.hpp"
#include "npy.hpp"

#include <catch2/catch.hpp>

using namespace tranova::denovo;

static const std::string kData = std::string(TRANOVA_TEST_DATA) + "/denovo/";

// Tolerance for the fixture comparison: m/z exact in float32 (cast of the same double);
// intensities 2e-6 relative (our L2 norm accumulates in double, numpy's in float32).
static void compare(const processed_peaks& got, const npy::array& want, size_t row, size_t len) {
    const size_t width = want.shape[1];
    REQUIRE(got.mz.size() == len);
    for (size_t k = 0; k < len; ++k) {
        CHECK(got.mz[k] == static_cast<float>(want.data[(row * width + k) * 2]));
        CHECK(got.intensity[k] == Approx(want.data[(row * width + k) * 2 + 1]).epsilon(2e-6));
    }
}

TEST_CASE("presets", "[denovo][preprocess]") {
    auto c = preprocess_options::casanovo();
    CHECK(c.min_mz == 50.0);
    CHECK(c.max_mz == 2500.0);
    CHECK(c.remove_precursor_tol == 2.0);
    CHECK(c.min_intensity == 0.01);
    CHECK(c.n_peaks == 150);
    auto p = preprocess_options::preset("primenovo");
    CHECK(p.min_mz == 1.0);
    CHECK(p.max_mz == 6500.0);
    CHECK(p.remove_precursor_tol == 1.0);
    CHECK(p.min_intensity == 0.0);
    CHECK(p.n_peaks == 800);
    CHECK(preprocess_options::preset("casanovo_v5").min_peaks == 20);
    CHECK_THROWS(preprocess_options::preset("nope"));
}

TEST_CASE("preprocessing matches Casanovo v4.2.1 and PrimeNovo on the raw TMT10 spectra", "[denovo][preprocess]") {
    read_options keep;
    keep.keep_chargeless = true;
    auto spectra = read_all_spectra(kData + "depthcharge_TMT10-Trial-8.mgf", keep);
    REQUIRE(spectra.size() == 7);
    auto raw = npy::load(kData + "preprocess_tmt10_raw_peaks.npy");
    auto raw_len = npy::load(kData + "preprocess_tmt10_raw_peaks_lengths.npy");
    auto cas = npy::load(kData + "preprocess_tmt10_casanovo_preprocessed.npy");
    auto cas_len = npy::load(kData + "preprocess_tmt10_casanovo_preprocessed_lengths.npy");
    auto pn = npy::load(kData + "preprocess_tmt10_primenovo_preprocessed.npy");
    auto pn_len = npy::load(kData + "preprocess_tmt10_primenovo_preprocessed_lengths.npy");
    for (size_t i = 0; i < 7; ++i) {
        INFO("spectrum " << i << " " << spectra[i].title);
        // Our reader gives the same raw peaks as the official one.
        REQUIRE(spectra[i].mz.size() == static_cast<size_t>(raw_len.data[i]));
        for (size_t k = 0; k < spectra[i].mz.size(); ++k) {
            CHECK(spectra[i].mz[k] == raw.data[(i * raw.shape[1] + k) * 2]);
            CHECK(spectra[i].intensity[k] == static_cast<float>(raw.data[(i * raw.shape[1] + k) * 2 + 1]));
        }
        // Casanovo reads the precursor m/z as float32 from its index.
        spectrum s = spectra[i];
        s.precursor_mz = static_cast<float>(s.precursor_mz);
        compare(preprocess(s, preprocess_options::casanovo()), cas, i, static_cast<size_t>(cas_len.data[i]));
        compare(preprocess(spectra[i], preprocess_options::primenovo()), pn, i, static_cast<size_t>(pn_len.data[i]));
    }
}

TEST_CASE("preprocessing matches the model pipelines on the Casanovo sample", "[denovo][preprocess]") {
    auto spectra = read_all_spectra(kData + "casanovo_v4.2.1_sample_preprocessed_spectra_massivekb_tokens.mgf");
    const size_t records[] = {0, 2, 7, 25, 56, 91, 110, 114};
    for (const char* model : {"casanovo", "primenovo"}) {
        auto want = npy::load(kData + model + "_spectra.npy");
        auto len = npy::load(kData + model + "_spectra_lengths.npy");
        auto prec = npy::load(kData + model + "_precursors.npy");
        for (size_t b = 0; b < 8; ++b) {
            INFO(model << " record " << records[b]);
            spectrum s = spectra[records[b]];
            REQUIRE(s.index == static_cast<long>(records[b]));
            if (std::string(model) == "casanovo") s.precursor_mz = static_cast<float>(s.precursor_mz);
            compare(preprocess(s, preprocess_options::preset(model)), want, b, static_cast<size_t>(len.data[b]));
            // [M, z, m/z] in float32 as prepare_batch computes it.
            const float mz32 = static_cast<float>(s.precursor_mz);
            const float m32 = (mz32 - 1.007276f) * static_cast<float>(s.charge);
            CHECK(m32 == static_cast<float>(prec.data[b * 3]));
            CHECK(s.charge == prec.data[b * 3 + 1]);
            CHECK(s.neutral_mass() == Approx(prec.data[b * 3]).epsilon(1e-6));
        }
    }
}

TEST_CASE("preprocessing steps by hand", "[denovo][preprocess]") {
    spectrum s;
    s.precursor_mz = 500.0;
    s.charge = 2;
    // unsorted input; 40 below the window, 3000 above; 500.5 and 999.5 near the precursor
    // at z=2 (500.0) and z=1 (998.99...); 700 is below 1 % of the maximum.
    s.mz = {800, 40, 500.5, 3000, 999.5, 600, 700};
    s.intensity = {400, 5, 150, 7, 9, 100, 3};
    preprocess_options o = preprocess_options::casanovo();
    auto p = preprocess(s, o);
    REQUIRE(p.mz == std::vector<float>{600, 800});
    CHECK(p.intensity[0] == Approx(std::sqrt(100.f) / std::sqrt(100.f + 400.f)));
    CHECK(p.intensity[1] == Approx(std::sqrt(400.f) / std::sqrt(100.f + 400.f)));
    // Overrides: keep the precursor peaks, only the 2 most intense.
    o.remove_precursor_tol = 0;
    o.n_peaks = 2;
    p = preprocess(s, o);
    CHECK(p.mz == std::vector<float>{500.5f, 800});
    // Everything filtered: the dummy spectrum.
    o.min_mz = 5000;
    o.max_mz = 6000;
    p = preprocess(s, o);
    CHECK(p.dummy);
    CHECK(p.mz == std::vector<float>{0});
    CHECK(p.intensity == std::vector<float>{1});
    o = preprocess_options::casanovo_v5();
    CHECK(preprocess(s, o).too_few);
}

TEST_CASE("non-finite and negative intensities", "[denovo][preprocess]") {
    spectrum s;
    s.precursor_mz = 500;
    s.charge = 2;
    s.mz = {100, 200, 300, NAN};
    s.intensity = {4, NAN, -1, 9};
    auto p = preprocess(s, preprocess_options::primenovo());
    REQUIRE(p.mz == std::vector<float>{100});
    CHECK(p.intensity == std::vector<float>{1});
    s.intensity = {-4, NAN, -1, 9};
    CHECK(preprocess(s, preprocess_options::casanovo()).dummy);
}
