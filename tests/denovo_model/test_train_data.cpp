// tranova denovo train's data: what is kept and skipped (and counted), tokenisation in
// decoding order, the split by peptide, the model-vocabulary check, --init checks.
#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include "denovo/peptide.hpp"
#include "denovo_model/train_data.hpp"
#include "denovo_model/train_task.hpp"
#include "util/error.hpp"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

using namespace tranova;
using namespace tranova::denovo_model;

namespace {

std::string record(const std::string& title, double mz, const std::string& charge, const std::string& seq) {
    std::string r = "BEGIN IONS\nTITLE=" + title + "\nPEPMASS=" + std::to_string(mz) + "\n";
    if (!charge.empty()) r += "CHARGE=" + charge + "\n";
    if (!seq.empty()) r += "SEQ=" + seq + "\n";
    return r + "150.1 10\n300.2 20\n450.3 5\nEND IONS\n";
}

double mz_of(const std::string& seq, int z) { return denovo::peptide_mz(denovo::parse_peptide(seq, denovo::vocabulary::massivekb(), true), z); }

std::string temp_file(const std::string& name, const std::string& text) {
    static const tranova::test::temp_dir dir("train_data");
    return dir.write(name, text);
}

}  // namespace

TEST_CASE("training spectra: kept, skipped and counted", "[denovo_model][train_data]") {
    const trainable_model t = fresh_model(model_arch::crossnovo, "tiny", 1);
    model_config cfg = t.model.cfg;
    cfg.max_length = 12;
    std::string mgf;
    mgf += record("good", mz_of("PEPTIDEK", 2), "2+", "PEPTIDEK");
    mgf += record("i_to_l", mz_of("IAHYNKR", 2), "2+", "IAHYNKR");
    mgf += record("mass_off", mz_of("PEPTIDEK", 2) + 1.0, "2+", "PEPTIDEK");
    mgf += record("isotope", mz_of("PEPTIDEK", 2) + 1.00335 / 2, "2+", "PEPTIDEK");  // isotope 1 fits
    mgf += record("phospho", 500.0, "2+", "PEPS[Phospho]K");
    mgf += record("plain_c", mz_of("C+57.021PEK", 2) - 57.021 / 2, "2+", "CPEK");
    mgf += record("nocharge", mz_of("PEPTIDEK", 2), "", "PEPTIDEK");
    mgf += record("unlabelled", 400.0, "2+", "");
    mgf += record("long", mz_of("PEPTIDEKPEPTIDEK", 2), "2+", "PEPTIDEKPEPTIDEK");
    mgf += record("proforma", mz_of("M+15.995PEPK", 2), "2+", "M[Oxidation]PEPK");
    const std::string path = temp_file("a.mgf", mgf);
    train_data_options opt;
    opt.need_ar = opt.need_nar = true;
    spectrum_set s;
    const train_data_stats st = load_training_spectra({path}, cfg, opt, s);
    CHECK(st.records == 10);
    CHECK(st.used == 4);
    CHECK(st.mass_mismatch == 1);
    CHECK(st.untokenisable == 2);
    CHECK(st.no_charge == 1);
    CHECK(st.unlabelled == 1);
    CHECK(st.too_long == 1);
    CHECK(st.skipped() == 6);
    CHECK(st.first_untokenisable.find("TITLE=phospho") != std::string::npos);
    REQUIRE(s.items.size() == 4);
    CHECK(s.items[0].peptide == "PEPTLDEK");  // I -> L
    CHECK(s.items[1].peptide == "LAHYNKR");
    CHECK(s.items[3].peptide == "M+15.995PEPK");
    // decoding order (C -> N), indices of the model's residue table
    const auto& tok = cfg.residues.tokens;
    REQUIRE(s.items[3].residues.size() == 5);
    CHECK(tok[size_t(s.items[3].residues[0])] == "K");
    CHECK(tok[size_t(s.items[3].residues[4])] == "M+15.995");
    // the precursor as `denovo sequence` computes it (float32)
    CHECK(s.items[0].mass == (float(mz_of("PEPTIDEK", 2)) - float(denovo::kProtonRounded)) * 2.0f);

    // batches: AR ids = index + 1 then stop, 0-padded; CTC ids = index, -1-padded
    const train_batch b = make_batch(t.model, s, {3, 0}, true, true);
    CHECK(b.B == 2);
    CHECK(b.L == 9);
    CHECK(b.ar_tokens[0] == s.items[3].residues[0] + 1);
    CHECK(b.ar_tokens[5] == t.model.stop_token());
    CHECK(b.ar_tokens[6] == 0);
    CHECK(b.ar_tokens[9 + 8] == t.model.stop_token());
    CHECK(b.S == 8);
    CHECK(b.ctc_lengths == std::vector<int32_t>{5, 8});
    CHECK(b.ctc_targets[5] == -1);
    CHECK(b.ctc_targets[8] == s.items[0].residues[0]);
    CHECK(b.N == 3);

    // a file without any label is an error naming it
    const std::string unl = temp_file("b.mgf", record("x", 400.0, "2+", "") + record("y", 401.0, "2+", ""));
    spectrum_set s2;
    CHECK_THROWS_WITH(load_training_spectra({unl}, cfg, opt, s2), Catch::Contains("b.mgf: no spectrum has a SEQ= label"));
    std::remove(path.c_str());
    std::remove(unl.c_str());
}

