// libFuzzer target: see fuzz_retrieval.hpp (fuzz_shard_one).
#include "fuzz_retrieval.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) { return tranova_fuzz_retrieval::fuzz_shard_one(data, size); }
