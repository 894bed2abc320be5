// The `tranova` dispatcher (samtools bamtk.c style): grouped command list, `help <cmd>`,
// bare `--version`, long `version`; runs one subcommand and turns its exceptions into
// one stderr line and an exit code (1 runtime, 2 usage; never 128-145, which workflow
// engines treat as retryable kills). Ends with a footer line and a checked stdout close.
#include "cli.hpp"

#include "tranova/build_info.hpp"
#include "util/error.hpp"
#include "util/h5.hpp"
#include "util/log.hpp"
#include "util/preemption.hpp"
#include "util/output_file.hpp"
#include "util/run_stats.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <algorithm>
#include <new>
#include <string>

namespace {

// Groups in the order the command list shows them.
const char* const group_order[] = {"Fitness", "Retrieval", "De novo", "Evaluation", "Models", "Information"};

void print_usage(std::FILE* out) {
    std::string s = fmt::format(
        "\nProgram: tranova (protein sequence modelling: fitness, retrieval, de novo sequencing, evaluation)\n"
        "Version: {}\n\nUsage:   tranova <command> [options]\n",
        TRANOVA_VERSION);
    auto commands = tranova::cli::registered_commands();
    std::sort(commands.begin(), commands.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    // The known groups in their order, then any other group a command names (so that a
    // group missing from group_order never hides a command; tests/cli/test_dispatch.sh
    // checks that every registered command is listed).
    std::vector<std::string> groups(std::begin(group_order), std::end(group_order));
    for (const auto& c : commands)
        if (std::find(groups.begin(), groups.end(), c.group) == groups.end()) groups.push_back(c.group);
    for (const std::string& group : groups) {
        bool header = false;
        for (const auto& c : commands)
            if (c.group == group) {
                if (!header) s += fmt::format("\n  -- {}\n", group);
                header = true;
                s += fmt::format("     {:<12} {}\n", c.name, c.summary);
            }
    }
    s += "\n  -- Help\n     help         show this list, or 'tranova help <command>' for one command\n"
         "     --version    print the bare version\n\n";
    std::fputs(s.c_str(), out);
}

std::string joined_command_line(int argc, char** argv) {
    std::string s;
    for (int i = 0; i < argc; ++i) {
        if (i) s += ' ';
        std::string a = argv[i];
        bool plain = !a.empty() && a.find_first_of(" \t'\"$\\") == std::string::npos;
        s += plain ? a : "'" + a + "'";
    }
    return s;
}

// A failed write to stdout (full disk, closed pipe) is an error with a message, not a
// silent exit code.
int close_stdout(const std::string& command) {
    errno = 0;
    bool ok = std::fflush(stdout) == 0;
    int e = errno;
    if (std::fclose(stdout) != 0 && errno != EBADF && ok) {
        ok = false;
        e = errno;
    }
    if (ok) return 0;
    std::fprintf(stderr, "%s: cannot write to standard output: %s\n", tranova::printable(command).c_str(),
                 std::strerror(e ? e : EIO));
    return 1;
}

int run_command(const tranova::cli::command_info& cmd, int argc, char** argv) {
    tranova::log::set_context(cmd.name);
    try {
        int rc = cmd.main(argc, argv);
        // 0, 2 (usage) and 75 (training state saved on SIGTERM/SIGUSR1: requeue) pass through.
        return rc == 0 || rc == 2 || rc == tranova::exit_code_requeue ? rc : 1;
    } catch (const tranova::usage_error& e) {
        // The context names the nested command too ("tranova msa stats").
        const std::string ctx = tranova::printable(tranova::log::context());
        std::fprintf(stderr, "%s: %s (see '%s --help')\n", ctx.c_str(), e.what(), ctx.c_str());
        return 2;
    } catch (const tranova::error& e) {
        std::fprintf(stderr, "%s: %s\n", tranova::printable(tranova::log::context()).c_str(), e.what());
        if (tranova::log::get_level() >= tranova::log::level::debug && !e.source_file().empty())
            std::fprintf(stderr, "[%s] (raised at %s:%d)\n", tranova::log::context().c_str(),
                         e.source_file().c_str(), e.source_line());
        return 1;
    } catch (const std::bad_alloc&) {
        std::fprintf(stderr, "%s: out of memory\n", tranova::log::context().c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "%s: %s\n", tranova::log::context().c_str(), tranova::printable(e.what()).c_str());
        return 1;
    }
}

}  // namespace

int main(int argc, char** argv) {
    tranova::wall_seconds_since_start();
    tranova::install_cleanup_signal_handlers();
    // A closed pipe or FIFO reader is a write error (exit 1 with a message), not a death by
    // SIGPIPE (exit 141, which workflow engines read as a kill).
    std::signal(SIGPIPE, SIG_IGN);
    tranova::h5_quiet();

    if (argc < 2) {
        print_usage(stderr);
        return 2;
    }
    std::string first = argv[1];
    if (first == "--version" || first == "-V") {
        std::puts(TRANOVA_VERSION);
        return close_stdout("tranova " + first);
    }
    if (first == "-h" || first == "--help" || (first == "help" && argc == 2)) {
        print_usage(stdout);
        return close_stdout("tranova " + first);
    }
    int rc;
    if (first == "help") {
        const auto* cmd = tranova::cli::find_command(argv[2]);
        if (!cmd) {
            std::fprintf(stderr, "tranova: unknown command '%s' (see 'tranova help')\n", tranova::printable(argv[2]).c_str());
            return 2;
        }
        char help_flag[] = "--help";
        char* sub_argv[] = {argv[2], help_flag, nullptr};
        rc = run_command(*cmd, 2, sub_argv);
    } else {
        const auto* cmd = tranova::cli::find_command(first);
        if (!cmd) {
            std::fprintf(stderr, "tranova: unknown command '%s' (see 'tranova help')\n", tranova::printable(first).c_str());
            return 2;
        }
        rc = run_command(*cmd, argc - 1, argv + 1);
    }
    if (close_stdout(tranova::log::context()) != 0) rc = 1;  // "tranova msa stats"
    if (tranova::cli::work_started() && tranova::log::get_level() >= tranova::log::level::info) {
        tranova::log::set_context("");
        tranova::log::write(tranova::log::level::info,
                            tranova::footer_line(TRANOVA_VERSION, joined_command_line(argc, argv)));
    }
    tranova::log::close_file();
    return rc;
}
