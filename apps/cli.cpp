#include "cli.hpp"

#include "util/error.hpp"
#include "util/log.hpp"
#include "util/output_file.hpp"
#include "util/threads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>
#include <thread>

namespace tranova::cli {
namespace {
std::vector<command_info>& registry() {
    static std::vector<command_info> r;
    return r;
}
bool g_work_started = false;
}  // namespace

int register_command(command_info info) {
    registry().push_back(std::move(info));
    return static_cast<int>(registry().size());
}
const std::vector<command_info>& registered_commands() { return registry(); }
const command_info* find_command(std::string_view name) {
    for (const auto& c : registry())
        if (c.name == name) return &c;
    return nullptr;
}
bool work_started() { return g_work_started; }

parser::parser(usage_text usage) : usage_(std::move(usage)) {
    shared_.add_options()
        ("threads,t", number(&common.threads, 0, std::numeric_limits<int>::max())->default_value(0, "$OMP_NUM_THREADS, else all cores"),
         "number of threads")
        ("verbose,v", po::bool_switch(&common.verbose), "more messages on stderr")
        ("quiet,q", po::bool_switch(&common.quiet), "only errors on stderr (no progress, no footer)")
        ("log", po::value<std::string>(&common.log_file)->value_name("FILE"), "also write messages to FILE")
        ("help,h", "show this help and exit");
}

std::string parser::help() const {
    std::ostringstream os;
    os << "Usage: " << usage_.command << " " << usage_.synopsis << "\n\n";
    if (!usage_.description.empty()) os << usage_.description << "\n\n";
    if (!own_.options().empty()) os << own_ << "\n";
    os << shared_ << "\n";
    if (!usage_.examples.empty()) {
        os << "Examples:\n";
        for (const auto& e : usage_.examples) os << "  " << e << "\n";
    }
    return os.str();
}

std::optional<int> parser::parse(int argc, char** argv) {
    if (argc <= 1 && bare_prints_usage_) {
        std::fputs(help().c_str(), stderr);
        return 2;
    }
    po::options_description all;
    all.add(own_).add(shared_);
    try {
        auto parsed = po::command_line_parser(argc, argv).options(all).positional(positional_).run();
        parsed_ = parsed.options;
        po::store(parsed, vm_);
        if (vm_.count("help")) {
            std::fputs(help().c_str(), stdout);
            return 0;
        }
        po::notify(vm_);
    } catch (const po::error& e) {
        throw usage_error(e.what());
    }
    if (common.quiet && common.verbose) throw usage_error("--quiet and --verbose exclude each other");
    log::set_level(common.quiet ? log::level::quiet : common.verbose ? log::level::debug : log::level::info);
    check_ranges();
    check_paths();
    if (!common.log_file.empty()) log::set_file(common.log_file);
    const char* threads_from = common.threads > 0 ? "--threads" : "OMP_NUM_THREADS";
    const int requested = resolve_threads(common.threads);
    common.threads = std::min(requested, max_threads());
    if (requested > common.threads)
        log::warn("{} {} is more than 4 x the {} cores; using {} threads", threads_from, requested,
                  std::max(1u, std::thread::hardware_concurrency()), common.threads);
    set_threads(common.threads);
    g_work_started = true;
    return std::nullopt;
}

std::string parser::format_range(double x, double lo, double hi, bool lo_open, bool real) {
    auto num = [&](double v) { return real ? fmt::format("{}", v) : fmt::format("{:.0f}", v); };
    const bool no_hi = hi >= static_cast<double>(std::numeric_limits<int>::max());
    std::string want = no_hi ? fmt::format("{} {}", lo_open ? ">" : ">=", num(lo))
                             : fmt::format("in {}{}, {}]", lo_open ? "(" : "[", num(lo), num(hi));
    return fmt::format("{}: must be {}{}", num(x), real ? "a finite number " : "", want);
}

void parser::check_ranges() {
    std::vector<boost::shared_ptr<po::option_description>> opts = own_.options();
    opts.insert(opts.end(), shared_.options().begin(), shared_.options().end());
    for (const auto& opt : opts) {
        for (const auto& r : ranges_) {
            if (r.semantic != opt->semantic().get()) continue;
            auto it = vm_.find(opt->long_name());
            if (it == vm_.end() || it->second.defaulted()) continue;  // only values the user gave
            if (r.is_unsigned)
                for (const auto& o : parsed_)
                    if (o.string_key == opt->long_name())
                        for (const auto& v : o.value)
                            if (v.find('-') != std::string::npos)
                                throw usage_error(fmt::format("--{} {}: must be a whole number >= 0", opt->long_name(), v));
            std::string bad = r.check();
            if (!bad.empty()) throw usage_error(fmt::format("--{} {}", opt->long_name(), bad));
        }
    }
}

void parser::check_paths() {
    enable_output_guard();
    for (const auto& in : inputs_)
        if (!in.value->empty() && *in.value != "-") register_input(*in.value, fmt::format("{} '{}'", in.label, *in.value));
    std::vector<path_option> outs = outputs_;
    if (!common.log_file.empty()) outs.push_back({&common.log_file, "--log"});
    for (std::size_t i = 0; i < outs.size(); ++i) {
        const std::string& o = *outs[i].value;
        if (o.empty() || o == "-") continue;
        for (const auto& in : inputs_)
            if (!in.value->empty() && *in.value != "-" && same_file(o, *in.value))
                throw usage_error(fmt::format("{} '{}' is the same file as the input {} '{}': refusing to overwrite an input",
                                              outs[i].label, o, in.label, *in.value));
        for (std::size_t j = 0; j < i; ++j)
            if (!outs[j].value->empty() && same_file(o, *outs[j].value))
                throw usage_error(fmt::format("{} '{}' and {} '{}' are the same file: each output needs its own path",
                                              outs[j].label, *outs[j].value, outs[i].label, o));
    }
}

int max_threads() {
    unsigned hw = std::thread::hardware_concurrency();
    return 4 * static_cast<int>(std::max(1u, hw));
}

std::string name_problem(const std::string& name) {
    if (name.empty() || name.size() > 200) return "a name must have 1 to 200 characters";
    for (unsigned char c : name)
        if (c < 0x20 || c == 0x7f || c == '|' || c == '`' || c == ',')
            return "a name may not contain control characters (newline, tab...), '|', '`' or ',' (they break the "
                   "CSV, Markdown and MultiQC reports)";
    if (printable(name) != name) return "a name must be valid UTF-8 without invisible control characters";
    return {};
}

std::string report_text_problem(const std::string& text) {
    if (text.size() > 200) return "at most 200 characters";
    for (unsigned char c : text)
        if (c < 0x20 || c == 0x7f || c == '|' || c == '`')
            return "no control characters (newline, tab...), '|' or '`' (they break the Markdown and MultiQC reports)";
    if (printable(text) != text) return "valid UTF-8 without invisible control characters";
    return {};
}

const std::string& check_name(const std::string& name, const char* option) {
    std::string why = name_problem(name);
    if (!why.empty()) throw usage_error(fmt::format("{} '{}': {}", option, name, why));
    return name;
}

int dispatch_nested(std::string_view parent, const std::vector<nested_command>& table, int argc, char** argv) {
    auto usage = [&](std::FILE* out) {
        std::string s = fmt::format("Usage: tranova {} <command> [options]\n\nCommands:\n", parent);
        for (const auto& c : table) s += fmt::format("  {:<10} {}\n", c.name, c.summary);
        s += fmt::format("\nRun 'tranova {} <command> --help' for the options of each.\n", parent);
        std::fputs(s.c_str(), out);
    };
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    std::string_view name = argv[1];
    if (name == "-h" || name == "--help" || name == "help") {
        if (name == "help" && argc >= 3) {
            for (const auto& c : table)
                if (c.name == std::string_view(argv[2])) {
                    char help_flag[] = "--help";
                    char* sub_argv[] = {argv[2], help_flag, nullptr};
                    return c.main(2, sub_argv);
                }
        }
        usage(stdout);
        return 0;
    }
    for (const auto& c : table)
        if (c.name == name) {
            log::set_context(fmt::format("{} {}", parent, name));
            return c.main(argc - 1, argv + 1);
        }
    throw usage_error(fmt::format("unknown command '{}' (see 'tranova {} --help')", name, parent));
}

}  // namespace tranova::cli
