#include "util/progress.hpp"

#include "util/log.hpp"

#include <unistd.h>

#include <cstdio>

namespace tranova {

progress::progress(std::string label, std::uint64_t total, std::string unit)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      enabled_(log::get_level() >= log::level::info), tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()), last_print_(start_) {}

progress::~progress() { finish(); }

void progress::add(std::uint64_t n) {
    done_ += n;
    if (!enabled_) return;
    auto now = std::chrono::steady_clock::now();
    // A terminal bar refreshes 10x a second; a log file gets a line every 10 s.
    auto interval = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(10000);
    if (now - last_print_ < interval) return;
    std::unique_lock lock(mutex_, std::try_to_lock);
    if (!lock.owns_lock() || finished_) return;
    last_print_ = now;
    render(false);
}

void progress::finish() {
    if (!enabled_) return;
    std::lock_guard lock(mutex_);
    if (finished_) return;
    finished_ = true;
    render(true);
}

void progress::render(bool final_line) {
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::uint64_t done = done_.load();
    double rate = secs > 0 ? done / secs : 0.0;
    if (tty_) {
        std::string bar;
        if (total_ > 0) {
            int width = 30, filled = static_cast<int>(width * std::min<double>(1.0, double(done) / total_));
            bar = "[" + std::string(filled, '#') + std::string(width - filled, '.') + "] ";
        }
        std::fprintf(stderr, "\r[%s] %s: %s%llu%s%s %s (%.1f/s)%s", log::context().c_str(), label_.c_str(),
                     bar.c_str(), (unsigned long long)done, total_ ? "/" : "",
                     total_ ? std::to_string(total_).c_str() : "", unit_.c_str(), rate, final_line ? "\n" : "");
        std::fflush(stderr);
    } else if (!final_line || secs >= 10.0) {
        // Non-terminal: periodic lines, and a final one only for runs long enough to have had progress lines.
        if (total_ > 0)
            log::write(log::level::info, fmt::format("{}: {}/{} {} ({:.1f}%, {:.1f}/s)", label_, done, total_, unit_,
                                                     100.0 * done / total_, rate));
        else
            log::write(log::level::info, fmt::format("{}: {} {} ({:.1f}/s)", label_, done, unit_, rate));
    }
}

}  // namespace tranova
