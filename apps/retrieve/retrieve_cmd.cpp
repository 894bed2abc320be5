// `tranova retrieve`: homology search of protein queries against a FASTA database and the
// query-anchored MSA (ProteinGym/EVcouplings focus-mode A2M, or A3M) + BLAST-tabular hits.
#include "cli.hpp"

#include "msa/msa.hpp"
#include "retrieval/fasta_db.hpp"
#include "retrieval/search.hpp"
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

int main_retrieve(int argc, char** argv) {
    tranova::cli::parser p(
        {"tranova retrieve", "--query q.fasta --db db.fasta.gz -o family.a2m [options]",
         "Search protein queries against a FASTA database (plain, gzip or bgzip; streamed) and write the "
         "query-anchored MSA that the fitness prior uses: focus-mode A2M as in ProteinGym/EVcouplings (query "
         "columns, columns with > 30% gaps lowercase with '.' gaps, rows under 50% coverage dropped) or A3M, plus "
         "an optional BLAST-tabular hits table. Prefilter: 3-mer neighbourhood words (BLOSUM62 or the profile), "
         "two hits on a diagonal, ungapped X-drop; then SeqAn3 vectorised local alignment (BLOSUM62, gap 11/1) and "
         "Karlin-Altschul E-values over the whole database. --iterations N re-searches with a PSSM built from the "
         "previous round's MSA. With several queries, -o names a folder that receives QUERY.a2m per query.",
         {"tranova retrieve --query P53.fasta --db DB.fasta.gz -o P53.a2m --hits P53.tsv",
          "tranova retrieve --query q.fasta --db uniref.fa.bgz --bits-per-residue 0.3 --iterations 3 -o q.a2m",
          "tranova retrieve --db db.fa.bgz --index-db   # build db.fa.bgz.fai (+ .gzi)",
          "tranova retrieve --db db.fa.bgz --query-id 'sp|P04637|P53_HUMAN' -o p53.a3m"}});
    std::string query, query_id, db, out, hits, format = "auto", region;
    rt::search_options so;
    rt::msa_options mo;
    bool index_db = false;
    long long max_hits = 100000;
    p.options().add_options()
        ("query", po::value(&query), "query FASTA (one or more protein records)")
        ("query-id", po::value(&query_id), "take the query from the database by name (needs its .fai index)")
        ("db,d", po::value(&db), "database FASTA (plain, .gz or bgzip)")
        (",o", po::value(&out), "output alignment (.a2m or .a3m; a folder when there are several queries)")
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
        ("word-threshold", p.number(&so.word_threshold, 1, 100)->default_value(10), "neighbourhood word score (lower: more sensitive, slower)")
        ("min-ungapped", p.number(&so.min_ungapped_score, 0, 100000)->default_value(30), "raw ungapped score to reach gapped alignment")
        ("ungapped-excess", p.number(&so.ungapped_excess, -1000.0, 1000.0)->default_value(9),
         "a target also needs an ungapped score this far above the expected best random one (ln(K m n)/lambda)")
        ("two-hit-window", p.number(&so.two_hit_window, 0, 100000)->default_value(40), "two-hit window on a diagonal (0: single hit)")
        ("index-db", po::bool_switch(&index_db), "build DB.fai (+ .gzi) for random access; with no query, only that");
    p.input(query, "--query");
    p.input(db, "--db");
    p.output(out, "-o");
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
    if (out.empty()) throw tranova::usage_error("missing -o (output alignment)");

    std::vector<rt::query_sequence> queries;
    if (rt::fasta_index::exists(db)) {
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

    // One output file per query name: two records that map to the same file name would
    // silently leave one MSA for both.
    const bool many = queries.size() > 1;
    if (many) {
        std::map<std::string, std::size_t> seen;
        for (std::size_t i = 0; i < queries.size(); ++i) {
            auto [it, fresh] = seen.emplace(safe_file_name(queries[i].name), i);
            if (fresh) continue;
            const std::string& first = queries[it->second].name;
            if (first == queries[i].name)
                TRANOVA_FAIL("{}: records {} and {} are both named '{}': each query needs its own name (one alignment "
                             "file and hits id per query); rename one", query, it->second + 1, i + 1, first);
            TRANOVA_FAIL("{}: records {} ('{}') and {} ('{}') would both be written to '{}.{}': rename one", query,
                         it->second + 1, first, i + 1, queries[i].name, it->first, format == "a3m" ? "a3m" : "a2m");
        }
    }
    // Outputs are opened before the search so that an unwritable path fails fast.
    auto query_path = [&](const std::string& name) {
        return (std::filesystem::path(out) / (safe_file_name(name) + (format == "a3m" ? ".a3m" : ".a2m"))).string();
    };
    std::unique_ptr<tranova::output_file> single, hits_out;
    if (many) tranova::make_directories(out);
    if (!hits.empty()) hits_out = std::make_unique<tranova::output_file>(hits);
    if (many) {
        // Claim every per-query file now: one that is an input or the --hits file stops
        // the run before the search, not after some alignments were written.
        for (const auto& q : queries) tranova::reserve_output(query_path(q.name), "-o");
    } else {
        single = std::make_unique<tranova::output_file>(out);
    }

    auto results = rt::search(queries, db, so);
    for (const auto& r : results) {
        msa::alignment a = rt::build_msa(r, mo);
        std::string path = many ? query_path(r.query.name) : out;
        msa::format f = format == "a3m" ? msa::format::a3m : format == "a2m" ? msa::format::a2m : msa::format_from_path(path);
        std::string text = f == msa::format::a3m ? msa::to_a3m(a) : msa::to_a2m(a);
        if (many) {
            tranova::output_file o(path);
            o.write(text);
            o.commit();
        } else {
            single->write(text);
        }
        tranova::log::info("{}: {} hits, {} MSA rows (db {} sequences, {} residues; prefilter {} targets)", r.query.name, r.hits.size(),
                           a.num_rows(), r.stats.db_sequences, r.stats.db_residues, r.stats.prefilter_pass);
    }
    if (single) single->commit();
    if (hits_out) {
        hits_out->write(rt::hits_tsv(results, true));
        hits_out->commit();
    }
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(retrieve, {"retrieve", "Retrieval", "homology search -> query-anchored MSA (A2M/A3M) + hits table", main_retrieve})
