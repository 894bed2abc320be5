// Checkpoint import: the entry points (format detection, folders, mapping the file) and
// the dtype helpers. The formats live beside it: checkpoint_zip.cpp (zip container),
// checkpoint_pickle.cpp (restricted pickle machine), checkpoint_torch.cpp (torch.save and
// Lightning state_dicts), checkpoint_safetensors.cpp. See checkpoint.hpp for what is
// accepted; every read goes through a bounds-checked cursor (detail/checkpoint.hpp).
#include "core/checkpoint.hpp"

#include "core/detail/checkpoint.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>

namespace tranova::core {

const char* dtype_name(dtype t) {
    switch (t) {
        case dtype::f32: return "float32";
        case dtype::f64: return "float64";
        case dtype::f16: return "float16";
        case dtype::bf16: return "bfloat16";
        case dtype::i64: return "int64";
        case dtype::i32: return "int32";
        case dtype::i16: return "int16";
        case dtype::i8: return "int8";
        case dtype::u8: return "uint8";
        case dtype::boolean: return "bool";
    }
    return "?";
}

size_t dtype_size(dtype t) {
    switch (t) {
        case dtype::f64: case dtype::i64: return 8;
        case dtype::f32: case dtype::i32: return 4;
        case dtype::f16: case dtype::bf16: case dtype::i16: return 2;
        default: return 1;
    }
}

const checkpoint_tensor& checkpoint::at(const std::string& name) const {
    auto it = tensors.find(name);
    TRANOVA_CHECK(it != tensors.end(), "{}: tensor '{}' is missing", path, name);
    return it->second;
}

namespace detail {

namespace {
float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, man = h & 0x3FF, bits;
    if (exp == 0) {
        if (man == 0) bits = sign;
        else {  // subnormal
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) man <<= 1, exp--;
            bits = sign | (exp << 23) | ((man & 0x3FF) << 13);
        }
    } else if (exp == 31) bits = sign | 0x7F800000 | (man << 13);
    else bits = sign | ((exp + 127 - 15) << 23) | (man << 13);
    float f;
    std::memcpy(&f, &bits, 4);
    return f;
}
}  // namespace

float load_as_float(const uint8_t* p, dtype t) {
    switch (t) {
        case dtype::f32: { float f; std::memcpy(&f, p, 4); return f; }
        case dtype::f64: { double f; std::memcpy(&f, p, 8); return (float)f; }
        case dtype::f16: { uint16_t h; std::memcpy(&h, p, 2); return half_to_float(h); }
        case dtype::bf16: { uint16_t h; std::memcpy(&h, p, 2); uint32_t b = (uint32_t)h << 16; float f; std::memcpy(&f, &b, 4); return f; }
        case dtype::i64: { int64_t v; std::memcpy(&v, p, 8); return (float)v; }
        case dtype::i32: { int32_t v; std::memcpy(&v, p, 4); return (float)v; }
        case dtype::i16: { int16_t v; std::memcpy(&v, p, 2); return (float)v; }
        case dtype::i8: return (float)(int8_t)*p;
        case dtype::u8: return (float)*p;
        case dtype::boolean: return *p ? 1.0f : 0.0f;
    }
    return 0.0f;
}

size_t checked_numel(const std::vector<int64_t>& shape, const std::string& label, const std::string& name) {
    size_t n = 1;
    for (int64_t d : shape) {
        TRANOVA_CHECK(d >= 0 && d < (int64_t(1) << 40), "{}: tensor '{}' has a bad dimension {}", label, name, d);
        TRANOVA_CHECK(d == 0 || n <= (size_t(1) << 40) / (size_t)d, "{}: tensor '{}' is too large {}", label, name,
                      shape_string(shape));
        n *= (size_t)d;
    }
    return n;
}

}  // namespace detail

namespace {

// ---------------------------------------------------------------------------------------
// memory-mapped input file
struct mapped_file {
    const uint8_t* data = nullptr;
    size_t size = 0;
    mapped_file(const std::string& path) {
        int fd = ::open(path.c_str(), O_RDONLY);
        TRANOVA_CHECK(fd >= 0, "{}: cannot open: {}", path, std::strerror(errno));
        struct stat st;
        if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
            ::close(fd);
            TRANOVA_FAIL("{}: not a regular file", path);
        }
        size = (size_t)st.st_size;
        if (size) {
            void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
            ::close(fd);
            TRANOVA_CHECK(p != MAP_FAILED, "{}: cannot map: {}", path, std::strerror(errno));
            data = static_cast<const uint8_t*>(p);
        } else {
            ::close(fd);
        }
    }
    ~mapped_file() {
        if (data) munmap(const_cast<uint8_t*>(data), size);
    }
    mapped_file(const mapped_file&) = delete;
    mapped_file& operator=(const mapped_file&) = delete;
};

}  // namespace

checkpoint checkpoint_read_memory(const uint8_t* data, size_t size, const std::string& name,
                                  const checkpoint_options& opt) {
    checkpoint ck;
    ck.path = name;
    TRANOVA_CHECK(size >= 8, "{}: file too short to be a checkpoint ({} bytes)", name, size);
    if (data[0] == 'P' && data[1] == 'K') {
        detail::read_torch_zip(ck, data, size, opt);
    } else if (size > 8 && data[8] == '{') {
        detail::read_safetensors(ck, data, size);
    } else if (data[0] == 0x80) {
        TRANOVA_FAIL("{}: legacy torch.save format (pre-1.6, not a zip archive) is not supported; re-save it with "
                     "torch >= 1.6 or convert it to safetensors",
                     name);
    } else {
        TRANOVA_FAIL("{}: unrecognised checkpoint format (wrong magic: neither a zip archive nor safetensors)", name);
    }
    return ck;
}

checkpoint checkpoint_read(const std::string& path, const checkpoint_options& opt) {
    namespace fs = std::filesystem;
    std::string file = path;
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
        file.clear();
        for (const char* cand : {"model.safetensors", "pytorch_model.bin"})
            if (fs::exists(fs::path(path) / cand, ec)) {
                file = (fs::path(path) / cand).string();
                break;
            }
        TRANOVA_CHECK(!file.empty(), "{}: folder holds neither model.safetensors nor pytorch_model.bin", path);
    }
    mapped_file m(file);
    return checkpoint_read_memory(m.data, m.size, file, opt);
}

}  // namespace tranova::core
