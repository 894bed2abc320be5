#include "util/output_file.hpp"

#include "util/error.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

namespace tranova {
namespace fs = std::filesystem;
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

// --- what kind of target a path is ----------------------------------------------------

enum class target_kind { missing, regular, direct, folder, refused };

// Names of this process's own descriptors (/dev/stdout, /dev/fd/3, /proc/self/fd/1): they
// may resolve to a regular file (a shell redirection), which must be written through the
// descriptor, never renamed over. (/dev/shm and other real folders are ordinary paths.)
bool names_a_descriptor(const std::string& p) {
    if (p == "/dev/stdout" || p == "/dev/stderr" || p == "/dev/stdin" || p.rfind("/dev/fd/", 0) == 0) return true;
    return p.rfind("/proc/", 0) == 0 && p.find("/fd/") != std::string::npos;
}

// Classifies `path` (symlinks followed). `why` says why a refused target is refused.
target_kind classify(const std::string& path, std::string* why = nullptr) {
    if (path == "-") return target_kind::direct;
    if (!path.empty() && path.back() == '/') {
        if (why) *why = "ends with '/': a file name is needed here, not a folder";
        return target_kind::folder;
    }
    struct stat st {};
    if (stat(path.c_str(), &st) != 0) {
        // /dev/stdout of a closed descriptor and the like are never created as files.
        if (names_a_descriptor(path)) return target_kind::direct;
        return target_kind::missing;
    }
    if (S_ISREG(st.st_mode)) {
        // /dev/stdout redirected to a file: write through the descriptor, never rename.
        if (names_a_descriptor(path)) return target_kind::direct;
        return target_kind::regular;
    }
    if (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode)) return target_kind::direct;
    if (S_ISDIR(st.st_mode)) {
        if (why) *why = "is a folder; a file name is needed here";
        return target_kind::folder;
    }
    if (why) *why = S_ISBLK(st.st_mode) ? "is a block device; refusing to write to it" : "is a socket or other special file; refusing to write to it";
    return target_kind::refused;
}

// The regular file a rename must land on: a symlink to a regular file is written
// through (the link stays a link), anything else is the path itself.
std::string rename_target(const std::string& path) {
    std::error_code ec;
    if (fs::is_symlink(path, ec)) {
        auto c = fs::canonical(path, ec);
        if (!ec) return c.string();
    }
    return path;
}

void check_target(const std::string& path) {
    std::string why;
    auto k = classify(path, &why);
    if (k == target_kind::folder || k == target_kind::refused) TRANOVA_FAIL("cannot write '{}': it {}", path, why);
}

// The folder that must hold a new file, with a clear message when it is missing.
void check_parent(const std::string& path) {
    fs::path dir = fs::path(path).parent_path();
    if (dir.empty()) return;
    std::error_code ec;
    auto st = fs::status(dir, ec);
    if (!fs::exists(st)) TRANOVA_FAIL("cannot write '{}': folder '{}' does not exist", path, dir.string());
    if (!fs::is_directory(st)) TRANOVA_FAIL("cannot write '{}': '{}' is not a folder", path, dir.string());
}

