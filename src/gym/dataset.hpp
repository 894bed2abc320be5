// The gym HDF5 dataset: one file holding many ProteinGym assays (variants + reference
// metadata) and the predictions of any number of models. Schema (docs/gym.md):
//
//   /                      attrs schema.name = "tranova-gym", schema.version = 1,
//                          tranova.version, tranova.command_line, tranova.created,
//                          gym.mutation_type = "substitutions" | "indels"
//   /assay_ids             string[n_assays]: DMS_ids in reference-file order
//   /assays/<DMS_id>/      attrs: every reference-file column (UTF-8 strings, verbatim),
//                          n_variants (int64), key ("mutant" | "mutated_sequence")
//       mutant             fixed-length strings [n] (substitutions only)
//       mutated_sequence   fixed-length strings [n]
//       DMS_score          float64 [n]
//       DMS_score_bin      int8 [n]
//       mutation_depth     int8 [n] (substitutions only; number of ':'-separated parts)
//   /predictions/<model>/  attrs: model, model_type, directionality, score_column, key,
//                          source, added, tranova.command_line
//       <DMS_id>           float64 [n], same row order as the assay
//
// Every dataset is chunked and deflate-compressed (numbers with shuffle). Adding a model
// writes only its own group: it is staged under /predictions/.staging-<model> and renamed
// into place once complete, so readers never see a half-written model.
#pragma once

#include "gym/aggregate.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace tranova::gym {

constexpr int schema_version = 1;
inline const char* schema_name = "tranova-gym";

struct ingest_options {
    std::string reference;   // DMS_substitutions.csv / DMS_indels.csv layout
    std::string assays_dir;  // folder of <DMS_filename> CSVs
    std::string output;      // gym.h5 (written to a temporary, renamed at the end)
    bool only_present = false;  // ingest the assays found, instead of failing on missing ones
    std::string command_line;
};

struct ingest_report {
    std::string mutation_type;
    int n_assays = 0;
    int64_t n_variants = 0;
    std::vector<std::string> missing;  // reference assays without a file (only_present)
    std::vector<std::string> unlisted;  // CSV files in the folder the reference does not list
    std::vector<std::string> warnings;
};

// Validates every listed assay (columns, numeric scores, 0/1 bins, mutant strings against
// target_seq and mutated_sequence) and writes the file. Throws tranova::error naming file
// and line on the first problem; the output is then not created.
ingest_report gym_ingest(const ingest_options& opt);

struct add_options {
    std::string file;        // gym.h5, modified in place (transactionally)
    std::string model;       // group name; no '/'
    std::string scores;      // folder of <DMS_id>.csv, or one CSV with a DMS_id column
    std::string column = "avg_score";
    std::string key;         // "" = mutant when both sides have it, else mutated_sequence
    std::string model_type;  // free text for the summary's "Model type" column
    int directionality = 1;
    bool replace = false;
    std::string command_line;
};

struct add_report {
    int n_assays_added = 0;
    int64_t n_duplicates_averaged = 0;
    int64_t n_missing_rows = 0;  // assay rows without a score (left join -> NaN)
    std::vector<std::string> no_file;    // assays without scores in the input
    std::vector<std::string> subset;     // dropped: keys a strict subset of the assay's
    std::vector<std::string> no_overlap; // dropped: no key in common
    std::vector<std::string> unknown;    // DMS_ids in the scores but not in the file
};

add_report gym_add(const add_options& opt);

// Writes one model's group from predictions already merged onto the assays' row order
// ((DMS_id, values) pairs): staged under /predictions/.staging-<model>-<pid>, renamed into
// place when complete, removed on failure. Used by gym_add and the benchmark generator.
void write_model(const add_options& opt, const std::string& key,
                 const std::vector<std::pair<std::string, std::vector<double>>>& merged);

// Read access for evaluation and for tests.
struct gym_assay {
    assay_info info;
    int64_t n = 0;
    std::vector<double> y;
    std::vector<int8_t> b, depth;  // depth empty for indels
};

class gym_file {
public:
    explicit gym_file(const std::string& path);  // read-only; checks schema.version
    ~gym_file();
    gym_file(const gym_file&) = delete;
    gym_file& operator=(const gym_file&) = delete;

    const std::string& mutation_type() const { return mutation_type_; }
    const std::vector<std::string>& assay_ids() const { return assay_ids_; }
    const std::vector<std::string>& models() const { return models_; }
    std::string model_attr(const std::string& model, const std::string& name) const;
    gym_assay read_assay(const std::string& dms_id) const;
    int64_t assay_size(const std::string& dms_id) const;
    // Reads the predictions of `model` for an assay into out (n); false if absent.
    bool read_predictions(const std::string& model, const std::string& dms_id, double* out, int64_t n) const;
    // String column of an assay ("mutant" or "mutated_sequence").
    std::vector<std::string> read_strings(const std::string& dms_id, const std::string& column) const;

private:
    std::string path_, mutation_type_;
    long long file_ = -1;
    std::vector<std::string> assay_ids_, models_;
};

// Parses "A24P:D25N" against target_seq; returns the number of substitutions and writes
// the mutated sequence into `out`. Throws tranova::error with `where` on a bad string.
int apply_mutant(std::string& out, const std::string& target, const std::string& mutant, const std::string& where);

}  // namespace tranova::gym
