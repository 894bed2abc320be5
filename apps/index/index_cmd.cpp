// `tranova index`: the persistent, memory-mapped database index that `retrieve --db X.tix`
// searches (src/retrieval/db_index.hpp, docs/retrieval.md).
#include "cli.hpp"

#include "retrieval/db_index.hpp"
#include "util/error.hpp"
#include "util/log.hpp"

#include <fmt/format.h>

#include <chrono>

namespace {

namespace po = tranova::cli::po;
namespace rt = tranova::retrieval;

int main_index(int argc, char** argv) {
    tranova::cli::parser p(
        {"tranova index", "db.fasta[.gz] -o db.tix",
         "Builds the persistent index of a protein FASTA database (plain, gzip or bgzip) for 'tranova retrieve --db db.tix': "
         "names, residues and the 3-mer word table of the prefilter in one memory-mapped file, with the database's size, "
         "mtime and counts, so that a search refuses the index once the FASTA changed. The search then reads no FASTA; "
         "a shard (--shard i/N) reads only its records. Results are identical to searching the FASTA.",
         {"tranova index DB.fasta.gz -o DB.tix", "tranova retrieve --query q.fasta --db DB.tix --out-dir msas --hits hits.tsv"}});
    std::string db, out;
    p.options().add_options()
        ("db", po::value(&db), "database FASTA (positional)")
        (",o", po::value(&out), "index file to write (.tix)");
    p.positional("db", 1);
    p.input(db, "db");
    p.output(out, "-o");
    if (auto rc = p.parse(argc, argv)) return *rc;
    if (db.empty()) throw tranova::usage_error("missing the database FASTA");
    if (out.empty()) throw tranova::usage_error("missing -o (the index file)");
    const auto t0 = std::chrono::steady_clock::now();
    const rt::index_build_stats s = rt::build_db_index(db, out);
    const double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    tranova::log::info("{}: {} sequences, {} residues -> {} ({:.1f} MB) in {:.2f} s", db, s.records, s.residues, out,
                       static_cast<double>(s.bytes) / 1e6, sec);
    return 0;
}

}  // namespace

TRANOVA_REGISTER_COMMAND(index, {"index", "Retrieval", "persistent memory-mapped database index for retrieve (db.tix)", main_index})
