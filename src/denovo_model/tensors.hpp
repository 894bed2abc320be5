// Named float32 tensors for the de novo models and the two files they come from:
// safetensors (what the fixtures and `torch` exports give us) and tranova's own HDF5
// weight file (what `tranova convert --arch casanovo|primenovo|crossnovo` writes and
// `tranova denovo sequence --model` reads). The HDF5 layout is documented in
// docs/denovo-model.md: root attributes `tranova.format` = "tranova-denovo-weights",
// `tranova.format_version` = 1, `tranova.arch`, plus `config.<key>` string attributes;
// one float32 dataset per tensor under /tensors/<torch-style name>.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tranova::denovo_model {

struct tensor {
    std::vector<int64_t> shape;
    std::vector<float> data;
    int64_t numel() const {
        int64_t n = 1;
        for (auto s : shape) n *= s;
        return n;
    }
};
using tensor_map = std::map<std::string, tensor>;

// Reads every F32 tensor of a .safetensors file (other dtypes are rejected with the name).
tensor_map read_safetensors(const std::string& path);

struct weight_file {
    std::string arch;                                // casanovo | primenovo | crossnovo
    std::map<std::string, std::string> config;       // config.<key> attributes, as text
    tensor_map tensors;
};

constexpr int weight_format_version = 1;

// Writes `wf` to `path` (caller handles temp+rename via util::output_path).
void write_weight_file(const std::string& path, const weight_file& wf);
// Reads a weight file; throws tranova::error naming the file for a wrong format/version.
weight_file read_weight_file(const std::string& path);

}  // namespace tranova::denovo_model
