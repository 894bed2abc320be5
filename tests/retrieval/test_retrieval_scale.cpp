// Retrieval at database scale: the striped kernel against its scalar and SeqAn3 twins,
// batch = per-query, sharded + merged = unsharded, index = FASTA, and their bad inputs.
#include "temp_dir.hpp"

#include "file_bytes.hpp"
#include "residue_codes.hpp"

#include <catch2/catch.hpp>

#include "retrieval/align.hpp"
#include "retrieval/db_index.hpp"
#include "retrieval/search.hpp"
#include "retrieval/shard.hpp"
#include "util/error.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <random>

using namespace tranova;
using namespace tranova::retrieval;
namespace fs = std::filesystem;

using tranova::test::temp_dir;

namespace {

std::string data(const std::string& f) { return std::string(TRANOVA_TEST_DATA) + "/retrieval/" + f; }

void spit(const std::string& path, const std::string& s) { std::ofstream(path, std::ios::binary) << s; }
using tranova::test::file_bytes;

using tranova::test::blosum_profile;
using tranova::test::codes;

// Every field that reaches an output, compared exactly.
void check_same_hits(const std::vector<search_hit>& a, const std::vector<search_hit>& b) {
    REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        INFO("hit " << i << " " << a[i].target);
        CHECK(a[i].target == b[i].target);
        CHECK(a[i].record == b[i].record);
        CHECK(a[i].raw_score == b[i].raw_score);
        CHECK(a[i].sort_score == b[i].sort_score);
        CHECK(a[i].bits == b[i].bits);
        CHECK(a[i].evalue == b[i].evalue);
        CHECK(a[i].identity == b[i].identity);
        CHECK(a[i].qstart == b[i].qstart);
        CHECK(a[i].tend == b[i].tend);
        CHECK(a[i].row == b[i].row);
        REQUIRE(a[i].insertions.size() == b[i].insertions.size());
        for (std::size_t k = 0; k < a[i].insertions.size(); ++k) {
            CHECK(a[i].insertions[k].after == b[i].insertions[k].after);
            CHECK(a[i].insertions[k].residues == b[i].insertions[k].residues);
        }
    }
}

}  // namespace

TEST_CASE("striped kernel scores equal profile_align and SeqAn3", "[retrieval][align][striped]") {
    std::mt19937 rng(7);
    const std::string aa = "ACDEFGHIKLMNPQRSTVWYX";
    auto rnd = [&](std::size_t n) {
        std::string s;
        for (std::size_t i = 0; i < n; ++i) s.push_back(aa[rng() % (rng() % 50 == 0 ? 21 : 20)]);
        return s;
    };
    std::vector<std::int16_t> work;
    // Query lengths around the 16-lane segment boundaries, targets related and unrelated.
    for (std::size_t L : {1u, 2u, 15u, 16u, 17u, 31u, 33u, 100u, 257u, 700u}) {
        const std::string q = rnd(L);
        const auto prof = blosum_profile(q);
        const striped_query sq(prof, static_cast<int>(L));
        std::vector<std::string> targets;
        for (int k = 0; k < 12; ++k) {
            std::string t = q;
            for (auto& c : t)
                if (rng() % 3 == 0) c = aa[rng() % 20];
            if (t.size() > 10 && k % 2) t.erase(t.size() / 3, static_cast<std::size_t>(k));       // deletion
            if (k % 3 == 0) t.insert(t.size() / 2, rnd(static_cast<std::size_t>(1 + k)));           // insertion
            targets.push_back(rnd(rng() % 40) + t + rnd(rng() % 40));
        }
        targets.push_back(rnd(1));
        targets.push_back(rnd(300));
        std::vector<std::string_view> views(targets.begin(), targets.end());
        const auto seqan = seqan_align(q, views, false, 1);
        for (std::size_t k = 0; k < targets.size(); ++k) {
            INFO("L " << L << " target " << k);
            const auto tc = codes(targets[k]);
            int qe = 0, te = 0;
            const int s = sq.score(tc.data(), static_cast<int>(tc.size()), work, &qe, &te);
            const auto ref = profile_align(prof, static_cast<int>(L), q, tc, targets[k], false);
            CHECK(s == ref.score);
            CHECK(s == seqan[k].score);
            INFO("qe " << qe << " te " << te << " n " << tc.size());
            if (s > 0) {
                // The reported end cell ends an optimal alignment: the best alignment confined
                // to the prefixes that end there scores the optimum.
                std::vector<std::int16_t> pre(prof.begin(), prof.begin() + static_cast<std::ptrdiff_t>(qe) * 21);
                std::vector<std::uint8_t> tpre(tc.begin(), tc.begin() + te);
                CHECK(profile_align(pre, qe, {}, tpre, {}, false).score == s);
            }
        }
    }
    // A score beyond int16 falls back to the scalar kernel.
    const std::string w(3500, 'W');  // W-W scores 11: 38 500
    const auto prof = blosum_profile(w);
    const striped_query sq(prof, static_cast<int>(w.size()));
    const auto tc = codes(w);
    CHECK(sq.score(tc.data(), static_cast<int>(tc.size()), work) == 38500);
}

