// `tranova retrieve`: homology search of protein queries against a FASTA database and the
// query-anchored MSA (ProteinGym/EVcouplings focus-mode A2M, or A3M) + BLAST-tabular hits.
#include "cli.hpp"

#include "retrieval/retrieve.hpp"
#include "util/log.hpp"

namespace {

namespace po = tranova::cli::po;
namespace rt = tranova::retrieval;

// `tranova retrieve merge`: shard result files -> the unsharded run's alignments and hits.
int main_merge(int argc, char** argv) {
    tranova::cli::parser p({"tranova retrieve merge", "SHARD... (-o out.a2m | --out-dir DIR) [--hits hits.tsv]",
                            "Combines the shard result files of 'tranova retrieve --shard i/N' (every shard 0..N-1 exactly once, "
                            "the same database, parameters and queries) into exactly what one unsharded run writes: the same "
                            "alignments (byte for byte) and hits table.",
                            {"tranova retrieve merge part0.shard part1.shard part2.shard --out-dir msas --hits hits.tsv",
                             "tranova retrieve merge parts/*.shard -o P53.a2m"}});
    rt::merge_options mo;
    p.options().add_options()
        ("shards", po::value(&mo.shards)->multitoken(), "shard result files (positional)")
        (",o", po::value(&mo.out), "output alignment (.a2m or .a3m) when the shards hold one query")
        ("out-dir", po::value(&mo.out_dir), "folder receiving <query id>.a2m (or .a3m) per query")
        ("hits", po::value(&mo.hits), "write the hits table (as retrieve --hits)")
        ("format", po::value(&mo.format)->default_value("auto"), "auto (from -o), a2m or a3m");
    p.positional("shards", -1);
    p.output(mo.out, "-o");
    p.output(mo.out_dir, "--out-dir");
    p.output(mo.hits, "--hits");
    if (auto rc = p.parse(argc, argv)) return *rc;
    rt::run_merge(mo);
    return 0;
}

int main_retrieve(int argc, char** argv) {
    if (argc >= 2 && std::string_view(argv[1]) == "merge") {
        tranova::log::set_context("retrieve merge");
        return main_merge(argc - 1, argv + 1);
    }
    tranova::cli::parser p(
        {"tranova retrieve", "--query q.fasta --db db.fasta.gz|db.tix (-o family.a2m | --out-dir DIR | --shard i/N -o part.shard) [options]",
         "Search protein queries against a FASTA database (plain, gzip or bgzip; streamed) and write the "
         "query-anchored MSA that the fitness prior uses: focus-mode A2M as in ProteinGym/EVcouplings (query "
         "columns, columns with > 30% gaps lowercase with '.' gaps, rows under 50% coverage dropped) or A3M, plus "
         "an optional BLAST-tabular hits table. Prefilter: 3-mer neighbourhood words (BLOSUM62 or the profile), "
         "two hits on a diagonal, ungapped X-drop; then striped SIMD local alignment scores (BLOSUM62, gap 11/1), a banded traceback and "
         "Karlin-Altschul E-values over the whole database. --iterations N re-searches with a PSSM built from the "
         "previous round's MSA. A query FASTA with many records is searched in one pass over the database: "
         "--out-dir DIR receives <query id>.a2m per query (ids sanitised; duplicates refused) and --hits one table for all. "
         "--db db.tix (built by 'tranova index') reads the memory-mapped index instead of the FASTA. --shard i/N searches "
         "records r with r % N == i (0-based) and writes a shard file (-o) that 'tranova retrieve merge' combines into "
         "exactly the unsharded outputs.",
         {"tranova retrieve --query P53.fasta --db DB.fasta.gz -o P53.a2m --hits P53.tsv",
          "tranova retrieve --query q.fasta --db uniref.fa.bgz --bits-per-residue 0.3 --iterations 3 -o q.a2m",
          "tranova retrieve --db db.fa.bgz --index-db   # build db.fa.bgz.fai (+ .gzi)",
          "tranova retrieve --db db.fa.bgz --query-id 'sp|P04637|P53_HUMAN' -o p53.a3m",
          "tranova retrieve --query many.fasta --db db.tix --out-dir msas --hits hits.tsv   # one pass for all queries",
          "tranova retrieve --query many.fasta --db db.tix --shard 0/3 -o part0.shard   # ... 1/3, 2/3, then:",
          "tranova retrieve merge part0.shard part1.shard part2.shard --out-dir msas --hits hits.tsv"}});
    rt::retrieve_options o;
    rt::search_options& so = o.search;
    rt::msa_options& mo = o.msa;
    long long max_hits = 100000;
    bool no_profile_cbs = false;
    p.options().add_options()
        ("query", po::value(&o.query), "query FASTA (one or more protein records)")
        ("query-id", po::value(&o.query_id), "take the query from the database by name (needs its .fai index, or --db X.tix)")
        ("db,d", po::value(&o.db), "database FASTA (plain, .gz or bgzip) or its index (.tix, from 'tranova index')")
        ("index", po::value(&o.index), "a .tix index of the --db FASTA (built by 'tranova index'; refused if the FASTA changed since)")
        (",o", po::value(&o.out), "output alignment (.a2m or .a3m; a folder when there are several queries); with --shard, the shard file")
        ("out-dir", po::value(&o.out_dir), "folder receiving <query id>.a2m (or .a3m) per query")
        ("shard", po::value(&o.shard), "i/N: search database records r with r % N == i only (0 <= i < N) and write a shard file (-o) for 'retrieve merge'")
        ("format", po::value(&o.format)->default_value("auto"), "auto (from -o), a2m or a3m")
        ("region", po::value(&o.region), "search with residues START-END (1-based, inclusive) of the query only; the MSA header becomes NAME/START-END")
        ("hits", po::value(&o.hits), "write the hits table (BLAST tabular: qseqid sseqid pident length mismatch gapopen qstart qend sstart send evalue bitscore)")
        ("evalue,e", p.number(&so.evalue, 0.0, 1e300, true)->default_value(1e-3, "1e-3"), "include hits with E-value <= this")
        ("bits-per-residue", p.number(&so.bits_per_residue, 0.0, 20.0)->default_value(0),
         "if > 0: include hits with bit score >= this x query length instead (ProteinGym: 0.1 .. 0.9)")
        ("max-hits", p.number(&max_hits, 1LL, 100000000LL)->default_value(100000), "at most this many hits per query (best first)")
        ("min-coverage", p.number(&mo.min_coverage, 0.0, 1.0)->default_value(0.5, "0.5"), "drop MSA rows covering less than this fraction of the query")
        ("max-column-gaps", p.number(&mo.max_column_gaps, 0.0, 1.0)->default_value(0.3, "0.3"), "columns with a larger gap fraction are lowercase")
        ("iterations,n", p.number(&so.iterations, 1, 20)->default_value(1), "search rounds (> 1: profile re-search, jackhmmer-like)")
        ("inclusion-evalue", p.number(&so.inclusion_evalue, 0.0, 1e300, true),
         "with --iterations: only hits with E-value <= this build the next round's profile (default: every hit --evalue reports)")
        ("profile-rescale", po::bool_switch(&so.rescale_profile),
         "profile rounds, PSI-BLAST style: the PSSM scaled to BLOSUM62's ungapped lambda, plus composition-based statistics "
         "(more decoy hits than the default half-bit PSSM in our calibration; see docs/retrieval.md)")
        ("no-profile-comp-stats", po::bool_switch(&no_profile_cbs), "with --profile-rescale: no composition-based statistics")
        ("word-threshold", p.number(&so.word_threshold, 1, 100)->default_value(11), "neighbourhood word score (lower: more sensitive, slower)")
        ("min-ungapped", p.number(&so.min_ungapped_score, 0, 100000)->default_value(30), "raw ungapped score to reach gapped alignment")
        ("ungapped-excess", p.number(&so.ungapped_excess, -1000.0, 1000.0)->default_value(9),
         "a target also needs an ungapped score this far above the expected best random one (ln(K m n)/lambda)")
        ("mask-low-complexity", po::bool_switch(&so.mask_low_complexity), "no seed words on low-complexity query stretches (SEG-like: 12-residue windows under 2.2 bits)")
        ("comp-based-stats", po::bool_switch(&so.composition_stats),
         "composition-based statistics in BLOSUM62 rounds (with --profile-rescale, profile rounds have them): each pair's scores scaled by "
         "lambda of BLOSUM62 under the two sequences' compositions (never up)")
        ("two-hit-window", p.number(&so.two_hit_window, 0, 100000)->default_value(40), "two-hit window on a diagonal (0: single hit)")
        ("index-db", po::bool_switch(&o.index_db), "build DB.fai (+ .gzi) for random access; with no query, only that");
    p.input(o.query, "--query");
    p.input(o.db, "--db");
    p.input(o.index, "--index");
    p.output(o.out, "-o");
    p.output(o.out_dir, "--out-dir");
    p.output(o.hits, "--hits");
    if (auto rc = p.parse(argc, argv)) return *rc;
    so.max_hits = static_cast<std::size_t>(max_hits);
    so.threads = p.common.threads;
    so.profile_composition_stats = !no_profile_cbs;
    rt::run_retrieve(o);
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(retrieve, {"retrieve", "Retrieval", "homology search -> query-anchored MSA (A2M/A3M) + hits table", main_retrieve})
