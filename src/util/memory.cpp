#include "util/memory.hpp"

#include "util/error.hpp"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace tranova {
namespace {

// A number from a one-value file ("max" or unreadable: 0).
std::uint64_t read_number(const char* path) {
    std::ifstream f(path);
    std::string s;
    if (!(f >> s) || s == "max") return 0;
    char* end = nullptr;
    unsigned long long v = std::strtoull(s.c_str(), &end, 10);
    return end && *end == '\0' ? v : 0;
}

}  // namespace

std::uint64_t available_memory_bytes() {
    std::uint64_t avail = 0;
    {
        std::ifstream f("/proc/meminfo");
        std::string key;
        std::uint64_t kb = 0;
        std::string unit;
        while (f >> key >> kb) {
            std::getline(f, unit);
            if (key == "MemAvailable:") {
                avail = kb * 1024;
                break;
            }
        }
    }
    if (avail == 0) {
        long pages = sysconf(_SC_AVPHYS_PAGES), page = sysconf(_SC_PAGESIZE);
        if (pages > 0 && page > 0) avail = static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page);
    }
    // cgroup v2, then v1: limit minus current usage.
    const std::pair<const char*, const char*> cgroups[] = {
        {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"},
        {"/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"}};
    for (const auto& [limit_file, usage_file] : cgroups) {
        std::uint64_t limit = read_number(limit_file);
        if (limit == 0 || limit > (std::uint64_t{1} << 60)) continue;
        std::uint64_t used = read_number(usage_file);
        std::uint64_t left = limit > used ? limit - used : 0;
        if (avail == 0 || left < avail) avail = left;
        break;
    }
    return avail;
}

void check_memory(std::uint64_t need, const std::string& what, const std::string& task) {
    std::uint64_t avail = 0;
    const char* source = "are available";
    if (const char* env = std::getenv("TRANOVA_MEMORY_LIMIT")) {
        avail = std::strtoull(env, nullptr, 10);
        source = "are allowed (TRANOVA_MEMORY_LIMIT)";
    }
    if (avail == 0) avail = available_memory_bytes();
    if (avail == 0 || need <= avail) return;
    auto size = [](std::uint64_t b) {
        constexpr double mib = 1024.0 * 1024.0;
        return b >= (std::uint64_t{1} << 30) ? fmt::format("{:.1f} GiB", double(b) / (1024 * mib))
                                            : fmt::format("{:.0f} MiB", double(b) / mib);
    };
    TRANOVA_FAIL("{}: needs about {} of memory for {}, but only {} {}", what, size(need), task, size(avail), source);
}

}  // namespace tranova
