// The retrieve and merge entry points (retrieve.hpp): option checks, queries, outputs.
#include "retrieval/retrieve.hpp"

#include "msa/msa.hpp"
#include "retrieval/db_index.hpp"
#include "retrieval/fasta_db.hpp"
#include "retrieval/shard.hpp"
#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <cctype>
#include <filesystem>
#include <map>
#include <memory>

namespace tranova::retrieval {

namespace {

// Where the alignments go: one file (-o) for one query, or DIR/<sanitised id>.a2m per query
// (--out-dir, or -o with several queries as before).
struct output_plan {
    std::string out, out_dir, hits, format;
    bool to_dir = false;
    std::unique_ptr<output_file> single, hits_out;  // opened before the search
    std::string path_of(const std::string& name) const {
        return (std::filesystem::path(out_dir) / (safe_file_name(name) + (format == "a3m" ? ".a3m" : ".a2m"))).string();
    }
};

// Two query records that would share an output file (same id, or ids that sanitise alike).
void check_distinct_names(const output_plan& plan, const std::vector<query_sequence>& queries, const std::string& query_file) {
    std::map<std::string, std::size_t> seen;
    for (std::size_t i = 0; i < queries.size(); ++i) {
        auto [it, fresh] = seen.emplace(safe_file_name(queries[i].name), i);
        if (fresh) continue;
        const std::string& first = queries[it->second].name;
        if (first == queries[i].name)
            throw usage_error(fmt::format("{}: records {} and {} are both named '{}': each query needs its own name (one "
                                          "alignment file and hits id per query); rename one",
                                          query_file, it->second + 1, i + 1, first));
        throw usage_error(fmt::format("{}: records {} ('{}') and {} ('{}') would both be written to '{}.{}': rename one", query_file,
                                      it->second + 1, first, i + 1, queries[i].name, it->first, plan.format == "a3m" ? "a3m" : "a2m"));
    }
}

// Checks the plan against the queries and claims every output before any search, so that
// a clash or an unwritable path stops the run before work is done.
void prepare_outputs(output_plan& plan, const std::vector<query_sequence>& queries, const std::string& query_file) {
    if (!plan.out_dir.empty() && !plan.out.empty()) throw usage_error("give -o (one query) or --out-dir, not both");
    if (plan.out_dir.empty() && plan.out.empty()) throw usage_error("missing -o (output alignment) or --out-dir");
    if (plan.out_dir.empty() && queries.size() > 1) plan.out_dir = plan.out;  // -o DIR with several queries
    plan.to_dir = !plan.out_dir.empty();
    if (plan.to_dir) {
        check_distinct_names(plan, queries, query_file);
        make_directories(plan.out_dir);
        if (!plan.hits.empty()) plan.hits_out = std::make_unique<output_file>(plan.hits);
        for (const auto& q : queries) reserve_output(plan.path_of(q.name), plan.out == plan.out_dir ? "-o" : "--out-dir");
        return;
    }
    if (!plan.hits.empty()) plan.hits_out = std::make_unique<output_file>(plan.hits);
    plan.single = std::make_unique<output_file>(plan.out);
}

void write_outputs(output_plan& plan, const std::vector<query_result>& results, const msa_options& mo) {
    for (const auto& r : results) {
        msa::alignment a = build_msa(r, mo);
        const std::string path = plan.to_dir ? plan.path_of(r.query.name) : plan.out;
        msa::format f = plan.format == "a3m" ? msa::format::a3m : plan.format == "a2m" ? msa::format::a2m : msa::format_from_path(path);
        std::string text = f == msa::format::a3m ? msa::to_a3m(a) : msa::to_a2m(a);
        if (plan.to_dir) {
            output_file o(path);
            o.write(text);
            o.commit();
        } else {
            plan.single->write(text);
        }
        log::info("{}: {} hits, {} MSA rows (db {} sequences, {} residues; prefilter {} targets)", r.query.name, r.hits.size(), a.num_rows(),
                  r.stats.db_sequences, r.stats.db_residues, r.stats.prefilter_pass);
    }
    if (plan.single) plan.single->commit();
    if (plan.hits_out) {
        plan.hits_out->write(hits_tsv(results, true));
        plan.hits_out->commit();
    }
}

void check_format(const std::string& format) {
    if (format != "auto" && format != "a2m" && format != "a3m") throw usage_error("--format must be auto, a2m or a3m");
}

// The option combinations the parser cannot see.
void check_retrieve_options(retrieve_options& opt) {
    if (opt.db.empty()) throw usage_error("missing --db");
    const search_options& so = opt.search;
    if (so.iterations < 1 || so.iterations > 20) throw usage_error("--iterations must be in 1..20");
    if (!(opt.msa.min_coverage >= 0 && opt.msa.min_coverage <= 1)) throw usage_error("--min-coverage must be in [0,1]");
    if (!(opt.msa.max_column_gaps >= 0 && opt.msa.max_column_gaps <= 1)) throw usage_error("--max-column-gaps must be in [0,1]");
    if (!(so.evalue > 0)) throw usage_error("--evalue must be > 0");
    check_format(opt.format);
    opt.search.index_path = opt.index;
    if (!opt.shard.empty()) {
        opt.search.shard = parse_shard_spec(opt.shard);
        if (so.iterations > 1) throw usage_error("--shard with --iterations > 1: profile rounds need the hits of every shard");
        if (!opt.out_dir.empty() || !opt.hits.empty() || opt.format != "auto")
            throw usage_error("--shard writes one shard file (-o); --out-dir, --hits and --format belong to 'retrieve merge'");
    }
    if (!opt.index.empty() && is_db_index(opt.db)) throw usage_error("--db is already an index; --index names the index of a FASTA --db");
}

// --index-db: htslib writes DB.fai / DB.gzi in place: never over a device, FIFO or an input.
void index_fasta(const std::string& db) {
    for (const char* ext : {".fai", ".gzi"}) {
        std::string idx = db + ext;
        std::error_code ec;
        auto st = std::filesystem::symlink_status(idx, ec);
        TRANOVA_CHECK(!std::filesystem::exists(st) || std::filesystem::is_regular_file(st),
                      "{}: the index '{}' exists and is not a regular file; refusing to replace it", db, idx);
        check_output_target(idx, "--index-db");
    }
    fasta_index::build(db);
    log::info("indexed {}", db);
}

query_sequence named_query(const std::string& name, std::string_view residues, const std::string& db) {
    query_sequence q{name, {}, 1};
    for (char c : residues) q.seq.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    TRANOVA_CHECK(!q.seq.empty(), "{}: query '{}' is empty", db, name);
    return q;
}

// The queries: --query's records, or --query-id fetched from the database (its .fai or the
// .tix); a FASTA database with a .fai is also checked for duplicate names while searched.
std::vector<query_sequence> load_queries(retrieve_options& opt) {
    std::vector<query_sequence> queries;
    const bool tix = is_db_index(opt.db);
    if (!tix && fasta_index::exists(opt.db)) {
        // The index files are read too: no output may replace them.
        register_input(opt.db + ".fai", fmt::format("--db index '{}.fai'", opt.db));
        register_input(opt.db + ".gzi", fmt::format("--db index '{}.gzi'", opt.db));
        fasta_index idx(opt.db);  // checks that the index is not older than the file
        opt.search.check_duplicate_names = true;
        if (!opt.query_id.empty()) queries.push_back(named_query(opt.query_id, idx.fetch(opt.query_id), opt.db));
    } else if (!opt.query_id.empty() && tix) {
        // A .tix holds the names and residues: the first record of that name.
        db_index idx(opt.db);
        idx.check_fresh();
        std::uint64_t r = 0;
        while (r < idx.records() && idx.name(r) != opt.query_id) ++r;
        TRANOVA_CHECK(r < idx.records(), "{}: no sequence named '{}' in the index", opt.db, opt.query_id);
        queries.push_back(named_query(opt.query_id, idx.seq(r), opt.db));
    } else if (!opt.query_id.empty()) {
        TRANOVA_FAIL("{}: --query-id needs an index: run 'tranova retrieve --db {} --index-db' (bgzip or plain FASTA)", opt.db, opt.db);
    }
    if (!opt.query.empty()) queries = read_queries(opt.query);
    return queries;
}

// --region START-END: the one query cut to those residues (its MSA header says so).
void cut_region(std::vector<query_sequence>& queries, const std::string& region) {
    if (queries.size() != 1) throw usage_error("--region needs exactly one query");
    long long b = 0, e = 0;
    auto dash = region.find('-');
    if (dash == std::string::npos || !parse_int(region.substr(0, dash), b) || !parse_int(region.substr(dash + 1), e) || b < 1 || e < b)
        throw usage_error(fmt::format("--region must be START-END with 1 <= START <= END, not '{}'", region));
    auto& q = queries[0];
    if (e > static_cast<long long>(q.seq.size()))
        throw usage_error(fmt::format("--region {} is past the end of '{}' ({} residues)", region, q.name, q.seq.size()));
    q.seq = q.seq.substr(static_cast<std::size_t>(b - 1), static_cast<std::size_t>(e - b + 1));
    q.first = b;
}

}  // namespace

std::string safe_file_name(std::string s) {
    for (char& c : s)
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.')) c = '_';
    return s;
}

void run_retrieve(retrieve_options opt) {
    check_retrieve_options(opt);
    if (opt.index_db) {
        index_fasta(opt.db);
        if (opt.query.empty() && opt.query_id.empty()) return;
    }
    if (opt.query.empty() == opt.query_id.empty()) throw usage_error("give exactly one of --query and --query-id");
    if (!opt.shard.empty() && opt.out.empty()) throw usage_error("--shard needs -o (the shard file)");
    std::vector<query_sequence> queries = load_queries(opt);
    if (!opt.region.empty()) cut_region(queries, opt.region);
    if (!opt.shard.empty()) {
        output_file o(opt.out);  // opened first: an unwritable path fails before the search
        auto results = search(queries, opt.db, opt.search);
        o.write(format_shard(results, opt.search, opt.msa));
        o.commit();
        log::info("shard {}: {} queries, database {} sequences ({} residues)", opt.shard, results.size(), results[0].stats.db_sequences,
                  results[0].stats.db_residues);
        return;
    }
    output_plan plan{opt.out, opt.out_dir, opt.hits, opt.format, false, nullptr, nullptr};
    prepare_outputs(plan, queries, opt.query.empty() ? opt.db : opt.query);
    auto results = search(queries, opt.db, opt.search);
    write_outputs(plan, results, opt.msa);
}

void run_merge(merge_options opt) {
    check_format(opt.format);
    if (opt.shards.empty()) throw usage_error("retrieve merge: no shard files given");
    for (const auto& s : opt.shards) register_input(s, fmt::format("shard '{}'", s));
    merged_shards m = merge_shards(opt.shards);
    std::vector<query_sequence> queries;
    for (const auto& r : m.results) queries.push_back(r.query);
    output_plan plan{opt.out, opt.out_dir, opt.hits, opt.format, false, nullptr, nullptr};
    prepare_outputs(plan, queries, opt.shards[0]);
    log::info("merged {} shards of {} ({} sequences, {} residues)", m.shard_count, m.database.path, m.database.records, m.database.residues);
    write_outputs(plan, m.results, m.msa);
}

}  // namespace tranova::retrieval
