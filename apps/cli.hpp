// The command-line layer shared by every subcommand: the command registry (each
// subcommand file registers itself), the options every subcommand accepts (declared once
// here, samtools SAM_OPT_GLOBAL_OPTIONS style) and a parser wrapper that prints --help
// with examples and turns Boost.Program_options errors into tranova::usage_error.
// Only apps/ includes Boost.Program_options.
#pragma once

#include <boost/program_options.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tranova::cli {

namespace po = boost::program_options;

// One top-level subcommand. `main` gets argv with argv[0] = the subcommand name.
struct command_info {
    std::string name;
    std::string group;    // one of the groups listed by `tranova help`, e.g. "Fitness"
    std::string summary;  // one line for the command list
    int (*main)(int argc, char** argv);
};

int register_command(command_info info);
const std::vector<command_info>& registered_commands();
const command_info* find_command(std::string_view name);

// Registers a subcommand at static-initialisation time (sources are linked into the
// executable directly, so the registration is never dropped).
#define TRANOVA_REGISTER_COMMAND(ident, ...) \
    namespace { [[maybe_unused]] const int ident##_registered = ::tranova::cli::register_command(__VA_ARGS__); }

// Options every subcommand accepts.
struct common_options {
    int threads = 0;  // resolved by parse(): --threads, else $OMP_NUM_THREADS, else all cores
    bool verbose = false;
    bool quiet = false;
    std::string log_file;
};

// What --help shows for one (sub)command.
struct usage_text {
    std::string command;      // "tranova gym eval"
    std::string synopsis;     // "[options] gym.h5 -o report/"
    std::string description;  // a paragraph
    std::vector<std::string> examples;  // full command lines, at least one
};

class parser {
public:
    explicit parser(usage_text usage);

    // The subcommand's own options; add to them before parse().
    po::options_description& options() { return own_; }
    // Maps the next `max_count` positional arguments (-1 = unlimited) to option `name`.
    void positional(const char* name, int max_count = 1) { positional_.add(name, max_count); }
    // When false, a bare invocation runs instead of printing the usage.
    void set_bare_prints_usage(bool v) { bare_prints_usage_ = v; }

    // Parses argv (argv[0] = command name). Returns an exit code when the caller should
    // stop (0 after --help, 2 after a bare invocation printed its usage); nullopt to go
    // on. Throws tranova::usage_error for bad options. Applies the common options:
    // log level, --log file, thread count.
    std::optional<int> parse(int argc, char** argv);

    const po::variables_map& vm() const { return vm_; }
    bool has(const char* name) const { return vm_.count(name) > 0; }
    std::string help() const;
    common_options common;

private:
    usage_text usage_;
    po::options_description own_{"Options"}, shared_{"Common options"};
    po::positional_options_description positional_;
    po::variables_map vm_;
    bool bare_prints_usage_ = true;
};

// Runs the nested subcommand named by argv[1] (e.g. `gym eval`) from a table; prints
// the group's usage for a bare call or an unknown name.
struct nested_command {
    const char* name;
    const char* summary;
    int (*main)(int argc, char** argv);
};
int dispatch_nested(std::string_view parent, const std::vector<nested_command>& table, int argc, char** argv);

// True once a command got past option parsing (so the footer is worth printing).
bool work_started();

}  // namespace tranova::cli
