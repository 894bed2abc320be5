// Shard result files: a tab-separated text format (docs/retrieval.md "Sharding"):
//   #tranova-retrieve-shard<TAB>1
//   db<TAB>bytes<TAB>mtime_ns<TAB>records<TAB>residues<TAB>path
//   params<TAB>canonical option line        max_hits<TAB>n     msa<TAB>min_coverage<TAB>max_column_gaps
//   shard<TAB>i<TAB>N                       queries<TAB>n
//   Q<TAB>name<TAB>first<TAB>sequence<TAB>prefilter_pass<TAB>aligned<TAB>hits
//   H<TAB>record<TAB>sort_score<TAB>raw<TAB>bits<TAB>evalue<TAB>identity<TAB>length<TAB>mismatches<TAB>
//     gap_opens<TAB>qstart<TAB>qend<TAB>tstart<TAB>tend<TAB>target<TAB>row<TAB>insertions (after:letters,...; '-' none)
//   end
// Doubles are written in their shortest round-trip form, so a merge reproduces the values
// (and the formatted outputs) of the unsharded run exactly.
#include "retrieval/shard.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <map>

namespace tranova::retrieval {

namespace {

constexpr const char* magic = "#tranova-retrieve-shard";
constexpr int version = 1;

std::string insertions_text(const std::vector<msa::insertion>& ins) {
    if (ins.empty()) return "-";
    std::string s;
    for (const auto& i : ins) s += fmt::format("{}{}:{}", s.empty() ? "" : ",", i.after, i.residues);
    return s;
}

struct shard_file {
    std::string path;
    db_identity db;
    std::string params;
    long long max_hits = 0;
    msa_options msa;
    std::uint64_t index = 0, count = 0;
    std::vector<query_result> results;
};

class line_reader {
public:
    explicit line_reader(const std::string& path) : path_(path), in_(path, std::ios::binary) {
        TRANOVA_CHECK(in_.good(), "{}: cannot open shard file", path);
    }
    // The next line split at tabs; throws at the end of the file (a shard always ends with "end").
    const std::vector<std::string_view>& next() {
        TRANOVA_CHECK(std::getline(in_, line_), "{}:{}: truncated shard file (no 'end' line)", path_, line_no_);
        ++line_no_;
        fields_ = split(line_, '\t');
        return fields_;
    }
    [[noreturn]] void fail(const std::string& what) const { TRANOVA_FAIL("{}:{}: {}", path_, line_no_, what); }
    long long integer(std::string_view s) const {
        long long v = 0;
        if (!parse_int(s, v)) fail(fmt::format("'{}' is not an integer", s));
        return v;
    }
    double real(std::string_view s) const {
        double v = 0;
        if (!parse_double(s, v)) fail(fmt::format("'{}' is not a number", s));
        return v;
    }
    const std::vector<std::string_view>& expect(const char* key, std::size_t fields) {
        const auto& f = next();
        if (f.empty() || f[0] != key || f.size() != fields)
            fail(fmt::format("expected a '{}' line with {} fields (not a shard file from this version?)", key, fields));
        return f;
    }

private:
    std::string path_;
    std::ifstream in_;
    std::string line_;
    std::vector<std::string_view> fields_;
    std::size_t line_no_ = 0;
};

shard_file read_shard(const std::string& path) {
    line_reader r(path);
    shard_file s;
    s.path = path;
    {
        const auto& f = r.next();
        if (f.size() != 2 || f[0] != magic) r.fail("not a tranova retrieve shard file");
        if (r.integer(f[1]) != version) r.fail(fmt::format("shard format version {}, this tranova reads {}", f[1], version));
    }
    {
        const auto& f = r.expect("db", 6);
        s.db.file_size = static_cast<std::uint64_t>(r.integer(f[1]));
        s.db.mtime_ns = r.integer(f[2]);
        s.db.records = static_cast<std::uint64_t>(r.integer(f[3]));
        s.db.residues = static_cast<std::uint64_t>(r.integer(f[4]));
        s.db.path = std::string(f[5]);
    }
    s.params = std::string(r.expect("params", 2)[1]);
    s.max_hits = r.integer(r.expect("max_hits", 2)[1]);
    {
        const auto& f = r.expect("msa", 3);
        s.msa.min_coverage = r.real(f[1]);
        s.msa.max_column_gaps = r.real(f[2]);
    }
    {
        const auto& f = r.expect("shard", 3);
        const long long i = r.integer(f[1]), n = r.integer(f[2]);
        if (n < 1 || i < 0 || i >= n) r.fail(fmt::format("bad shard {}/{}", i, n));
        s.index = static_cast<std::uint64_t>(i);
        s.count = static_cast<std::uint64_t>(n);
    }
    const long long nq = r.integer(r.expect("queries", 2)[1]);
    if (nq < 1 || nq > 100000000) r.fail("bad query count");
    for (long long q = 0; q < nq; ++q) {
        const auto& f = r.expect("Q", 8);
        query_result res;
        res.query.name = std::string(f[1]);
        res.query.first = r.integer(f[2]);
        res.query.seq = std::string(f[3]);
        res.stats.prefilter_pass = static_cast<std::size_t>(r.integer(f[4]));
        res.stats.aligned = static_cast<std::size_t>(r.integer(f[5]));
        const long long nh = r.integer(f[6]);
        if (nh < 0) r.fail("bad hit count");
        if (f[7] != "-") r.fail("unexpected field");
        const std::size_t L = res.query.seq.size();
        for (long long h = 0; h < nh; ++h) {
            const auto& g = r.expect("H", 18);
            search_hit hit;
            hit.record = static_cast<std::uint64_t>(r.integer(g[1]));
            hit.sort_score = static_cast<int>(r.integer(g[2]));
            hit.raw_score = static_cast<int>(r.integer(g[3]));
            hit.bits = r.real(g[4]);
            hit.evalue = r.real(g[5]);
            hit.identity = r.real(g[6]);
            hit.aln_length = static_cast<int>(r.integer(g[7]));
            hit.mismatches = static_cast<int>(r.integer(g[8]));
            hit.gap_opens = static_cast<int>(r.integer(g[9]));
            hit.qstart = static_cast<int>(r.integer(g[10]));
            hit.qend = static_cast<int>(r.integer(g[11]));
            hit.tstart = static_cast<int>(r.integer(g[12]));
            hit.tend = static_cast<int>(r.integer(g[13]));
            hit.target = std::string(g[14]);
            hit.row = std::string(g[15]);
            if (hit.row.size() != L) r.fail(fmt::format("row of {} columns for a query of {}", hit.row.size(), L));
            if (hit.record >= s.db.records) r.fail(fmt::format("record {} past the database's {} records", hit.record, s.db.records));
            if (g[16] != "-")
                for (auto part : split(g[16], ',')) {
                    const auto colon = part.find(':');
                    if (colon == std::string_view::npos) r.fail("bad insertion field");
                    const long long after = r.integer(part.substr(0, colon));
                    if (after < 0 || after > static_cast<long long>(L)) r.fail("insertion outside the query");
                    hit.insertions.push_back({static_cast<std::int32_t>(after), std::string(part.substr(colon + 1))});
                }
            if (g[17] != "-") r.fail("unexpected field");
            res.hits.push_back(std::move(hit));
        }
        s.results.push_back(std::move(res));
    }
    r.expect("end", 1);
    return s;
}

}  // namespace

std::string result_parameters(const search_options& so, const msa_options& mo) {
    return fmt::format(
        "evalue={} bits_per_residue={} max_hits={} iterations={} word_threshold={} two_hit_window={} xdrop_ungapped={} "
        "min_ungapped_score={} ungapped_excess={} prefilter_evalue={} min_coverage={} max_column_gaps={} mask_low_complexity={}",
        so.evalue, so.bits_per_residue, so.max_hits, so.iterations, so.word_threshold, so.two_hit_window, so.xdrop_ungapped,
        so.min_ungapped_score, so.ungapped_excess, so.prefilter_evalue, mo.min_coverage, mo.max_column_gaps, so.mask_low_complexity) +
           // Added after version 1 of the format: only when on, so that default lines stay as they were.
           (so.composition_stats ? " composition_stats=true" : "");
}

std::string format_shard(const std::vector<query_result>& results, const search_options& so, const msa_options& mo) {
    TRANOVA_CHECK(!results.empty(), "no query results to write");
    const db_identity& db = results[0].stats.database;
    std::string out = fmt::format("{}\t{}\n", magic, version);
    out += fmt::format("db\t{}\t{}\t{}\t{}\t{}\n", db.file_size, db.mtime_ns, db.records, db.residues, db.path);
    out += fmt::format("params\t{}\nmax_hits\t{}\nmsa\t{}\t{}\n", result_parameters(so, mo), so.max_hits, mo.min_coverage, mo.max_column_gaps);
    out += fmt::format("shard\t{}\t{}\nqueries\t{}\n", so.shard.index, so.shard.count, results.size());
    for (const auto& r : results) {
        out += fmt::format("Q\t{}\t{}\t{}\t{}\t{}\t{}\t-\n", r.query.name, r.query.first, r.query.seq, r.stats.prefilter_pass, r.stats.aligned,
                           r.hits.size());
        for (const auto& h : r.hits) {
            out += fmt::format("H\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t-\n", h.record, h.sort_score, h.raw_score, h.bits,
                               h.evalue, h.identity, h.aln_length, h.mismatches, h.gap_opens, h.qstart, h.qend, h.tstart, h.tend, h.target,
                               h.row, insertions_text(h.insertions));
        }
    }
    out += "end\n";
    return out;
}

merged_shards merge_shards(const std::vector<std::string>& paths) {
    if (paths.empty()) throw usage_error("retrieve merge: no shard files given");
    std::vector<shard_file> shards;
    for (const auto& p : paths) shards.push_back(read_shard(p));
    const shard_file& a = shards[0];
    std::map<std::uint64_t, std::string> seen;
    for (const auto& s : shards) {
        TRANOVA_CHECK(s.db == a.db, "{} and {} are shards of different databases ({} and {} records, {} and {} bytes, mtime {} and {})", a.path,
                      s.path, a.db.records, s.db.records, a.db.file_size, s.db.file_size, a.db.mtime_ns, s.db.mtime_ns);
        TRANOVA_CHECK(s.params == a.params, "{} and {} were searched with different parameters ({} vs {})", a.path, s.path, a.params, s.params);
        TRANOVA_CHECK(s.count == a.count, "{} and {} split the database differently ({} and {} shards)", a.path, s.path, a.count, s.count);
        bool same_queries = s.results.size() == a.results.size();
        for (std::size_t q = 0; same_queries && q < s.results.size(); ++q)
            same_queries = s.results[q].query.name == a.results[q].query.name && s.results[q].query.seq == a.results[q].query.seq &&
                           s.results[q].query.first == a.results[q].query.first;
        TRANOVA_CHECK(same_queries, "{} and {} searched different queries", a.path, s.path);
        auto [it, fresh] = seen.emplace(s.index, s.path);
        if (!fresh) throw usage_error(fmt::format("retrieve merge: shard {}/{} given twice ({} and {})", s.index, s.count, it->second, s.path));
    }
    if (seen.size() != a.count) {
        std::string missing;
        for (std::uint64_t i = 0; i < a.count; ++i)
            if (!seen.count(i)) missing += fmt::format("{}{}/{}", missing.empty() ? "" : ", ", i, a.count);
        throw usage_error(fmt::format("retrieve merge: missing shard(s) {} (got {} of {})", missing, seen.size(), a.count));
    }
    merged_shards m;
    m.msa = a.msa;
    m.database = a.db;
    m.shard_count = a.count;
    m.results.resize(a.results.size());
    for (std::size_t q = 0; q < a.results.size(); ++q) {
        query_result& r = m.results[q];
        r.query = a.results[q].query;
        for (auto& s : shards) {
            auto& src = s.results[q];
            r.stats.prefilter_pass += src.stats.prefilter_pass;
            r.stats.aligned += src.stats.aligned;
            for (auto& h : src.hits) r.hits.push_back(std::move(h));
        }
        sort_hits(r.hits);
        if (r.hits.size() > static_cast<std::size_t>(a.max_hits)) r.hits.resize(static_cast<std::size_t>(a.max_hits));
        r.stats.db_sequences = a.db.records;
        r.stats.db_residues = a.db.residues;
        r.stats.database = a.db;
        r.stats.included = r.hits.size();
        r.stats.rounds = 1;
    }
    return m;
}

}  // namespace tranova::retrieval
