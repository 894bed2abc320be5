// `tranova retrieve`: homology search of protein queries against a FASTA database and the
// query-anchored MSA (ProteinGym/EVcouplings focus-mode A2M, or A3M) + BLAST-tabular hits.
#include "cli.hpp"

#include "msa/msa.hpp"
#include "retrieval/db_index.hpp"
#include "retrieval/fasta_db.hpp"
#include "retrieval/search.hpp"
#include "retrieval/shard.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <map>

namespace {

namespace po = tranova::cli::po;
namespace rt = tranova::retrieval;
namespace msa = tranova::msa;

std::string safe_file_name(std::string s) {
    for (char& c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) c = '_';
    return s;
}

// Where the alignments go: one file (-o) for one query, or DIR/<sanitised id>.a2m per query
// (--out-dir, or -o with several queries as before).
struct output_plan {
    std::string out, out_dir, hits, format;
    bool to_dir = false;
    std::unique_ptr<tranova::output_file> single, hits_out;  // opened before the search
    std::string path_of(const std::string& name) const {
        return (std::filesystem::path(out_dir) / (safe_file_name(name) + (format == "a3m" ? ".a3m" : ".a2m"))).string();
    }
};

// Checks the plan against the queries and claims every output before any search, so that
// a clash or an unwritable path stops the run before work is done.
void prepare_outputs(output_plan& plan, const std::vector<rt::query_sequence>& queries,
                                                     const std::string& query_file) {
    if (!plan.out_dir.empty() && !plan.out.empty()) throw tranova::usage_error("give -o (one query) or --out-dir, not both");
    if (plan.out_dir.empty() && plan.out.empty()) throw tranova::usage_error("missing -o (output alignment) or --out-dir");
    if (plan.out_dir.empty() && queries.size() > 1) plan.out_dir = plan.out;  // -o DIR with several queries
    plan.to_dir = !plan.out_dir.empty();
    if (plan.to_dir) {
        // One file per query id: two records that map to the same file name would leave one
        // alignment for both.
        std::map<std::string, std::size_t> seen;
        for (std::size_t i = 0; i < queries.size(); ++i) {
            auto [it, fresh] = seen.emplace(safe_file_name(queries[i].name), i);
            if (fresh) continue;
            const std::string& first = queries[it->second].name;
            if (first == queries[i].name)
                throw tranova::usage_error(fmt::format("{}: records {} and {} are both named '{}': each query needs its own name (one "
                                                       "alignment file and hits id per query); rename one",
                                                       query_file, it->second + 1, i + 1, first));
            throw tranova::usage_error(fmt::format("{}: records {} ('{}') and {} ('{}') would both be written to '{}.{}': rename one",
                                                   query_file, it->second + 1, first, i + 1, queries[i].name, it->first,
                                                   plan.format == "a3m" ? "a3m" : "a2m"));
        }
        tranova::make_directories(plan.out_dir);
        if (!plan.hits.empty()) plan.hits_out = std::make_unique<tranova::output_file>(plan.hits);
        for (const auto& q : queries) tranova::reserve_output(plan.path_of(q.name), plan.out == plan.out_dir ? "-o" : "--out-dir");
        return;
    }
    if (!plan.hits.empty()) plan.hits_out = std::make_unique<tranova::output_file>(plan.hits);
    plan.single = std::make_unique<tranova::output_file>(plan.out);
}

void write_outputs(output_plan& plan, const std::vector<rt::query_result>& results, const rt::msa_options& mo) {
    for (const auto& r : results) {
        msa::alignment a = rt::build_msa(r, mo);
        const std::string path = plan.to_dir ? plan.path_of(r.query.name) : plan.out;
        msa::format f = plan.format == "a3m" ? msa::format::a3m : plan.format == "a2m" ? msa::format::a2m : msa::format_from_path(path);
        std::string text = f == msa::format::a3m ? msa::to_a3m(a) : msa::to_a2m(a);
        if (plan.to_dir) {
            tranova::output_file o(path);
            o.write(text);
            o.commit();
        } else {
            plan.single->write(text);
        }
        tranova::log::info("{}: {} hits, {} MSA rows (db {} sequences, {} residues; prefilter {} targets)", r.query.name, r.hits.size(),
                           a.num_rows(), r.stats.db_sequences, r.stats.db_residues, r.stats.prefilter_pass);
    }
    if (plan.single) plan.single->commit();
    if (plan.hits_out) {
        plan.hits_out->write(rt::hits_tsv(results, true));
        plan.hits_out->commit();
    }
}

// `tranova retrieve merge`: shard result files -> the unsharded run's alignments and hits.
int main_merge(int argc, char** argv) {
    tranova::cli::parser p({"tranova retrieve merge", "SHARD... (-o out.a2m | --out-dir DIR) [--hits hits.tsv]",
                            "Combines the shard result files of 'tranova retrieve --shard i/N' (every shard 0..N-1 exactly once, "
                            "the same database, parameters and queries) into exactly what one unsharded run writes: the same "
                            "alignments (byte for byte) and hits table.",
                            {"tranova retrieve merge part0.shard part1.shard part2.shard --out-dir msas --hits hits.tsv",
                             "tranova retrieve merge parts/*.shard -o P53.a2m"}});
    std::vector<std::string> shards;
    output_plan plan;
    plan.format = "auto";
    p.options().add_options()
        ("shards", po::value(&shards)->multitoken(), "shard result files (positional)")
        (",o", po::value(&plan.out), "output alignment (.a2m or .a3m) when the shards hold one query")
        ("out-dir", po::value(&plan.out_dir), "folder receiving <query id>.a2m (or .a3m) per query")
        ("hits", po::value(&plan.hits), "write the hits table (as retrieve --hits)")
        ("format", po::value(&plan.format)->default_value("auto"), "auto (from -o), a2m or a3m");
    p.positional("shards", -1);
    p.output(plan.out, "-o");
    p.output(plan.out_dir, "--out-dir");
    p.output(plan.hits, "--hits");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (plan.format != "auto" && plan.format != "a2m" && plan.format != "a3m") throw tranova::usage_error("--format must be auto, a2m or a3m");
    if (shards.empty()) throw tranova::usage_error("retrieve merge: no shard files given");
    for (const auto& s : shards) tranova::register_input(s, fmt::format("shard '{}'", s));
    rt::merged_shards m = rt::merge_shards(shards);
    std::vector<rt::query_sequence> queries;
    for (const auto& r : m.results) queries.push_back(r.query);
    prepare_outputs(plan, queries, shards[0]);
    tranova::log::info("merged {} shards of {} ({} sequences, {} residues)", m.shard_count, m.database.path, m.database.records,
                       m.database.residues);
    write_outputs(plan, m.results, m.msa);
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
    std::string query, query_id, db, out, out_dir, hits, format = "auto", region, shard, index;
    rt::search_options so;
    rt::msa_options mo;
    bool index_db = false;
    long long max_hits = 100000;
    p.options().add_options()
        ("query", po::value(&query), "query FASTA (one or more protein records)")
        ("query-id", po::value(&query_id), "take the query from the database by name (needs its .fai index, or --db X.tix)")
        ("db,d", po::value(&db), "database FASTA (plain, .gz or bgzip) or its index (.tix, from 'tranova index')")
        ("index", po::value(&index), "a .tix index of the --db FASTA (built by 'tranova index'; refused if the FASTA changed since)")
        (",o", po::value(&out), "output alignment (.a2m or .a3m; a folder when there are several queries); with --shard, the shard file")
        ("out-dir", po::value(&out_dir), "folder receiving <query id>.a2m (or .a3m) per query")
        ("shard", po::value(&shard), "i/N: search database records r with r % N == i only (0 <= i < N) and write a shard file (-o) for 'retrieve merge'")
        ("format", po::value(&format)->default_value("auto"), "auto (from -o), a2m or a3m")
        ("region", po::value(&region), "search with residues START-END (1-based, inclusive) of the query only; the MSA header becomes NAME/START-END")
        ("hits", po::value(&hits), "write the hits table (BLAST tabular: qseqid sseqid pident length mismatch gapopen qstart qend sstart send evalue bitscore)")
        ("evalue,e", p.number(&so.evalue, 0.0, 1e300, true)->default_value(1e-3, "1e-3"), "include hits with E-value <= this")
        ("bits-per-residue", p.number(&so.bits_per_residue, 0.0, 20.0)->default_value(0),
         "if > 0: include hits with bit score >= this x query length instead (ProteinGym: 0.1 .. 0.9)")
        ("max-hits", p.number(&max_hits, 1LL, 100000000LL)->default_value(100000), "at most this many hits per query (best first)")
        ("min-coverage", p.number(&mo.min_coverage, 0.0, 1.0)->default_value(0.5, "0.5"), "drop MSA rows covering less than this fraction of the query")
        ("max-column-gaps", p.number(&mo.max_column_gaps, 0.0, 1.0)->default_value(0.3, "0.3"), "columns with a larger gap fraction are lowercase")
        ("iterations,n", p.number(&so.iterations, 1, 20)->default_value(1), "search rounds (> 1: profile re-search, jackhmmer-like)")
        ("inclusion-evalue", p.number(&so.inclusion_evalue, 0.0, 1e300, true),
         "with --iterations: only hits with E-value <= this build the next round's profile (default: every hit --evalue reports)")
        ("no-profile-rescale", po::bool_switch()->notifier([&](bool b) { so.rescale_profile = !b; }),
         "profile rounds: keep the unscaled half-bit PSSM of earlier versions (E-values then less calibrated; for comparisons)")
        ("word-threshold", p.number(&so.word_threshold, 1, 100)->default_value(11), "neighbourhood word score (lower: more sensitive, slower)")
        ("min-ungapped", p.number(&so.min_ungapped_score, 0, 100000)->default_value(30), "raw ungapped score to reach gapped alignment")
        ("ungapped-excess", p.number(&so.ungapped_excess, -1000.0, 1000.0)->default_value(9),
         "a target also needs an ungapped score this far above the expected best random one (ln(K m n)/lambda)")
        ("mask-low-complexity", po::bool_switch(&so.mask_low_complexity), "no seed words on low-complexity query stretches (SEG-like: 12-residue windows under 2.2 bits)")
        ("two-hit-window", p.number(&so.two_hit_window, 0, 100000)->default_value(40), "two-hit window on a diagonal (0: single hit)")
        ("index-db", po::bool_switch(&index_db), "build DB.fai (+ .gzi) for random access; with no query, only that");
    p.input(query, "--query");
    p.input(db, "--db");
    p.input(index, "--index");
    p.output(out, "-o");
    p.output(out_dir, "--out-dir");
    p.output(hits, "--hits");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (db.empty()) throw tranova::usage_error("missing --db");
    so.max_hits = static_cast<std::size_t>(max_hits);
    if (so.iterations < 1 || so.iterations > 20) throw tranova::usage_error("--iterations must be in 1..20");
    if (!(mo.min_coverage >= 0 && mo.min_coverage <= 1)) throw tranova::usage_error("--min-coverage must be in [0,1]");
    if (!(mo.max_column_gaps >= 0 && mo.max_column_gaps <= 1)) throw tranova::usage_error("--max-column-gaps must be in [0,1]");
    if (!(so.evalue > 0)) throw tranova::usage_error("--evalue must be > 0");
    if (format != "auto" && format != "a2m" && format != "a3m") throw tranova::usage_error("--format must be auto, a2m or a3m");
    so.threads = p.common.threads;
    so.index_path = index;
    if (!shard.empty()) {
        so.shard = rt::parse_shard_spec(shard);
        if (so.iterations > 1) throw tranova::usage_error("--shard with --iterations > 1: profile rounds need the hits of every shard");
        if (!out_dir.empty() || !hits.empty() || format != "auto")
            throw tranova::usage_error("--shard writes one shard file (-o); --out-dir, --hits and --format belong to 'retrieve merge'");
    }
    if (!index.empty() && rt::is_db_index(db)) throw tranova::usage_error("--db is already an index; --index names the index of a FASTA --db");

    if (index_db) {
        // htslib writes DB.fai / DB.gzi in place: never over a device, FIFO or an input.
        for (const char* ext : {".fai", ".gzi"}) {
            std::string idx = db + ext;
            std::error_code ec;
            auto st = std::filesystem::symlink_status(idx, ec);
            TRANOVA_CHECK(!std::filesystem::exists(st) || std::filesystem::is_regular_file(st),
                          "{}: the index '{}' exists and is not a regular file; refusing to replace it", db, idx);
            tranova::check_output_target(idx, "--index-db");
        }
        rt::fasta_index::build(db);
        tranova::log::info("indexed {}", db);
        if (query.empty() && query_id.empty()) return 0;
    }
    if (query.empty() == query_id.empty()) throw tranova::usage_error("give exactly one of --query and --query-id");
    if (!shard.empty() && out.empty()) throw tranova::usage_error("--shard needs -o (the shard file)");

    std::vector<rt::query_sequence> queries;
    if (!rt::is_db_index(db) && rt::fasta_index::exists(db)) {
        // The index files are read too: no output may replace them.
        tranova::register_input(db + ".fai", fmt::format("--db index '{}.fai'", db));
        tranova::register_input(db + ".gzi", fmt::format("--db index '{}.gzi'", db));
        rt::fasta_index idx(db);  // checks that the index is not older than the file
        so.check_duplicate_names = true;
        if (!query_id.empty()) {
            std::string s = idx.fetch(query_id);
            rt::query_sequence q{query_id, {}, 1};
            for (char c : s) q.seq.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
            TRANOVA_CHECK(!q.seq.empty(), "{}: query '{}' is empty", db, query_id);
            queries.push_back(std::move(q));
        }
    } else if (!query_id.empty() && rt::is_db_index(db)) {
        // A .tix holds the names and residues: the first record of that name.
        rt::db_index idx(db);
        idx.check_fresh();
        std::uint64_t r = 0;
        while (r < idx.records() && idx.name(r) != query_id) ++r;
        TRANOVA_CHECK(r < idx.records(), "{}: no sequence named '{}' in the index", db, query_id);
        rt::query_sequence q{query_id, {}, 1};
        for (char c : idx.seq(r)) q.seq.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
        TRANOVA_CHECK(!q.seq.empty(), "{}: query '{}' is empty", db, query_id);
        queries.push_back(std::move(q));
    } else if (!query_id.empty()) {
        TRANOVA_FAIL("{}: --query-id needs an index: run 'tranova retrieve --db {} --index-db' (bgzip or plain FASTA)", db, db);
    }
    if (!query.empty()) queries = rt::read_queries(query);
    if (!region.empty()) {
        if (queries.size() != 1) throw tranova::usage_error("--region needs exactly one query");
        long long b = 0, e = 0;
        auto dash = region.find('-');
        if (dash == std::string::npos || !tranova::parse_int(region.substr(0, dash), b) || !tranova::parse_int(region.substr(dash + 1), e) ||
            b < 1 || e < b)
            throw tranova::usage_error(fmt::format("--region must be START-END with 1 <= START <= END, not '{}'", region));
        auto& q = queries[0];
        if (e > static_cast<long long>(q.seq.size()))
            throw tranova::usage_error(fmt::format("--region {} is past the end of '{}' ({} residues)", region, q.name, q.seq.size()));
        q.seq = q.seq.substr(static_cast<std::size_t>(b - 1), static_cast<std::size_t>(e - b + 1));
        q.first = b;
    }

    if (!shard.empty()) {
        tranova::output_file o(out);  // opened first: an unwritable path fails before the search
        auto results = rt::search(queries, db, so);
        o.write(rt::format_shard(results, so, mo));
        o.commit();
        tranova::log::info("shard {}: {} queries, database {} sequences ({} residues)", shard, results.size(), results[0].stats.db_sequences,
                           results[0].stats.db_residues);
        return 0;
    }
    output_plan plan{out, out_dir, hits, format, false, nullptr, nullptr};
    prepare_outputs(plan, queries, query.empty() ? db : query);
    auto results = rt::search(queries, db, so);
    write_outputs(plan, results, mo);
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(retrieve, {"retrieve", "Retrieval", "homology search -> query-anchored MSA (A2M/A3M) + hits table", main_retrieve})
