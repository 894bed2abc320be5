// Internals shared by the checkpoint readers (core/checkpoint*.cpp): the bounds-checked
// byte cursor, dtype conversion, the zip entry reader, the restricted pickle machine's object
// graph and the two format readers. Not part of core's interface: only the checkpoint files
// and their tests include it.
#pragma once

#include "core/checkpoint.hpp"
#include "util/error.hpp"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tranova::core::detail {

// ---------------------------------------------------------------------------------------
// little-endian helpers with bounds checks
struct span {
    const uint8_t* d;
    size_t n;
    const std::string& label;
    const char* what;  // "zip", "pickle", "safetensors"

    void need(uint64_t off, uint64_t len) const {
        if (off > n || len > n - off)
            TRANOVA_FAIL("{}: truncated or corrupt {} (needs bytes [{}, {}) of {})", label, what, off, off + len, n);
    }
    uint64_t le(uint64_t off, int bytes) const {
        need(off, bytes);
        uint64_t v = 0;
        for (int i = bytes - 1; i >= 0; i--) v = (v << 8) | d[off + i];
        return v;
    }
};

// One element at `p` of type `t`, converted to float32.
float load_as_float(const uint8_t* p, dtype t);

// Element count with overflow / sanity checks (max 2^40 elements).
size_t checked_numel(const std::vector<int64_t>& shape, const std::string& label, const std::string& name);

// ---------------------------------------------------------------------------------------
// zip (checkpoint_zip.cpp)
// Bytes of one entry: a pointer into the archive for stored entries, or inflated into
// `hold` for deflated ones. The inflated size is the smaller of what the caller needs and
// what the directory declares; deflate cannot expand more than 1032-fold, so a declared
// size beyond that is a lie (and would be a huge allocation).
std::pair<const uint8_t*, size_t> zip_entry_bytes(const uint8_t* data, const zip_entry& e,
                                                  std::vector<uint8_t>& hold, const std::string& label,
                                                  uint64_t expect_max);

// ---------------------------------------------------------------------------------------
// pickle (checkpoint_pickle.cpp)
// Restricted pickle machine. Every object lives in the unpickler's arena (one flat
// vector of owners) and refers to others by plain pointer: destruction is one loop, never
// a recursion, so a pickle of 200,000 nested lists (or a memo-made cycle) is destroyed
// in constant stack. Object and cell counts are capped; every consumer of the object
// graph (pobj_str, flatten_meta, reduce) walks a bounded depth.
struct pobj;
using pref = pobj*;
struct pobj {
    enum kind_t { none, boolean, integer, real, str, bytes, list, tuple, dict, global, storage, tensor, mark } kind;
    int64_t i = 0;
    double d = 0;
    std::string s;  // str / bytes / global tag / storage key
    std::string qual;  // opaque globals/objects: "module.name"
    std::vector<pref> items;
    std::vector<std::pair<pref, pref>> entries;
    dtype st = dtype::f32;
    int64_t numel = 0;
    pref store = nullptr;
    int64_t offset = 0;
    std::vector<int64_t> size, stride;
    uint32_t depth = 0;  // containers: 1 + the deepest content seen when it was added
    explicit pobj(kind_t k) : kind(k) {}
};

// The object graph of one pickle: `root` and everything it refers to live in `arena`.
struct pickle_graph {
    std::vector<std::unique_ptr<pobj>> arena;
    pref root = nullptr;
};
// Runs the restricted pickle machine over `n` bytes; throws tranova::error naming `label`
// and the byte offset on anything outside what a state_dict needs.
pickle_graph pickle_load(const uint8_t* d, size_t n, const std::string& label);

// `s` cut to 1024 characters (metadata text).
std::string clip(const std::string& s);
// Text of a metadata value: at most 64 items per list, 4 levels, 256 nodes in all and
// 1024 characters per string, so that shared or cyclic objects (memo references) cannot
// make it explode.
std::string pobj_str(const pref& v);

// ---------------------------------------------------------------------------------------
// the two formats (checkpoint_torch.cpp, checkpoint_safetensors.cpp)
// A torch.save zip (plain state_dict or Lightning .ckpt) into `ck`.
void read_torch_zip(checkpoint& ck, const uint8_t* data, size_t size, const checkpoint_options& opt);
// A safetensors file into `ck`.
void read_safetensors(checkpoint& ck, const uint8_t* data, size_t size);

}  // namespace tranova::core::detail
