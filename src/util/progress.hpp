// Progress reporting: an in-place bar when stderr is a terminal, a plain line every few
// seconds otherwise (log files, Snakemake, SLURM), nothing with --quiet. Thread-safe:
// any thread may call add(); only one prints at a time.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace tranova {

class progress {
public:
    // total == 0 means unknown (counts only).
    progress(std::string label, std::uint64_t total, std::string unit = "items");
    ~progress();
    progress(const progress&) = delete;
    progress& operator=(const progress&) = delete;

    void add(std::uint64_t n = 1);
    void finish();  // prints the final state once; called by the destructor too

private:
    void render(bool final_line);
    std::string label_, unit_;
    std::uint64_t total_;
    std::atomic<std::uint64_t> done_{0};
    bool enabled_, tty_, finished_ = false;
    std::chrono::steady_clock::time_point start_, last_print_;
    std::mutex mutex_;
};

}  // namespace tranova
