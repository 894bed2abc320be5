// Helpers for the checkpoint -> tranova weight file converters. The converters themselves
// live with their models (tranception/convert.hpp, denovo_model/convert.hpp): core holds
// no model structure. The arch table that `tranova convert --arch` dispatches on lives in
// apps/convert/arch_table.cpp (one line per architecture).
#pragma once

#include "core/checkpoint.hpp"
#include "core/json.hpp"
#include "core/weights.hpp"

#include <string>
#include <vector>

namespace tranova::core {

// Copies every field of a config.json object into w.config (integers stay integers,
// booleans become 0/1, arrays/objects are stored as their JSON text, nulls are skipped).
void config_from_json(weights& w, const json_value& config);

// Helpers for converters: fetch a tensor and check its shape (error names tensor + shapes).
const checkpoint_tensor& checkpoint_expect(const checkpoint& ck, const std::string& name,
                                           const std::vector<int64_t>& shape);
// Transpose a (rows, cols) matrix into out (cols, rows).
void transpose_matrix(float* out, const float* in, int64_t rows, int64_t cols);

}  // namespace tranova::core
