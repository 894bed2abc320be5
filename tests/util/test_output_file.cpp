#include "util/error.hpp"
#include "util/output_file.hpp"

#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

namespace {
fs::path fresh_dir(const std::string& name) {
    auto d = fs::temp_directory_path() / ("tranova_out_" + name + std::to_string(::getpid()));
    fs::remove_all(d);
    fs::create_directories(d);
    return d;
}
size_t count_entries(const fs::path& d) {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator(d)) ++n;
    return n;
}
}  // namespace

TEST_CASE("output_file appears only on commit", "[output]") {
    auto d = fresh_dir("a");
    auto target = d / "out.csv";
    {
        tranova::output_file out(target.string());
        out.write("hello\n");
        CHECK_FALSE(fs::exists(target));
        CHECK(count_entries(d) == 1);  // the hidden temporary
        out.commit();
    }
    REQUIRE(fs::exists(target));
    std::ifstream in(target);
    std::stringstream ss;
    ss << in.rdbuf();
    CHECK(ss.str() == "hello\n");
    CHECK(count_entries(d) == 1);
}

TEST_CASE("output_file leaves nothing behind when not committed", "[output]") {
    auto d = fresh_dir("b");
    {
        tranova::output_file out((d / "out.csv").string());
        out.write("partial");
    }
    CHECK(count_entries(d) == 0);
}

TEST_CASE("output_file into a missing folder is a clean error", "[output]") {
    CHECK_THROWS_WITH(tranova::output_file("/nonexistent-dir/x.csv"), Catch::Contains("cannot write '/nonexistent-dir/x.csv'"));
}

TEST_CASE("output_path commits a file written by name", "[output]") {
    auto d = fresh_dir("c");
    {
        tranova::output_path p((d / "x.h5").string());
        std::ofstream(p.temp_path()) << "data";
        p.commit();
    }
    CHECK(fs::exists(d / "x.h5"));
    CHECK(count_entries(d) == 1);
    {
        tranova::output_path p((d / "y.h5").string());
        std::ofstream(p.temp_path()) << "data";
    }
    CHECK_FALSE(fs::exists(d / "y.h5"));
    CHECK(count_entries(d) == 1);
}
