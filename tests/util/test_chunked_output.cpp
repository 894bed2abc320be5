#include "util/chunked_output.hpp"
#include "util/error.hpp"

#include "temp_dir.hpp"

#include "file_bytes.hpp"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;
using tranova::chunked_output;
using tranova::job_fingerprint;

using tranova::test::temp_dir;

namespace {
using tranova::test::file_bytes;
void spit(const fs::path& p, const std::string& s) {
    std::ofstream out(p, std::ios::binary);
    out << s;
}
job_fingerprint fp_of(const std::string& alpha) {
    job_fingerprint fp;
    fp.add("command", "test");
    fp.add("--alpha", alpha);
    return fp;
}
std::string chunk_text(int i) { return "row " + std::to_string(i) + "\tx\n"; }
}  // namespace

TEST_CASE("fnv1a64 matches the published test vectors", "[chunks]") {
    CHECK(tranova::fnv1a64("") == 0xcbf29ce484222325ULL);
    CHECK(tranova::fnv1a64("a") == 0xaf63dc4c8601ec8cULL);
    CHECK(tranova::fnv1a64("foobar") == 0x85944171f73967e8ULL);
}

TEST_CASE("an uninterrupted chunked run writes header, chunks in order, footer; no record left", "[chunks]") {
    temp_dir tmp("chunks_a");
    const fs::path& d = tmp.path;
    auto out = (d / "out.csv").string();
    {
        chunked_output co(out, fp_of("0.6"), false);
        CHECK_FALSE(fs::exists(co.record_dir()));  // created with the first chunk
        CHECK_FALSE(fs::exists(out));
        // out of order on purpose: assembly follows the index
        co.write_chunk(2, chunk_text(2), "n=1");
        CHECK(fs::is_directory(co.record_dir()));
        CHECK(co.read_chunk(2) == chunk_text(2));
        co.write_chunk(0, chunk_text(0));
        co.write_chunk(1, chunk_text(1));
        CHECK(co.done(2));
        CHECK(co.state(2) == "n=1");
        co.finish(3, "head\n", "tail\n");
    }
    CHECK(file_bytes(out) == "head\n" + chunk_text(0) + chunk_text(1) + chunk_text(2) + "tail\n");
    CHECK_FALSE(fs::exists(chunked_output::record_dir_for(out)));
}

TEST_CASE("resume skips recorded chunks and gives the same bytes", "[chunks]") {
    temp_dir tmp("chunks_b");
    const fs::path& d = tmp.path;
    auto out = (d / "out.csv").string();
    {
        chunked_output co(out, fp_of("0.6"), false);
        co.write_chunk(0, chunk_text(0), "s0");
        co.write_chunk(1, chunk_text(1), "s1");
        co.keep();  // preempted here: no finish
    }
    REQUIRE(fs::is_directory(chunked_output::record_dir_for(out)));
    CHECK_FALSE(fs::exists(out));
    SECTION("without --resume the record is refused and kept") {
        CHECK_THROWS_AS(chunked_output(out, fp_of("0.6"), false), tranova::usage_error);
        CHECK(fs::exists(chunked_output::record_dir_for(out) + "/chunk-1.part"));
    }
    SECTION("another job's record is refused, naming the difference, and kept") {
        try {
            chunked_output co(out, fp_of("0.5"), true);
            FAIL("no error");
        } catch (const tranova::usage_error& e) {
            std::string m = e.what();
            CHECK(m.find("--alpha was '0.6', now '0.5'") != std::string::npos);
            CHECK(m.find('\n') == std::string::npos);
        }
        job_fingerprint other;
        other.add("command", "other");
        CHECK_THROWS_AS(chunked_output(out, other, true), tranova::usage_error);
        chunked_output co(out, fp_of("0.6"), true);  // still resumable
        CHECK(co.resumed_chunks() == 2);
    }
    SECTION("the same job resumes") {
        chunked_output co(out, fp_of("0.6"), true);
        CHECK(co.resumed_chunks() == 2);
        CHECK(co.done(0));
        CHECK(co.done(1));
        CHECK_FALSE(co.done(2));
        CHECK(co.state(1) == "s1");
        co.write_chunk(2, chunk_text(2));
        co.finish(3, "h\n");
        CHECK(file_bytes(out) == "h\n" + chunk_text(0) + chunk_text(1) + chunk_text(2));
    }
    SECTION("a torn journal line or a damaged chunk file means that chunk is redone") {
        const auto dir = chunked_output::record_dir_for(out);
        std::string j = file_bytes(dir + "/journal.tsv");
        spit(dir + "/journal.tsv", j.substr(0, j.size() - 3));  // kill during the append of chunk 1
        spit(dir + "/chunk-0.part", "row 0\ty\n");            // same size, other bytes
        chunked_output co(out, fp_of("0.6"), true);
        CHECK(co.resumed_chunks() == 0);
        CHECK_FALSE(co.done(0));
        CHECK_FALSE(co.done(1));
        co.write_chunk(0, chunk_text(0));
        co.write_chunk(1, chunk_text(1));
        co.finish(2);
        CHECK(file_bytes(out) == chunk_text(0) + chunk_text(1));
    }
    SECTION("a garbled record is an error naming the file and line") {
        const auto dir = chunked_output::record_dir_for(out);
        spit(dir + "/journal.tsv", file_bytes(dir + "/journal.tsv") + "chunk\tx\n");
        try {
            chunked_output co(out, fp_of("0.6"), true);
            FAIL("no error");
        } catch (const tranova::error& e) {
            CHECK(std::string(e.what()).find("journal.tsv:") != std::string::npos);
        }
    }
}