// "<dir>/.<name>.tmp.XXXXXX" created with mkstemp so concurrent runs never collide.
// `in_tmpdir`: in $TMPDIR instead (for targets whose folder is not ours, e.g. /dev).
std::string make_temp(const std::string& path, int* fd_out, bool in_tmpdir) {
    fs::path p(path);
    fs::path dir = p.parent_path();
    std::error_code ec;
    if (in_tmpdir) dir = fs::temp_directory_path(ec);
    if (dir.empty()) dir = in_tmpdir ? "/tmp" : ".";
    std::string name = p.filename().string();
    if (name.empty() || name == "-") name = "stdout";
    std::string tmpl = (dir / ("." + name + ".tmp.XXXXXX")).string();
    int fd = mkstemp(tmpl.data());
    if (fd < 0) {
        int e = errno;
        if (!in_tmpdir) check_parent(path);
        TRANOVA_FAIL("cannot write '{}': {}", path, std::strerror(e));
    }
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

void rename_onto(const std::string& temp, const std::string& target, const std::string& path) {
    if (std::rename(temp.c_str(), target.c_str()) != 0) {
        int e = errno;
        unlink(temp.c_str());
        live_remove(temp);
        TRANOVA_FAIL("cannot write '{}': {}", path, std::strerror(e));
    }
    live_remove(temp);
}

// Opens a character device or FIFO for writing without creating or truncating anything.
// A FIFO with no reader is retried until fifo_wait_seconds() passes.
int open_direct(const std::string& path) {
    if (path == "-") {
        std::fflush(stdout);  // keep what was printed before in order
        int fd = dup(STDOUT_FILENO);
        TRANOVA_CHECK(fd >= 0, "cannot write to standard output: {}", std::strerror(errno));
        return fd;
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(fifo_wait_seconds());
    for (;;) {
        int fd = open(path.c_str(), O_WRONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
        if (fd >= 0) {
            int flags = fcntl(fd, F_GETFL);
            if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);  // normal blocking writes from here
            return fd;
        }
        int e = errno;
        if (e != ENXIO) TRANOVA_FAIL("cannot write '{}': {}", path, std::strerror(e));
        if (std::chrono::steady_clock::now() >= deadline)
            TRANOVA_FAIL("cannot write '{}': it is a FIFO and no process opened it for reading within {} s "
                         "(start the reader first, or set TRANOVA_FIFO_WAIT)",
                         path, fifo_wait_seconds());
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
}

void write_all(int fd, const char* p, std::size_t n, const std::string& path) {
    while (n > 0) {
        ssize_t w = ::write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) TRANOVA_FAIL("cannot write '{}': {}", path, std::strerror(w < 0 ? errno : EIO));
        p += w;
        n -= static_cast<std::size_t>(w);
    }
}

// --- inputs and claimed outputs ---------------------------------------------------------

struct file_id {
    dev_t dev = 0;
    ino_t ino = 0;
    bool exists = false;
    std::string canonical;  // weakly canonical absolute path
};

file_id identify(const std::string& path) {
    file_id id;
    struct stat st {};
    if (stat(path.c_str(), &st) == 0) {
        id.exists = true;
        id.dev = st.st_dev;
        id.ino = st.st_ino;
    }
    std::error_code ec;
    auto c = fs::weakly_canonical(fs::absolute(path, ec), ec);
    id.canonical = ec ? path : c.string();
    if (id.canonical.size() > 1 && id.canonical.back() == '/') id.canonical.pop_back();
    return id;
}

bool same_file(const file_id& a, const file_id& b) {
    if (a.exists && b.exists) return a.dev == b.dev && a.ino == b.ino;
    return a.canonical == b.canonical;
}

struct known_file {
    file_id id;
    std::string label;
    bool reserved = false;    // claimed ahead by reserve_output; the first output there takes it
    bool rewritable = false;  // claim_rewritable_output: this run replaces it again and again
};
std::mutex g_known_mutex;
std::vector<known_file> g_inputs, g_outputs;
bool g_output_guard = false;

// Character devices are shared by design (two outputs to /dev/null are fine).
bool exempt(const std::string& path) {
    if (path.empty() || path == "-") return true;
    struct stat st {};
    return stat(path.c_str(), &st) == 0 && S_ISCHR(st.st_mode);
}

}  // namespace

double fifo_wait_seconds() {
    if (const char* env = std::getenv("TRANOVA_FIFO_WAIT")) {
        char* end = nullptr;
        double v = std::strtod(env, &end);
        if (end != env && v >= 0 && v <= 86400) return v;
    }
    return 30;
}

bool is_direct_output(const std::string& path) { return classify(path) == target_kind::direct; }

void enable_output_guard() { g_output_guard = true; }

bool same_file(const std::string& a, const std::string& b) {
    if (exempt(a) || exempt(b)) return false;
    return same_file(identify(a), identify(b));
}

std::FILE* open_streaming_output(const std::string& path) {
    check_target(path);
    if (!is_direct_output(path)) check_parent(path);
    int fd = is_direct_output(path) ? open_direct(path) : open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    TRANOVA_CHECK(fd >= 0, "cannot write '{}': {}", path, std::strerror(errno));
    std::FILE* f = fdopen(fd, "w");
    if (!f) close(fd);
    TRANOVA_CHECK(f, "cannot write '{}': {}", path, std::strerror(errno));
    return f;
}

void register_input(const std::string& path, const std::string& label) {
    if (path.empty() || path == "-" || exempt(path)) return;
    std::error_code ec;
    auto st = fs::status(path, ec);
    if (ec || !fs::exists(st)) return;
    std::lock_guard lock(g_known_mutex);
    g_inputs.push_back({identify(path), label});
    if (fs::is_directory(st)) {
        // A folder input (assays, checkpoint, scores): every file directly in it is read.
        std::size_t n = 0;
        for (fs::directory_iterator it(path, ec), end; !ec && it != end && n < 100000; it.increment(ec), ++n)
            if (it->is_regular_file(ec)) g_inputs.push_back({identify(it->path().string()), label});
    }
}

namespace {
void check_against_inputs(const std::string& path, const std::string& label, const file_id& id) {
    for (const auto& in : g_inputs)
        if (same_file(id, in.id))
            throw usage_error(fmt::format("{} '{}' is the same file as the input {}: refusing to overwrite an input", label,
                                          path, in.label));
}
}  // namespace

namespace {
// Checks `path` against the inputs and claims it as an output of this run. A second
// claim of the same file passes when the first is rewritable or a reservation, else it is
// a usage_error; `rewritable` makes the (first or existing) claim rewritable.
void claim_output(const std::string& path, const std::string& label, bool rewritable) {
    if (exempt(path)) return;
    file_id id = identify(path);
    std::lock_guard lock(g_known_mutex);
    check_against_inputs(path, label, id);
    if (!g_output_guard) return;
    for (auto& out : g_outputs)
        if (same_file(id, out.id)) {
            if (rewritable || out.rewritable) {  // e.g. the command line's own claim of -o
                out.rewritable = true;
                return;
            }
            if (out.reserved && out.id.canonical == id.canonical) {
                out.reserved = false;
                return;
            }
            throw usage_error(fmt::format("{} '{}' would be written twice in one run (also as '{}'): each output needs "
                                          "its own path", label, path, out.label));
        }
    g_outputs.push_back({id, path, false, rewritable});
}
}  // namespace

void check_output_target(const std::string& path, const std::string& label) { claim_output(path, label, false); }

void claim_rewritable_output(const std::string& path, const std::string& label) { claim_output(path, label, true); }

void reserve_output(const std::string& path, const std::string& label) {
    check_output_target(path, label);
    std::lock_guard lock(g_known_mutex);
    if (g_output_guard && !g_outputs.empty() && g_outputs.back().label == path) g_outputs.back().reserved = true;
}

output_file::output_file(std::string path, bool binary) : path_(std::move(path)) {
    check_target(path_);
    check_output_target(path_);
    direct_ = is_direct_output(path_);
    if (direct_) {
        int fd = open_direct(path_);
        fp_ = fdopen(fd, binary ? "wb" : "w");
        if (!fp_) close(fd);
        TRANOVA_CHECK(fp_, "cannot write '{}': {}", path_, std::strerror(errno));
        return;
    }
    target_ = rename_target(path_);
    int fd = -1;
    temp_ = make_temp(target_, &fd, false);
    fp_ = fdopen(fd, binary ? "wb" : "w");
    TRANOVA_CHECK(fp_, "cannot write '{}': {}", path_, std::strerror(errno));
}

output_file::~output_file() {
    if (committed_) return;
    if (fp_) std::fclose(fp_);
    if (direct_) return;
    unlink(temp_.c_str());
    live_remove(temp_);
}

void output_file::write(std::string_view s) {
    if (s.empty()) return;
    TRANOVA_CHECK(std::fwrite(s.data(), 1, s.size(), fp_) == s.size(), "cannot write {}: {}",
                  path_ == "-" ? std::string("to standard output") : "'" + path_ + "'", std::strerror(errno));
}

void output_file::commit() {
    if (committed_) return;
    committed_ = true;
    bool ok = std::fflush(fp_) == 0;
    int e = errno;
    if (ok && !direct_) {
        ok = fsync(fileno(fp_)) == 0;
        e = errno;
    }
    ok = (std::fclose(fp_) == 0) && ok;
    if (!ok && !e) e = errno;
    fp_ = nullptr;
    if (direct_) {
        TRANOVA_CHECK(ok, "cannot write {}: {}", path_ == "-" ? std::string("to standard output") : "'" + path_ + "'",
                      std::strerror(e));
        return;
    }
    if (!ok) {
        unlink(temp_.c_str());
        live_remove(temp_);
        TRANOVA_FAIL("cannot write '{}': {}", path_, std::strerror(e));
    }
    rename_onto(temp_, target_, path_);
}

output_path::output_path(std::string path) : path_(std::move(path)) {
    check_target(path_);
    check_output_target(path_);
    direct_ = is_direct_output(path_);
    target_ = direct_ ? path_ : rename_target(path_);
    temp_ = make_temp(target_, nullptr, direct_);
}

output_path::~output_path() {
    if (committed_) return;
    unlink(temp_.c_str());
    live_remove(temp_);
}

void output_path::commit() {
    if (committed_) return;
    committed_ = true;
    if (!direct_) {
        rename_onto(temp_, target_, path_);
        return;
    }
    // Stream the finished file into the device / FIFO / stdout, then drop the temporary.
    struct cleanup {
        const std::string& t;
        ~cleanup() {
            unlink(t.c_str());
            live_remove(t);
        }
    } rm{temp_};
    int in = open(temp_.c_str(), O_RDONLY | O_CLOEXEC);
    TRANOVA_CHECK(in >= 0, "cannot write '{}': {}", path_, std::strerror(errno));
    int out = -1;
    try {
        out = open_direct(path_);
        std::vector<char> buf(1 << 16);
        for (;;) {
            ssize_t n = ::read(in, buf.data(), buf.size());
            if (n < 0 && errno == EINTR) continue;
            TRANOVA_CHECK(n >= 0, "cannot write '{}': {}", path_, std::strerror(errno));
            if (n == 0) break;
            write_all(out, buf.data(), static_cast<std::size_t>(n), path_);
        }
    } catch (...) {
        close(in);
        if (out >= 0) close(out);
        throw;
    }
    close(in);
    TRANOVA_CHECK(close(out) == 0, "cannot write '{}': {}", path_, std::strerror(errno));
}

void make_directories(const std::string& dir) {
    {
        // An output folder may be created twice (report subfolders); only inputs conflict.
        file_id id = identify(dir);
        std::lock_guard lock(g_known_mutex);
        check_against_inputs(dir, "output folder", id);
    }
    std::error_code ec;
    auto st = fs::status(dir, ec);
    if (fs::exists(st)) {
        TRANOVA_CHECK(fs::is_directory(st), "cannot create folder '{}': it exists and is not a folder", dir);
        return;
    }
    fs::create_directories(dir, ec);
    if (ec) {
        // Name the component that is in the way ("report/x" when "report" is a file).
        for (fs::path p = fs::path(dir).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
            std::error_code e2;
            auto s = fs::status(p, e2);
            if (fs::exists(s) && !fs::is_directory(s))
                TRANOVA_FAIL("cannot create folder '{}': '{}' exists and is not a folder", dir, p.string());
        }
        TRANOVA_FAIL("cannot create folder '{}': {}", dir, ec.message());
    }
}

void install_cleanup_signal_handlers() {
    struct sigaction sa {};
    sa.sa_handler = cleanup_and_reraise;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGINT, SIGTERM, SIGHUP}) sigaction(sig, &sa, nullptr);
}

}  // namespace tranova
