// tranova::retrieval: database I/O, alignment kernels (tranova vs SeqAn3), statistics, search, MSA.
#include "temp_dir.hpp"

#include "file_bytes.hpp"
#include "residue_codes.hpp"

#include <catch2/catch.hpp>

#include "msa/msa.hpp"
#include "retrieval/align.hpp"
#include "retrieval/fasta_db.hpp"
#include "retrieval/search.hpp"
#include "util/error.hpp"

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

using namespace tranova;
using namespace tranova::retrieval;
namespace fs = std::filesystem;

using tranova::test::temp_dir;

namespace {

std::string data(const std::string& f) { return std::string(TRANOVA_TEST_DATA) + "/retrieval/" + f; }


using tranova::test::file_bytes;
void spit(const std::string& path, const std::string& s) { std::ofstream(path, std::ios::binary) << s; }

using tranova::test::blosum_profile;
using tranova::test::codes;
// Score of an alignment given as gapped strings (BLOSUM62, gap 11 + (k-1)).
int rescore(const local_alignment& a) {
    int s = 0;
    char state = 'M';
    for (std::size_t c = 0; c < a.qaln.size(); ++c) {
        if (a.qaln[c] == '-' || a.taln[c] == '-') {
            char st = a.qaln[c] == '-' ? 'I' : 'D';
            s -= st == state ? gap_extend : gap_open;
            state = st;
        } else {
            s += blosum62(encode_aa(a.qaln[c]), encode_aa(a.taln[c]));
            state = 'M';
        }
    }
    return s;
}

}  // namespace

TEST_CASE("profile_align (BLOSUM62 profile) equals SeqAn3's local alignment", "[retrieval][align]") {
    std::mt19937 rng(11);
    const std::string aa = "ACDEFGHIKLMNPQRSTVWY";
    auto rnd = [&](std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s.push_back(aa[rng() % 20]);
        return s;
    };
    std::vector<std::string> targets;
    std::string q = rnd(120);
    for (int k = 0; k < 24; ++k) {
        // Mutated copies of a query segment with indels inside random flanks.
        std::string t = q.substr(static_cast<std::size_t>(k % 30), 80);
        for (auto& c : t)
            if (rng() % 4 == 0) c = aa[rng() % 20];
        t.insert(static_cast<std::size_t>(10 + k), rnd(static_cast<std::size_t>(k % 5)));
        if (k % 3 == 0) t.erase(40, static_cast<std::size_t>(k % 4));
        targets.push_back(rnd(static_cast<std::size_t>(k)) + t + rnd(15));
    }
    targets.push_back(rnd(50));  // unrelated
    std::vector<std::string_view> views(targets.begin(), targets.end());
    auto sc = seqan_align(q, views, false, 2);
    auto tb = seqan_align(q, views, true, 2);
    auto prof = blosum_profile(q);
    for (std::size_t k = 0; k < targets.size(); ++k) {
        INFO("target " << k);
        auto mine = profile_align(prof, static_cast<int>(q.size()), q, codes(targets[k]), targets[k], true);
        CHECK(mine.score == sc[k].score);
        CHECK(mine.score == tb[k].score);
        CHECK(rescore(mine) == mine.score);
        CHECK(rescore(tb[k]) == tb[k].score);
        // Ungapped letters of the alignment are the stated ranges.
        std::string qs, ts;
        for (char c : mine.qaln) if (c != '-') qs.push_back(c);
        for (char c : mine.taln) if (c != '-') ts.push_back(c);
        CHECK(qs == q.substr(static_cast<std::size_t>(mine.qbegin), static_cast<std::size_t>(mine.qend - mine.qbegin)));
        CHECK(ts == targets[k].substr(static_cast<std::size_t>(mine.tbegin), static_cast<std::size_t>(mine.tend - mine.tbegin)));
        // A band around the end diagonal gives the same optimum for these near-diagonal pairs.
        int d = mine.tend - mine.qend;
        auto banded = profile_align(prof, static_cast<int>(q.size()), q, codes(targets[k]), targets[k], true, d - 20, d + 20);
        CHECK(banded.score == mine.score);
    }
}

TEST_CASE("Karlin-Altschul statistics", "[retrieval][stats]") {
    CHECK(bit_score(100) == Approx((0.267 * 100 - std::log(0.041)) / std::log(2.0)));
    CHECK(evalue(100, 300, 1000000, 1000) > evalue(120, 300, 1000000, 1000));
    CHECK(evalue(100, 300, 2000000, 2000) > evalue(100, 300, 1000000, 1000));  // bigger database, bigger E
    CHECK(evalue(0, 300, 1000000, 1000) > 1);
}

