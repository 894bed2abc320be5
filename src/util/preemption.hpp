// Graceful preemption for training runs on HPC clusters. SLURM sends SIGTERM before it
// kills a job (time limit, preemption; KillWait later comes SIGKILL), or a chosen signal
// ahead of time with `sbatch --signal=USR1@120`. While a preemption_guard lives, the
// first SIGTERM or SIGUSR1 only sets a flag; the training loop polls requested() between
// steps, writes its training state and exits with exit_code_requeue, which a job script
// turns into a requeue (docs/training-core.md).
//
// Chaining with util/output_file's cleanup handler (install_cleanup_signal_handlers):
// the guard saves whatever SIGTERM/SIGUSR1 handlers were installed before it. A SECOND
// SIGTERM while a request is pending means "stop now": the guard hands it to the saved
// handler (output_file's removes the live temporaries and re-raises, so the process ends
// by SIGTERM and a half-written checkpoint never replaces the last complete one). Repeated
// SIGUSR1s only re-set the flag. SIGINT and SIGHUP are left to the cleanup handler.
// Destroying the guard restores the saved handlers and clears the flag. One guard at a
// time.
#pragma once

namespace tranova {

// EX_TEMPFAIL (sysexits.h): "temporary failure, retry later" — the state is saved.
inline constexpr int exit_code_requeue = 75;

class preemption_guard {
public:
    preemption_guard();   // installs the SIGTERM and SIGUSR1 handlers; clears the flag
    ~preemption_guard();  // restores the previous handlers
    preemption_guard(const preemption_guard&) = delete;
    preemption_guard& operator=(const preemption_guard&) = delete;

    // Polled by the training loop (async-signal-safe flag, relaxed load).
    static bool requested();
    static int signal_number();  // the first signal received, 0 if none
};

}  // namespace tranova