TEST_CASE("shard specs", "[retrieval][shard]") {
    CHECK(parse_shard_spec("0/1").count == 1);
    CHECK(parse_shard_spec("2/3").index == 2);
    for (const char* bad : {"3/2", "0/0", "3/3", "-1/2", "a/b", "1", "1/2/3", "", "/", "1/"})
        CHECK_THROWS_AS(parse_shard_spec(bad), usage_error);
    CHECK_THROWS_WITH(parse_shard_spec("3/2"), Catch::Contains("0 <= i < N"));
}

TEST_CASE("a batch gives each query what it gets alone", "[retrieval][batch]") {
    auto queries = read_queries(data("two_queries.fasta"));
    search_options opt;
    opt.threads = 2;
    opt.chunk_residues = 40000;
    const auto batch = search(queries, data("small_db.fasta.gz"), opt);
    for (std::size_t q = 0; q < queries.size(); ++q) {
        INFO(queries[q].name);
        const auto alone = search({queries[q]}, data("small_db.fasta.gz"), opt);
        check_same_hits(batch[q].hits, alone[0].hits);
        CHECK(msa::to_a2m(build_msa(batch[q], {})) == msa::to_a2m(build_msa(alone[0], {})));
    }
    // The striped gapped scores select exactly what SeqAn3's did.
    search_options seqan = opt;
    seqan.striped = false;
    const auto ref = search(queries, data("small_db.fasta.gz"), seqan);
    for (std::size_t q = 0; q < queries.size(); ++q) CHECK(hits_tsv({batch[q]}, false) == hits_tsv({ref[q]}, false));
}

