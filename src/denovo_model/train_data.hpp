// Training data of `tranova denovo train`: annotated spectra (MGF with SEQ=) read with the
// same readers (denovo::open_spectra) and peak preprocessing presets (denovo::preprocess)
// as `denovo sequence`, so training and inference see identical spectra; peptides
// tokenised with the model's residue vocabulary; a split by peptide; batches for the
// training losses (train.hpp).
//
// What cannot train is skipped and counted per reason (never silently): a spectrum without
// SEQ= in a labelled file, a missing charge or one outside the model's 1..max_charge, a
// peptide the model's vocabulary cannot tokenise (a residue or modification it lacks),
// a peptide too long for a decoder (AR max_length, the NAR's CTC positions), a precursor
// mass that disagrees with the peptide beyond the tolerance. A file with no SEQ= label at
// all is an error (unlabelled spectra cannot train), so is a model vocabulary the label
// parser does not know (a token missing from the MassIVE-KB alphabet or a different mass).
#pragma once

#include "denovo/peptide.hpp"
#include "denovo/preprocess.hpp"
#include "denovo_model/model.hpp"
#include "denovo_model/train.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tranova::denovo_model {

// One usable training spectrum.
struct labelled_spectrum {
    std::vector<float> peaks;       // (n, 2) preprocessed [m/z, intensity]
    float mass = 0;                 // precursor neutral mass, float32 as `denovo sequence` computes it
    float precursor_mz = 0;         // float32
    int charge = 0;
    std::string peptide;            // canonical token string (N->C, I->L): the split key
    std::vector<int32_t> residues;  // residue indices of the model table, decoding order (C->N)
};

struct spectrum_set {
    std::vector<labelled_spectrum> items;
    std::string source;  // files, for messages
};

// Peptide labels for spectra without SEQ= (mzML, unannotated MGF) from PSM files: an mzTab
// (spectra_ref ms_run[k]:index=N or scan=N, the ms_run location's file name; or
// opt_global_spectrum_title) or a CSV/TSV with a header naming `peptide` (or `sequence`) and
// one of `index` (0-based MGF record / mzML index), `scan`, `title`, optionally `file` (a
// spectrum file name; without it a label matches a spectrum of any file). A spectrum's own
// SEQ= wins over a label file.
class psm_labels {
public:
    void add_file(const std::string& path);  // throws naming FILE:LINE on a malformed row
    bool empty() const { return by_key_.empty(); }
    // The label of a spectrum of `spectrum_file` (by index, then scan, then title); nullptr if none.
    const std::string* find(const std::string& spectrum_file, long index, long scan, const std::string& title);
    // Throws naming the first label file that matched no spectrum.
    void check_all_used() const;

private:
    struct entry {
        std::string peptide;
        size_t file = 0;
    };
    std::map<std::string, entry> by_key_;  // file name \t kind \t value
    std::vector<std::string> files_;
    std::vector<long> matched_;
    void put(const std::string& spectrum_file, const std::string& kind, const std::string& value, std::string peptide,
             const std::string& where);
};

struct train_data_options {
    std::string preset;              // peak preprocessing preset ("" = the model's)
    double mass_tol_ppm = 50;        // precursor vs peptide, any isotope in the model's range
    bool need_ar = true, need_nar = false;  // length limits to apply
    psm_labels* labels = nullptr;    // labels for spectra without SEQ= (counts its matches)
};

// Per-reason counts of a load, for the log and tests.
struct train_data_stats {
    long records = 0, used = 0;
    long reader_skipped = 0;         // records the reader itself rejected (bad precursor, peaks)
    long unlabelled = 0, no_charge = 0, untokenisable = 0, too_long = 0, mass_mismatch = 0;
    std::string first_untokenisable; // "FILE: record N: why" of the first one
    long skipped() const { return reader_skipped + unlabelled + no_charge + untokenisable + too_long + mass_mismatch; }
    std::string summary() const;     // "N used, M skipped (a unlabelled, b no charge, ...)"
};

// The label parser's vocabulary for a model's residue table; throws tranova::error when the
// model has a token the MassIVE-KB alphabet lacks or with another mass ("vocabulary mismatch").
denovo::vocabulary model_vocabulary(const model_config& cfg);

// Reads every file (MGF/mzML by extension), appending usable spectra to `out`.
train_data_stats load_training_spectra(const std::vector<std::string>& paths, const model_config& cfg,
                                       const train_data_options& opt, spectrum_set& out);

// Moves the spectra of a random `fraction` of the distinct peptides (at least one when
// fraction > 0 and there are 2 or more) into `val`, seeded: no peptide is in both sets.
void split_by_peptide(spectrum_set& train, spectrum_set& val, double fraction, uint64_t seed);

// The batch of items `idx` (zero-padded peaks; AR tokens + stop; CTC targets).
train_batch make_batch(const denovo_model& m, const spectrum_set& s, const std::vector<size_t>& idx, bool ar, bool ctc);

}  // namespace tranova::denovo_model
