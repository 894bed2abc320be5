// Where the Tranception test data lives and a plain FASTA reader for its one-record
// target files. Test-only helper shared by the parity tests.
#pragma once

#include <fstream>
#include <string>

namespace tranception_test {

inline const std::string data_dir = std::string(TRANOVA_TEST_DATA) + "/tranception";

// Concatenated sequence lines of a FASTA file (header lines skipped).
inline std::string read_fasta(const std::string& path) {
    std::ifstream f(path);
    std::string line, s;
    while (std::getline(f, line))
        if (!line.empty() && line[0] != '>') s += line;
    return s;
}

}  // namespace tranception_test
