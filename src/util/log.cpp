#include "util/log.hpp"

#include "util/error.hpp"
#include "util/output_file.hpp"

#include <cstdio>
#include <mutex>

namespace tranova::log {
namespace {
level g_level = level::info;
std::string g_context = "tranova";
std::FILE* g_file = nullptr;
std::mutex g_mutex;
}  // namespace

void set_level(level l) { g_level = l; }
level get_level() { return g_level; }
void set_context(std::string_view subcommand) {
    g_context = subcommand.empty() ? std::string("tranova") : "tranova " + std::string(subcommand);
}
const std::string& context() { return g_context; }

void set_file(const std::string& path) {
    close_file();
    g_file = open_streaming_output(path);
}
void close_file() {
    if (g_file) std::fclose(g_file);
    g_file = nullptr;
}

void write(level l, std::string_view msg) {
    const char* tag = l == level::warn ? "warning: " : "";
    // One line each, whatever bytes a file name or record carried.
    std::string line = fmt::format("[{}] {}{}\n", printable(g_context), tag, printable(msg));
    std::lock_guard lock(g_mutex);
    std::fputs(line.c_str(), stderr);
    if (g_file) {
        std::fputs(line.c_str(), g_file);
        std::fflush(g_file);
    }
}

}  // namespace tranova::log
