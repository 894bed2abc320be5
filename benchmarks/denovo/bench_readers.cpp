// Spectrum reader throughput. For each file: a baseline pass (fread 4 MiB chunks + memchr
// over every newline: the I/O and scanning floor of any line reader), then the real
// reader (all spectra, peaks included). Prints the median of --repeat runs: wall-clock
// spectra/s and MB/s, the same per CPU-second of the reading thread (the one-core figure,
// robust on a shared machine), and the ratio of reader to baseline CPU throughput.
#include "denovo/preprocess.hpp"
#include "denovo/spectrum.hpp"
#include "util/error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>

using namespace tranova::denovo;

namespace {

double now() {
    return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// CPU time of this thread: on a shared, overloaded machine the wall clock measures the
// queue, not the parser; MB per CPU-second is the one-core throughput.
double cpu_now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

uint64_t baseline_pass(const std::string& path, long& lines) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    TRANOVA_CHECK(f, "{}: cannot open", path);
    std::vector<char> buf(4 << 20);
    uint64_t total = 0;
    lines = 0;
    size_t got;
    while ((got = std::fread(buf.data(), 1, buf.size(), f)) > 0) {
        total += got;
        const char* p = buf.data();
        const char* e = p + got;
        while ((p = static_cast<const char*>(std::memchr(p, '\n', e - p)))) ++p, ++lines;
    }
    std::fclose(f);
    return total;
}

}  // namespace

int main(int argc, char** argv) {
    int repeat = 3;
    bool preprocess_too = false;
    std::vector<std::string> files;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--repeat" && i + 1 < argc) repeat = std::max(1, std::atoi(argv[++i]));
        else if (a == "--preprocess") preprocess_too = true;
        else files.push_back(a);
    }
    if (files.empty()) {
        std::fprintf(stderr, "usage: bench_denovo_readers [--repeat N] [--preprocess] FILE.mgf|FILE.mzML ...\n");
        return 2;
    }
    try {
        fmt::print("{:<44} {:>8} {:>8} {:>10} {:>8} {:>10} {:>12} {:>11} {:>7}\n", "file", "MB", "spectra",
                   "spectra/s", "MB/s", "MB/cpu-s", "spectra/cpu-s", "base MB/cpu-s", "ratio");
        for (const auto& path : files) {
            std::vector<double> tb, tr, tp, cr, cb;
            uint64_t bytes = 0;
            long n = 0, peaks = 0;
            for (int r = 0; r < repeat; ++r) {
                long lines = 0;
                double t0 = now(), c0 = cpu_now();
                bytes = baseline_pass(path, lines);
                tb.push_back(now() - t0);
                cb.push_back(cpu_now() - c0);
                read_options o;
                o.keep_chargeless = true;
                o.max_warnings = 0;
                t0 = now();
                c0 = cpu_now();
                auto reader = open_spectra(path, o);
                spectrum s;
                n = 0;
                peaks = 0;
                while (reader->next(s)) ++n, peaks += static_cast<long>(s.mz.size());
                tr.push_back(now() - t0);
                cr.push_back(cpu_now() - c0);
                if (preprocess_too) {
                    auto rd = open_spectra(path, o);
                    processed_peaks pp;
                    auto opt = preprocess_options::casanovo();
                    t0 = now();
                    while (rd->next(s)) preprocess(s, opt, pp);
                    tp.push_back(now() - t0);
                }
            }
            const double mb = bytes / 1e6, t = median(tr), c = median(cr), cbase = median(cb);
            (void)tb;
            std::string name = path.size() > 44 ? "..." + path.substr(path.size() - 41) : path;
            fmt::print("{:<44} {:>8.1f} {:>8} {:>10.0f} {:>8.1f} {:>10.1f} {:>12.0f} {:>11.1f} {:>7.3f}\n", name, mb, n,
                       n / t, mb / t, mb / c, n / c, mb / cbase, cbase / c);
            if (preprocess_too)
                fmt::print("  read + casanovo preprocessing: {:.0f} spectra/s ({} peaks read)\n", n / median(tp), peaks);
        }
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_denovo_readers: %s\n", e.what());
        return 1;
    }
    return 0;
}
