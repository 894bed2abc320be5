// Parameter arena (contract: core/param_arena.hpp).
#include "core/param_arena.hpp"

#include "util/error.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>

namespace tranova::core {

namespace {
constexpr size_t kAlignFloats = 16;  // 64 bytes, as core::weights
constexpr size_t kChunk = size_t(1) << 15;  // floats per partial sum in grad_sq_sum
size_t align_up(size_t n) { return (n + kAlignFloats - 1) / kAlignFloats * kAlignFloats; }
}  // namespace

void param_arena::free_deleter::operator()(float* p) const { std::free(p); }

void param_arena::add(const std::string& name, std::vector<int64_t> shape) {
    TRANOVA_CHECK(!data_, "param_arena: cannot add '{}' after allocate()", name);
    TRANOVA_CHECK(!name.empty() && name.find('/') == std::string::npos && name != ".",
                  "param_arena: invalid tensor name '{}'", name);
    TRANOVA_CHECK(!has(name), "param_arena: duplicate tensor '{}'", name);
    param_tensor t{name, std::move(shape), block_, 1};
    for (int64_t d : t.shape) {
        TRANOVA_CHECK(d >= 0, "param_arena: tensor '{}' has a negative dimension {}", name, d);
        t.numel *= (size_t)d;
    }
    block_ += align_up(t.numel);
    index_[name] = tensors_.size();
    tensors_.push_back(std::move(t));
}

void param_arena::allocate() { allocate_blocks(4); }
void param_arena::allocate_params_only() { allocate_blocks(1); }

void param_arena::allocate_blocks(int blocks) {
    TRANOVA_CHECK(!data_, "param_arena: allocate() called twice");
    const size_t floats = std::max<size_t>(size_t(blocks) * block_, kAlignFloats);
    const size_t bytes = floats * sizeof(float);
    // big arenas: 2 MiB alignment + transparent huge pages (as core::weights)
    const size_t align = bytes >= (size_t(64) << 20) ? (size_t(2) << 20) : 64;
    const size_t rounded = (bytes + align - 1) / align * align;
    float* p = static_cast<float*>(std::aligned_alloc(align, rounded));
    TRANOVA_CHECK(p, "param_arena: out of memory allocating {} MiB", bytes >> 20);
    if (align > 64) madvise(p, rounded, MADV_HUGEPAGE);
    std::memset(p, 0, bytes);
    data_.reset(p);
    blocks_ = blocks;
}

size_t param_arena::release_param_pages(size_t offset, size_t numel) {
    TRANOVA_CHECK(data_ && !trainable(), "param_arena: release_param_pages needs a parameter-only arena");
    TRANOVA_CHECK(offset + numel <= block_, "param_arena: release_param_pages past the parameter block");
    const uintptr_t page = uintptr_t(sysconf(_SC_PAGESIZE));
    const uintptr_t begin = reinterpret_cast<uintptr_t>(data_.get() + offset);
    const uintptr_t end = reinterpret_cast<uintptr_t>(data_.get() + offset + numel);
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (last <= first) return 0;
    // Anonymous private memory: the pages are freed now and read back as zeros.
    if (madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED) != 0) return 0;
    return size_t(last - first);
}

size_t param_arena::index(const std::string& name) const {
    auto it = index_.find(name);
    TRANOVA_CHECK(it != index_.end(), "param_arena: no tensor '{}'", name);
    return it->second;
}

float* param_arena::param(const std::string& name, const std::vector<int64_t>& shape) {
    const param_tensor& t = tensor(name);
    TRANOVA_CHECK(t.shape == shape, "param_arena: tensor '{}' has shape {}, expected {}", name,
                  shape_string(t.shape), shape_string(shape));
    return params() + t.offset;
}

size_t param_arena::parameter_count() const {
    size_t n = 0;
    for (auto& t : tensors_) n += t.numel;
    return n;
}

void param_arena::zero_grads() {
    if (!data_ || !trainable()) return;
    // in pieces over the threads: one thread clearing 340 MB (Small) leaves the other idle
    float* g = grads();
    const size_t pieces = (block_ + kChunk - 1) / kChunk;
#pragma omp parallel for schedule(static) if (block_ > 4 * kChunk)
    for (size_t c = 0; c < pieces; c++)
        std::memset(g + c * kChunk, 0, std::min(kChunk, block_ - c * kChunk) * sizeof(float));
}

double param_arena::grad_sq_sum(size_t i) const {
    const param_tensor& t = tensors_.at(i);
    const float* g = grads() + t.offset;
    const size_t chunks = (t.numel + kChunk - 1) / kChunk;
    if (chunks <= 1) {
        double s = 0;
        for (size_t k = 0; k < t.numel; k++) s += (double)g[k] * g[k];
        return s;
    }
    std::vector<double> partial(chunks);
#pragma omp parallel for schedule(static)
    for (size_t c = 0; c < chunks; c++) {
        double s = 0;
        for (size_t k = c * kChunk; k < std::min(t.numel, (c + 1) * kChunk); k++) s += (double)g[k] * g[k];
        partial[c] = s;
    }
    double s = 0;
    for (double p : partial) s += p;
    return s;
}

double param_arena::grad_norm() const {
    double s = 0;
    for (size_t i = 0; i < tensors_.size(); i++) s += grad_sq_sum(i);
    return std::sqrt(s);
}

param_arena param_arena::from_weights(const weights& w) {
    param_arena a;
    for (const weight_entry& e : w.entries()) a.add(e.name, e.shape);
    a.allocate();
    a.load_params(w, w.arch.empty() ? std::string("weights") : w.arch);
    return a;
}

void param_arena::load_params(const weights& w, const std::string& what) {
    TRANOVA_CHECK(data_, "param_arena: load_params before allocate()");
    for (const param_tensor& t : tensors_) {
        TRANOVA_CHECK(w.has(t.name), "{}: tensor '{}' is missing", what, t.name);
        const weight_entry& e = w.entry(t.name);
        TRANOVA_CHECK(e.shape == t.shape, "{}: tensor '{}' has shape {}, the model expects {}", what, t.name,
                      shape_string(e.shape), shape_string(t.shape));
    }
    for (const weight_entry& e : w.entries())
        TRANOVA_CHECK(has(e.name), "{}: unexpected tensor '{}' (not a parameter of this model)", what, e.name);
    for (const param_tensor& t : tensors_)
        if (t.numel) std::memcpy(params() + t.offset, w.data() + w.entry(t.name).offset, t.numel * sizeof(float));
}

weights param_arena::to_weights(const std::string& arch, const std::map<std::string, config_value>& config) const {
    weights w;
    w.arch = arch;
    w.config = config;
    for (const param_tensor& t : tensors_) w.add(t.name, t.shape, params() + t.offset);
    return w;
}

}  // namespace tranova::core
