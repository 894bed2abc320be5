// The sequencer behind `tranova denovo sequence`: option checks, decoder defaults, the
// parallel chunk decoder equal to decoding one spectrum at a time (whatever the group
// size), and a whole run to an mzTab.
#include "denovo/mztab.hpp"
#include "denovo/preprocess.hpp"
#include "denovo/spectrum.hpp"
#include "denovo_model/sequencer.hpp"
#include "denovo_model/tensors.hpp"
#include "util/error.hpp"

#include "temp_dir.hpp"
#include "test_util.hpp"

#include <filesystem>

using namespace tranova::denovo_model;
namespace dn = tranova::denovo;
namespace fs = std::filesystem;

namespace {

// The trained fixture checkpoint as a weight file in a temporary folder.
struct fixture_weights {
    tranova::test::temp_dir tmp;
    const fs::path& dir = tmp.path;
    std::string path = tmp / "m.h5";
    fixture_weights(const std::string& prefix, model_arch arch) : tmp("sequencer_" + prefix) {
        write_weight_file(path, weights_from_state_dict(read_checkpoint_tensors(dm_data(prefix + "_tiny.ckpt")), arch, 4));
    }
};

std::vector<dn::spectrum> sample_spectra(int max_charge) {
    dn::read_options ro;
    ro.max_charge = max_charge;
    auto r = dn::open_spectra(dm_data("sample16.mgf"), ro);
    std::vector<dn::spectrum> v;
    dn::spectrum s;
    while (r->next(s)) v.push_back(s);
    return v;
}

// Same peptides; scores equal within `tol`. Batched matrix products over a group's spectra
// and beams, and threaded BLAS, round differently (float32 sums, ~1e-7 relative).
void check_same(const std::vector<decoded_spectrum>& a, const std::vector<decoded_spectrum>& b, double tol) {
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        INFO("spectrum " << i);
        CHECK(a[i].ok == b[i].ok);
        CHECK(a[i].error == b[i].error);
        CHECK(a[i].tokens == b[i].tokens);
        CHECK(std::abs(a[i].score - b[i].score) <= tol);
        REQUIRE(a[i].aa_scores.size() == b[i].aa_scores.size());
        for (size_t k = 0; k < a[i].aa_scores.size(); ++k) CHECK(std::abs(a[i].aa_scores[k] - b[i].aa_scores[k]) <= tol);
    }
}

}  // namespace

TEST_CASE("make_sequencer checks options and takes defaults from the model", "[denovo_model][sequencer]") {
    fixture_weights w("casanovo_trained", model_arch::casanovo);
    sequence_options o;
    o.model = w.path;
    o.beam = 0;
    CHECK_THROWS_AS(make_sequencer(o), tranova::usage_error);
    o.beam = 1;
    o.isotope = std::make_pair(2, 1);
    CHECK_THROWS_AS(make_sequencer(o), tranova::usage_error);
    o.isotope.reset();
    o.preset = "bogus";
    CHECK_THROWS_AS(make_sequencer(o), tranova::usage_error);
    o.preset.clear();

    sequencer sq = make_sequencer(o);
    CHECK(sq.kind == decoder_kind::ar);
    CHECK(sq.beam.isotope_min == sq.model.cfg.isotope_min);
    CHECK(sq.beam.isotope_max == sq.model.cfg.isotope_max);
    CHECK(sq.beam.precursor_mass_tol == sq.model.cfg.precursor_mass_tol);
    CHECK(sq.preset == sq.model.cfg.preset);

    o.precursor_tol = 20;
    o.isotope = std::make_pair(0, 2);
    sq = make_sequencer(o);
    CHECK(sq.beam.precursor_mass_tol == 20);
    CHECK(sq.beam.isotope_max == 2);

    o.decoder = decoder_kind::nar;
    CHECK_THROWS_WITH(make_sequencer(o), Catch::Contains("has no NAR decoder"));
    o.decoder = decoder_kind::hybrid;
    CHECK_THROWS_WITH(make_sequencer(o), Catch::Contains("needs a crossnovo"));
    CHECK(default_decoder(model_arch::primenovo) == decoder_kind::nar);
    CHECK(default_decoder(model_arch::crossnovo) == decoder_kind::hybrid);
}

TEST_CASE("decode_chunk equals decoding spectra one by one", "[denovo_model][sequencer]") {
    SECTION("NAR (CTC beam search + precise mass control)") {
        fixture_weights w("primenovo_trained", model_arch::primenovo);
        sequence_options o;
        o.model = w.path;
        sequencer sq = make_sequencer(o);
        REQUIRE(sq.kind == decoder_kind::nar);
        auto spectra = sample_spectra(sq.model.cfg.max_charge);
        REQUIRE(spectra.size() >= 8);
        auto chunk = decode_chunk(sq, spectra);
        std::vector<decoded_spectrum> one;
        for (const auto& s : spectra) {
            dn::processed_peaks pk;
            dn::preprocess(s, sq.prep, pk);
            one.push_back(decode_nar(sq.model, encode_spectrum(sq.model, pk, s), sq.ctc_beam, sq.pmc));
        }
        // a group's spectra are encoded and NAR-decoded together (rows of several spectra,
        // zero-padded, in each matrix product): float32 sums round differently (~1e-6)
        check_same(chunk, one, 1e-5);
        size_t ok = 0;
        for (const auto& r : chunk) ok += r.ok;
        CHECK(ok == spectra.size());
    }
    SECTION("AR beam search: groups of 1 and of 3 in lockstep give the same peptides and scores") {
        fixture_weights w("casanovo_trained", model_arch::casanovo);
        sequence_options o;
        o.model = w.path;
        o.beam = 3;
        o.group = 1;
        sequencer sq = make_sequencer(o);
        auto spectra = sample_spectra(sq.model.cfg.max_charge);
        auto a = decode_chunk(sq, spectra);
        sq.group = 3;
        check_same(a, decode_chunk(sq, spectra), 1e-6);
        // A spectrum with a charge the model does not know is reported, not fatal.
        spectra[0].charge = sq.model.cfg.max_charge + 1;
        auto b = decode_chunk(sq, spectra);
        CHECK_THAT(b[0].error, Catch::Contains("outside the model's range"));
        CHECK(b[1].tokens == a[1].tokens);
    }
}

TEST_CASE("run_sequence writes one PSM per decodable spectrum", "[denovo_model][sequencer]") {
    fixture_weights w("casanovo_trained", model_arch::casanovo);
    sequence_options o;
    o.model = w.path;
    o.spectra = dm_data("sample16.mgf");
    o.output = (w.dir / "out.mztab").string();
    o.chunk = 5;
    sequence_stats st = run_sequence(o);
    CHECK(st.spectra + st.reader_skipped == 16);
    CHECK(st.psms + st.empty + st.failed == st.spectra);
    auto f = dn::read_mztab(o.output);
    CHECK(long(f.psms.size()) == st.psms);
    CHECK(st.psms == 15);
}
