// Preemption signals (contract: util/preemption.hpp).
#include "util/preemption.hpp"

#include "util/error.hpp"

#include <signal.h>

#include <atomic>

namespace tranova {
namespace {

static_assert(std::atomic<int>::is_always_lock_free, "the flag must be usable in a signal handler");
std::atomic<int> g_signal{0};           // first preemption signal received
std::atomic<bool> g_installed{false};
struct sigaction g_prev_term, g_prev_usr1;

extern "C" void on_preemption_signal(int sig) {
    int expected = 0;
    if (g_signal.compare_exchange_strong(expected, sig)) return;  // first request: just flag it
    if (sig == SIGTERM) {
        // Second SIGTERM: the previous disposition decides (output_file's cleanup handler
        // unlinks temporaries and re-raises; SIG_DFL terminates). The signal is blocked
        // while this handler runs, so the raise is delivered right after we return.
        sigaction(SIGTERM, &g_prev_term, nullptr);
        raise(SIGTERM);
    }
}

}  // namespace

preemption_guard::preemption_guard() {
    bool was = false;
    TRANOVA_CHECK(g_installed.compare_exchange_strong(was, true), "preemption_guard: one guard at a time");
    g_signal.store(0);
    struct sigaction sa {};
    sa.sa_handler = on_preemption_signal;
    sigemptyset(&sa.sa_mask);
    sigaddset(&sa.sa_mask, SIGTERM);
    sigaddset(&sa.sa_mask, SIGUSR1);
    sa.sa_flags = SA_RESTART;  // the training loop's reads/writes carry on
    sigaction(SIGTERM, &sa, &g_prev_term);
    sigaction(SIGUSR1, &sa, &g_prev_usr1);
}

preemption_guard::~preemption_guard() {
    sigaction(SIGTERM, &g_prev_term, nullptr);
    sigaction(SIGUSR1, &g_prev_usr1, nullptr);
    g_signal.store(0);  // no guard, no pending request
    g_installed.store(false);
}

bool preemption_guard::requested() { return g_signal.load(std::memory_order_relaxed) != 0; }
int preemption_guard::signal_number() { return g_signal.load(std::memory_order_relaxed); }

}  // namespace tranova
