// Checkpoint import, torch.save files: finds data.pkl in the zip, unpickles it, picks the
// state_dict (a Lightning .ckpt keeps it under a key; the other keys become flattened
// metadata) and materialises each tensor from its storage entry, strided views included.
#include "core/detail/checkpoint.hpp"

#include "util/error.hpp"
#include "util/text.hpp"

#include <algorithm>
#include <cstring>
#include <map>

namespace tranova::core::detail {

namespace {

// Flattens dicts into "a.b.c" -> text entries, 6 levels deep. A dict referring to itself
// (or sharing big sub-dicts) could ask for astronomically many entries: more than
// kMaxMetaEntries visits is an error.
constexpr size_t kMaxMetaEntries = 100000;
struct meta_flattener {
    checkpoint& ck;
    size_t visits = 0;
    void operator()(const std::string& prefix, const pref& v, int depth) {
        TRANOVA_CHECK(++visits <= kMaxMetaEntries, "{}: checkpoint metadata has more than {} entries (not a state_dict)",
                      ck.path, kMaxMetaEntries);
        if (v->kind == pobj::dict && depth < 6) {
            for (auto& [k, x] : v->entries) {
                std::string key = k->kind == pobj::str ? clip(k->s) : pobj_str(k);
                (*this)(prefix.empty() ? key : prefix + "." + key, x, depth + 1);
            }
            return;
        }
        if ((v->kind == pobj::list || v->kind == pobj::tuple)) {
            for (auto& x : v->items)
                if (x->kind == pobj::dict || x->kind == pobj::list || x->kind == pobj::tuple) {
                    ck.meta[prefix] = fmt::format("<list of {}>", v->items.size());
                    return;
                }
        }
        ck.meta[prefix] = pobj_str(v);
    }
};

// `budget`: elements all tensors may still expand to (views may repeat storage elements,
// so many tensors on one storage could otherwise ask for far more memory than the file).
void materialize(checkpoint& ck, const std::string& name, const pobj& t,
                 const std::map<std::string, std::pair<const uint8_t*, size_t>>& storages, uint64_t& budget) {
    const pobj& s = *t.store;
    auto it = storages.find(s.s);
    TRANOVA_CHECK(it != storages.end(), "{}: tensor '{}': storage data/{} is missing from the archive", ck.path, name,
                  s.s);
    const size_t es = dtype_size(s.st);
    TRANOVA_CHECK((uint64_t)s.numel <= it->second.second / es,
                  "{}: tensor '{}': storage data/{} has {} bytes, needs {} ({} x {})", ck.path, name, s.s,
                  it->second.second, (uint64_t)s.numel * es, s.numel, dtype_name(s.st));
    checkpoint_tensor ct;
    ct.shape = t.size;
    ct.source = s.st;
    size_t n = checked_numel(t.size, ck.path, name);
    TRANOVA_CHECK(t.offset >= 0, "{}: tensor '{}' has a negative storage offset", ck.path, name);
    if (n) {
        // The last element read is offset + sum((size-1) * stride); each step is checked
        // against the storage size before it is added, so nothing can overflow.
        const uint64_t limit = (uint64_t)s.numel;
        auto past_end = [&] {
            TRANOVA_FAIL("{}: tensor '{}' (shape {}, offset {}) reads past its storage data/{} of {} elements",
                         ck.path, name, shape_string(t.size), t.offset, s.s, s.numel);
        };
        if ((uint64_t)t.offset >= limit) past_end();
        uint64_t maxi = (uint64_t)t.offset;
        for (size_t k = 0; k < t.size.size(); k++) {
            TRANOVA_CHECK(t.stride[k] >= 0 && t.stride[k] < (int64_t(1) << 40), "{}: tensor '{}' has a bad stride {}",
                          ck.path, name, t.stride[k]);
            const uint64_t steps = (uint64_t)(t.size[k] - 1), stride = (uint64_t)t.stride[k];
            if (stride && steps > (limit - 1 - maxi) / stride) past_end();
            maxi += steps * stride;
        }
        TRANOVA_CHECK(n <= 16 * (size_t)s.numel + 1024,
                      "{}: tensor '{}' (shape {}) expands its storage data/{} of {} elements more than 16-fold", ck.path,
                      name, shape_string(t.size), s.s, s.numel);
    }
    TRANOVA_CHECK(n <= budget, "{}: tensor '{}': the tensors' views add up to more than 16 times the file's elements",
                  ck.path, name);
    budget -= n;
    ct.data.resize(n);
    const uint8_t* base = it->second.first;
    // contiguous?
    bool contiguous = true;
    int64_t expect = 1;
    for (size_t k = t.size.size(); k-- > 0;) {
        if (t.size[k] != 1 && t.stride[k] != expect) contiguous = false;
        expect *= t.size[k];
    }
    if (contiguous && s.st == dtype::f32) {
        if (n) std::memcpy(ct.data.data(), base + (size_t)t.offset * 4, n * 4);
    } else if (contiguous) {
        for (size_t i = 0; i < n; i++) ct.data[i] = load_as_float(base + ((size_t)t.offset + i) * es, s.st);
    } else {
        std::vector<int64_t> idx(t.size.size(), 0);
        for (size_t i = 0; i < n; i++) {
            size_t off = (size_t)t.offset;
            for (size_t k = 0; k < idx.size(); k++) off += (size_t)idx[k] * (size_t)t.stride[k];
            ct.data[i] = load_as_float(base + off * es, s.st);
            for (size_t k = idx.size(); k-- > 0;) {
                if (++idx[k] < t.size[k]) break;
                idx[k] = 0;
            }
        }
    }
    ck.names.push_back(name);
    ck.tensors.emplace(name, std::move(ct));
}

}  // namespace

void read_torch_zip(checkpoint& ck, const uint8_t* data, size_t size, const checkpoint_options& opt) {
    std::vector<zip_entry> entries = zip_list(data, size, ck.path);
    const zip_entry* pkl = nullptr;
    for (auto& e : entries)
        if (e.name == "data.pkl" || (e.name.size() > 9 && e.name.compare(e.name.size() - 9, 9, "/data.pkl") == 0 &&
                                     e.name.find('/') == e.name.size() - 9)) {
            pkl = &e;
            break;
        }
    TRANOVA_CHECK(pkl, "{}: zip archive has no data.pkl (not a torch.save file)", ck.path);
    std::string prefix = pkl->name.substr(0, pkl->name.size() - 8);  // "archive/"
    for (auto& e : entries)
        if (e.name == prefix + "byteorder" && e.method == 0) {  // torch >= 2.1 writes it
            std::string bo(reinterpret_cast<const char*>(data + e.data_offset), (size_t)std::min<uint64_t>(e.size, 16));
            TRANOVA_CHECK(bo == "little", "{}: checkpoint byte order is '{}' (only little-endian is supported)", ck.path, bo);
        }
    std::vector<uint8_t> pkl_hold;
    auto [pdata, psize] = zip_entry_bytes(data, *pkl, pkl_hold, ck.path, 1u << 30);
    pickle_graph graph = pickle_load(pdata, psize, ck.path + ":" + pkl->name);
    pref root = graph.root;
    TRANOVA_CHECK(root->kind == pobj::dict, "{}: pickled object is not a dict (state_dict expected)", ck.path);

    const pobj* sd = root;
    std::string key = opt.state_dict_key;
    if (key.empty())
        for (auto& [k, v] : root->entries)
            if (k->kind == pobj::str && k->s == "state_dict" && v->kind == pobj::dict) key = "state_dict";
    meta_flattener flatten{ck};
    if (!key.empty()) {
        sd = nullptr;
        for (auto& [k, v] : root->entries)
            if (k->kind == pobj::str && k->s == key) {
                TRANOVA_CHECK(v->kind == pobj::dict, "{}: '{}' is not a dict", ck.path, key);
                sd = v;
            } else if (k->kind == pobj::str) {
                flatten(clip(k->s), v, 0);
            }
        TRANOVA_CHECK(sd, "{}: checkpoint has no '{}' entry", ck.path, key);
        ck.format = "lightning-ckpt";
    } else {
        ck.format = "pytorch-zip";
    }

    // storages referenced by the state dict (tensors elsewhere, e.g. optimizer state, are skipped)
    std::map<std::string, const zip_entry*> by_name;
    for (auto& e : entries) by_name[e.name] = &e;
    std::map<std::string, std::pair<const uint8_t*, size_t>> storages;
    std::vector<std::vector<uint8_t>> holds;
    for (auto& [k, v] : sd->entries) {
        if (v->kind != pobj::tensor) continue;
        const std::string& sk = v->store->s;
        if (storages.count(sk)) continue;
        auto it = by_name.find(prefix + "data/" + sk);
        if (it == by_name.end()) continue;  // reported by materialize
        holds.emplace_back();
        storages[sk] = zip_entry_bytes(data, *it->second, holds.back(), ck.path,
                                       (uint64_t)v->store->numel * dtype_size(v->store->st));
    }
    uint64_t budget = 16 * (uint64_t)size + (uint64_t(1) << 20);
    for (auto& [k, v] : sd->entries) {
        TRANOVA_CHECK(k->kind == pobj::str, "{}: state_dict key is not a string", ck.path);
        if (v->kind == pobj::tensor) {
            TRANOVA_CHECK(!ck.tensors.count(k->s), "{}: duplicate tensor '{}'", ck.path, k->s);
            materialize(ck, k->s, *v, storages, budget);
        } else {
            ck.meta["state_dict." + clip(k->s)] = pobj_str(v);  // e.g. _extra_state
        }
    }
}

}  // namespace tranova::core::detail
