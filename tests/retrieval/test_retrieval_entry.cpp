// The retrieve / merge entry points (src/retrieval/retrieve.cpp) that `tranova retrieve`
// calls after parsing its options: outputs equal to the library's search + writers, option
// mistakes as usage errors before any output, shards merged into the unsharded outputs.
#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include "msa/msa.hpp"
#include "retrieval/retrieve.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

using namespace tranova;
using namespace tranova::retrieval;
namespace fs = std::filesystem;

namespace {

std::string data(const std::string& f) { return std::string(TRANOVA_TEST_DATA) + "/retrieval/" + f; }

struct scratch_dir {
    fs::path p;
    scratch_dir() {
        p = fs::temp_directory_path() / ("tranova_retrieve_entry_" + std::to_string(::getpid()) + "_" + std::to_string(std::rand()));
        fs::create_directories(p);
    }
    ~scratch_dir() { fs::remove_all(p); }
    std::string operator/(const std::string& f) const { return (p / f).string(); }
};

using tranova::test::file_bytes;

retrieve_options base(const std::string& query, const std::string& db) {
    retrieve_options o;
    o.query = query;
    o.db = db;
    o.search.threads = 2;
    return o;
}

}  // namespace

TEST_CASE("run_retrieve writes what search + build_msa + hits_tsv give", "[retrieval][entry]") {
    log::set_level(log::level::quiet);
    scratch_dir d;
    retrieve_options o = base(data("hbb.fasta"), data("small_db.fasta.gz"));
    o.out = d / "hbb.a3m";
    o.hits = d / "hbb.tsv";
    run_retrieve(o);
    search_options so;
    so.threads = 2;
    const auto results = search(read_queries(data("hbb.fasta")), data("small_db.fasta.gz"), so);
    REQUIRE(results.size() == 1);
    CHECK(!results[0].hits.empty());
    CHECK(file_bytes(d / "hbb.a3m") == msa::to_a3m(build_msa(results[0], msa_options{})));
    CHECK(file_bytes(d / "hbb.tsv") == hits_tsv(results, true));
    // --format a2m overrides the extension; --region cuts the query and names the rows.
    o.out = d / "cut.a3m";
    o.hits.clear();
    o.format = "a2m";
    o.region = "11-100";
    run_retrieve(o);
    const std::string cut = file_bytes(d / "cut.a3m");
    CHECK(cut.rfind(">HBB_HUMAN/11-100\n", 0) == 0);
    CHECK(msa::parse_alignment(cut, msa::format::a2m, "cut").num_columns() == 90);
}

TEST_CASE("run_retrieve: several queries into a folder, one file per id", "[retrieval][entry]") {
    log::set_level(log::level::quiet);
    scratch_dir d;
    retrieve_options o = base(data("two_queries.fasta"), data("small_db.fasta.gz"));
    o.out_dir = d / "msas";
    o.hits = d / "all.tsv";
    run_retrieve(o);
    int files = 0;
    for (const auto& e : fs::directory_iterator(d / "msas")) files += e.path().extension() == ".a2m";
    CHECK(files == 2);
    // The same as each query alone.
    const auto queries = read_queries(data("two_queries.fasta"));
    for (const auto& q : queries) {
        const std::string one = d / (safe_file_name(q.name) + ".fasta");
        std::ofstream(one) << ">" << q.name << "\n" << q.seq << "\n";
        retrieve_options alone = base(one, data("small_db.fasta.gz"));
        alone.out = d / "alone.a2m";
        run_retrieve(alone);
        CHECK(file_bytes(d / "alone.a2m") == file_bytes(d / ("msas/" + safe_file_name(q.name) + ".a2m")));
    }
}

TEST_CASE("run_retrieve: option mistakes are usage errors and write nothing", "[retrieval][entry]") {
    log::set_level(log::level::quiet);
    scratch_dir d;
    auto refused = [&](retrieve_options o, const char* what) {
        INFO(what);
        CHECK_THROWS_AS(run_retrieve(o), usage_error);
        CHECK(fs::is_empty(d.p));
    };
    retrieve_options o = base(data("hbb.fasta"), data("small_db.fasta.gz"));
    o.out = d / "x.a2m";
    retrieve_options both = o;
    both.out_dir = d / "dir";
    refused(both, "-o and --out-dir");
    retrieve_options none = o;
    none.out.clear();
    refused(none, "no output");
    retrieve_options nodb = o;
    nodb.db.clear();
    refused(nodb, "no --db");
    retrieve_options fmt_bad = o;
    fmt_bad.format = "sto";
    refused(fmt_bad, "--format sto");
    retrieve_options two = o;
    two.query_id = "HBB_HUMAN";
    refused(two, "--query and --query-id");
    retrieve_options shard_iter = o;
    shard_iter.shard = "0/2";
    shard_iter.search.iterations = 2;
    refused(shard_iter, "--shard with --iterations 2");
    retrieve_options shard_bad = o;
    shard_bad.shard = "3/2";
    refused(shard_bad, "--shard 3/2");
    retrieve_options shard_hits = o;
    shard_hits.shard = "0/2";
    shard_hits.hits = d / "h.tsv";
    refused(shard_hits, "--shard with --hits");
    retrieve_options region_bad = o;
    region_bad.region = "100-10";
    refused(region_bad, "--region 100-10");
    retrieve_options region_past = o;
    region_past.region = "1-1000";
    refused(region_past, "--region past the end");
    retrieve_options region_two = base(data("two_queries.fasta"), data("small_db.fasta.gz"));
    region_two.out_dir = d / "dir";
    region_two.region = "1-10";
    refused(region_two, "--region with two queries");
    // A bad input is a runtime error (tranova::error), not a usage error.
    retrieve_options missing_db = o;
    missing_db.db = d / "none.fasta";
    CHECK_THROWS_AS(run_retrieve(missing_db), error);
}

TEST_CASE("run_merge of shards gives the unsharded outputs", "[retrieval][entry]") {
    log::set_level(log::level::quiet);
    scratch_dir d;
    retrieve_options o = base(data("two_queries.fasta"), data("small_db.fasta.gz"));
    o.out_dir = d / "whole";
    o.hits = d / "whole.tsv";
    run_retrieve(o);
    merge_options m;
    for (int i = 0; i < 3; ++i) {
        retrieve_options s = base(data("two_queries.fasta"), data("small_db.fasta.gz"));
        s.shard = std::to_string(i) + "/3";
        s.out = d / ("part" + std::to_string(i) + ".shard");
        run_retrieve(s);
        m.shards.push_back(s.out);
    }
    m.out_dir = d / "merged";
    m.hits = d / "merged.tsv";
    run_merge(m);
    CHECK(file_bytes(d / "merged.tsv") == file_bytes(d / "whole.tsv"));
    for (const auto& e : fs::directory_iterator(d / "whole")) {
        INFO(e.path().filename().string());
        CHECK(file_bytes(e.path().string()) == file_bytes(d / ("merged/" + e.path().filename().string())));
    }
    merge_options missing = m;
    missing.shards.pop_back();
    missing.out_dir = d / "never";
    missing.hits.clear();
    CHECK_THROWS_WITH(run_merge(missing), Catch::Contains("missing shard(s) 2/3"));
    CHECK(!fs::exists(d / "never"));
}
