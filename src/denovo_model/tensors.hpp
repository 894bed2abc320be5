// Named float32 tensors for the de novo models and the files they come from. The weight
// file is the project's HDF5 format (core/weights.hpp, docs/weights-format.md) with arch
// casanovo | primenovo | crossnovo; the tensor names of these archs and their config
// fields are listed in docs/denovo-model.md. Checkpoints (.ckpt, safetensors) are read
// with core/checkpoint.hpp.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace tranova::core {
class weights;
struct checkpoint;
}  // namespace tranova::core

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

// A model's weights in memory: arch, config fields (as text) and tensors.
struct weight_file {
    std::string source;                              // file it came from ("" when built); names errors
    std::string arch;                                // casanovo | primenovo | crossnovo
    std::map<std::string, std::string> config;       // config fields, as text
    tensor_map tensors;
};

// Throws tranova::error naming `where`, the tensor and the index of its first NaN or
// infinite value, if any (a model with one computes nothing but NaN).
void require_finite(const tensor_map& t, const std::string& where);

// The tensors of a checkpoint (state_dict names unchanged).
tensor_map tensors_from_checkpoint(const core::checkpoint& ck);
// Reads any checkpoint core::checkpoint_read understands (.ckpt, PyTorch zip, safetensors).
tensor_map read_checkpoint_tensors(const std::string& path);

core::weights to_core_weights(const weight_file& wf);
weight_file from_core_weights(const core::weights& w);

// Writes / reads the HDF5 weight file (atomic write; errors name the file).
void write_weight_file(const std::string& path, const weight_file& wf);
weight_file read_weight_file(const std::string& path);

}  // namespace tranova::denovo_model
