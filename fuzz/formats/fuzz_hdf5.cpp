// libFuzzer target: see fuzz_formats.hpp (fuzz_hdf5_one).
#include "fuzz_formats.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return tranova_fuzz::fuzz_hdf5_one(data, size); }
