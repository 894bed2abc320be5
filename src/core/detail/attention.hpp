// Test switch of attention_forward (core/ops.hpp), not part of core's interface: set to
// true, attention_forward takes the BLAS path even on a CPU with AVX-512F, so that the
// tests check both paths on one machine. Defined in core/ops_cpu.cpp.
#pragma once

namespace tranova::core {

extern bool attention_force_blas;

}  // namespace tranova::core
