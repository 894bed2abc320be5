// Diagnostics on stderr (and optionally a --log file), with verbosity levels.
// Lines look like `[tranova score] message`; warnings and errors say so. Progress bars
// live in progress.hpp; the end-of-run footer in run_stats.hpp.
#pragma once

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace tranova::log {

enum class level { quiet = 0, warn = 1, info = 2, debug = 3 };

void set_level(level l);
level get_level();
void set_context(std::string_view subcommand);  // prefix shown in every line
const std::string& context();
// Also copy every line to this file (`--log FILE`); throws tranova::error if it can't open.
void set_file(const std::string& path);
void close_file();

void write(level l, std::string_view msg);

template <class... Args> void info(fmt::format_string<Args...> f, Args&&... args) {
    if (get_level() >= level::info) write(level::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void debug(fmt::format_string<Args...> f, Args&&... args) {
    if (get_level() >= level::debug) write(level::debug, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args> void warn(fmt::format_string<Args...> f, Args&&... args) {
    if (get_level() >= level::warn) write(level::warn, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace tranova::log