TEST_CASE("FASTA database streaming: plain, gzip and bgzip agree; truncated gzip fails", "[retrieval][db]") {
    temp_dir tmp("retrieval_test");
    std::vector<fasta_record> gz, bgz;
    for (auto [path, out] : {std::pair{data("small_db.fasta.gz"), &gz}, std::pair{data("small_db.fasta.bgz"), &bgz}}) {
        fasta_reader r(path);
        fasta_record rec;
        while (r.next(rec)) out->push_back(rec);
    }
    REQUIRE(gz.size() == 495);
    REQUIRE(bgz.size() == gz.size());
    for (std::size_t i = 0; i < gz.size(); ++i) {
        CHECK(gz[i].name == bgz[i].name);
        CHECK(gz[i].seq == bgz[i].seq);
    }
    CHECK(gz.back().name == "HBB2_TRICR");
    // Chunks in bounded memory: every record exactly once.
    {
        fasta_reader r(data("small_db.fasta.gz"));
        std::vector<fasta_record> chunk;
        std::size_t total = 0, chunks = 0;
        for (;;) {
            std::size_t used = 0;
            if (r.next_chunk(chunk, 20000, used) == 0) break;
            total += used;
            ++chunks;
        }
        CHECK(total == 495);
        CHECK(chunks > 5);
    }
    std::string gzbytes = file_bytes(data("small_db.fasta.gz"));
    spit(tmp / "trunc.fa.gz", gzbytes.substr(0, gzbytes.size() / 2));
    CHECK_THROWS_WITH(
        [&] {
            fasta_reader r(tmp / "trunc.fa.gz");
            fasta_record rec;
            while (r.next(rec)) {}
        }(),
        Catch::Contains("truncated or corrupt"));
    CHECK_THROWS_WITH(fasta_reader(tmp / "missing.fa"), Catch::Contains("cannot open"));
}

TEST_CASE("faidx random access, duplicate names and stale index", "[retrieval][db]") {
    temp_dir tmp("retrieval_test");
    // bgzip copy: index, fetch by name.
    fs::copy_file(data("small_db.fasta.bgz"), tmp / "db.fa.bgz");
    fasta_index::build(tmp / "db.fa.bgz");
    {
        fasta_index idx(tmp / "db.fa.bgz");
        CHECK(idx.size() == 495);
        std::string s = idx.fetch("MYG_ESCGI");
        CHECK(s.substr(0, 10) == "VLSDAEWQLV");
        CHECK(s.size() == 153);
        CHECK_THROWS_WITH(idx.fetch("nope"), Catch::Contains("no sequence named 'nope'"));
    }
    // Plain gzip cannot be indexed.
    fs::copy_file(data("small_db.fasta.gz"), tmp / "db.fa.gz");
    CHECK_THROWS_WITH(fasta_index::build(tmp / "db.fa.gz"), Catch::Contains("bgzip"));
    // Plain FASTA with a duplicate name.
    spit(tmp / "dup.fa", ">a\nMKV\n>b\nMKL\n>a\nMKI\n");
    CHECK_THROWS_WITH(fasta_index::build(tmp / "dup.fa"), Catch::Contains("duplicate sequence name 'a'"));
    // An index older than its file.
    spit(tmp / "p.fa", ">a\nMKVLA\n>b\nMKLLA\n");
    fasta_index::build(tmp / "p.fa");
    CHECK(fasta_index(tmp / "p.fa").fetch("b") == "MKLLA");
    fs::last_write_time(tmp / "p.fa", fs::last_write_time(tmp / "p.fa.fai") + std::chrono::seconds(5));
    CHECK_THROWS_WITH(fasta_index(tmp / "p.fa"), Catch::Contains("older than"));
}