TEST_CASE("sharded searches merge into the unsharded result; the index gives the FASTA's", "[retrieval][shard][index]") {
    temp_dir tmp("retrieval_scale");
    auto queries = read_queries(data("two_queries.fasta"));
    search_options opt;
    opt.threads = 2;
    opt.max_hits = 120;  // the cut applies after the merge, as in one run
    const msa_options mo;
    const auto whole = search(queries, data("small_db.fasta.gz"), opt);
    REQUIRE(whole[0].hits.size() == 120);
    CHECK(whole[0].stats.database.records == 495);

    build_db_index(data("small_db.fasta.gz"), tmp / "db.tix");
    const auto via_index = search(queries, tmp / "db.tix", opt);
    for (std::size_t q = 0; q < queries.size(); ++q) check_same_hits(via_index[q].hits, whole[q].hits);
    search_options with_index = opt;
    with_index.index_path = tmp / "db.tix";
    check_same_hits(search(queries, data("small_db.fasta.gz"), with_index)[0].hits, whole[0].hits);

    // N = 3 shards, from the FASTA and from the index alike.
    std::vector<std::string> files;
    for (std::uint64_t i = 0; i < 3; ++i) {
        search_options so = opt;
        so.shard = {i, 3};
        const auto part = search(queries, i == 1 ? tmp / "db.tix" : data("small_db.fasta.gz"), so);
        CHECK(part[0].stats.database.records == 495);  // E-values over the whole database
        for (const auto& h : part[0].hits) CHECK(h.record % 3 == i);
        files.push_back(tmp / ("p" + std::to_string(i) + ".shard"));
        spit(files.back(), format_shard(part, so, mo));
    }
    const merged_shards m = merge_shards({files[2], files[0], files[1]});
    REQUIRE(m.results.size() == 2);
    for (std::size_t q = 0; q < queries.size(); ++q) {
        check_same_hits(m.results[q].hits, whole[q].hits);
        CHECK(msa::to_a2m(build_msa(m.results[q], m.msa)) == msa::to_a2m(build_msa(whole[q], mo)));
        CHECK(msa::to_a3m(build_msa(m.results[q], m.msa)) == msa::to_a3m(build_msa(whole[q], mo)));
    }
    CHECK(hits_tsv(m.results, true) == hits_tsv(whole, true));

    // Bad sets of shards.
    CHECK_THROWS_AS(merge_shards({files[0], files[1]}), usage_error);
    CHECK_THROWS_WITH(merge_shards({files[0], files[1]}), Catch::Contains("missing shard(s) 2/3"));
    CHECK_THROWS_AS(merge_shards({files[0], files[1], files[1], files[2]}), usage_error);
    {
        search_options so = opt;
        so.shard = {2, 3};
        so.evalue = 1e-5;
        spit(tmp / "other_params.shard", format_shard(search(queries, data("small_db.fasta.gz"), so), so, mo));
        CHECK_THROWS_WITH(merge_shards({files[0], files[1], tmp / "other_params.shard"}), Catch::Contains("different parameters"));
        so.evalue = opt.evalue;
        spit(tmp / "small.fa", ">a\nMKVLAAGLLLKKAAW\n");
        spit(tmp / "other_db.shard", format_shard(search(queries, tmp / "small.fa", so), so, mo));
        CHECK_THROWS_WITH(merge_shards({files[0], files[1], tmp / "other_db.shard"}), Catch::Contains("different databases"));
        so.shard = {1, 2};
        spit(tmp / "halves.shard", format_shard(search(queries, tmp / "small.fa", so), so, mo));
    }
    const std::string text = file_bytes(files[2]);
    spit(tmp / "trunc.shard", text.substr(0, text.size() / 2));
    CHECK_THROWS_WITH(merge_shards({files[0], files[1], tmp / "trunc.shard"}), Catch::Contains("trunc.shard"));
    spit(tmp / "junk.shard", "hello\n");
    CHECK_THROWS_WITH(merge_shards({tmp / "junk.shard"}), Catch::Contains("not a tranova retrieve shard file"));
    // Profile rounds cannot be sharded.
    search_options it = opt;
    it.shard = {0, 2};
    it.iterations = 2;
    CHECK_THROWS_AS(search(queries, data("small_db.fasta.gz"), it), usage_error);
}

