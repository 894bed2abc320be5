// Outputs appear whole or not at all, and never destroy what is not ours.
//
// A regular file (or a missing path) is written to a hidden temporary name in the target
// folder and renamed onto the target on commit(). A failed run (exception, error exit)
// removes the temporary in the destructor; a run killed by SIGINT/SIGTERM/SIGHUP removes
// it in the signal handler.
//
// Anything else is never renamed over (samtools' rule): "-" means standard output, and
// character devices (/dev/null, /dev/full, a terminal), FIFOs and descriptor names
// (/dev/stdout, /dev/fd/N, even when they lead to a regular file) are opened and written
// directly. A FIFO waits for a reader for at most fifo_wait_seconds()
// ($TRANOVA_FIFO_WAIT, default 30 s) instead of blocking forever. Block devices, sockets
// and folders are refused.
//
// Inputs are protected too: the command line registers the files it reads
// (register_input) and every output (output_file, output_path, check_output_target)
// refuses, with a usage_error (exit 2), a target that is the same file (same device and
// inode, symlinks followed) as an input, or - once enable_output_guard() was called - as
// another output of the same run.
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

namespace tranova {

class output_file {
public:
    // Opens a temporary beside `path` (or `path` itself when it is stdout, a character
    // device or a FIFO). Throws tranova::error naming `path` when its folder is missing or
    // unwritable, usage_error when it is an input.
    explicit output_file(std::string path, bool binary = false);
    ~output_file();
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;

    std::FILE* stream() { return fp_; }
    void write(std::string_view s);        // checked fwrite
    const std::string& path() const { return path_; }
    // Closes the stream (checking the close) and renames onto the target.
    void commit();

private:
    std::string path_, target_, temp_;  // target_: the regular file renamed onto (symlinks resolved)
    std::FILE* fp_ = nullptr;
    bool direct_ = false, committed_ = false;
};

// For outputs written by a library that opens the file by name (HDF5): reserves a
// temporary path (removed on failure/kill), commit() renames it onto `path`, or, when
// `path` is stdout, a character device or a FIFO, copies its bytes there and removes it.
class output_path {
public:
    explicit output_path(std::string path);
    ~output_path();
    output_path(const output_path&) = delete;
    output_path& operator=(const output_path&) = delete;
    const std::string& temp_path() const { return temp_; }
    const std::string& path() const { return path_; }
    void commit();

private:
    std::string path_, target_, temp_;
    bool direct_ = false, committed_ = false;
};

// Creates `dir` (and parents) if missing; throws tranova::error naming the path and the
// problem (e.g. "'x' exists and is not a folder"), usage_error when it is an input file.
void make_directories(const std::string& dir);

// Installs SIGINT/SIGTERM/SIGHUP handlers that unlink live temporaries, then re-raise.
void install_cleanup_signal_handlers();

// --- protection of inputs -------------------------------------------------------------

// Remembers `path` (a file, or a folder: then also the regular files directly in it) as
// read by this run; `label` names it in messages ("--spectra 'x.mgf'"). Missing paths
// and "-" are ignored (the reader reports them).
void register_input(const std::string& path, const std::string& label);
// Throws usage_error when `path` is the same file as a registered input or (with the
// guard on) an output already claimed by this run; then claims it. `label` names the
// output option ("-o").
void check_output_target(const std::string& path, const std::string& label = "output");
// True when both name the same file (same device and inode when both exist, else the
// same absolute path once symlinks and ".." are resolved). Character devices and "-"
// are never the same file as anything (two outputs to /dev/null are fine).
bool same_file(const std::string& a, const std::string& b);
// Claims an output that will be written later in the run (the per-query files of
// `retrieve -o DIR`), so that a clash is found before any work; the output_file opened
// there later takes the reservation instead of clashing with it.
void reserve_output(const std::string& path, const std::string& label);
// Claims an output this run deliberately replaces several times (a training run's
// checkpoints, its best weights, its log): checked against the inputs once (usage_error),
// then every write of that file passes (an earlier claim of it becomes rewritable).
void claim_rewritable_output(const std::string& path, const std::string& label);
// Turns on the output-vs-output check (the command line does; library tests do not).
void enable_output_guard();
// Seconds an output FIFO waits for a reader ($TRANOVA_FIFO_WAIT, default 30).
double fifo_wait_seconds();

// Opens an output that is written as it goes, with no temporary (the --log file):
// direct targets as output_file opens them (a FIFO waits for its reader), anything else
// created or truncated. Throws tranova::error naming the path.
std::FILE* open_streaming_output(const std::string& path);

// True for paths written directly rather than through a temporary: "-", character
// devices, FIFOs, and names of descriptors (/dev/stdout, /dev/fd/N, /proc/self/fd/N).
bool is_direct_output(const std::string& path);

}  // namespace tranova
