#include "util/run_stats.hpp"

#include <fmt/format.h>
#include <sys/resource.h>

#include <chrono>

namespace tranova {

double wall_seconds_since_start() {
    static const auto start = std::chrono::steady_clock::now();
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

double peak_rss_gib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / (1024.0 * 1024.0);  // ru_maxrss is in KiB on Linux
}

std::string footer_line(const std::string& version, const std::string& command_line) {
    return fmt::format("Version: {}; CMD: {}; Real time: {:.3f} sec; CPU: {:.3f} sec; Peak RSS: {:.3f} GB", version,
                       command_line, wall_seconds_since_start(), cpu_seconds(), peak_rss_gib());
}

}  // namespace tranova