TEST_CASE("query validation", "[retrieval][query]") {
    temp_dir tmp("retrieval_test");
    spit(tmp / "empty.fa", "");
    CHECK_THROWS_WITH(read_queries(tmp / "empty.fa"), Catch::Contains("no query"));
    spit(tmp / "emptyrec.fa", ">q\n\n");
    CHECK_THROWS_WITH(read_queries(tmp / "emptyrec.fa"), Catch::Contains("is empty"));
    spit(tmp / "dna.fa", ">q\nACGTACGTACGTTGCAACGTAGCTAGCTAGCATCGA\n");
    CHECK_THROWS_WITH(read_queries(tmp / "dna.fa"), Catch::Contains("nucleotide"));
    spit(tmp / "bad.fa", ">q\nMKV1L\n");
    CHECK_THROWS_WITH(read_queries(tmp / "bad.fa"), Catch::Contains("not an amino-acid"));
    auto q = read_queries(data("two_queries.fasta"));
    REQUIRE(q.size() == 2);
    CHECK(q[0].name == "PTEN_HUMAN");
    CHECK(q[0].seq.size() == 403);
    CHECK(q[1].seq.size() == 146);
}

TEST_CASE("search finds the planted family and builds a focus-mode MSA", "[retrieval][search]") {
    auto queries = read_queries(data("two_queries.fasta"));
    search_options opt;
    opt.threads = 2;
    opt.chunk_residues = 30000;  // several chunks
    auto res = search(queries, data("small_db.fasta.gz"), opt);
    REQUIRE(res.size() == 2);
    const auto& pten = res[0];
    std::size_t fam = 0;
    for (const auto& h : pten.hits) fam += h.target.rfind("PTEN_", 0) == 0;
    CHECK(fam == 150);
    CHECK(pten.stats.db_sequences == 495);
    // Hits are best first; the E-value follows the bit score.
    for (std::size_t i = 1; i < pten.hits.size(); ++i) CHECK(pten.hits[i - 1].bits >= pten.hits[i].bits);
    for (const auto& h : pten.hits) {
        CHECK(h.evalue <= 1e-3);
        CHECK(h.row.size() == 403);
        CHECK(h.qstart >= 1);
        CHECK(h.qend <= 403);
    }
    // The globins for HBB.
    std::size_t glob = 0;
    for (const auto& h : res[1].hits) glob += h.target.find("_") != std::string::npos && h.target.rfind("PTEN_", 0) != 0;
    CHECK(glob >= 40);

    auto a = build_msa(pten, {});
    CHECK(a.names[0] == "PTEN_HUMAN/1-403");
    CHECK(a.rows[0].size() == 403);
    CHECK(a.num_rows() >= 140);
    for (const auto& r : a.rows) CHECK(r.size() == 403);
    // Column case convention: a lowercase column is lowercase/'.' in every row.
    for (std::size_t j = 0; j < 403; ++j) {
        bool lc = std::islower(static_cast<unsigned char>(a.rows[0][j])) != 0;
        for (const auto& r : a.rows) {
            char c = r[j];
            bool ok = lc ? (c == '.' || std::islower(static_cast<unsigned char>(c))) : (c == '-' || std::isupper(static_cast<unsigned char>(c)));
            if (!ok) FAIL("column " << j << " breaks the case convention");
        }
    }
    // Round trips through the shared reader in both formats, and N_eff is computable.
    auto a2 = msa::parse_alignment(msa::to_a2m(a), msa::format::a2m, "x.a2m");
    CHECK(a2.rows == a.rows);
    auto a3 = msa::parse_alignment(msa::to_a3m(a), msa::format::a3m, "x.a3m");
    CHECK(msa::to_a3m(a3) == msa::to_a3m(a));
    auto e = msa::eve_weights(a2, {});
    CHECK(e.neff > 1);
    // The table: header + one line per hit, 12 columns.
    auto tsv = hits_tsv(res, true);
    std::size_t lines = static_cast<std::size_t>(std::count(tsv.begin(), tsv.end(), '\n'));
    CHECK(lines == 1 + res[0].hits.size() + res[1].hits.size());
    auto first = tsv.substr(tsv.find('\n') + 1);
    first = first.substr(0, first.find('\n'));
    CHECK(std::count(first.begin(), first.end(), '\t') == 11);
}

TEST_CASE("profile iterations find at least what one round finds", "[retrieval][search]") {
    auto queries = read_queries(data("hbb.fasta"));
    search_options opt;
    opt.threads = 2;
    auto one = search(queries, data("small_db.fasta.bgz"), opt);
    opt.iterations = 2;
    auto two = search(queries, data("small_db.fasta.bgz"), opt);
    CHECK(two[0].stats.rounds == 2);
    CHECK(two[0].hits.size() >= one[0].hits.size());
}
