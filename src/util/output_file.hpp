// Outputs appear whole or not at all: write to a hidden temporary name in the target
// folder, then rename() onto the target on commit(). A failed run (exception, error
// exit) removes the temporary in the destructor; a run killed by SIGINT/SIGTERM/SIGHUP
// removes it in the signal handler. "-" means standard output (written directly).
#pragma once

#include <cstdio>
#include <string>

namespace tranova {

class output_file {
public:
    // Opens a temporary beside `path` (or stdout for "-"). Throws tranova::error naming
    // `path` when its folder is missing or unwritable.
    explicit output_file(std::string path, bool binary = false);
    ~output_file();
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;

    std::FILE* stream() { return fp_; }
    void write(std::string_view s);        // checked fwrite
    const std::string& path() const { return path_; }
    // Where a library that opens files by name (HDF5) should write; "" for stdout.
    const std::string& temp_path() const { return temp_; }
    // Closes the stream (checking the close) and renames onto the target.
    void commit();

private:
    std::string path_, temp_;
    std::FILE* fp_ = nullptr;
    bool committed_ = false;
};

// For outputs written by a library that opens the file by name (HDF5): reserves a
// temporary path beside `path` (removed on failure/kill), commit() renames it.
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
    std::string path_, temp_;
    bool committed_ = false;
};

// Creates `dir` (and parents) if missing; throws tranova::error if that fails.
void make_directories(const std::string& dir);

// Installs SIGINT/SIGTERM/SIGHUP handlers that unlink live temporaries, then re-raise.
void install_cleanup_signal_handlers();

}  // namespace tranova
