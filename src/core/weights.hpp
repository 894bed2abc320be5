// The tranova weight file: a versioned HDF5 file (spec: docs/weights-format.md) holding
// one model's float32 tensors under our own names plus its architecture and config as
// root attributes. In memory, all tensors live in ONE 64-byte-aligned allocation; each
// tensor is a slot in it (llm.c's ParameterTensors idea), so loading is one H5Dread per
// tensor straight into its slot.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace tranova::core {

inline constexpr int64_t weights_format_version = 1;

// A config field: integer, real or text (booleans are stored as integers 0/1).
using config_value = std::variant<int64_t, double, std::string>;

struct weight_entry {
    std::string name;
    std::vector<int64_t> shape;  // [] = scalar
    size_t offset = 0;           // in floats, from weights::data(); multiple of 16
    size_t numel = 0;
};

class weights {
public:
    std::string arch;                           // e.g. "tranception"
    std::string source;                         // file read (weights_read), "" when built; names errors
    int64_t format_version = weights_format_version;
    std::map<std::string, config_value> config;  // every config field

    weights() = default;
    weights(weights&&) noexcept = default;
    weights& operator=(weights&&) noexcept = default;

    // Building (converter): appends a copy of `numel(shape)` floats under `name`.
    // Throws on a duplicate or invalid name (empty, contains '/').
    void add(const std::string& name, std::vector<int64_t> shape, const float* src);

    // Lookup. get() throws tranova::error naming the tensor when it is absent or when its
    // shape differs from `shape` (pass the expected shape; {} checks nothing only if
    // check_shape is false).
    bool has(const std::string& name) const { return index_.count(name) != 0; }
    const weight_entry& entry(const std::string& name) const;
    const float* get(const std::string& name, const std::vector<int64_t>& shape) const;
    float* get_mutable(const std::string& name, const std::vector<int64_t>& shape);
    const std::vector<weight_entry>& entries() const { return entries_; }
    size_t total_floats() const { return used_; }   // incl. alignment padding
    size_t parameter_count() const;                 // sum of numel
    const float* data() const { return data_.get(); }

    // Config accessors; throw naming the field when missing or of another type
    // (config_double accepts an integer value too).
    int64_t config_int(const std::string& key) const;
    double config_double(const std::string& key) const;
    const std::string& config_string(const std::string& key) const;
    int64_t config_int_or(const std::string& key, int64_t fallback) const;
    double config_double_or(const std::string& key, double fallback) const;

    // Throws tranova::error naming `where`, the tensor and the index of its first
    // non-finite (NaN or infinite) value, if any. weights_read calls it; converters call
    // it with the checkpoint's name.
    void require_finite(const std::string& where) const;

    // Used by weights_read: lay out all entries, then one allocation.
    void allocate(std::vector<weight_entry> entries);
    float* mutable_data() { return data_.get(); }

private:
    std::string label() const;  // source, or "weights (arch)" when not read from a file
    struct free_deleter { void operator()(float* p) const; };
    std::vector<weight_entry> entries_;
    std::map<std::string, size_t> index_;
    std::unique_ptr<float, free_deleter> data_;
    size_t used_ = 0, capacity_ = 0;
    void reserve(size_t floats);
};

// Writes `w` to `path` atomically (temp file + rename). Throws tranova::error.
void weights_write(const std::string& path, const weights& w);
// Reads a weight file. Checks the format marker and version, every tensor's type, rank
// and size against the file, and that every value is finite; throws naming the file
// (and the tensor).
weights weights_read(const std::string& path);

}  // namespace tranova::core
