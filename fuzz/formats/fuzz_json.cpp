// libFuzzer target: see fuzz_formats.hpp (fuzz_json_one).
#include "fuzz_formats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return tranova_fuzz::fuzz_json_one(data, size); }
