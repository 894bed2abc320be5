// Declarations shared by the `tranova gym` command files (one file per nested command).
#pragma once

#include <fmt/format.h>

#include <algorithm>
#include <string>
#include <vector>

namespace tranova::gym_cmd {

int main_ingest(int argc, char** argv);
int main_add(int argc, char** argv);
int main_eval(int argc, char** argv);
int main_clinical(int argc, char** argv);

// The command line as stored in the gym file's provenance attributes.
inline std::string command_line(int argc, char** argv) {
    std::string s = "tranova gym";
    for (int i = 0; i < argc; ++i) s += std::string(" ") + argv[i];
    return s;
}

// The first n names, then "… (k more)".
inline std::string first_names(const std::vector<std::string>& v, size_t n = 5) {
    std::string s;
    for (size_t i = 0; i < std::min(n, v.size()); ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > n) s += fmt::format(", … ({} more)", v.size() - n);
    return s;
}

}  // namespace tranova::gym_cmd
