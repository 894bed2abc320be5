#include "util/output_file.hpp"

#include "util/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <set>

namespace tranova {
namespace {

// Live temporaries, for the signal handler. A fixed array so the handler stays
// async-signal-safe (it only calls unlink on stable C strings).
constexpr int max_live = 64;
char g_live[max_live][4096];
volatile sig_atomic_t g_live_used[max_live];
std::mutex g_live_mutex;

int live_add(const std::string& path) {
    std::lock_guard lock(g_live_mutex);
    for (int i = 0; i < max_live; ++i)
        if (!g_live_used[i] && path.size() < sizeof g_live[i]) {
            std::memcpy(g_live[i], path.c_str(), path.size() + 1);
            g_live_used[i] = 1;
            return i;
        }
    return -1;
}
void live_remove(const std::string& path) {
    std::lock_guard lock(g_live_mutex);
    for (int i = 0; i < max_live; ++i)
        if (g_live_used[i] && path == g_live[i]) g_live_used[i] = 0;
}

extern "C" void cleanup_and_reraise(int sig) {
    for (int i = 0; i < max_live; ++i)
        if (g_live_used[i]) unlink(g_live[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

// "<dir>/.<name>.tmp.XXXXXX" created with mkstemp so concurrent runs never collide.
std::string make_temp_beside(const std::string& path, int* fd_out) {
    std::filesystem::path p(path);
    std::filesystem::path dir = p.parent_path();
    if (dir.empty()) dir = ".";
    std::string tmpl = (dir / ("." + p.filename().string() + ".tmp.XXXXXX")).string();
    int fd = mkstemp(tmpl.data());
    TRANOVA_CHECK(fd >= 0, "cannot write '{}': {}", path, std::strerror(errno));
    if (fd_out)
        *fd_out = fd;
    else
        close(fd);
    // mkstemp creates 0600; give the final file the usual permissions (umask applies).
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmpl.c_str(), 0666 & ~mask);
    live_add(tmpl);
    return tmpl;
}

void rename_onto(const std::string& temp, const std::string& path) {
    if (std::rename(temp.c_str(), path.c_str()) != 0) {
        int e = errno;
        unlink(temp.c_str());
        live_remove(temp);
        TRANOVA_FAIL("cannot write '{}': {}", path, std::strerror(e));
    }
    live_remove(temp);
}

}  // namespace

output_file::output_file(std::string path, bool binary) : path_(std::move(path)) {
    if (path_ == "-") {
        fp_ = stdout;
        return;
    }
    int fd = -1;
    temp_ = make_temp_beside(path_, &fd);
    fp_ = fdopen(fd, binary ? "wb" : "w");
    TRANOVA_CHECK(fp_, "cannot write '{}': {}", path_, std::strerror(errno));
}

output_file::~output_file() {
    if (committed_ || path_ == "-") return;
    if (fp_) std::fclose(fp_);
    unlink(temp_.c_str());
    live_remove(temp_);
}

void output_file::write(std::string_view s) {
    if (s.empty()) return;
    TRANOVA_CHECK(std::fwrite(s.data(), 1, s.size(), fp_) == s.size(), "cannot write '{}': {}", path_,
                  std::strerror(errno));
}

void output_file::commit() {
    if (committed_) return;
    if (path_ == "-") {
        TRANOVA_CHECK(std::fflush(stdout) == 0, "cannot write to standard output: {}", std::strerror(errno));
        committed_ = true;
        return;
    }
    bool ok = std::fflush(fp_) == 0 && fsync(fileno(fp_)) == 0;
    int e = errno;
    ok = (std::fclose(fp_) == 0) && ok;
    fp_ = nullptr;
    if (!ok) {
        unlink(temp_.c_str());
        live_remove(temp_);
        committed_ = true;
        TRANOVA_FAIL("cannot write '{}': {}", path_, std::strerror(e ? e : errno));
    }
    rename_onto(temp_, path_);
    committed_ = true;
}

output_path::output_path(std::string path) : path_(std::move(path)) { temp_ = make_temp_beside(path_, nullptr); }

output_path::~output_path() {
    if (committed_) return;
    unlink(temp_.c_str());
    live_remove(temp_);
}

void output_path::commit() {
    if (committed_) return;
    committed_ = true;
    rename_onto(temp_, path_);
}

void make_directories(const std::string& dir) {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    TRANOVA_CHECK(!ec, "cannot create folder '{}': {}", dir, ec.message());
}

void install_cleanup_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = cleanup_and_reraise;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

}  // namespace tranova
