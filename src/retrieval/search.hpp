// Homology search of protein queries against a FASTA database and the query-anchored MSA
// built from the hits (docs/retrieval.md, ../specs/retrieval.md §1-2).
//
// Pipeline per round: stream the database in chunks (htslib) -> per target, in parallel
// (OpenMP): word hits of the query's neighbourhood words (k = 3, score >= T under BLOSUM62
// or the round's PSSM), two hits on one diagonal within a window trigger an ungapped X-drop
// extension; targets whose best ungapped score passes are kept -> gapped local alignment
// (SeqAn3 vectorised + parallel in round 1, a PSSM Gotoh kernel in profile rounds) ->
// Karlin-Altschul bit scores and E-values over the whole database -> inclusion.
#pragma once

#include "msa/msa.hpp"
#include "retrieval/db_index.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::retrieval {

// 0..19 in msa::amino_acids order, 20 for other letters (X, B, Z, J, U, O, *), -1 otherwise.
int encode_aa(char c);
// BLOSUM62 in that order (21 x 21, X scores -1).
int blosum62(int a, int b);

struct query_sequence {
    std::string name;  // first header word
    std::string seq;   // uppercase residues
    long long first = 1;  // protein position of seq[0] (a region cut of a longer protein: --region)
};

// Reads and validates queries: throws on an empty file, an empty record, characters that
// are not amino-acid letters, or a sequence that looks like nucleotides.
std::vector<query_sequence> read_queries(const std::string& path);

// One slice of the database for a cluster array job: record r (0-based, file order) belongs
// to shard r % count; `index` is 0-based. The default (0/1) is the whole database.
struct shard_spec {
    std::uint64_t index = 0, count = 1;
};
// SEG-like low-complexity mask of a query: every residue of a window of `window` residues whose
// Shannon entropy (bits, over the 20 amino acids + X) is below `min_entropy` (SEG's trigger
// window 12 / K1 2.2; no SEG extension phase). Used for seeding only: the alignments still
// see every residue (as BLAST's soft masking).
std::vector<bool> low_complexity_mask(std::string_view seq, int window = 12, double min_entropy = 2.2);

// Parses "i/N" (0 <= i < N, N >= 1); throws usage_error naming the text otherwise.
shard_spec parse_shard_spec(const std::string& text);

struct search_options {
    double evalue = 1e-3;            // inclusion E-value (ignored when bits_per_residue > 0)
    double bits_per_residue = 0;     // > 0: include hits with bit score >= this * query length (EVcouplings / ProteinGym)
    std::size_t max_hits = 100000;   // per query, best first
    int iterations = 1;              // > 1: re-search with a PSSM built from the previous round's hits
    double inclusion_evalue = 0;     // > 0: only hits with E <= this build the next round's PSSM (PSI-BLAST's
                                     // -inclusion_ethresh); 0: every reported hit
    bool rescale_profile = false;    // PSI-BLAST-style profile statistics: PSSMs scaled to BLOSUM62's ungapped
                                     // lambda (+ composition-based statistics below); false: the half-bit PSSM
                                     // (better calibrated on decoys, docs/retrieval.md)
    bool profile_composition_stats = true;  // with rescale_profile: composition-based statistics, as PSI-BLAST
    int word_threshold = 11;         // neighbourhood word score T (k = 3; as BLAST); lower = more sensitive, slower
    int two_hit_window = 40;         // max distance of two word hits on one diagonal; 0 = single hit triggers extension
    int xdrop_ungapped = 16;         // raw score drop that stops an ungapped extension
    int min_ungapped_score = 30;     // raw BLOSUM62 score an ungapped segment needs to reach gapped alignment
    double ungapped_excess = 9;      // ... and at least ln(K m n) / lambda (expected random best) + this
    double prefilter_evalue = 100;   // gapped-score stage keeps hits up to this E-value before traceback
    std::size_t chunk_residues = std::size_t{1} << 23;  // database residues per chunk
    int threads = 1;
    bool check_duplicate_names = false;  // throw on a repeated database name (indexed databases)
    shard_spec shard;                    // search only this slice (E-values still use the whole database)
    std::string index_path;              // a .tix of the FASTA given as the database (checked to match it)
    bool striped = true;                 // gapped scores by the striped kernel (false: SeqAn3 / scalar; tests)
    bool mask_low_complexity = false;    // no seed words on low-complexity query stretches (low_complexity_mask)
    bool composition_stats = false;      // BLOSUM62 rounds too: scores scaled per pair by composition_scale (scoring.hpp)
};

struct search_hit {
    std::string target;       // database name
    std::string description;  // rest of the header
    int raw_score = 0;
    double bits = 0, evalue = 0;
    double identity = 0;      // percent, BLAST pident (identical / alignment length)
    int aln_length = 0, mismatches = 0, gap_opens = 0;
    int qstart = 0, qend = 0, tstart = 0, tend = 0;  // 1-based inclusive
    std::string row;                   // query-anchored: one char per query residue (uppercase or '-')
    std::vector<msa::insertion> insertions;  // target residues between query columns (lowercase)
    std::uint64_t record = 0;  // 0-based record number of the target in the database
    int sort_score = 0;        // the score-pass score that ranks hits (ties: lower record first);
                               // with composition_stats, scaled and rounded as the E-value's score
};

struct search_stats {
    std::size_t db_sequences = 0, db_residues = 0;
    std::size_t prefilter_pass = 0;  // targets through the word + ungapped stage (last round)
    std::size_t aligned = 0;         // gapped alignments computed (last round)
    std::size_t included = 0;        // hits included (last round)
    int rounds = 0;
    double seconds_prefilter = 0, seconds_align = 0;
    db_identity database;            // the searched FASTA (size, mtime, records, residues)
};

struct query_result {
    query_sequence query;
    std::vector<search_hit> hits;  // best first (E-value, then bit score)
    search_stats stats;
};

// db_path: a FASTA (plain, gzip, bgzip; streamed once per round for all queries) or an
// index built by build_db_index (memory-mapped; refused when its FASTA changed since).
std::vector<query_result> search(const std::vector<query_sequence>& queries, const std::string& db_path,
                                 const search_options& opt);

// Ranks hits as search does: sort score (descending), then database record.
void sort_hits(std::vector<search_hit>& hits);

// Karlin-Altschul for BLOSUM62, gap open 11 / extend 1 (BLAST: lambda 0.267, K 0.041, H 0.14).
double bit_score(double raw);
// E-value with BLAST's length correction for a query of length m against n residues in s sequences.
double evalue(double raw, std::size_t m, std::size_t n, std::size_t s);

struct msa_options {
    double min_coverage = 0.5;       // drop rows with fewer residues over the query columns
    double max_column_gaps = 0.3;    // columns with a larger gap fraction are lowercase ('.' gaps)
};

// The query-anchored focus-mode alignment (EVcouplings/ProteinGym A2M): query first as
// "NAME/1-L", then one row per hit "TARGET/start-end" (insertions kept for A3M output).
msa::alignment build_msa(const query_result& r, const msa_options& opt);

// BLAST tabular (outfmt 6) lines: qseqid sseqid pident length mismatch gapopen qstart qend
// sstart send evalue bitscore.
std::string hits_tsv(const std::vector<query_result>& results, bool header);

// PSSM (query_length x 21, BLOSUM62's scale: its ungapped lambda is BLOSUM62's) from the
// query-anchored rows of an alignment (row 0 = query); see scoring.hpp.
std::vector<std::int16_t> build_pssm(const msa::alignment& a, bool rescale);

}  // namespace tranova::retrieval
