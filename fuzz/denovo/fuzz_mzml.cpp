// libFuzzer target: the expat-based mzML/mzXML reader (base64, zlib, arrays, CV terms).
#include "fuzz_targets.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return tranova_fuzz::fuzz_mzml_one(data, size); }