TEST_CASE("validation split by peptide", "[denovo_model][train_data]") {
    spectrum_set s;
    for (int i = 0; i < 200; ++i) {
        labelled_spectrum it;
        it.peptide = "PEP" + std::to_string(i % 37);
        it.charge = 2 + i % 2;
        s.items.push_back(it);
    }
    spectrum_set train = s, val;
    split_by_peptide(train, val, 0.2, 7);
    CHECK(train.items.size() + val.items.size() == 200);
    std::set<std::string> tp, vp;
    for (auto& it : train.items) tp.insert(it.peptide);
    for (auto& it : val.items) vp.insert(it.peptide);
    CHECK(vp.size() == 7);  // round(0.2 x 37)
    for (auto& p : vp) CHECK(tp.count(p) == 0);
    // seeded: the same seed gives the same split, another seed another one
    spectrum_set train2 = s, val2, train3 = s, val3;
    split_by_peptide(train2, val2, 0.2, 7);
    split_by_peptide(train3, val3, 0.2, 8);
    std::set<std::string> vp2, vp3;
    for (auto& it : val2.items) vp2.insert(it.peptide);
    for (auto& it : val3.items) vp3.insert(it.peptide);
    CHECK(vp2 == vp);
    CHECK(vp3 != vp);
    // fraction 0: nothing held out
    spectrum_set train4 = s, val4;
    split_by_peptide(train4, val4, 0.0, 7);
    CHECK(val4.items.empty());
}

TEST_CASE("model vocabulary and --init checks", "[denovo_model][train_data]") {
    trainable_model t = fresh_model(model_arch::casanovo, "tiny", 3);
    CHECK(model_vocabulary(t.model.cfg).size() == 27);
    model_config cfg = t.model.cfg;
    cfg.residues.tokens[1] = "S+79.966";
    CHECK_THROWS_WITH(model_vocabulary(cfg), Catch::Contains("vocabulary mismatch") && Catch::Contains("S+79.966"));
    cfg = t.model.cfg;
    cfg.residues.masses[0] += 0.5;
    CHECK_THROWS_WITH(model_vocabulary(cfg), Catch::Contains("vocabulary mismatch") && Catch::Contains("'G'"));
    CHECK_THROWS_WITH(check_init_model(t, model_arch::primenovo, 1, "m.h5"), Catch::Contains("m.h5: a casanovo model"));
    trainable_model c = fresh_model(model_arch::crossnovo, "tiny", 3);
    CHECK_NOTHROW(check_init_model(c, model_arch::crossnovo, 1, "c.h5"));
    CHECK_THROWS_WITH(check_init_model(c, model_arch::crossnovo, 2, "c.h5"), Catch::Contains("no stage-1 training"));
    c.config["crossnovo_stage"] = "1";
    CHECK_NOTHROW(check_init_model(c, model_arch::crossnovo, 2, "c.h5"));
    // fresh models are deterministic in the seed
    const trainable_model a = fresh_model(model_arch::crossnovo, "tiny", 3);
    CHECK(std::equal(a.arena.params(), a.arena.params() + a.arena.block_floats(), c.arena.params()));
    const trainable_model b = fresh_model(model_arch::crossnovo, "tiny", 4);
    CHECK(!std::equal(a.arena.params(), a.arena.params() + a.arena.block_floats(), b.arena.params()));
    CHECK_THROWS_WITH(fresh_model(model_arch::casanovo, "huge", 1), Catch::Contains("unknown model shape"));
}
