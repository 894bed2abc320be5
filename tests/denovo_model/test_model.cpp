// Encoder / decoder forwards against the Casanovo and PrimeNovo fixtures (1e-5 relative,
// floor 1 for values near 0; encoder memory compared on unmasked rows only).
#include "test_util.hpp"

using namespace tranova::denovo_model;
