// libFuzzer target: the streaming MGF reader (+ preprocessing and peptide parsing of what it returns).
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return tranova_fuzz::fuzz_mgf_one(data, size); }
