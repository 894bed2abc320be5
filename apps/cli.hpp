// The command-line layer shared by every subcommand: the command registry (each
// subcommand file registers itself), the options every subcommand accepts (declared once
// here, samtools SAM_OPT_GLOBAL_OPTIONS style) and a parser wrapper that prints --help
// with examples and turns Boost.Program_options errors into tranova::usage_error.
// Only apps/ includes Boost.Program_options.
#pragma once

#include <boost/program_options.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
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

    // A numeric option with its range declared where the option is declared:
    //   ("alpha", p.number(&alpha, 0.0, 1.0)->default_value(0.6), "...")
    // A value given on the command line outside [lo, hi] (or NaN/inf for floating point)
    // is a usage error naming the option and the value. `lo_open` makes lo exclusive.
    template <class T>
    po::typed_value<T>* number(T* target, T lo, T hi, bool lo_open = false) {
        static_assert(std::is_arithmetic_v<T>);
        po::typed_value<T>* v = po::value<T>(target);
        ranges_.push_back({v, std::is_unsigned_v<T>, [target, lo, hi, lo_open]() -> std::string {
                               const T x = *target;
                               bool ok = !(lo_open ? x <= lo : x < lo) && !(x > hi);
                               if constexpr (std::is_floating_point_v<T>) ok = ok && std::isfinite(x);
                               if (ok) return {};
                               return format_range(static_cast<double>(x), static_cast<double>(lo), static_cast<double>(hi),
                                                   lo_open, std::is_floating_point_v<T>);
                           }});
        return v;
    }

    // Declares an option value as a file (or folder) this command reads, or writes. After
    // parsing, an output that is the same file as an input, or as another output, is a
    // usage error (exit 2); inputs are also remembered so that no output written later
    // (derived names, report files) can replace them. "" and "-" are ignored.
    void input(const std::string& value, std::string label) { inputs_.push_back({&value, std::move(label)}); }
    void output(const std::string& value, std::string label) { outputs_.push_back({&value, std::move(label)}); }

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
    struct range_check {
        const po::value_semantic* semantic;
        bool is_unsigned;  // "-1" must not wrap around to 2^64 - 1
        std::function<std::string()> check;  // "" when the value is in range, else "must be ..."
    };
    struct path_option {
        const std::string* value;
        std::string label;
    };
    static std::string format_range(double x, double lo, double hi, bool lo_open, bool real);
    void check_ranges();
    void check_paths();

    std::vector<range_check> ranges_;
    std::vector<po::option> parsed_;  // as given, for the raw text of unsigned values
    std::vector<path_option> inputs_, outputs_;
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

// --threads above this (a multiple of the cores) is capped with a warning.
int max_threads();

// A name the user gives (model names in gym reports): 1..200 printable characters, no
// control characters (newline, tab, NUL...), no '|' or '`' (Markdown/MultiQC table
// syntax); otherwise a usage error naming the option. Returns the name.
const std::string& check_name(const std::string& name, const char* option);
// What is wrong with a name by the rule above; "" when it is fine.
std::string name_problem(const std::string& name);
// Free text written into a report cell (gym add --model-type): may be empty and hold ','
// but no control characters, '|' or '`', at most 200 characters. "" when it is fine.
std::string report_text_problem(const std::string& text);

}  // namespace tranova::cli
