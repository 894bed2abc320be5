// Conversions between the de novo weight_file and core's checkpoint / weight file types.
#include "denovo_model/tensors.hpp"

#include "core/checkpoint.hpp"
#include "core/weights.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <cmath>
#include <variant>

namespace tranova::denovo_model {

tensor_map tensors_from_checkpoint(const core::checkpoint& ck) {
    tensor_map out;
    for (auto& [name, t] : ck.tensors) out.emplace(name, tensor{t.shape, t.data});
    return out;
}

void require_finite(const tensor_map& t, const std::string& where) {
    for (auto& [name, x] : t)
        for (size_t i = 0; i < x.data.size(); i++)
            TRANOVA_CHECK(std::isfinite(x.data[i]),
                          "{}: tensor '{}' holds a non-finite value ({} at flat index {}); refusing the weights", where,
                          name, x.data[i], i);
}

tensor_map read_checkpoint_tensors(const std::string& path) { return tensors_from_checkpoint(core::checkpoint_read(path)); }

core::weights to_core_weights(const weight_file& wf) {
    core::weights w;
    w.arch = wf.arch;
    for (auto& [k, v] : wf.config) {
        long long i = 0;
        double d = 0;
        if (parse_int(v, i)) w.config[k] = int64_t(i);
        else if (parse_double(v, d)) w.config[k] = d;
        else w.config[k] = v;
    }
    for (auto& [name, t] : wf.tensors) w.add(name, t.shape, t.data.data());
    return w;
}

weight_file from_core_weights(const core::weights& w) {
    weight_file wf;
    wf.source = w.source;
    wf.arch = w.arch;
    for (auto& [k, v] : w.config) {
        if (auto* i = std::get_if<int64_t>(&v)) wf.config[k] = std::to_string(*i);
        else if (auto* d = std::get_if<double>(&v)) wf.config[k] = fmt::format("{}", *d);
        else wf.config[k] = std::get<std::string>(v);
    }
    for (auto& e : w.entries()) {
        tensor t;
        t.shape = e.shape;
        t.data.assign(w.data() + e.offset, w.data() + e.offset + e.numel);
        wf.tensors.emplace(e.name, std::move(t));
    }
    return wf;
}

void write_weight_file(const std::string& path, const weight_file& wf) { core::weights_write(path, to_core_weights(wf)); }

weight_file read_weight_file(const std::string& path) {
    core::weights w = core::weights_read(path);
    TRANOVA_CHECK(w.arch == "casanovo" || w.arch == "primenovo" || w.arch == "crossnovo",
                  "{}: weight file arch '{}' is not a de novo model (expected casanovo, primenovo or crossnovo)", path,
                  w.arch);
    return from_core_weights(w);
}

}  // namespace tranova::denovo_model
