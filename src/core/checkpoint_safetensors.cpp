// Checkpoint import, safetensors: an 8-byte header length, a JSON header naming each
// tensor's dtype, shape and byte range, then the data area, which the ranges must tile.
#include "core/detail/checkpoint.hpp"

#include "core/json.hpp"
#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstring>

namespace tranova::core::detail {

void read_safetensors(checkpoint& ck, const uint8_t* data, size_t size) {
    span s{data, size, ck.path, "safetensors"};
    uint64_t hlen = s.le(0, 8);
    TRANOVA_CHECK(hlen <= size - 8 && hlen < (uint64_t(100) << 20),
                  "{}: truncated or corrupt safetensors (header length {} at offset 0, file {} bytes)", ck.path, hlen,
                  size);
    json_value h = json_parse(reinterpret_cast<const char*>(data + 8), hlen, ck.path + " (safetensors header)");
    TRANOVA_CHECK(h.kind == json_value::object_v, "{}: safetensors header is not a JSON object", ck.path);
    const uint64_t base = 8 + hlen, avail = size - base;
    ck.format = "safetensors";
    struct dt { const char* n; dtype t; };
    static const dt kTypes[] = {{"F32", dtype::f32}, {"F64", dtype::f64}, {"F16", dtype::f16}, {"BF16", dtype::bf16},
                                {"I64", dtype::i64}, {"I32", dtype::i32}, {"I16", dtype::i16}, {"I8", dtype::i8},
                                {"U8", dtype::u8},   {"BOOL", dtype::boolean}};
    struct extent { uint64_t begin, end; const std::string* name; };
    std::vector<extent> extents;
    for (auto& [name, v] : h.members) {
        if (name == "__metadata__") {
            TRANOVA_CHECK(v.kind == json_value::object_v, "{}: safetensors __metadata__ is not an object", ck.path);
            for (auto& [k, x] : v.members) ck.meta["__metadata__." + k] = x.kind == json_value::string_v ? x.str : x.dump();
            continue;
        }
        TRANOVA_CHECK(v.kind == json_value::object_v, "{}: safetensors entry '{}' is not an object", ck.path, name);
        const json_value *jt = v.find("dtype"), *js = v.find("shape"), *jo = v.find("data_offsets");
        TRANOVA_CHECK(jt && js && jo && jt->kind == json_value::string_v && js->kind == json_value::array_v &&
                          jo->kind == json_value::array_v && jo->items.size() == 2,
                      "{}: safetensors entry '{}' lacks dtype/shape/data_offsets", ck.path, name);
        checkpoint_tensor ct;
        bool known = false;
        for (auto& t : kTypes)
            if (jt->str == t.n) ct.source = t.t, known = true;
        TRANOVA_CHECK(known, "{}: tensor '{}' has unsupported dtype '{}' (F32, F64, F16, BF16, I64, I32, I16, I8, U8, BOOL)",
                      ck.path, name, jt->str);
        TRANOVA_CHECK(js->items.size() <= 64, "{}: tensor '{}' has rank {} (above 64)", ck.path, name, js->items.size());
        for (auto& d : js->items) {
            TRANOVA_CHECK(d.kind == json_value::number_v && d.is_integer, "{}: tensor '{}' has a bad shape", ck.path,
                          name);
            ct.shape.push_back(d.integer);
        }
        size_t n = checked_numel(ct.shape, ck.path, name);
        for (auto& o : jo->items)
            TRANOVA_CHECK(o.kind == json_value::number_v && o.is_integer && o.integer >= 0,
                          "{}: tensor '{}' has bad data_offsets", ck.path, name);
        uint64_t b = (uint64_t)jo->items[0].integer, e = (uint64_t)jo->items[1].integer;
        const size_t es = dtype_size(ct.source);
        TRANOVA_CHECK(b <= e && e <= avail, "{}: tensor '{}' data [{}, {}) lies outside the file's {} data bytes",
                      ck.path, name, b, e, avail);
        TRANOVA_CHECK(e - b == (uint64_t)n * es, "{}: tensor '{}' has {} data bytes, shape {} x {} needs {}", ck.path,
                      name, e - b, shape_string(ct.shape), dtype_name(ct.source), (uint64_t)n * es);
        extents.push_back({b, e, &name});
        ct.data.resize(n);
        const uint8_t* p = data + base + b;
        if (ct.source == dtype::f32) {
            if (n) std::memcpy(ct.data.data(), p, n * 4);
        } else {
            for (size_t i = 0; i < n; i++) ct.data[i] = load_as_float(p + i * es, ct.source);
        }
        TRANOVA_CHECK(!ck.tensors.count(name), "{}: duplicate tensor '{}'", ck.path, name);
        ck.names.push_back(name);
        ck.tensors.emplace(name, std::move(ct));
    }
    // As the safetensors reference reader demands: the tensors' byte ranges tile the data
    // area exactly (no overlap, which would alias two tensors; no gap or trailing bytes).
    std::sort(extents.begin(), extents.end(),
              [](const extent& a, const extent& b) { return a.begin != b.begin ? a.begin < b.begin : a.end < b.end; });
    uint64_t at = 0;
    const std::string* prev = nullptr;
    for (const extent& x : extents) {
        TRANOVA_CHECK(x.begin >= at, "{}: tensor '{}' data [{}, {}) overlaps tensor '{}' (ends at {})", ck.path,
                      *x.name, x.begin, x.end, prev ? *prev : std::string(), at);
        TRANOVA_CHECK(x.begin == at, "{}: safetensors data bytes [{}, {}) belong to no tensor (before '{}')", ck.path,
                      at, x.begin, *x.name);
        at = x.end;
        prev = x.name;
    }
    TRANOVA_CHECK(at == avail, "{}: safetensors data has {} bytes, its tensors cover {} (trailing bytes)", ck.path,
                  avail, at);
}

}  // namespace tranova::core::detail
