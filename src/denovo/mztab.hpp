// Casanovo-style mzTab 1.0: a metadata section (MTD) and a PSM section
// (PSH header + PSM rows). The writer streams rows through util::output_file (whole file
// or nothing); the reader accepts Casanovo v4.x and v5.x files (token or ProForma
// sequences, either aa-score column name) as well as ours.
#pragma once

#include "denovo/peptide.hpp"

#include <cmath>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tranova {
class output_file;
}

namespace tranova::denovo {

// One peptide-spectrum match.
struct psm {
    peptide tokens;                  // N→C vocabulary tokens
    double score = 0;                // search_engine_score[1]
    int charge = 0;
    double exp_mz = NAN;             // observed precursor m/z
    double calc_mz = NAN;            // NaN: computed from tokens and charge when written
    int ms_run = 1;                  // 1-based ms_run[k]
    std::string spectra_ref;         // "ms_run[1]:index=12"; built from ms_run+index/scan when empty
    long index = -1;                 // MGF 0-based record index (written as index=N)
    long scan = -1;                  // mzML/mzXML scan number (written as scan=N when index < 0)
    std::vector<double> aa_scores;   // per residue, N→C order
    std::string title;               // spectrum title (opt_global_spectrum_title), "" if unknown
    std::string sequence_text;       // reader: the sequence as found in the file (ProForma if present)
};

struct mztab_metadata {
    std::string description;         // "<software> identification file <name>"
    std::string software = "tranova";
    std::string software_version;
    std::vector<std::string> ms_runs;                              // input files, in ms_run order
    std::vector<std::pair<std::string, std::string>> settings;     // software[1]-setting[i] key = value
    bool title_column = true;        // write opt_global_spectrum_title
};

class mztab_writer {
public:
    // Writes the metadata section at once; rows follow with add(). Throws on I/O errors.
    mztab_writer(const std::string& path, const mztab_metadata& meta,
                 const vocabulary& vocab = vocabulary::massivekb());
    ~mztab_writer();
    mztab_writer(const mztab_writer&) = delete;
    mztab_writer& operator=(const mztab_writer&) = delete;
    void add(const psm& p);   // PSM_ID is the running 1-based count
    void commit();            // close and rename onto the target

private:
    std::unique_ptr<output_file> out_;
    const vocabulary& vocab_;
    bool title_column_;
    std::string engine_;
    long n_ = 0;
};

struct mztab_file {
    std::vector<std::pair<std::string, std::string>> metadata;  // MTD key, value
    std::vector<psm> psms;
    std::vector<std::string> ms_runs;  // ms_run[k]-location values, k = 1.. (file:// stripped)
};

// Reads an mzTab file's metadata and PSM section. Sequences are parsed with
// try_parse_peptide (ProForma column preferred); a sequence that cannot be parsed keeps
// Casanovo's raw token split (unknown tokens weigh 0 in evaluation) and is warned about
// once per file. Throws "FILE:LINE: ..." on a malformed row.
mztab_file read_mztab(const std::string& path, const vocabulary& vocab = vocabulary::massivekb());

// "ms_run[2]:index=17" -> run 2, kind "index", value 17. False if not of that form.
bool parse_spectra_ref(const std::string& ref, int& run, std::string& kind, long& value);

}  // namespace tranova::denovo
