#include "util/error.hpp"
#include "util/output_file.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace fs = std::filesystem;

using tranova::test::temp_dir;

namespace {
size_t count_entries(const fs::path& d) {
    size_t n = 0;
    for ([[maybe_unused]] auto& e : fs::directory_iterator(d)) ++n;
    return n;
}
}  // namespace

TEST_CASE("output_file appears only on commit", "[output]") {
    temp_dir tmp("out_a");
    const fs::path& d = tmp.path;
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
    temp_dir tmp("out_b");
    const fs::path& d = tmp.path;
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
    temp_dir tmp("out_c");
    const fs::path& d = tmp.path;
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

TEST_CASE("special files are written directly, never renamed over", "[output]") {
    {
        tranova::output_file out("/dev/null");
        out.write("discarded\n");
        out.commit();
    }
    struct stat st {};
    REQUIRE(stat("/dev/null", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
    CHECK(tranova::is_direct_output("-"));
    CHECK(tranova::is_direct_output("/dev/null"));
    CHECK(tranova::is_direct_output("/dev/stdout"));
    CHECK_FALSE(tranova::is_direct_output("/tmp/some-regular-file-that-does-not-exist"));
    // /dev/full: the write error is reported (at a write or at commit), naming the device.
    auto fill = [](std::size_t n) {
        tranova::output_file full("/dev/full");
        full.write(std::string(n, 'x'));
        full.commit();
    };
    CHECK_THROWS_WITH(fill(1 << 16), Catch::Contains("'/dev/full'") && Catch::Contains("No space left"));
    CHECK_THROWS_WITH(fill(10), Catch::Contains("'/dev/full'") && Catch::Contains("No space left"));
    REQUIRE(stat("/dev/full", &st) == 0);
    CHECK(S_ISCHR(st.st_mode));
}

TEST_CASE("output_path into a device goes through a temporary elsewhere", "[output]") {
    tranova::output_path p("/dev/null");
    CHECK(p.temp_path().rfind("/dev/", 0) != 0);  // never a file created in /dev
    std::ofstream(p.temp_path()) << "data";
    p.commit();
    CHECK_FALSE(fs::exists(p.temp_path()));
}

TEST_CASE("folders and trailing slashes are refused with the reason", "[output]") {
    temp_dir tmp("out_e");
    const fs::path& d = tmp.path;
    CHECK_THROWS_WITH(tranova::output_file(d.string()), Catch::Contains("is a folder"));
    CHECK_THROWS_WITH(tranova::output_file((d / "new").string() + "/"), Catch::Contains("ends with '/'"));
    CHECK_THROWS_WITH(tranova::output_file((d / "missing" / "x.csv").string()), Catch::Contains("does not exist"));
}

TEST_CASE("an output that is a registered input is a usage error", "[output]") {
    temp_dir tmp("out_f");
    const fs::path& d = tmp.path;
    auto in = d / "input.txt";
    std::ofstream(in) << "precious\n";
    fs::create_symlink(in, d / "link.txt");
    tranova::register_input(in.string(), "--input 'input.txt'");
    CHECK_THROWS_AS(tranova::output_file(in.string()), tranova::usage_error);
    CHECK_THROWS_AS(tranova::output_file((d / "link.txt").string()), tranova::usage_error);
    CHECK_THROWS_AS(tranova::output_path((d / "." / "input.txt").string()), tranova::usage_error);
    CHECK(tranova::same_file(in.string(), (d / "link.txt").string()));
    CHECK_FALSE(tranova::same_file("/dev/null", "/dev/null"));
    std::ifstream f(in);
    std::string line;
    std::getline(f, line);
    CHECK(line == "precious");
}

TEST_CASE("printable escapes what would break a one-line message", "[error]") {
    using tranova::printable;
    CHECK(printable("plain text") == "plain text");
    CHECK(printable(std::string("a\0b", 3)) == "a\\0b");
    CHECK(printable("new\nline\ttab\r") == "new\\nline\\ttab\\r");
    CHECK(printable("\x1b[31m") == "\\x1B[31m");
    CHECK(printable("caf\xc3\xa9 \xe2\x80\xa6") == "caf\xc3\xa9 \xe2\x80\xa6");       // valid UTF-8 kept
    CHECK(printable("bad\xff\xc3") == "bad\\xFF\\xC3");                              // invalid bytes escaped
    CHECK(printable("\xc0\xaf") == "\\xC0\\xAF");                                    // overlong '/'
    CHECK(printable("rtl\xe2\x80\xaeoverride") == "rtl\\u{202E}override");           // bidi control
    CHECK(tranova::error(std::string("x\0y\n", 4)).what() == std::string("x\\0y\\n"));
}
