// Helpers shared by the checkpoint converters (see convert.hpp).
#include "core/convert.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

namespace tranova::core {

const checkpoint_tensor& checkpoint_expect(const checkpoint& ck, const std::string& name,
                                           const std::vector<int64_t>& shape) {
    auto it = ck.tensors.find(name);
    TRANOVA_CHECK(it != ck.tensors.end(), "{}: expected tensor '{}' {} is missing", ck.path, name, shape_string(shape));
    TRANOVA_CHECK(it->second.shape == shape, "{}: tensor '{}' has shape {}, expected {}", ck.path, name,
                  shape_string(it->second.shape), shape_string(shape));
    return it->second;
}

void transpose_matrix(float* out, const float* in, int64_t rows, int64_t cols) {
    for (int64_t r = 0; r < rows; r++)
        for (int64_t c = 0; c < cols; c++) out[c * rows + r] = in[r * cols + c];
}

void config_from_json(weights& w, const json_value& config) {
    TRANOVA_CHECK(config.kind == json_value::object_v, "config is not a JSON object");
    for (auto& [k, v] : config.members) {
        if (k == "format" || k == "format_version" || k == "arch") continue;  // reserved attribute names
        switch (v.kind) {
            case json_value::null_v: break;
            case json_value::bool_v: w.config[k] = (int64_t)v.b; break;
            case json_value::number_v:
                if (v.is_integer) w.config[k] = (int64_t)v.integer;
                else w.config[k] = v.num;
                break;
            case json_value::string_v: w.config[k] = v.str; break;
            default: w.config[k] = v.dump(); break;
        }
    }
}

}  // namespace tranova::core
