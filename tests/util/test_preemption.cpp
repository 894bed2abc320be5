// Preemption signals (util/preemption.hpp): the first SIGTERM/SIGUSR1 only sets the flag;
// a second SIGTERM goes to the previously installed handler (output_file's cleanup), and
// the guard restores the previous handlers when it ends.
#include "util/output_file.hpp"
#include "util/preemption.hpp"

#include "temp_dir.hpp"

#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>

using namespace tranova;

namespace {
extern "C" void marker_handler(int) {}
}

TEST_CASE("preemption_guard flags SIGUSR1 and SIGTERM and restores the previous handlers", "[util][preemption]") {
    struct sigaction mine {}, seen {};
    mine.sa_handler = marker_handler;
    sigemptyset(&mine.sa_mask);
    sigaction(SIGUSR1, &mine, nullptr);
    {
        preemption_guard g;
        CHECK_THROWS_WITH(preemption_guard(), Catch::Contains("one guard at a time"));
        CHECK_FALSE(preemption_guard::requested());
        raise(SIGUSR1);
        CHECK(preemption_guard::requested());
        CHECK(preemption_guard::signal_number() == SIGUSR1);
        raise(SIGUSR1);  // repeated: still alive, first signal kept
        CHECK(preemption_guard::signal_number() == SIGUSR1);
    }
    sigaction(SIGUSR1, nullptr, &seen);
    CHECK(seen.sa_handler == marker_handler);
    {
        preemption_guard g;  // a new guard starts unflagged
        CHECK_FALSE(preemption_guard::requested());
        raise(SIGTERM);
        CHECK(preemption_guard::signal_number() == SIGTERM);
    }
    signal(SIGUSR1, SIG_DFL);
}

TEST_CASE("a second SIGTERM chains to output_file's cleanup handler", "[util][preemption]") {
    const tranova::test::temp_dir tmp("preempt");
    const std::string dir = tmp.path.string();
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {  // child: no Catch2 here, report through the exit status
        install_cleanup_signal_handlers();
        try {
            output_file out(dir + "/out.txt");
            out.write("half");
            preemption_guard g;
            raise(SIGTERM);
            if (!preemption_guard::requested()) _exit(3);
            if (std::filesystem::is_empty(dir)) _exit(4);  // the temporary exists
            raise(SIGTERM);
            _exit(5);  // not reached: the cleanup handler re-raises with SIG_DFL
        } catch (...) {
            _exit(6);
        }
    }
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    CHECK((WIFSIGNALED(status) ? WTERMSIG(status) : 1000 + WEXITSTATUS(status)) == SIGTERM);
    CHECK(std::filesystem::is_empty(dir));  // temporary removed, no output
}
