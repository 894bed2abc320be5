// Tranception (OATML, GPT-2 style) checkpoint -> tranova weight file: tensor names and
// layouts (docs/weights-format.md, "tranception"), the tied embedding/LM head, the ALiBi
// slopes (read from the stored transformer.alibi buffer and checked, or computed with
// grouped_alibi_slopes when the buffer is absent).
#pragma once

#include "core/checkpoint.hpp"
#include "core/convert.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"

#include <string>
#include <vector>

namespace tranova::tranception {

// `config` is the HF config.json (required). Notes (ignored buffers, tied head) are
// appended to `notes`. Throws tranova::error naming the tensor on a missing tensor or a
// shape mismatch, and on an unexpected tensor (wrong --arch).
core::weights convert_checkpoint(const core::checkpoint& ck, const core::json_value& config,
                                 std::vector<std::string>& notes);

}  // namespace tranova::tranception
