// MS/MS spectra and their streaming readers (MGF, mzML).
//
// Readers hand out one spectrum at a time (`while (r.next(s)) ...`), holding only a read
// buffer, so files of any size stream through. A spectrum that cannot be used (no or
// unparsable precursor m/z, a charge outside min..max_charge, a malformed peak line) is
// skipped with a warning naming the file and record ("FILE: record 12 (TITLE=x): ...") and
// never shifts another spectrum's label: labels and peaks of one record always travel
// together (the BEAM parser bug cannot happen by construction). A file that
// cannot be opened or is structurally broken (unparsable XML) throws tranova::error.
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tranova::denovo {

struct spectrum {
    long index = -1;          // 0-based record number in its file: MGF block number counting every
                              // BEGIN IONS (skipped ones too; Casanovo's `index=N`), mzML `index`
    std::string title;        // MGF TITLE; mzML: the spectrum id (nativeID)
    long scan = -1;           // scan number: mzML `scan=N` / integer id, MGF numeric SCANS; -1 if none
    std::string scans;        // MGF SCANS text as written ("F1:2478")
    int ms_level = 2;
    double precursor_mz = 0;
    double precursor_intensity = 0;  // 0 when absent
    int charge = 0;                  // first listed charge (sign kept), 0 = missing
    std::vector<int> charges;        // every listed charge ("2+ and 3+"; mzML possible charge states)
    double rt_seconds = NAN;
    std::string seq;                 // SEQ annotation as written, "" when absent
    std::vector<double> mz;          // sorted as in the file (not re-sorted)
    std::vector<float> intensity;

    void clear();
    // Neutral precursor mass the models use: (mz − 1.007276)·z.
    double neutral_mass() const;
};

struct read_options {
    int min_charge = 1;
    int max_charge = 10;            // spec: 10 (Casanovo v5: 4)
    bool keep_chargeless = false;   // keep spectra whose charge is missing or outside the range
                                    // (charge set to 0) instead of skipping them
    int ms_level = 2;               // mzML/mzXML: keep this MS level; 0 = every MSn level >= 2
    int max_warnings = 20;          // per-spectrum warnings printed; the rest are only counted
};

// Counts of what a reader did, for logs and tests.
struct read_stats {
    long records = 0;     // spectrum records seen (MGF blocks; mzML spectra of any level)
    long returned = 0;    // spectra handed out
    long skipped = 0;     // records skipped for a problem (charge, precursor, peaks)
    long skipped_charge = 0;
    long other_level = 0; // mzML spectra of another MS level (not a problem)
    long warnings = 0;
    std::vector<std::string> first_problems;  // the first max_warnings messages
};

class spectrum_reader {
public:
    virtual ~spectrum_reader() = default;
    // Next usable spectrum into s (reusing its buffers); false at end of file.
    virtual bool next(spectrum& s) = 0;
    const read_stats& stats() const { return stats_; }
    const std::string& path() const { return path_; }
    // Bytes of the file consumed so far (for progress).
    virtual uint64_t bytes_read() const = 0;

protected:
    void problem(const std::string& msg);
    std::string path_;
    read_options opt_;
    read_stats stats_;
};

enum class spectrum_format { mgf, mzml };
// The format named by the file extension, case-insensitive, after a trailing `.gz`
// (`run.mgf.gz`, `run.mzML.gz`); mzXML is read by the mzML reader. Throws
// tranova::error for any other extension.
spectrum_format spectrum_format_of(const std::string& path);

// Opens an MGF, mzML or mzXML reader by the file extension (spectrum_format_of); gzip-
// compressed content is recognised by its magic bytes and read on the fly. Throws
// tranova::error for an unknown extension or an unreadable file.
std::unique_ptr<spectrum_reader> open_spectra(const std::string& path, const read_options& opt = {});
std::unique_ptr<spectrum_reader> open_mgf(const std::string& path, const read_options& opt = {});
std::unique_ptr<spectrum_reader> open_mzml(const std::string& path, const read_options& opt = {});
// Readers over an in-memory buffer (fuzzing, tests); `name` stands in for the file name.
std::unique_ptr<spectrum_reader> mgf_from_memory(std::string data, const std::string& name = "<memory>",
                                                 const read_options& opt = {});
std::unique_ptr<spectrum_reader> mzml_from_memory(std::string data, const std::string& name = "<memory>",
                                                  const read_options& opt = {});

// Reads every spectrum of a file (small files and tests).
std::vector<spectrum> read_all_spectra(const std::string& path, const read_options& opt = {},
                                       read_stats* stats = nullptr);

// Parses an MGF CHARGE value ("2+", "2", "3+ and 4+", "2-", "2+,3+") into charges, first
// first. False when no charge could be read.
bool parse_charge_list(const std::string& text, std::vector<int>& charges);

}  // namespace tranova::denovo
