// tranova::msa — the one shared multiple-sequence-alignment module: A2M/A3M reading and
// writing, sequence weights (ProteinGym/EVE and EVcouplings rules), N_eff and weighted
// per-position frequencies. Formats and rules: docs/msa.md, ../specs/retrieval.md §1.
//
// Conventions
//   * An `alignment` is query-anchored ("focus mode", EVcouplings/ProteinGym A2M): row 0 is
//     the query (focus sequence), every row has exactly num_columns() characters, uppercase
//     letters and '-' sit in focus (modelled) columns, lowercase letters and '.' in
//     low-coverage columns. The case of row 0 decides which columns are focus columns.
//   * Reading A3M (HH-suite / MMseqs2 / ColabFold) drops the insertions (lowercase letters
//     and '.') and keeps them in `insertions` so that write_a3m round-trips.
//   * Weights are double; N_eff = sum of weights.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::msa {

// Residues inserted in one row between match columns `after - 1` and `after` (A3M only;
// `after` = number of match columns to the left, 0..num_columns()).
struct insertion {
    std::int32_t after = 0;
    std::string residues;  // lowercase letters
};

struct alignment {
    std::vector<std::string> names;  // header lines without '>', in file order
    std::vector<std::string> rows;   // aligned rows, all of equal length
    // Empty, or one vector per row (filled by the A3M reader and by `tranova retrieve`).
    std::vector<std::vector<insertion>> insertions;

    std::size_t num_rows() const { return rows.size(); }
    std::size_t num_columns() const { return rows.empty() ? 0 : rows[0].size(); }
    // Columns whose query character is uppercase or '-' (EVcouplings "cut" columns).
    std::vector<int> focus_columns() const;
};

enum class format { automatic, a2m, a3m };

// Format from the file name: *.a3m[.gz] -> a3m, anything else -> a2m.
format format_from_path(std::string_view path);

// Reads an alignment from a file (plain or gzip/bgzip, detected from the content). A2M
// rows must all have the query's length (the error says to use A3M otherwise); A3M rows
// must have the query's match length once insertions are dropped. Lines starting with
// '#' before the first record (ColabFold) are skipped. Throws tranova::error naming file,
// record and problem.
alignment read_alignment(const std::string& path, format fmt = format::automatic);
// Same from text already in memory; `source` is used in error messages.
alignment parse_alignment(std::string_view text, format fmt, const std::string& source = "<memory>");

// Writers. A2M: every row as stored (focus mode), wrapped at `line_width` (0 = one line).
// A3M: match columns uppercase ('.'/lowercase columns are written uppercase/'-'), with the
// stored insertions as lowercase letters.
std::string to_a2m(const alignment& a, int line_width = 0);
std::string to_a3m(const alignment& a, int line_width = 0);
// Writes atomically (util::output_file); format::automatic picks from the path.
void write_alignment(const alignment& a, const std::string& path, format fmt = format::automatic,
                     int line_width = 0);

// ---------------------------------------------------------------------------------------
// Sequence weights.

// ProteinGym / EVE / DeepSequence preprocessing (MSA_processing) and weights.
struct eve_options {
    double theta = 0.2;                          // similarity cut is strict: sim > 1 - theta
    double threshold_sequence_frac_gaps = 0.5;   // rows with gap fraction > this are dropped
    double threshold_focus_cols_frac_gaps = 1.0; // ProteinGym 1.0 (all columns); EVE/Tranception repo 0.3
    bool remove_indeterminate = true;            // drop rows with B,J,O,U,X,Z... in focus columns
};

struct eve_result {
    std::vector<int> kept_rows;     // indices into the alignment, file order
    std::vector<int> focus_columns; // alignment columns used (query non-gap, gap fraction <= threshold)
    std::vector<double> weights;    // one per kept row; 0 for an all-gap row
    double neff = 0;                // sum of weights
};