TEST_CASE("--resume with no record starts from the beginning", "[chunks]") {
    temp_dir tmp("chunks_c");
    const fs::path& d = tmp.path;
    auto out = (d / "out.csv").string();
    chunked_output co(out, fp_of("1"), true);
    CHECK(co.resumed_chunks() == 0);
    co.write_chunk(0, "x\n");
    co.finish(1);
    CHECK(file_bytes(out) == "x\n");
}

TEST_CASE("input files are fingerprinted by content", "[chunks]") {
    temp_dir tmp("chunks_d");
    const fs::path& d = tmp.path;
    spit(d / "in.txt", "abc");
    job_fingerprint a, b;
    a.add_file("--in", (d / "in.txt").string());
    spit(d / "in.txt", "abd");
    b.add_file("--in", (d / "in.txt").string());
    REQUIRE(a.items.size() == 1);
    CHECK(a.items[0].second.rfind("3 bytes, fnv1a64 ", 0) == 0);
    CHECK(a.items[0].second != b.items[0].second);
    CHECK_THROWS_AS(a.add_file("--in", (d / "missing").string()), tranova::error);
    CHECK_THROWS_AS(a.add_file("--in", "-"), tranova::usage_error);
    // tabs in keys and values cannot split the record's lines
    job_fingerprint t;
    t.add("k\tey", "v\nal");
    CHECK(t.items[0].first == "k\\tey");
    CHECK(t.items[0].second == "v\\nal");
}

TEST_CASE("a direct output keeps no record and refuses --resume", "[chunks]") {
    CHECK_THROWS_AS(chunked_output("/dev/null", fp_of("1"), true), tranova::usage_error);
    std::string dir;
    {
        chunked_output co("/dev/null", fp_of("1"), false);
        dir = co.record_dir();
        CHECK(fs::is_directory(dir));
        co.write_chunk(0, "x\n");
        co.finish(1);
    }
    CHECK_FALSE(fs::exists(dir));
}

TEST_CASE("a run that fails before its first chunk leaves no record", "[chunks]") {
    temp_dir tmp("chunks_e");
    const fs::path& d = tmp.path;
    auto out = (d / "out.csv").string();
    { chunked_output co(out, fp_of("1"), false); }
    CHECK_FALSE(fs::exists(chunked_output::record_dir_for(out)));
    chunked_output again(out, fp_of("2"), false);  // nothing to refuse
    again.write_chunk(0, "y\n");
    again.remove_record();
    CHECK_FALSE(fs::exists(chunked_output::record_dir_for(out)));
}

TEST_CASE("a run that ends with an error removes its record unless kept", "[chunks]") {
    temp_dir tmp("chunks_f");
    const fs::path& d = tmp.path;
    auto out = (d / "out.csv").string();
    try {
        chunked_output co(out, fp_of("1"), false);
        co.write_chunk(0, "x\n");
        REQUIRE(fs::exists(chunked_output::record_dir_for(out)));
        throw tranova::error("bad input");
    } catch (const tranova::error&) {
    }
    CHECK_FALSE(fs::exists(chunked_output::record_dir_for(out)));
}
