#include "cli.hpp"

#include "util/error.hpp"
#include "util/log.hpp"
#include "util/threads.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <sstream>

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
        ("threads,t", po::value<int>(&common.threads)->default_value(0, "$OMP_NUM_THREADS, else all cores"),
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
        po::store(po::command_line_parser(argc, argv).options(all).positional(positional_).run(), vm_);
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
    if (!common.log_file.empty()) log::set_file(common.log_file);
    common.threads = resolve_threads(common.threads);
    set_threads(common.threads);
    g_work_started = true;
    return std::nullopt;
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