// EVE MSA_processing: uppercase, '.'->'-', drop query-gap columns, drop gappy rows, pick
// focus columns by gap fraction, drop rows with non-20-AA letters in focus columns, then
// w_n = 1 / #{m : matches(n,m) / nongap(n) > 1 - theta} (gaps never match, self included).
eve_result eve_weights(const alignment& a, const eve_options& opt = {});

// EVcouplings Alignment.set_weights / plmc: over the query's uppercase columns, lowercase
// letters and non-20-AA characters are gaps, identity = #(equal incl. gap==gap) / L,
// w_n = 1 / #{m : identity >= identity_threshold}. One weight per row (no row dropped).
std::vector<double> evcouplings_weights(const alignment& a, double identity_threshold = 0.8);

// The plmc variant used by the site-independent fit: like evcouplings_weights but rows
// with an out-of-alphabet letter in a focus column are discarded (weight 0, `used` false).
std::vector<double> plmc_weights(const alignment& a, double theta, std::vector<bool>* used = nullptr);

// Generic kernel: codes is N x L (row-major) with 0 = gap and 1..31 residues; returns for
// each row the number of rows m (self included) with
//   count_gap_matches: #(x_n == x_m) >= min_matches_ge[n]       (EVcouplings/plmc)
//   otherwise:         #(x_n == x_m != 0) >= min_matches_ge[n]   (EVE/ProteinGym)
// Bit-sliced, early-exit and OpenMP-parallel; exact. `simd` = false forces the scalar
// kernel (the AVX2 one compares 4 rows at a time when built with -mavx2 / x86-64-v3).
std::vector<std::int64_t> count_neighbours(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                           std::span<const std::int32_t> min_matches_ge, bool count_gap_matches,
                                           bool simd = true);

// (The kernel paths, for the tests and benchmarks that force one: msa/detail/neighbour_paths.hpp.)
// Naive O(N^2 L) twin of count_neighbours (test oracle).
std::vector<std::int64_t> count_neighbours_naive(std::span<const std::uint8_t> codes, std::size_t n, std::size_t l,
                                                 std::span<const std::int32_t> min_matches_ge, bool count_gap_matches);

// Peak bytes eve_weights + evcouplings_weights need for an alignment of this size on
// `threads` threads (codes, bit planes, column order; measured ~37 B per column for one
// row, ~5 B per cell for many rows), an upper estimate used to refuse up front an input
// that cannot fit (util/memory.hpp) instead of being killed mid-run.
std::uint64_t weights_memory_bytes(std::size_t rows, std::size_t columns, int threads);

// ---------------------------------------------------------------------------------------
// Weighted per-position frequencies.

enum class normalise {
    total_weight,  // f_i(a) = sum_n w_n [x_ni = a] / sum_n w_n        (EVcouplings, gap a state if in alphabet)
    non_gap        // f_i(a) = sum_n w_n [x_ni = a] / sum_n w_n [x_ni in alphabet]; empty column -> 1/|alphabet| (plmc -g)
};

// Returns columns.size() x alphabet.size() (row-major). `columns` are alignment columns
// (empty = all), `alphabet` the letters to count, compared case-insensitively ('.' is read
// as '-'). `weights` has one entry per alignment row (rows with weight 0 do not count).
std::vector<double> weighted_frequencies(const alignment& a, std::span<const double> weights, std::string_view alphabet,
                                         normalise norm, std::span<const int> columns = {});

// Weighted counts only: out[c * A + k] = sum_n w_n [x_n,col(c) == alphabet[k]] (case-insensitive).
std::vector<double> weighted_counts(const alignment& a, std::span<const double> weights, std::string_view alphabet,
                                    std::span<const int> columns = {});

// ---------------------------------------------------------------------------------------
// Helpers shared with retrieval / tranception.

// The 20 amino acids in the order used throughout (EVcouplings / plmc order).
inline constexpr std::string_view amino_acids = "ACDEFGHIKLMNPQRSTVWY";
// 1..20 for the 20 amino acids (either case), 0 otherwise.
int aa_index1(char c);

// "NAME/START-END" -> START (1-based); 1 when the header has no range.
long long header_start(std::string_view name);

}  // namespace tranova::msa
