// The parameter arena of a trainable model (llm.c's ParameterTensors + params_memory):
// every parameter tensor is a named slot (name, shape, offset) in ONE 64-byte-aligned
// allocation holding four blocks of the same layout:
//
//   params | grads | adam m | adam v        each block_floats() floats long
//
// so a tensor's gradient and AdamW moments sit at the same offset in their blocks, the
// optimizer is one loop per tensor, and an all-reduce of the gradients (data parallel,
// core/dist.hpp) is one call over grads(); the four blocks are adjacent, so one broadcast
// from params() over 4 * block_floats() copies the whole arena. Slot offsets are
// multiples of 16 floats, like core::weights; the padding between slots is zero in
// every block.
//
// Lifecycle: declare every tensor with add() (sizes only), then allocate() once; after
// that the layout is fixed. from_weights / to_weights map a weight file onto the arena.
#pragma once

#include "core/weights.hpp"
#include "util/text.hpp"  // shape_string

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace tranova::core {

struct param_tensor {
    std::string name;
    std::vector<int64_t> shape;
    size_t offset = 0;  // in floats from the start of each block
    size_t numel = 0;
};

class param_arena {
public:
    param_arena() = default;
    param_arena(param_arena&&) noexcept = default;
    param_arena& operator=(param_arena&&) noexcept = default;

    // Declares a tensor (before allocate). Throws on a duplicate or invalid name (empty,
    // contains '/') or a negative dimension.
    void add(const std::string& name, std::vector<int64_t> shape);
    // One allocation for all four blocks, zero-filled. Throws when called twice.
    void allocate();
    // The parameter block only (inference: a model that never trains holds no gradients
    // or moments); grads(), adam_m() and adam_v() are then nullptr.
    void allocate_params_only();
    // Returns to the OS the memory pages wholly inside the parameter block's range
    // [offset, offset + numel) (madvise MADV_DONTNEED); those floats read as zero afterwards.
    // For parameter-only arenas of inference models whose linears run from packed copies
    // derived at load (tranception::model): the source is not kept twice in memory.
    // Returns the bytes released.
    size_t release_param_pages(size_t offset, size_t numel);
    bool allocated() const { return data_ != nullptr; }
    bool trainable() const { return blocks_ == 4; }  // allocated with all four blocks

    // Lookup by name; tensor()/index() throw tranova::error naming the tensor when absent.
    bool has(const std::string& name) const { return index_.count(name) != 0; }
    size_t index(const std::string& name) const;
    const param_tensor& tensor(const std::string& name) const { return tensors_[index(name)]; }
    const std::vector<param_tensor>& tensors() const { return tensors_; }  // in add() order

    // Slot pointers (after allocate). param(name, shape) also checks the shape.
    float* param(const std::string& name) { return params() + tensor(name).offset; }
    float* param(const std::string& name, const std::vector<int64_t>& shape);
    float* grad(const std::string& name) { return grads() + tensor(name).offset; }
    const float* param(const std::string& name) const { return params() + tensor(name).offset; }
    const float* grad(const std::string& name) const { return grads() + tensor(name).offset; }
    float* params() { return data_.get(); }
    float* grads() { return trainable() ? data_.get() + block_ : nullptr; }
    float* adam_m() { return trainable() ? data_.get() + 2 * block_ : nullptr; }
    float* adam_v() { return trainable() ? data_.get() + 3 * block_ : nullptr; }
    const float* params() const { return data_.get(); }
    const float* grads() const { return trainable() ? data_.get() + block_ : nullptr; }
    const float* adam_m() const { return trainable() ? data_.get() + 2 * block_ : nullptr; }
    const float* adam_v() const { return trainable() ? data_.get() + 3 * block_ : nullptr; }

    size_t block_floats() const { return block_; }  // incl. alignment padding
    size_t parameter_count() const;                // sum of numel

    void zero_grads();
    // Sum of squared gradient entries of tensor i, in double. Fixed-size chunks summed
    // in a fixed order: the same bits for any number of threads.
    double grad_sq_sum(size_t i) const;
    // sqrt of the sum over all tensors (see optim.hpp for the norm over trainable ones).
    double grad_norm() const;

    // The arena laid out like `w` (same names, shapes, order), parameters copied from it.
    static param_arena from_weights(const weights& w);
    // Copies into an existing arena: every arena tensor must be in `w` with the same
    // shape, and `w` must have no other tensor; errors name `what` (e.g. the file).
    void load_params(const weights& w, const std::string& what);
    // A weight file of the current parameters (arch and config given by the model).
    weights to_weights(const std::string& arch, const std::map<std::string, config_value>& config) const;

private:
    void allocate_blocks(int blocks);
    struct free_deleter { void operator()(float* p) const; };
    std::vector<param_tensor> tensors_;
    std::map<std::string, size_t> index_;
    std::unique_ptr<float, free_deleter> data_;
    size_t block_ = 0;
    int blocks_ = 0;  // 4 (training) or 1 (allocate_params_only)
};

}  // namespace tranova::core