TEST_CASE("a stale, foreign or damaged index is refused", "[retrieval][index]") {
    temp_dir tmp("retrieval_scale");
    fs::copy_file(data("small_db.fasta.gz"), tmp / "db.fa.gz");
    const auto st = build_db_index(tmp / "db.fa.gz", tmp / "db.tix");
    CHECK(st.records == 495);
    CHECK(st.residues == 189881);
    CHECK(fs::file_size(tmp / "db.tix") == st.bytes);
    CHECK(is_db_index(tmp / "db.tix"));
    CHECK_FALSE(is_db_index(tmp / "db.fa.gz"));
    {
        db_index idx(tmp / "db.tix");
        CHECK(idx.records() == 495);
        CHECK(idx.name(494) == "HBB2_TRICR");
        CHECK(idx.seq(0).size() > 0);
        // Word ids are the 3-mers of the residues.
        const auto s = idx.seq(0);
        CHECK(idx.words(0)[0] == (encode_aa(s[0]) * 20 + encode_aa(s[1])) * 20 + encode_aa(s[2]));
        CHECK(idx.words(0)[s.size() - 1] == no_word);
        idx.check_fresh();
        CHECK_THROWS_WITH(idx.check_matches(data("small_db.fasta.bgz")), Catch::Contains("does not match"));
    }
    auto queries = read_queries(data("hbb.fasta"));
    search_options opt;
    // Database changed since indexing.
    fs::last_write_time(tmp / "db.fa.gz", fs::last_write_time(tmp / "db.fa.gz") + std::chrono::seconds(5));
    CHECK_THROWS_WITH(search(queries, tmp / "db.tix", opt), Catch::Contains("changed since indexing"));
    opt.index_path = tmp / "db.tix";
    CHECK_THROWS_WITH(search(queries, data("small_db.fasta.gz"), opt), Catch::Contains("does not match"));
    // The indexed FASTA is gone.
    fs::remove(tmp / "db.fa.gz");
    opt.index_path.clear();
    CHECK_THROWS_WITH(search(queries, tmp / "db.tix", opt), Catch::Contains("is gone"));
    // Truncated and foreign files.
    const std::string bytes = file_bytes(tmp / "db.tix");
    spit(tmp / "trunc.tix", bytes.substr(0, bytes.size() - 100));
    CHECK_THROWS_WITH(db_index(tmp / "trunc.tix"), Catch::Contains("truncated or corrupt"));
    spit(tmp / "short.tix", bytes.substr(0, 20));
    CHECK_THROWS_WITH(db_index(tmp / "short.tix"), Catch::Contains("not a tranova index"));
    spit(tmp / "empty.fa", "");
    CHECK_THROWS_WITH(build_db_index(tmp / "empty.fa", tmp / "e.tix"), Catch::Contains("no sequences"));
    CHECK_FALSE(fs::exists(tmp / "e.tix"));
}

TEST_CASE("low-complexity mask (SEG-like) and masked seeding", "[retrieval][mask]") {
    // A poly-Q stretch inside a complex sequence: the stretch is masked, the rest is not.
    const std::string complex = "MTAIIKEIVSRNKRRYQEDGFDLDLTYIYPNIIAMGFPAERLEGVYRNN";
    const std::string seq = complex + std::string(30, 'Q') + complex;
    const auto m = low_complexity_mask(seq);
    REQUIRE(m.size() == seq.size());
    for (std::size_t i = complex.size(); i < complex.size() + 30; ++i) CHECK(m[i]);
    std::size_t masked_complex = 0;
    for (std::size_t i = 0; i + 12 < complex.size(); ++i) masked_complex += m[i];
    CHECK(masked_complex == 0);
    CHECK(low_complexity_mask("MKV").size() == 3);  // shorter than a window: nothing masked
    CHECK_FALSE(low_complexity_mask("MKV")[0]);
    // Masked seeding still finds the planted family of a complex query, and a batch with the
    // mask gives each query what it gets alone with the mask.
    auto queries = read_queries(data("two_queries.fasta"));
    search_options opt;
    opt.mask_low_complexity = true;
    const auto masked = search(queries, data("small_db.fasta.gz"), opt);
    std::size_t fam = 0;
    for (const auto& h : masked[0].hits) fam += h.target.rfind("PTEN_", 0) == 0;
    CHECK(fam == 150);
    check_same_hits(search({queries[1]}, data("small_db.fasta.gz"), opt)[0].hits, masked[1].hits);
}
