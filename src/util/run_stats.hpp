// Wall time, CPU time and peak RSS of this process, for the end-of-run footer
// (minimap2 style: version, command line, real time, CPU, peak RSS).
#pragma once

#include <string>

namespace tranova {

double wall_seconds_since_start();  // since the first call (made early in main)
double cpu_seconds();               // user + system, all threads
double peak_rss_gib();
std::string footer_line(const std::string& version, const std::string& command_line);

}  // namespace tranova
