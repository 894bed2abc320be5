// How much memory this process may still use, so that a command can say up front that an
// input is too big instead of being killed by the OOM killer (or swapping for hours).
#pragma once

#include <cstdint>
#include <string>

namespace tranova {

// Bytes available now: MemAvailable from /proc/meminfo (else sysconf), lowered to what a
// cgroup v2/v1 memory limit leaves (containers, Slurm). 0 when unknown.
std::uint64_t available_memory_bytes();

// Throws tranova::error "<what>: needs about X GiB of memory for <task>, but only Y GiB are
// available" when `need` exceeds what is available ($TRANOVA_MEMORY_LIMIT, in bytes, takes
// precedence: for tests and for sharing a node).
void check_memory(std::uint64_t need, const std::string& what, const std::string& task);

}  // namespace tranova
